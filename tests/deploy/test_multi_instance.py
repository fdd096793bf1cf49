"""Several instances on one PostgreSQL, as deployed on more than one host: the rate limit holds
across instances (Redis), two outbox workers send each mail once, and of two IMAP pollers only
one works.

These tests always run against a PostgreSQL database of their own, made here and dropped
afterwards, whatever ``TEST_DATABASE_URL`` names: SQLite is not a multi-instance database.
"""

from __future__ import annotations

import os
import re
import secrets
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from sqlalchemy import func, select

from shared import migrate
from shared.db import Database
from shared.demo.seed import seed_demo
from shared.models import Case, InboundMail, OutboxEmail
from tests.conftest import require
from tests.dovecot import dovecot_fixture  # noqa: F401 (the "dovecot" fixture)
from tests.factories import queue_outbox
from tests.mailfactory import citizen_mail
from tests.mailservers import SmtpSink, free_port
from tests.servers import served

MINYI = str(Path(sys.executable).with_name("minyi"))
POSTGRES_ADMIN_URL = os.environ.get(
    "MULTI_INSTANCE_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
REDIS_DB = 14
CLIENT_ADDRESS = "203.0.113.45"  # the one citizen, as nginx reports it in X-Forwarded-For


def _reachable(host: str, port: int) -> bool:
    try:
        socket.create_connection((host, port), timeout=1).close()
        return True
    except OSError:
        return False


@pytest.fixture(scope="module")
def shared_db() -> Iterator[tuple[str, Database]]:
    """A fresh PostgreSQL database, migrated and seeded with the demo data; dropped after."""
    require(_reachable("127.0.0.1", 5432), "PostgreSQL is not running on 127.0.0.1:5432")
    import psycopg
    from sqlalchemy import make_url

    admin_url = make_url(POSTGRES_ADMIN_URL)
    name = f"minyi_multi_{secrets.token_hex(4)}"
    admin = admin_url.set(drivername="postgresql").render_as_string(hide_password=False)
    try:
        connection = psycopg.connect(admin, autocommit=True)
    except psycopg.OperationalError as error:
        require(False, f"cannot connect to PostgreSQL as {admin_url.username}: {error}")
        raise
    with connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    url = admin_url.set(database=name).render_as_string(hide_password=False)
    database = Database(url)
    try:
        migrate.upgrade(url)
        with database.transaction() as session:
            seed_demo(session)
        yield url, database
    finally:
        database.dispose()
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _env(url: str, tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "SECRET_KEY": "multi-instance",
        "MINYI_ENV": "development",
        "VAR_DIR": str(tmp_path / "var"),
        **extra,
    }
    for name in ("PROMETHEUS_MULTIPROC_DIR", "MINYI_TEST_SLOW_FETCH"):
        if name not in extra:
            env.pop(name, None)
    return env


def _post(base: str, number: int) -> int:
    body = f'{{"body": "第{number}条意见", "email": "citizen{number}@example.cn"}}'
    request = urllib.request.Request(
        base + "/api/v1/feedback",
        data=body.encode(),
        headers={
            "Content-Type": "application/json",
            "Connection": "close",
            "X-Forwarded-For": CLIENT_ADDRESS,
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def _metric_total(text: str, name: str, **labels: str) -> float:
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name + "{"):
            continue
        if all(f'{key}="{value}"' in line for key, value in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_rate_limit_holds_across_two_intake_instances(shared_db, tmp_path):
    """Two intake instances (gunicorn, 2 workers each) share one count in Redis: of 12
    comments from one address, alternating between them, exactly 5 are accepted."""
    url, database = shared_db
    require(_reachable("127.0.0.1", 6379), "Redis is not running on 127.0.0.1:6379")
    import redis

    redis.Redis(host="127.0.0.1", port=6379, db=REDIS_DB).flushdb()
    with database.session() as session:
        cases_before = session.scalar(select(func.count()).select_from(Case))
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    bases = []
    with ExitStack() as stack:
        for index in range(2):
            port = free_port()
            cwd = tmp_path / f"intake{index}"
            cwd.mkdir()
            extra = {
                "RATELIMIT_STORAGE_URI": f"redis://127.0.0.1:6379/{REDIS_DB}",
                "RATELIMIT_ENABLED": "true",
                "TRUSTED_PROXIES": "1",
            }
            if index == 0:  # one of them with gunicorn's multi-process metrics
                extra["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
            command = [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}"]
            command += ["--workers", "2", "intake:create_app()"]
            base = f"http://127.0.0.1:{port}"
            stack.enter_context(
                served(command, cwd=cwd, env=_env(url, tmp_path, **extra),
                       ready_urls=[base + "/healthz"])
            )  # fmt: skip
            bases.append(base)
        statuses = [_post(bases[i % 2], i) for i in range(12)]
        with urllib.request.urlopen(bases[0] + "/metrics", timeout=10) as response:
            metrics = response.read().decode()
    assert statuses == [201] * 5 + [429] * 7, statuses
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(Case)) == cases_before + 5
    # The first instance answered 6 of the posts, in either of its workers: all are counted.
    assert _metric_total(metrics, "minyi_http_request_total", method="POST") == 6, metrics


def test_two_workers_send_every_mail_exactly_once(shared_db, tmp_path):
    """Two ``minyi worker --once`` at once: 200 queued mails and the acknowledgements of the
    comments are each delivered once."""
    url, database = shared_db
    queue_outbox(database, 200)
    # The acknowledgements of comments, through the real intake path (no limit here).
    from intake import create_app

    app = create_app({"DATABASE": database, "DATABASE_URL": url, "SECRET_KEY": "multi-instance",
                      "VAR_DIR": str(tmp_path / "var"), "RATELIMIT_ENABLED": False})  # fmt: skip
    client = app.test_client()
    for i in range(5):
        response = client.post(
            "/api/v1/feedback", json={"body": f"回执{i}", "email": f"ack{i}@example.cn"}
        )
        assert response.status_code == 201
    with database.session() as session:
        expected = set(
            session.scalars(select(OutboxEmail.message_id).where(OutboxEmail.state == "pending"))
        )
    assert len(expected) >= 205
    sink = SmtpSink().start()
    try:
        env = _env(url, tmp_path, MAIL_SERVER="127.0.0.1", MAIL_PORT=str(sink.port))
        workers = [
            subprocess.Popen([MINYI, "worker", "--once"], cwd=tmp_path, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            for _ in range(2)
        ]  # fmt: skip
        outputs = [worker.communicate(timeout=300)[0] for worker in workers]
    finally:
        sink.stop()
    assert [worker.returncode for worker in workers] == [0, 0], outputs
    counts = sink.handler.message_ids()
    assert set(counts) == expected, outputs
    assert set(counts.values()) == {1}
    sent = [int(re.search(r"sent (\d+),", output).group(1)) for output in outputs]
    assert sum(sent) == len(expected), outputs
    with database.session() as session:
        states = dict(
            session.execute(
                select(OutboxEmail.state, func.count()).group_by(OutboxEmail.state)
            ).all()
        )
    assert states == {"sent": len(expected)}


def test_two_pollers_at_once_store_every_mail_once(shared_db, dovecot, tmp_path):
    """Two ``minyi fetch-mail --once`` started together: one works, the other says another
    poller is running; every mail is stored once."""
    url, database = shared_db
    folder = f"Multi{secrets.token_hex(3)}"
    with dovecot.client() as client:
        client.create_folder(folder)
        for number in range(1, 21):
            client.append(folder, citizen_mail(number))
    env = _env(url, tmp_path, MINYI_TEST_SLOW_FETCH="0.3", **dovecot.environment(folder))
    pollers = [
        subprocess.Popen([MINYI, "fetch-mail", "--once"], cwd=tmp_path, env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for _ in range(2)
    ]  # fmt: skip
    try:
        outputs = [poller.communicate(timeout=120)[0] for poller in pollers]
    finally:
        for poller in pollers:
            if poller.poll() is None:
                poller.kill()
                poller.wait()
    assert [poller.returncode for poller in pollers] == [0, 0], outputs
    locked_out = [output for output in outputs if "another poller is running" in output]
    worked = [output for output in outputs if "fetched 20: 20 new" in output]
    assert (len(locked_out), len(worked)) == (1, 1), outputs
    with database.session() as session:
        uids = list(
            session.scalars(select(InboundMail.uid).where(InboundMail.mailbox.contains(folder)))
        )
    assert sorted(uids) == list(range(1, 21))
