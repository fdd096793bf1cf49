"""The public side: the notice and its comment form, receipts, tracking, the public API."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask

from shared.extensions import limiter
from shared.web import configure_app, json_http_errors


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    from intake.views import answered, api, openapi, track, web

    app = Flask(__name__)
    configure_app(app, config)  # settings, database, language, CSRF, health: first
    limiter.init_app(app)
    app.register_blueprint(web.bp)
    app.register_blueprint(track.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(openapi.bp)
    app.register_blueprint(answered.bp)
    json_http_errors(app)
    return app
