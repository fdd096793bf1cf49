"""What operations relies on: the client address behind nginx, metrics, JSON logs with a
request id and without personal data, and a warning about SQLite in production."""

from __future__ import annotations

import json
import logging
import re
from datetime import timedelta

import pytest

from shared import observability, web
from shared.db import Database


def _intake(settings, **overrides):
    from intake import create_app

    return create_app({**settings, **overrides})


def _responder(settings, **overrides):
    from responder import create_app

    return create_app({**settings, **overrides})


# -- the client's address behind the proxy -------------------------------------------------------


def _post_from(client, address: str | None) -> int:
    headers = {"X-Forwarded-For": address} if address else {}
    return client.post("/api/v1/feedback", json={"body": "意见"}, headers=headers).status_code


def test_rate_limits_count_per_forwarded_address_behind_one_proxy(db, demo, settings, monkeypatch):
    """Behind nginx (TRUSTED_PROXIES=1, the default) each client address has its own limit."""
    monkeypatch.delenv("TRUSTED_PROXIES", raising=False)
    app = _intake(settings, RATELIMIT_ENABLED=True)
    assert app.config["TRUSTED_PROXIES"] == 1
    client = app.test_client()
    assert [_post_from(client, "203.0.113.7") for _ in range(6)] == [201] * 5 + [429]
    assert _post_from(client, "198.51.100.9") == 201  # another citizen is not refused
    # Only the address the trusted proxy appended counts, not what the client wrote before it.
    assert _post_from(client, "10.9.9.9, 203.0.113.7") == 429


def test_forwarded_address_is_ignored_without_a_trusted_proxy(db, demo, settings, monkeypatch):
    """TRUSTED_PROXIES=0: clients reach the app directly, so X-Forwarded-For is not believed
    (else anyone could escape the limit by making up addresses)."""
    monkeypatch.setenv("TRUSTED_PROXIES", "0")
    app = _intake(settings, RATELIMIT_ENABLED=True)
    client = app.test_client()
    statuses = [_post_from(client, f"203.0.113.{i}") for i in range(6)]
    assert statuses == [201] * 5 + [429]


def test_trusted_proxies_must_be_a_number(settings, monkeypatch):
    from shared.config import ConfigError

    monkeypatch.setenv("TRUSTED_PROXIES", "nginx")
    with pytest.raises(ConfigError, match="TRUSTED_PROXIES"):
        _intake(settings)


# -- SQLite in production --------------------------------------------------------------------------


def test_sqlite_in_production_is_warned_about_once(settings, tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(web, "_warned_sqlite", False)
    monkeypatch.setenv("MINYI_LOG_FORMAT", "text")
    sqlite = Database(f"sqlite:///{tmp_path / 'prod.db'}")
    try:
        with caplog.at_level(logging.WARNING, logger="shared.web"):
            for _ in range(2):
                _intake(settings, MINYI_ENV="production", DATABASE=sqlite)
                _responder(settings, MINYI_ENV="production", DATABASE=sqlite)
    finally:
        sqlite.dispose()
    warnings = [r for r in caplog.records if "use PostgreSQL in production" in r.getMessage()]
    assert len(warnings) == 1 and warnings[0].levelno == logging.WARNING


def test_no_sqlite_warning_in_development(settings, tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(web, "_warned_sqlite", False)
    sqlite = Database(f"sqlite:///{tmp_path / 'dev.db'}")
    try:
        with caplog.at_level(logging.WARNING, logger="shared.web"):
            _intake(settings, MINYI_ENV="development", DATABASE=sqlite)
    finally:
        sqlite.dispose()
    assert "PostgreSQL" not in caplog.text


# -- metrics ----------------------------------------------------------------------------------


def test_metrics_on_both_apps_by_endpoint_never_by_path(db, demo, settings):
    """Request counts and latencies by endpoint and status; a tracking number in a path never
    becomes a label value. Many apps in one process do not collide."""
    for make in (_intake, _responder):
        client = make(settings, RATELIMIT_ENABLED=True).test_client()
        client.get("/healthz")
        client.get("/track/ABCD-2345")
        client.get("/api/v1/feedback/ABCD-2345", headers={"X-Passcode": "12345678"})
        response = client.get("/metrics")
        assert response.status_code == 200
        text = response.get_data(as_text=True)
        assert "minyi_http_request_total" in text
        healthz = r'minyi_http_request_duration_seconds_count\{.*endpoint="health.healthz"'
        assert re.search(healthz, text)
        assert "ABCD-2345" not in text and "12345678" not in text
        assert "path=" not in text


def test_metrics_are_not_rate_limited(db, demo, settings):
    client = _intake(settings, RATELIMIT_ENABLED=True).test_client()
    assert {client.get("/metrics").status_code for _ in range(50)} == {200}


# -- logs and request ids ------------------------------------------------------------------------


@pytest.fixture
def json_logs(monkeypatch, capsys):
    """JSON logging switched on, its lines read from standard error; the handler removed
    afterwards (it is made once per process)."""
    monkeypatch.setenv("MINYI_LOG_FORMAT", "json")
    root = logging.getLogger()
    level = root.level
    yield lambda: capsys.readouterr().err
    handler = observability.json_handler()
    if handler is not None:
        root.removeHandler(handler)
    root.setLevel(level)


def test_json_log_lines_name_the_request_but_not_its_query(db, demo, settings, json_logs):
    app = _intake(settings)
    assert observability.json_handler() is not None

    @app.get("/test-log/<number>")
    def test_log(number):
        app.logger.warning("looked up")
        return "ok"

    client = app.test_client()
    response = client.get(
        "/test-log/ABCD-2345?passcode=87654321&lang=en", headers={"X-Request-ID": "abc-123_X"}
    )
    assert response.status_code == 200
    assert response.headers["X-Request-ID"] == "abc-123_X"
    written = json_logs()
    lines = [json.loads(line) for line in written.splitlines() if line.startswith("{")]
    entry = next(line for line in lines if line["msg"] == "looked up")
    assert entry["request_id"] == "abc-123_X"
    assert entry["path"] == "/test-log/ABCD-2345" and entry["method"] == "GET"
    assert entry["level"] == "WARNING" and entry["logger"] == app.logger.name
    assert entry["ts"].endswith("+00:00")
    assert "87654321" not in written and "passcode" not in written


def test_an_unsafe_request_id_is_replaced(db, demo, settings, json_logs):
    client = _intake(settings).test_client()
    for offered in ("<script>", "x" * 65, "a b", ""):
        headers = {"X-Request-ID": offered} if offered else {}
        request_id = client.get("/healthz", headers=headers).headers["X-Request-ID"]
        assert re.fullmatch(r"[0-9a-f]{32}", request_id)


def test_every_response_has_a_request_id(db, settings):
    client = _responder(settings).test_client()
    first = client.get("/healthz").headers["X-Request-ID"]
    second = client.get("/nowhere").headers["X-Request-ID"]
    assert first and second and first != second


def test_development_logs_stay_readable():
    """Plain logs in development, JSON in production, MINYI_LOG_FORMAT overriding either."""
    wants = observability.wants_json_logs
    assert not wants({"MINYI_ENV": "development"})
    assert wants({"MINYI_ENV": "production"})
    assert not wants({"MINYI_ENV": "production", "MINYI_LOG_FORMAT": "text"})
    assert wants({"MINYI_ENV": "development", "MINYI_LOG_FORMAT": "json"})


def test_one_time_and_rating_links_are_logged_without_their_secret(db, settings, json_logs):
    """Whoever reads the logs must not be able to use a link to set a password or to rate."""
    app = _responder(settings)

    @app.get("/invitation/<token>/probe")
    def probe(token):
        app.logger.warning("probed")
        return "ok"

    assert app.test_client().get("/invitation/s3cr3t-token-abc/probe").status_code == 200
    written = json_logs()
    entry = next(
        json.loads(line)
        for line in written.splitlines()
        if line.startswith("{") and "probed" in line
    )
    assert entry["path"] == "/invitation/…/probe"
    assert "s3cr3t" not in written


def test_gunicorn_access_log_leaves_the_secret_out():
    """The access log line of both services (deploy/gunicorn/*.conf.py) masks the token."""
    from types import SimpleNamespace

    from gunicorn.config import Config

    from shared.gunicorn_logging import AccessLogger

    config = Config()
    config.set("accesslog", None)
    logger = AccessLogger(config)
    request = SimpleNamespace(
        method="GET",
        path="/rate/abcdef0123456789",
        query="",
        uri="/rate/abcdef0123456789",
        version=(1, 1),
        headers=[],
    )
    response = SimpleNamespace(status="200 OK", response_length=2, headers=[], sent=2)
    environ = {
        "REQUEST_METHOD": "GET",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "RAW_URI": "/rate/abcdef0123456789",
        "PATH_INFO": "/rate/abcdef0123456789",
    }
    atoms = logger.atoms(response, request, environ, timedelta(milliseconds=3))
    assert atoms["U"] == "/rate/…"
    assert "abcdef" not in atoms["U"]


def test_secret_links_are_masked_however_their_slashes_are_doubled():
    """A link made from a base address ending in "/" reaches the server as //rate/<token>."""
    from shared.secret_paths import loggable_path

    assert loggable_path("//rate/abcdef0123456789") == "//rate/…"
    assert loggable_path("/invitation//abcdef0123456789/x") == "/invitation//…/x"
    assert loggable_path("/track/ABCD-2345") == "/track/ABCD-2345"
