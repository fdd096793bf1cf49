"""The worker as its systemd unit and its container start it: the command, working directory
and environment of deploy/systemd/minyi-worker.service (or of deploy/docker/), with the
settings of deploy/.env.example as an administrator fills them in, against a real SMTP sink.
Wherever its metrics folder is missing or read-only, the worker runs without metrics and says
so once, rather than not at all."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import require
from tests.deploy.units import (
    DEPLOY,
    ROOT,
    manager_environment,
    settings_file,
    unit_command,
    unit_environment,
    unit_settings,
)
from tests.factories import queue_outbox


def administrators_settings(folder: Path, database_url: str, smtp_port: int) -> Path:
    """README step 4: the lines an administrator changes, with this test's database and an
    SMTP server that needs no login."""
    return settings_file(
        folder,
        SECRET_KEY="worker-unit-test",
        DATABASE_URL=database_url,
        VAR_DIR=str(folder / "var"),
        RATELIMIT_STORAGE_URI="memory://",
        MAIL_SERVER="127.0.0.1",
        MAIL_PORT=str(smtp_port),
        MAIL_USE_TLS="false",
        MAIL_USERNAME="",
        MAIL_PASSWORD="",
    )


def run_worker(environment: dict[str, str], *, wrap: list[str] = ()) -> subprocess.CompletedProcess:
    """The unit's ExecStart with --once, in its WorkingDirectory."""
    (directory,) = unit_settings("minyi-worker.service")["WorkingDirectory"]
    assert directory == "/opt/minyi"
    return subprocess.run(
        [*wrap, *unit_command("minyi-worker.service"), "--once"],
        cwd=ROOT, env=environment, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def assert_ran_and_logged_once(done: subprocess.CompletedProcess, smtp_sink) -> list[dict]:
    """The mail went out; standard error is JSON lines (MINYI_LOG_FORMAT=json), each once."""
    assert done.returncode == 0, done.stderr
    assert "sent 3, to retry 0, failed 0" in done.stdout
    assert len(smtp_sink.received) == 3
    lines = done.stderr.splitlines()
    entries = [json.loads(line) for line in lines]  # every line: not one plain-text copy
    assert not [entry for entry in entries if entry["logger"].startswith("fontTools")]  # chatter
    outbox = [entry for entry in entries if entry["msg"] == "outbox: 3 sent, 0 to retry, 0 failed"]
    assert len(outbox) == 1, done.stderr
    return entries


def metrics_warnings(entries: list[dict]) -> list[str]:
    return [entry["msg"] for entry in entries if entry["msg"].startswith("metrics are off")]


def test_the_worker_runs_as_its_unit_starts_it(db, database_url, smtp_sink, tmp_path):
    """The unit's own environment: the settings file's PROMETHEUS_MULTIPROC_DIR (/run/minyi,
    for gunicorn) is unset for the worker, which serves no metrics; nothing to warn about."""
    queue_outbox(db, 3)
    settings = administrators_settings(tmp_path, database_url, smtp_sink.port)
    assert "PROMETHEUS_MULTIPROC_DIR=/run/minyi" in settings.read_text()
    environment = unit_environment("minyi-worker.service", settings)
    assert "PROMETHEUS_MULTIPROC_DIR" not in environment
    assert environment["MINYI_ENV"] == "production" and environment["MINYI_LOG_FORMAT"] == "json"
    entries = assert_ran_and_logged_once(run_worker(environment), smtp_sink)
    assert metrics_warnings(entries) == []


@pytest.mark.parametrize("folder_is", ["missing", "read-only", "empty"])
def test_the_worker_runs_without_metrics_where_it_cannot_keep_them(
    db, database_url, smtp_sink, tmp_path, folder_is
):
    """With the settings file's PROMETHEUS_MULTIPROC_DIR kept (by hand: deploy/minyi.sh
    worker; or a unit without UnsetEnvironment=) and that folder missing, as on a worker-only
    host, or read-only, as ProtectSystem=strict makes /run, or the variable set but empty
    (prometheus_client's files would land in the working directory): the worker works, says
    once that it has no metrics, and writes no metrics file anywhere."""
    queue_outbox(db, 3)
    folder = tmp_path / "metrics"
    environment = unit_environment(
        "minyi-worker.service", administrators_settings(tmp_path, database_url, smtp_sink.port)
    )
    environment["PROMETHEUS_MULTIPROC_DIR"] = "" if folder_is == "empty" else str(folder)
    wrap: list[str] = []
    if folder_is == "read-only":
        require(shutil.which("unshare"), "unshare (util-linux) is not installed")
        folder.mkdir()
        # A mount namespace of its own in which the folder is mounted read-only.
        mount = f"mount --bind -o ro {shlex.quote(str(folder))} {shlex.quote(str(folder))}"
        wrap = ["unshare", "--map-root-user", "--mount", "sh", "-c", f'{mount} && exec "$@"', "-"]
    entries = assert_ran_and_logged_once(run_worker(environment, wrap=wrap), smtp_sink)
    reason = {
        "missing": "No such file or directory",
        "read-only": "Read-only file system",
        "empty": "it is empty",
    }[folder_is]
    assert metrics_warnings(entries) == [
        "metrics are off in this process: PROMETHEUS_MULTIPROC_DIR="
        f"{environment['PROMETHEUS_MULTIPROC_DIR']} cannot be written ({reason})"
    ]
    assert not list(ROOT.glob("*.db")) and not list(tmp_path.rglob("*_[0-9]*.db"))


def container(service: str, folder: Path) -> tuple[list[str], dict[str, str]]:
    """The command and environment the compose file gives ``service`` (its .env made from
    deploy/.env.example, then its environment:, over the image's ENV lines)."""
    require(shutil.which("docker-compose"), "docker-compose is not installed")
    shutil.copy(DEPLOY / "docker" / "compose.yaml", folder / "compose.yaml")
    shutil.copy(DEPLOY / ".env.example", folder / ".env")
    rendered = subprocess.run(
        ["docker-compose", "-f", str(folder / "compose.yaml"), "config"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert rendered.returncode == 0, rendered.stderr
    dockerfile = (DEPLOY / "docker" / "Dockerfile").read_text()
    image = dict(re.findall(r"(?:ENV|\\)\s+([A-Z_]+)=(\S+)", dockerfile))
    composed = yaml.safe_load(rendered.stdout)["services"][service]
    environment = {name: str(value) for name, value in composed["environment"].items()}
    return composed["command"], {**manager_environment(), **image, **environment}


def test_the_image_gives_gunicorn_a_metrics_folder_and_the_worker_none(tmp_path):
    """The image makes the folder PROMETHEUS_MULTIPROC_DIR names, owned by the user the
    processes run as; the worker's container unsets it, as its unit does."""
    dockerfile = (DEPLOY / "docker" / "Dockerfile").read_text()
    assert re.search(r"install -d -o minyi -g minyi [^\n]*/run/minyi\b", dockerfile)
    assert re.search(r"^USER minyi$", dockerfile, re.M)
    for service in ("intake", "responder", "worker"):
        _command, environment = container(service, tmp_path)
        assert environment["PROMETHEUS_MULTIPROC_DIR"] == "/run/minyi"
    command, _environment = container("worker", tmp_path)
    assert command == ["env", "-u", "PROMETHEUS_MULTIPROC_DIR", "minyi", "worker"]


def test_the_worker_runs_as_its_container_starts_it(db, database_url, smtp_sink, tmp_path):
    """The worker's container command and environment (image and compose file), its settings
    filled in as for the unit: it sends the mail, logs JSON once, says nothing of metrics."""
    queue_outbox(db, 3)
    command, environment = container("worker", tmp_path)
    environment.update(
        SECRET_KEY="worker-container-test",
        DATABASE_URL=database_url,
        VAR_DIR=str(tmp_path / "var"),
        RATELIMIT_STORAGE_URI="memory://",
        MAIL_SERVER="127.0.0.1",
        MAIL_PORT=str(smtp_sink.port),
        MAIL_USE_TLS="false",
        MAIL_USERNAME="",
        MAIL_PASSWORD="",
        # The image's /opt/minyi/.venv/bin first: this checkout's.
        PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}",
    )
    done = subprocess.run(
        [*command, "--once"], cwd=ROOT, env=environment, capture_output=True, text=True,
        timeout=300,
    )  # fmt: skip
    entries = assert_ran_and_logged_once(done, smtp_sink)
    assert metrics_warnings(entries) == []
