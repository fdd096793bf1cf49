"""Creators of test data through the real operations."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert

from shared.db import Database
from shared.models import OutboxEmail
from shared.operations import accounts, intake, staff
from shared.schemas.submission import feedback_input

SETTINGS = {
    "SECRET_KEY": "test-secret-key",
    "REPLY_DOMAIN": "minyi.test",
    "PUBLIC_BASE_URL": "http://intake.test",
    "MAIL_DEFAULT_SENDER": "通渭县委宣传部 <noreply@minyi.test>",
    "RESPONDER_BASE_URL": "http://responder.test",
}


def make_case(db: Database, **fields):
    """A case received through the one intake path; returns its Receipt."""
    values = {"body": "测试留言", **fields}
    channel = values.pop("channel", "web")
    received_at = values.pop("received_at", None)
    submission = intake.Submission(**feedback_input.load(values))
    submission.channel = channel
    submission.received_at = received_at
    with db.transaction() as session:
        return intake.receive(session, submission, settings=SETTINGS)


def make_staff(db: Database, username: str, role: str, offices=(), password="correct horse 1"):
    with db.transaction() as session:
        return staff.create_staff(session, username, role, password, offices)


def make_token(db: Database, username: str, role: str, offices=()) -> str:
    from sqlalchemy import select

    from shared.models import StaffUser

    make_staff(db, username, role, offices)
    with db.transaction() as session:
        user = session.scalar(select(StaffUser).where(StaffUser.username == username))
        return accounts.issue_token(session, user)


def answer(db: Database, tracking_number: str, body: str = "感谢您的意见，答复如下。") -> None:
    """A public answer on the case, as the replies workflow leaves it once sent."""
    from sqlalchemy import select

    from shared.db import utcnow
    from shared.models import Case, Message

    with db.transaction() as session:
        case = session.scalar(select(Case).where(Case.tracking_number == tracking_number))
        now = utcnow()
        session.add(Message(case_id=case.id, kind="reply", body=body, public=True, created_at=now))
        case.status, case.first_replied_at = "replied", now


def queue_outbox(db, count: int, *, to="citizen@example.cn") -> None:
    """``count`` due mails, written straight to the outbox table."""
    now = datetime.now(UTC) - timedelta(seconds=1)
    rows = [
        {
            "to_addr": to,
            "subject": f"第{i}封",
            "body_text": f"正文 {i}",
            "headers": {"Auto-Submitted": "auto-replied"},
            "message_id": f"<m{i}.{time.monotonic_ns()}@minyi.test>",
            "state": "pending",
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        }
        for i in range(count)
    ]
    with db.transaction() as session:
        session.execute(insert(OutboxEmail), rows)


def log_in(client, username: str, password: str = "correct horse 1"):
    """Log a test client in through the real login form."""
    from tests.conftest import csrf_token

    token = csrf_token(client, "/login")
    return client.post(
        "/login", data={"username": username, "password": password, "csrf_token": token}
    )
