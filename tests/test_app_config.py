"""Settings both services apply to Flask itself."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("factory", ["intake", "responder"])
def test_production_cookies_and_request_limit(factory, settings):
    """In production, session cookies are Secure, HttpOnly and SameSite=Lax, and request bodies
    are limited to MAX_MESSAGE_BYTES (Flask's own defaults would leave all of this off)."""
    module = __import__(factory)
    app = module.create_app({**settings, "MINYI_ENV": "production", "MAX_MESSAGE_BYTES": 12345})
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["SESSION_COOKIE_HTTPONLY"] is True
    assert app.config["SESSION_COOKIE_SAMESITE"] == "Lax"
    assert app.config["MAX_CONTENT_LENGTH"] == 12345


def test_development_cookies_work_over_plain_http(settings):
    """On 127.0.0.1 without TLS the session cookie must not be Secure, or nobody could log in."""
    from responder import create_app

    assert create_app(settings).config["SESSION_COOKIE_SECURE"] is False


def test_explicit_override_wins(settings):
    """A value given to create_app replaces ours."""
    from intake import create_app

    assert create_app({**settings, "MAX_CONTENT_LENGTH": 99}).config["MAX_CONTENT_LENGTH"] == 99
