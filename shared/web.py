"""What both Flask services set up the same way: settings, database, language, CSRF, health,
errors. Each service's ``create_app`` calls :func:`configure_app` first.

Refusals are mapped here, once: an operation's :class:`~shared.operations.errors.Refusal` and
a schema's ValidationError become the API's ``422 {"errors": {field: [messages]}}`` (403 for
a role that may not, 400 for a list filter that cannot be read), and a form view shows them
with :func:`refusal_messages` or :func:`flash_refusal`."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from datetime import datetime
from http import HTTPStatus
from typing import Any

from flask import Blueprint, Flask, current_app, flash, g, jsonify, request, session, url_for
from flask_babel import gettext
from marshmallow import ValidationError
from sqlalchemy.exc import DBAPIError, OperationalError
from werkzeug.exceptions import BadRequest, Forbidden, HTTPException, RequestEntityTooLarge
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter

from shared.config import ConfigError, load_settings
from shared.db import SHANGHAI, Database
from shared.extensions import babel, csrf
from shared.i18n import (
    N_,
    TRANSLATIONS_DIR,
    compile_catalogues,
    localize_errors,
    negotiate,
)
from shared.observability import init_logging, init_metrics, init_request_id
from shared.operations.errors import BadFilter, NotAllowed, Refusal, StepRefused

log = logging.getLogger(__name__)

health = Blueprint("health", __name__)


class DatabaseIdConverter(IntegerConverter):
    """``<int:…>`` limited to what an INTEGER column holds, so ``/x/99999999999`` is a 404
    rather than an overflow inside PostgreSQL."""

    def __init__(self, url_map, **kwargs) -> None:
        kwargs.setdefault("max", 2**31 - 1)
        super().__init__(url_map, **kwargs)


def configure_app(app: Flask, overrides: Mapping[str, Any] | None) -> None:
    settings = load_settings(overrides)
    # Ours first, then the settings: an explicit override wins. (Not ``setdefault``: Flask's
    # own defaults already hold several of these keys, e.g. MAX_CONTENT_LENGTH = None.)
    app.config.update(
        MAX_CONTENT_LENGTH=settings["MAX_MESSAGE_BYTES"],
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings["MINYI_ENV"] != "development",
        WTF_CSRF_TIME_LIMIT=24 * 3600,  # a citizen may write for a long time
        BABEL_TRANSLATION_DIRECTORIES=str(TRANSLATIONS_DIR),
        BABEL_DEFAULT_TIMEZONE="Asia/Shanghai",
        # Mail leaves only through the outbox worker; TESTING must not silently swallow it.
        MAIL_SUPPRESS_SEND=False,
        RATELIMIT_HEADERS_ENABLED=True,
        # Each limit counts the requests of the last minute (or hour) whenever it is asked:
        # a fixed window would let twice the limit through across the turn of a minute, and
        # would forget a flood that straddles it.
        RATELIMIT_STRATEGY="moving-window",
    )
    app.config.update(settings)
    app.json.ensure_ascii = False  # Chinese as characters, not \\u escapes
    # Before any route is added: an id too large for the database's integer is "not found".
    app.url_map.converters["int"] = DatabaseIdConverter
    init_logging(app)
    _trust_proxies(app)

    try:
        compile_catalogues()  # a no-op unless a catalogue changed since it was compiled
    except OSError as error:  # a read-only installation keeps the catalogues it was built with
        app.logger.warning("message catalogues not compiled: %s", error)

    database = app.config.get("DATABASE") or Database(app.config["DATABASE_URL"])
    app.extensions["minyi.db"] = database
    _warn_about_sqlite_in_production(settings["MINYI_ENV"], database)
    init_request_id(app)  # first of the request hooks, so every later one may log with it
    babel.init_app(app, locale_selector=select_language)
    app.before_request(_refuse_oversized)  # before CSRF, which would misread a cut-off form
    csrf.init_app(app)
    app.register_blueprint(health)
    app.register_error_handler(OperationalError, _database_unavailable)
    app.register_error_handler(DBAPIError, _database_unavailable)
    app.after_request(_security_headers)
    app.after_request(_retry_after_only_on_refusals)
    app.context_processor(lambda: {"lang": current_language(), "language_url": language_url})
    app.add_template_filter(shanghai_time)
    init_metrics(app)


def trusted_proxies(app: Flask) -> int:
    """How many reverse proxies stand in front of the app and set X-Forwarded-*.

    ``TRUSTED_PROXIES`` from the app's configuration (an override) or the environment; 1 by
    default: nginx in front, as deployed. 0 when clients reach gunicorn directly, or they
    could choose their own address (and so escape the rate limits) with X-Forwarded-For.
    """
    raw = app.config.get("TRUSTED_PROXIES", 1)
    try:
        count = int(raw)
    except (TypeError, ValueError):
        raise ConfigError(f"TRUSTED_PROXIES: not a number: {raw!r}") from None
    if count < 0:
        raise ConfigError(f"TRUSTED_PROXIES: must not be negative: {raw!r}")
    return count


def _trust_proxies(app: Flask) -> None:
    """The client's address, scheme and host as the trusted proxies saw them:
    ``request.remote_addr`` (which the rate limits key on) becomes the address nginx put in
    X-Forwarded-For, instead of nginx's own."""
    count = trusted_proxies(app)
    app.config["TRUSTED_PROXIES"] = count
    if count:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=count, x_proto=count, x_host=count)


_warned_sqlite = False


def _warn_about_sqlite_in_production(minyi_env: str, database: Database) -> None:
    """Once per process: gunicorn's workers are several processes, and SQLite lets only one
    write at a time."""
    global _warned_sqlite
    if minyi_env == "development" or database.dialect != "sqlite" or _warned_sqlite:
        return
    _warned_sqlite = True
    log.warning("SQLite with several worker processes: use PostgreSQL in production")


def shanghai_time(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A stored UTC time as a reader in China reads it."""
    return value.astimezone(SHANGHAI).strftime(fmt) if value else ""


def language_url(language: str) -> str:
    """This page in another language: the same address and arguments, only ``lang`` changed.
    After a form was posted, the form's own page (a POST address cannot be linked to)."""
    if request.method != "GET" or request.endpoint is None:
        if "web.index" in current_app.view_functions:
            return url_for("web.index", lang=language)
        return f"/?lang={language}"
    arguments = {**request.args.to_dict(), **(request.view_args or {}), "lang": language}
    return url_for(request.endpoint, **arguments)


def current_db() -> Database:
    return current_app.extensions["minyi.db"]


def select_language() -> str:
    """``?lang=`` (remembered for the visit), else the visit's earlier choice, else the browser's
    preference, else Chinese."""
    if "lang" not in g:
        chosen = request.args.get("lang")
        if chosen:
            g.lang = negotiate(chosen, None)
            if not wants_json():  # the API sets no cookies
                session["lang"] = g.lang
        else:
            g.lang = negotiate(session.get("lang"), request.accept_languages)
    return g.lang


def current_language() -> str:
    return select_language()


def translated_errors(errors: Any) -> Any:
    return localize_errors(errors, gettext)


#: What a form view catches and shows at its fields: the input as its schema refused it, or
#: the step as an operation refused it. (NotAllowed and BadFilter are no mistake of the form:
#: they go on to the 403 and 400 answers of :func:`json_http_errors`.)
REFUSED = (ValidationError, StepRefused)


def refusal_messages(error: ValidationError | Refusal) -> dict[str, Any]:
    """What was refused, as ``{field: [messages]}`` in the reader's language."""
    if isinstance(error, Refusal):
        return translated_errors(error.messages)
    return translated_errors(error.normalized_messages())


def refusal_text(error: ValidationError | Refusal) -> str:
    """Every message of the refusal in one line, for a page that shows one message."""
    return " ".join(_flattened(refusal_messages(error)))


def flash_refusal(error: ValidationError | Refusal) -> None:
    """The refusal as the messages at the top of the next page, one per field."""
    for messages in refusal_messages(error).values():
        flash(" ".join(_flattened(messages)), "error")


def _flattened(errors: Any) -> list[str]:
    if isinstance(errors, dict):
        return [text for value in errors.values() for text in _flattened(value)]
    if isinstance(errors, list):
        return [text for value in errors for text in _flattened(value)]
    return [str(errors)]


def wants_json() -> bool:
    return request.path.startswith("/api/")


def json_error(status: int, message: str, **extra: Any):
    body = {"error": HTTPStatus(status).phrase, "message": message, **extra}
    return jsonify(body), status


#: Seconds a client is asked to wait when the database does not answer.
RETRY_AFTER_UNAVAILABLE = "30"


def _database_unavailable(error: Exception):
    current_app.logger.error("database unavailable: %s", type(error).__name__)
    message = gettext("The service is busy. Nothing was saved; please try again in a minute.")
    if wants_json():
        response, status = json_error(503, message)
    else:
        response, status = message, 503
    return response, status, {"Retry-After": RETRY_AFTER_UNAVAILABLE}


def _retry_after_only_on_refusals(response):
    """Flask-Limiter (RATELIMIT_HEADERS_ENABLED, for the X-RateLimit-* counts) writes
    Retry-After on every response of a limited endpoint, and on a 503 replaces ours with its
    own window. Retry-After means "try again later": a 429 keeps the limiter's, a 503 gets
    ours, and nothing else says it. Registered before the limiter, so it runs after it."""
    if response.status_code == 503:
        response.headers["Retry-After"] = RETRY_AFTER_UNAVAILABLE
    elif response.status_code != 429:
        response.headers.pop("Retry-After", None)
    return response


_SURROGATE = re.compile(r"[\ud800-\udfff]")


#: What a client is told for the HTTP errors it can cause, in its language.
_HTTP_MESSAGES = {
    404: N_("Not found."),
    405: N_("This method is not allowed here."),
    413: N_("The request is too large."),
    429: N_("Too many requests from your address; try again later."),
}


def json_http_error(error: HTTPException):
    """An HTTP error as JSON, keeping headers such as Retry-After."""
    message = _HTTP_MESSAGES.get(error.code or 500)
    description = gettext(message) if message else (error.description or "")
    response, status = json_error(error.code or 500, description)
    for name, value in error.get_headers():
        if name.lower() != "content-type":
            response.headers[name] = value
    return response, status


class BadJSON(Exception):
    """The body is not JSON at all (400), as opposed to JSON with wrong fields (422)."""


def json_object_body(*, optional: bool = False) -> dict[str, Any]:
    """The request body as a JSON object, whatever a client sends (``optional``: or none)."""
    if optional and not request.get_data(cache=True).strip():
        return {}
    try:
        payload = json.loads(request.get_data(cache=False))
    except (ValueError, RecursionError) as error:  # bad UTF-8, bad syntax, 10^5000, [[[[...
        raise BadJSON from error
    if not isinstance(payload, dict):
        raise ValidationError({"_schema": [N_("Send a JSON object.")]})
    if any(_SURROGATE.search(key) for key in payload):
        # A field name is echoed in "Unknown field." errors; a lone surrogate cannot be encoded.
        raise ValidationError({"_schema": [N_("Field names must be valid text.")]})
    return payload


def json_http_errors(app: Flask) -> None:
    """Errors under ``/api/`` answer in JSON, never as an HTML page; refusals answer alike
    everywhere (see the module's docstring)."""

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException):
        return json_http_error(error) if wants_json() else error

    @app.errorhandler(BadJSON)
    def _bad_json(error: BadJSON):
        return json_error(400, gettext("The request body is not valid JSON."))

    @app.errorhandler(ValidationError)
    @app.errorhandler(Refusal)
    def _refused(error: ValidationError | Refusal):
        """The one answer to a refusal no form view showed (the transaction it left is rolled
        back): 403 for a step the user's role may not take on a case they can see, 400 for a
        list filter that cannot be read, else 422 with the messages by field."""
        if isinstance(error, NotAllowed | BadFilter):
            http_error = Forbidden() if isinstance(error, NotAllowed) else BadRequest()
            if wants_json():
                return json_error(http_error.code, refusal_text(error))
            return app.handle_http_exception(http_error)
        return jsonify(errors=refusal_messages(error)), 422


def _refuse_oversized() -> None:
    """A declared body over the limit is refused before anything tries to read it."""
    limit = current_app.config.get("MAX_CONTENT_LENGTH")
    if limit and request.content_length and request.content_length > limit:
        raise RequestEntityTooLarge()


def _security_headers(response):
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    )
    return response


@health.get("/healthz")
def healthz():
    """The process is up."""
    return {"status": "ok"}


@health.get("/readyz")
def readyz():
    """The process can serve: its database answers."""
    try:
        current_db().ping()
    except (OperationalError, DBAPIError) as error:
        current_app.logger.warning("readyz: database unavailable: %s", type(error).__name__)
        return {"status": "unavailable", "database": "unreachable"}, 503
    return {"status": "ok", "database": "ok"}
