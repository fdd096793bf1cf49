"""Metrics for Prometheus, JSON logs and a request id: what operations needs to watch the apps.

- ``/metrics`` on both apps: request count and latency by *endpoint* (never by path: a path
  holds tracking numbers, which are personal data and would make a label value per case) and
  status. nginx serves it to localhost only. Under gunicorn set ``PROMETHEUS_MULTIPROC_DIR``
  (an empty directory, emptied at each start) so the workers' counts are added up. A process
  that cannot write there runs without metrics and says so once, rather than not at all.
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
import tempfile
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

log = logging.getLogger("minyi.metrics")


# -- metrics -------------------------------------------------------------------------------------


def unusable_metrics_folder(folder: str) -> str | None:
    """Why prometheus_client could not keep its files in ``folder`` (missing, read-only, not
    ours), or None if it can: found by writing there, as prometheus_client will."""
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as error:
        return error.strerror or type(error).__name__
    return None


_warned_metrics_off = False


def _metrics_off(folder: str, problem: str) -> None:
    """Once per process, however many apps it makes (the worker makes one, tests many)."""
    global _warned_metrics_off
    if not _warned_metrics_off:
        _warned_metrics_off = True
        log.warning(
            "metrics are off in this process: %s=%s cannot be written (%s)",
            MULTIPROC_ENV,
            folder,
            problem,
        )


def init_metrics(app: Flask) -> Any:
    """``/metrics`` on ``app``: HTTP request count and latency by endpoint and status; None
    when the multi-process folder cannot be written (the app then has no ``/metrics``)."""
    from shared.extensions import csrf, limiter

    folder = os.environ.get(MULTIPROC_ENV)
    # prometheus_client writes a file there for every metric it makes, from the first
    # request on: an unusable folder would fail requests, or stop the worker at start. Set
    # but empty, it means the working directory to prometheus_client.
    if folder is not None:
        problem = unusable_metrics_folder(folder) if folder else "it is empty"
        if problem:
            _metrics_off(folder, problem)
            return None

    def exempt(view):
        # Prometheus scrapes often; it must never be rate limited, and it only GETs.
        return limiter.exempt(csrf.exempt(view))

    options: dict[str, Any] = {
        "group_by": "endpoint",  # not "path": tracking numbers are in paths
        "defaults_prefix": "minyi",
        "default_labels": {"app": app.name},
        "metrics_decorator": exempt,
    }
    if folder:
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
    return _our_handler("json")


def _our_handler(kind: str) -> logging.Handler | None:
    for handler in logging.getLogger().handlers:
        if getattr(handler, "_minyi", None) == kind:
            return handler
    return None


#: Plain lines of the command-line services, with the time (the journal adds its own too).
TEXT_FORMAT = "%(asctime)s %(name)s %(levelname)s %(message)s"


def _add_root_handler(kind: str) -> None:
    handler = _StderrHandler()
    handler.setFormatter(JsonFormatter() if kind == "json" else logging.Formatter(TEXT_FORMAT))
    handler._minyi = kind  # type: ignore[attr-defined]
    root = logging.getLogger()
    root.addHandler(handler)
    if root.level == logging.NOTSET or root.level > logging.INFO:
        root.setLevel(logging.INFO)


def init_process_logging(settings: Mapping[str, Any]) -> None:
    """The log of a long-running command (worker, LMTP receiver, IMAP poller): one handler
    on the root logger, writing JSON or text lines to standard error (the journal), as
    :func:`wants_json_logs` decides. An app made later in the process adds no second one,
    so every line is written once."""
    if _our_handler("json") is None and _our_handler("text") is None:
        _add_root_handler("json" if wants_json_logs(settings) else "text")


def init_logging(app: Flask) -> None:
    """JSON logs for ``app`` (and everything else via the root logger) when wanted; once per
    process however many apps are made."""
    if not wants_json_logs(app.config):
        return
    if json_handler() is None:
        _add_root_handler("json")
    # The app's records go up to the root's JSON handler, not to Flask's plain-text one.
    app.logger.removeHandler(default_handler)
