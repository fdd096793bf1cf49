"""Outbox throughput to a local SMTP sink, beside plain smtplib sending the same mails.

    .venv/bin/python -m benchmarks.outbox_throughput [--mails 500] [--rounds 3] [--database-url URL]

Both runs send the same messages to the same aiosmtpd sink on loopback, a separate process
(in-process, the sink would compete with the sender for the GIL), in the same run; the figure
that matters is the ratio: the outbox also claims each row and records each outcome in the
database, which plain smtplib does not.
"""

from __future__ import annotations

import argparse
import smtplib
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert

from shared import migrate
from shared.db import Database
from shared.models import OutboxEmail
from tests.mailservers import free_port


def _rows(count: int) -> list[dict]:
    now = datetime.now(UTC) - timedelta(seconds=1)
    return [
        {
            "to_addr": f'"市民{i}" <citizen{i}@example.cn>',
            "subject": f"已收到您的留言（编号 BENCH-{i:04d}）",
            "body_text": "我们已收到您的留言，感谢您的关心和监督。\n" * 8,
            "headers": {"Auto-Submitted": "auto-replied", "Reply-To": f"reply+{i}@minyi.test"},
            "message_id": f"<bench{i}.{time.time_ns()}@minyi.test>",
            "state": "pending",
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        }
        for i in range(count)
    ]


def run_outbox(database_url: str, port: int, count: int, var_dir: str) -> float:
    from responder import create_app
    from responder.worker import Worker

    database = Database(database_url)
    with database.transaction() as session:
        session.execute(insert(OutboxEmail), _rows(count))
    app = create_app(
        {"DATABASE": database, "SECRET_KEY": "bench", "VAR_DIR": var_dir,
         "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": port}
    )  # fmt: skip
    worker = Worker(app)
    started = time.perf_counter()
    result = worker.run_once()
    elapsed = time.perf_counter() - started
    assert result.sent == count, result
    return elapsed


def run_smtplib(port: int, count: int, app) -> float:
    """The same mails, each built (MIME, encoded headers) and sent in a loop over one
    connection: what sending costs without an outbox."""
    from shared.mail.delivery import build_message

    rows = [OutboxEmail(**row) for row in _rows(count)]
    with app.app_context():
        started = time.perf_counter()
        with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
            for row in rows:
                message = build_message(row, None, "bench <b@minyi.test>")
                client.sendmail("b@minyi.test", [row.to_addr], message.as_bytes())
        return time.perf_counter() - started


@contextmanager
def sink_process():
    """aiosmtpd's own command line with its Sink handler: accepts and discards every mail."""
    port = free_port()
    command = [sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{port}"]
    process = subprocess.Popen([*command, "-c", "aiosmtpd.handlers.Sink"])  # noqa: S603  (our own argv)
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mails", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--database-url", help="default: a temporary SQLite file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = args.database_url or f"sqlite:///{folder}/bench.db"
        migrate.upgrade(url)
        with sink_process() as port:
            from responder import create_app

            app = create_app({"DATABASE": Database(url), "SECRET_KEY": "bench", "VAR_DIR": folder})
            baselines, outboxes = [], []
            for _ in range(args.rounds):
                baselines.append(run_smtplib(port, args.mails, app))
                outboxes.append(run_outbox(url, port, args.mails, folder))
            baseline, outbox = min(baselines), min(outboxes)
    print(f"database: {url.split(':')[0]}, mails: {args.mails}, best of {args.rounds} rounds")
    print(f"plain smtplib loop: {args.mails / baseline:8.1f} mails/s ({baseline:.2f} s)")
    print(f"outbox worker:      {args.mails / outbox:8.1f} mails/s ({outbox:.2f} s)")
    print(f"ratio outbox / smtplib: {baseline / outbox:.2f} (aim: at least 0.50)")


if __name__ == "__main__":
    main()
