"""The outbox as admins see it: the mail that has not gone out, and retrying it now.

Writing a mail into the outbox is :mod:`shared.mail.outbox` (in the transaction of the change
that causes it); sending it is the worker's (:mod:`shared.mail.delivery`).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from shared.db import utcnow
from shared.models import OutboxEmail, OutboxState, StaffUser
from shared.operations import audit


def undelivered(session: Session, limit: int = 200) -> list[OutboxEmail]:
    """Mail that is waiting, being sent, or failed: what an admin must be able to see."""
    return list(
        session.scalars(
            select(OutboxEmail)
            .where(OutboxEmail.state != OutboxState.SENT)
            .order_by((OutboxEmail.state == OutboxState.FAILED).desc(), OutboxEmail.id.desc())
            .limit(limit)
        )
    )


def retry_now(session: Session, outbox_id: int, actor: StaffUser) -> OutboxEmail | None:
    """An admin's retry of a failed or waiting mail: due now, with a fresh set of attempts."""
    row = session.get(OutboxEmail, outbox_id)
    if row is None or row.state not in (OutboxState.FAILED, OutboxState.PENDING):
        return None
    row.state = OutboxState.PENDING
    row.attempts = 0
    row.next_attempt_at = utcnow()
    audit.record(session, "outbox.retried", actor=actor, outbox_id=row.id, case=row.case)
    return row
