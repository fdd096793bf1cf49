"""Gunicorn settings for the staff side (responder), behind nginx on the same host.

Started by deploy/systemd/minyi-responder.service as
``gunicorn -c deploy/gunicorn/responder.conf.py 'responder:create_app()'``.
Only deploy/gunicorn/intake.conf.py differs from this file, in SERVICE and the port.
"""

import glob
import multiprocessing
import os

SERVICE = "responder"

# Loopback only: nginx is the one way in. GUNICORN_BIND lets a container listen on 0.0.0.0.
bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8001")

# Plain sync workers: requests are short database work; uploads are buffered by nginx first.
workers = int(os.environ.get("GUNICORN_WORKERS") or multiprocessing.cpu_count() * 2 + 1)
worker_class = "sync"
timeout = 30
graceful_timeout = 30  # systemd waits 60 s (TimeoutStopSec) before it kills anything
# The heartbeat file on tmpfs: a slow or full disk must not make gunicorn kill healthy workers.
worker_tmp_dir = "/dev/shm"  # noqa: S108 (gunicorn makes its own unique file there)

# Trust X-Forwarded-Proto only from nginx on this host (HTTPS links, Secure cookies).
forwarded_allow_ips = "127.0.0.1"

# gunicorn >= 25 opens a control socket (for gunicornc), by default $HOME/.gunicorn/gunicorn.ctl:
# one path for both services of the minyi user, and read-only under ProtectHome. Keep it in
# the service's own runtime folder (RuntimeDirectory=minyi/<service>), or have none.
_control_dir = f"/run/minyi/{SERVICE}"
if os.path.isdir(_control_dir):
    control_socket = os.path.join(_control_dir, "gunicorn.ctl")
else:
    control_socket_disable = True

# To standard error, i.e. the journal. No personal data: no client address, no query string
# (the tracking link carries the passcode in it), no referrer, no user agent.
accesslog = "-"
errorlog = "-"
access_log_format = "%(m)s %(U)s %(s)s %(b)s %(M)sms"
# %(U)s without the secret of a one-time link or a rating link (shared/secret_paths.py).
logger_class = "shared.gunicorn_logging.AccessLogger"

# Prometheus multiprocess mode (/metrics, shared/observability.py): each service keeps its
# own files in a folder below PROMETHEUS_MULTIPROC_DIR (from /etc/minyi/minyi.env), so
# intake and responder do not mix. The folder must exist before the app is loaded.
_metrics_base = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
if _metrics_base:
    if os.path.basename(os.path.normpath(_metrics_base)) != SERVICE:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = os.path.join(_metrics_base, SERVICE)
    os.makedirs(os.environ["PROMETHEUS_MULTIPROC_DIR"], exist_ok=True)


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
