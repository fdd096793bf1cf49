"""Metrics for Prometheus, JSON logs and a request id: what operations needs to watch the apps.

- ``/metrics`` on both apps: request count and latency by *endpoint* (never by path: a path
  holds tracking numbers, which are personal data and would make a label value per case) and
  status. nginx serves it to localhost only. Under gunicorn set ``PROMETHEUS_MULTIPROC_DIR``
  (an empty directory, emptied at each start) so the workers' counts are added up.
- Logs: one JSON object per line when ``MINYI_LOG_FORMAT=json``, or by default outside
  development (``MINYI_ENV``); ``MINYI_LOG_FORMAT=text`` keeps them human-readable anywhere.
  A line names the request (its id, method and path) but never the query string, which may
  hold a passcode.
- Each request has an id, taken from ``X-Request-ID`` if nginx (or a client) sent a sane one,
  else made here; it is in ``g.request_id``, in every log line of the request, and in the
  response's ``X-Request-ID``.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from flask import Flask, g, has_request_context, request
from flask.logging import default_handler
from prometheus_client import CollectorRegistry

from shared.secret_paths import loggable_path

REQUEST_ID_HEADER = "X-Request-ID"
_SAFE_REQUEST_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")

#: The environment variable that makes the metrics multi-process (gunicorn's workers).
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
LOG_FORMAT_ENV = "MINYI_LOG_FORMAT"


# -- metrics -------------------------------------------------------------------------------------


def init_metrics(app: Flask) -> Any:
    """``/metrics`` on ``app``: HTTP request count and latency by endpoint and status."""
    from shared.extensions import csrf, limiter

    def exempt(view):
        # Prometheus scrapes often; it must never be rate limited, and it only GETs.
        return limiter.exempt(csrf.exempt(view))

    options: dict[str, Any] = {
        "group_by": "endpoint",  # not "path": tracking numbers are in paths
        "defaults_prefix": "minyi",
        "default_labels": {"app": app.name},
        "metrics_decorator": exempt,
    }
    if os.environ.get(MULTIPROC_ENV):
        # The "Internal" variant serves /metrics from the app itself (GunicornPrometheusMetrics
        # would need a separate HTTP server); it reads every worker's files in the directory.
        from prometheus_flask_exporter.multiprocess import GunicornInternalPrometheusMetrics

        metrics = GunicornInternalPrometheusMetrics(app, path="/metrics", **options)
    else:
        from prometheus_flask_exporter import PrometheusMetrics

        # A registry of its own per app: the default global one would refuse the second app
        # made in one process ("Duplicated timeseries in CollectorRegistry"), as tests do.
        metrics = PrometheusMetrics(app, path="/metrics", registry=CollectorRegistry(), **options)
    app.extensions["minyi.metrics"] = metrics
    return metrics


# -- request id ----------------------------------------------------------------------------------


def _assign_request_id() -> None:
    offered = request.headers.get(REQUEST_ID_HEADER, "")
    g.request_id = offered if _SAFE_REQUEST_ID.fullmatch(offered) else uuid.uuid4().hex


def _return_request_id(response):
    request_id = g.get("request_id")
    if request_id is None:  # a request refused before any before_request ran
        request_id = g.request_id = uuid.uuid4().hex
    response.headers[REQUEST_ID_HEADER] = request_id
    return response


def init_request_id(app: Flask) -> None:
    """Register first, so the id exists before any other hook can log or refuse."""
    app.before_request(_assign_request_id)
    app.after_request(_return_request_id)


# -- logs ----------------------------------------------------------------------------------------


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, msg, and the request it belongs to."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if has_request_context():
            request_id = g.get("request_id")
            if request_id:
                entry["request_id"] = request_id
            entry["method"] = request.method
            # never the query string (it may hold a passcode), nor the secret of a link
            entry["path"] = loggable_path(request.path)
        status = getattr(record, "status", None)
        if status is not None:
            entry["status"] = status
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is now (not the one at set-up), like logging's own
    last-resort handler: stderr may be replaced (pytest's capture, a daemon's redirect)."""

    def __init__(self) -> None:
        super().__init__()

    @property
    def stream(self):  # type: ignore[override]
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:  # StreamHandler.__init__ assigns it; ignored
        pass


def wants_json_logs(settings: Mapping[str, Any]) -> bool:
    """``MINYI_LOG_FORMAT`` decides (json or text); unset: JSON outside development."""
    chosen = str(settings.get(LOG_FORMAT_ENV) or "").strip().lower()
    if chosen in {"json", "text"}:
        return chosen == "json"
    return settings.get("MINYI_ENV", "development") != "development"


def json_handler() -> logging.Handler | None:
    """The JSON handler this module put on the root logger, if any."""
    for handler in logging.getLogger().handlers:
        if getattr(handler, "_minyi_json", False):
            return handler
    return None


def init_logging(app: Flask) -> None:
    """JSON logs for ``app`` (and everything else via the root logger) when wanted; once per
    process however many apps are made."""
    if not wants_json_logs(app.config):
        return
    root = logging.getLogger()
    if json_handler() is None:
        handler = _StderrHandler()
        handler.setFormatter(JsonFormatter())
        handler._minyi_json = True  # type: ignore[attr-defined]
        root.addHandler(handler)
        if root.level == logging.NOTSET or root.level > logging.INFO:
            root.setLevel(logging.INFO)
    # The app's records go up to the root's JSON handler, not to Flask's plain-text one.
    app.logger.removeHandler(default_handler)
