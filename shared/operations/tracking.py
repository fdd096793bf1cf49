"""What the citizen sees of, and does on, their own case."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from shared.db import utcnow
from shared.i18n import N_
from shared.mail import builders
from shared.mail.outbox import enqueue
from shared.models import Case, CaseStatus, Message, MessageKind, Rating, RatingValue
from shared.operations import audit, deadlines, lifecycle
from shared.operations.errors import StepRefused
from shared.operations.lifecycle import Step


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    #: received | added | answered | rated | reopened | closed | rejected
    kind: str
    text: str = ""


def timeline(session: Session, case: Case) -> list[TimelineEntry]:
    """What happened to the case, as the citizen may see it, oldest first."""
    entries = [TimelineEntry(case.received_at, "received")]
    inbound = [m for m in case.messages if m.kind == MessageKind.INBOUND]
    entries += [TimelineEntry(m.created_at, "added", m.body) for m in inbound[1:]]
    entries += [
        TimelineEntry(m.created_at, "answered", public_text(m)) for m in public_replies(case)
    ]
    entries += [
        TimelineEntry(m.created_at, "reopened")
        for m in case.messages
        if m.kind == MessageKind.EVENT and (m.event or {}).get("action") == "reopened"
    ]
    ratings = session.scalars(select(Rating).where(Rating.case_id == case.id)).all()
    entries += [TimelineEntry(r.created_at, "rated", r.value) for r in ratings]
    if case.closed_at and case.status in (CaseStatus.CLOSED, CaseStatus.REJECTED):
        entries.append(TimelineEntry(case.closed_at, case.status, case.close_reason or ""))
    return sorted(entries, key=lambda entry: entry.at)


def public_replies(case: Case) -> list[Message]:
    return [m for m in case.messages if m.kind == MessageKind.REPLY and m.public]


def public_text(message: Message) -> str:
    """A reply as the tracking page shows it: the version staff cleared of personal data."""
    return message.public_body if message.public_body is not None else message.body


def latest_rating(session: Session, case: Case) -> Rating | None:
    return session.scalar(
        select(Rating).where(Rating.case_id == case.id).order_by(Rating.id.desc()).limit(1)
    )


def can_rate(session: Session, case: Case) -> bool:
    """Once answered, the citizen may rate the answer, once per answer."""
    if case.status != CaseStatus.REPLIED or case.first_replied_at is None:
        return False
    rating = latest_rating(session, case)
    last_reply = max((m.created_at for m in public_replies(case)), default=case.first_replied_at)
    return rating is None or rating.created_at < last_reply


def rate(
    session: Session,
    case: Case,
    value: str,
    comment: str = "",
    *,
    settings: Mapping[str, Any],
    now: datetime | None = None,
) -> Rating:
    """Record the citizen's satisfaction with the answer. Satisfied (or basically) closes the
    case; unsatisfied reopens it for re-handling (重办) with a new deadline, and the office is
    told by mail."""
    if not can_rate(session, case):
        raise StepRefused(N_("You can rate the answer once it has been sent, once."), "rating")
    now = now or utcnow()
    rating = Rating(case_id=case.id, value=value, comment=comment or "", created_at=now)
    session.add(rating)
    session.flush()
    audit.record(session, "case.rated", case=case, actor_kind="citizen", rating=value)
    if value == RatingValue.UNSATISFIED:
        _reopen(session, case, settings, now)
    else:
        _close(session, case, "rated", now)
    return rating


#: Days after the answer without a rating before the case closes by itself.
RATING_WINDOW_DAYS = 15


def close_unrated(session: Session, *, now: datetime | None = None) -> int:
    """Close answered cases whose citizen did not rate within RATING_WINDOW_DAYS of the last
    answer (the worker runs this each pass). Returns how many were closed."""
    now = now or utcnow()
    answered = session.scalars(
        select(Case).where(
            Case.status == CaseStatus.REPLIED,
            Case.first_replied_at < now - timedelta(days=RATING_WINDOW_DAYS),
        )
    ).all()
    closed = 0
    for case in answered:
        last_answer = max((m.created_at for m in public_replies(case)), default=None)
        last_answer = last_answer or case.first_replied_at
        if last_answer < now - timedelta(days=RATING_WINDOW_DAYS):
            _close(session, case, "not_rated", now)
            closed += 1
    return closed


def _reopen(session: Session, case: Case, settings: Mapping[str, Any], now: datetime) -> None:
    case.reopened_count += 1
    case.reply_due = deadlines.rehandling_due(session, case, now)
    lifecycle.take(session, case, Step.REOPEN, actor_kind="citizen", count=case.reopened_count)
    if case.office is not None and case.office.email:
        enqueue(session, builders.reopened_notice(case, settings), settings, case=case)


def _close(session: Session, case: Case, why: str, now: datetime) -> None:
    lifecycle.take(session, case, Step.CLOSE, actor_kind="system", now=now, why=why)


def add_information(session: Session, case: Case, body: str) -> Message:
    """The citizen adds to their own comment; it joins the thread for the office to read."""
    if case.status in (CaseStatus.SPAM,):
        raise StepRefused(N_("This comment can no longer be added to."), "body")
    message = Message(case_id=case.id, kind=MessageKind.INBOUND, body=body)
    session.add(message)
    session.flush()
    audit.record(session, "case.citizen_added", case=case, actor_kind="citizen")
    return message
