"""Gunicorn settings of both services, behind nginx on the same host.

Not a config file of its own: deploy/gunicorn/intake.conf.py and responder.conf.py (the files
the systemd units, the compose file and the Dockerfile name) each run this file and take
``settings(SERVICE, PORT)`` as their own names, which is what gunicorn reads.
"""

import glob
import multiprocessing
import os
from typing import Any


def settings(service: str, port: int) -> dict[str, Any]:
    """The gunicorn settings of ``service`` ("intake" or "responder"), listening on ``port``."""
    config: dict[str, Any] = {
        # Loopback only: nginx is the one way in. GUNICORN_BIND lets a container listen on
        # 0.0.0.0.
        "bind": os.environ.get("GUNICORN_BIND", f"127.0.0.1:{port}"),
        # Plain sync workers: requests are short database work; uploads are buffered by nginx
        # first.
        "workers": int(os.environ.get("GUNICORN_WORKERS") or multiprocessing.cpu_count() * 2 + 1),
        "worker_class": "sync",
        "timeout": 30,
        "graceful_timeout": 30,  # systemd waits 60 s (TimeoutStopSec) before it kills anything
        # The heartbeat file on tmpfs: a slow or full disk must not make gunicorn kill healthy
        # workers.
        "worker_tmp_dir": "/dev/shm",  # noqa: S108 (gunicorn makes its own unique file there)
        # Trust X-Forwarded-Proto only from nginx on this host (HTTPS links, Secure cookies).
        "forwarded_allow_ips": "127.0.0.1",
        # To standard error, i.e. the journal. No personal data: no client address, no query
        # string (the tracking link carries the passcode in it), no referrer, no user agent.
        "accesslog": "-",
        "errorlog": "-",
        "access_log_format": "%(m)s %(U)s %(s)s %(b)s %(M)sms",
        # %(U)s without the secret of a one-time link or a rating link (shared/secret_paths.py).
        "logger_class": "shared.gunicorn_logging.AccessLogger",
        "on_starting": on_starting,
        "child_exit": child_exit,
    }

    # gunicorn >= 25 opens a control socket (for gunicornc), by default
    # $HOME/.gunicorn/gunicorn.ctl: one path for both services of the minyi user, and read-only
    # under ProtectHome. Keep it in the service's own runtime folder
    # (RuntimeDirectory=minyi/<service>), or have none.
    control_dir = f"/run/minyi/{service}"
    if os.path.isdir(control_dir):
        config["control_socket"] = os.path.join(control_dir, "gunicorn.ctl")
    else:
        config["control_socket_disable"] = True

    # Prometheus multiprocess mode (/metrics, shared/observability.py): each service keeps its
    # own files in a folder below PROMETHEUS_MULTIPROC_DIR (from /etc/minyi/minyi.env), so
    # intake and responder do not mix. The folder must exist before the app is loaded.
    metrics_base = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if metrics_base:
        if os.path.basename(os.path.normpath(metrics_base)) != service:
            os.environ["PROMETHEUS_MULTIPROC_DIR"] = os.path.join(metrics_base, service)
        os.makedirs(os.environ["PROMETHEUS_MULTIPROC_DIR"], exist_ok=True)
    return config


def on_starting(server):
    """Start with an empty metrics folder: files of the last run's workers would be counted."""
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if folder:
        for path in glob.glob(os.path.join(folder, "*.db")):
            os.remove(path)


def child_exit(server, worker):
    """Tell prometheus_client a worker is gone, so its live gauges stop being reported."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_flask_exporter.multiprocess import GunicornInternalPrometheusMetrics

        GunicornInternalPrometheusMetrics.mark_process_dead_on_child_exit(worker.pid)
