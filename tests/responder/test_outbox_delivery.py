"""The outbox worker against real SMTP servers on loopback: nothing lost, nothing twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select

from shared.mail.delivery import DeliveryPolicy
from shared.models import OutboxEmail
from tests.factories import queue_outbox
from tests.mailservers import HangingServer, SmtpSink, free_port

MINYI = str(Path(sys.executable).with_name("minyi"))


def _states(db) -> dict[str, int]:
    with db.session() as session:
        return dict(
            session.execute(
                select(OutboxEmail.state, func.count()).group_by(OutboxEmail.state)
            ).all()
        )


def test_mail_is_sent_once_with_its_fixed_message_id(db, smtp_sink, make_worker):
    """A due mail reaches the server once; its Message-ID is the one written with the row."""
    queue_outbox(db, 3)
    worker = make_worker(smtp_sink.port)
    assert worker.run_once().sent == 3
    assert worker.run_once().sent == 0
    with db.session() as session:
        expected = set(session.scalars(select(OutboxEmail.message_id)))
    assert set(smtp_sink.handler.message_ids()) == expected
    assert all(count == 1 for count in smtp_sink.handler.message_ids().values())
    assert _states(db) == {"sent": 3}


def test_smtp_down_loses_nothing_and_sends_each_once_when_back(db, make_worker):
    """100 mails wait while SMTP is down; when it returns, each is delivered exactly once."""
    queue_outbox(db, 100)
    port = free_port()
    worker = make_worker(port)
    first = worker.run_once()
    # One batch tried (and put off); the rest stays due for the next pass.
    assert (first.sent, first.retried, first.failed) == (0, DeliveryPolicy().batch_size, 0)
    assert _states(db) == {"pending": 100}
    with db.session() as session:
        tried = select(OutboxEmail.last_error).where(OutboxEmail.attempts > 0)
        errors = set(session.scalars(tried))
        assert len(errors) == 1 and "Connection" in errors.pop()
    # Not due yet: backing off.
    assert worker.run_once().sent == 0
    sink = SmtpSink(port).start()
    try:
        later = datetime.now(UTC) + timedelta(minutes=5)
        assert worker.run_once(now=later).sent == 100
        counts = sink.handler.message_ids()
        assert len(counts) == 100 and set(counts.values()) == {1}
        assert _states(db) == {"sent": 100}
    finally:
        sink.stop()


def test_hanging_server_times_out_and_the_worker_goes_on(db, make_worker):
    """A server that accepts and never answers costs one timeout, then the mail waits for later."""
    queue_outbox(db, 2)
    server = HangingServer()
    try:
        started = time.monotonic()
        result = make_worker(server.port).run_once()
        assert time.monotonic() - started < 30
    finally:
        server.close()
    assert (result.sent, result.retried) == (0, 2)
    with db.session() as session:
        row = session.scalars(select(OutboxEmail)).first()
        assert row.state == "pending" and row.attempts == 1 and "timed out" in row.last_error
        assert row.next_attempt_at > datetime.now(UTC)


def test_550_fails_the_mail_for_good_and_the_others_still_go(db, smtp_sink, make_worker):
    """A permanent refusal marks that mail failed with the server's words; the rest are sent."""
    smtp_sink.handler.refuse.add("nobody@example.cn")
    queue_outbox(db, 1, to="nobody@example.cn")
    queue_outbox(db, 2)
    worker = make_worker(smtp_sink.port)
    result = worker.run_once()
    assert (result.sent, result.failed, result.retried) == (2, 1, 0)
    later = datetime.now(UTC) + timedelta(days=2)
    assert worker.run_once(now=later).failed == 0  # not retried
    with db.session() as session:
        failed = session.scalar(select(OutboxEmail).where(OutboxEmail.state == "failed"))
        assert "550" in failed.last_error and failed.attempts == 1


def test_temporary_failures_back_off_then_give_up_visibly(db, make_worker):
    """Each retry waits twice as long; after the last attempt the mail is failed with its error."""
    queue_outbox(db, 1)
    policy = DeliveryPolicy(max_attempts=3)
    worker = make_worker(free_port(), policy=policy)
    now = datetime.now(UTC)
    delays = []
    for _ in range(3):
        worker.run_once(now=now)
        with db.session() as session:
            row = session.scalars(select(OutboxEmail)).one()
        delays.append(row.next_attempt_at - now)
        now = row.next_attempt_at
    assert row.state == "failed" and row.attempts == 3 and row.last_error
    assert delays[1] == 2 * delays[0]


def test_abandoned_claim_is_sent_again(db, smtp_sink, make_worker):
    """A row left 'sending' by a worker that died is put back after the lease and delivered."""
    queue_outbox(db, 1)
    with db.transaction() as session:
        row = session.scalars(select(OutboxEmail)).one()
        row.state, row.claimed_by = "sending", "dead-worker"
        row.claimed_at = datetime.now(UTC) - timedelta(hours=1)
    assert make_worker(smtp_sink.port).run_once().sent == 1
    assert len(smtp_sink.received) == 1


def test_without_mail_server_mail_becomes_eml_files(db, make_worker, tmp_path):
    """In development, each mail is written to var/mail as a complete .eml file."""
    queue_outbox(db, 2)
    mail_dir = tmp_path / "mail-out"
    assert make_worker(None, MAIL_DIR=str(mail_dir)).run_once().sent == 2
    files = sorted(mail_dir.glob("*.eml"))
    assert len(files) == 2
    import email
    import email.policy

    message = email.message_from_bytes(files[0].read_bytes(), policy=email.policy.default)
    assert message["Subject"] in {"第0封", "第1封"}
    assert message["Auto-Submitted"] == "auto-replied"
    assert not list(mail_dir.glob("*.tmp"))


def test_two_workers_on_one_database_send_each_mail_once(db, database_url, smtp_sink, tmp_path):
    """Two worker processes share 1,000 due mails: every one is delivered, none twice."""
    queue_outbox(db, 1000)
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "SECRET_KEY": "w",
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": str(smtp_sink.port),
    }
    workers = [
        subprocess.Popen([MINYI, "worker", "--once"], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True)
        for _ in range(2)
    ]  # fmt: skip
    outputs = [worker.communicate(timeout=300)[0] for worker in workers]
    assert [worker.returncode for worker in workers] == [0, 0], outputs
    counts = smtp_sink.handler.message_ids()
    assert len(counts) == 1000, outputs
    assert set(counts.values()) == {1}
    assert _states(db) == {"sent": 1000}
    import re

    reported = [int(re.search(r"sent (\d+),", output).group(1)) for output in outputs]
    assert sum(reported) == 1000, outputs


def _worker_env(database_url: str, sink: SmtpSink, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "SECRET_KEY": "w",
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": str(sink.port),
        "MINYI_LOG_FORMAT": "json",
        # A lease of 10 s (the shortest 10 × MAIL_TIMEOUT allows) instead of 15 minutes.
        "OUTBOX_LEASE_SECONDS": "10",
        "MAIL_TIMEOUT": "1",
        **extra,
    }


def _start(cwd, env: dict[str, str], *options: str) -> subprocess.Popen:
    return subprocess.Popen(
        [MINYI, "worker", *options], cwd=cwd, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def _released(log: str) -> list[str]:
    return [line for line in log.splitlines() if "were not finished within the lease" in line]


def _wait_for(condition, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "waited in vain"
        time.sleep(0.05)


def test_a_killed_worker_leaves_at_most_the_mail_in_flight_to_be_sent_twice(
    db, database_url, smtp_sink, tmp_path
):
    """kill -9 of a worker process in the middle of a batch, against a real SMTP server: each
    mail it delivered was recorded at once, so once the lease has passed a second worker sends
    only what the first had not finished. At most one mail arrives twice, none is lost, and
    the second worker logs the claims it released."""
    queue_outbox(db, 30)
    with db.session() as session:
        expected = set(session.scalars(select(OutboxEmail.message_id)))
    smtp_sink.handler.delay = 0.1
    env = _worker_env(database_url, smtp_sink)
    first = _start(tmp_path, env, "--once")
    _wait_for(lambda: len(smtp_sink.received) >= 8)
    first.kill()  # SIGKILL: nothing of it runs any more
    first.communicate()
    assert _states(db).get("sending", 0) > 0  # it died in the middle of its batch
    time.sleep(10.5)  # the lease passes
    second = subprocess.run([MINYI, "worker", "--once"], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=300)  # fmt: skip
    assert second.returncode == 0, second.stderr
    counts = smtp_sink.handler.message_ids()
    assert set(counts) == expected
    duplicates = sum(count - 1 for count in counts.values())
    assert duplicates <= 1, counts
    assert _states(db) == {"sent": 30}
    (released,) = _released(second.stderr)
    assert f":{first.pid}:" in released


def test_a_slow_batch_keeps_its_claim_while_another_worker_looks_for_abandoned_mail(
    db, database_url, smtp_sink, tmp_path
):
    """A mail server so slow that one batch outlasts the lease (20 mails of 0.6 s against
    10 s): the worker renews its claim as it goes, so a second worker, looking for abandoned
    mail every half second meanwhile, takes none of it and nothing arrives twice."""
    queue_outbox(db, 20)
    smtp_sink.handler.delay = 0.6
    env = _worker_env(database_url, smtp_sink)
    first = _start(tmp_path, env, "--once")
    _wait_for(lambda: len(smtp_sink.received) >= 1)
    second = _start(tmp_path, env, "--interval", "0.5")
    first_out, first_err = first.communicate(timeout=120)
    second.send_signal(signal.SIGTERM)
    _second_out, second_err = second.communicate(timeout=60)
    assert first.returncode == 0, first_err
    assert "sent 20, to retry 0, failed 0" in first_out
    counts = smtp_sink.handler.message_ids()
    assert len(counts) == 20 and set(counts.values()) == {1}, counts
    assert _released(second_err) == [] and _states(db) == {"sent": 20}


def test_a_claim_takes_one_batch_and_no_more(db):
    """However many mails are due, one claim takes ``limit`` of them (on PostgreSQL a
    sub-select under IN once took them all); the next claim takes the rest."""
    from shared.db import utcnow
    from shared.mail.delivery import claim_due

    queue_outbox(db, 30)
    with db.transaction() as session:
        first = claim_due(session, "first", utcnow(), 20)
    with db.transaction() as session:
        second = claim_due(session, "second", utcnow(), 20)
    assert (len(first), len(second)) == (20, 10)
    assert not {row.id for row in first} & {row.id for row in second}
