"""What the citizen sees of, and does on, their own case."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from marshmallow import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from shared.i18n import N_
from shared.models import Case, CaseStatus, Message, MessageKind, Rating
from shared.operations import audit


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    #: received | added | answered | rated | closed | rejected
    kind: str
    text: str = ""


def timeline(session: Session, case: Case) -> list[TimelineEntry]:
    """What happened to the case, as the citizen may see it, oldest first."""
    entries = [TimelineEntry(case.received_at, "received")]
    inbound = [m for m in case.messages if m.kind == MessageKind.INBOUND]
    entries += [TimelineEntry(m.created_at, "added", m.body) for m in inbound[1:]]
    entries += [TimelineEntry(m.created_at, "answered", m.body) for m in public_replies(case)]
    ratings = session.scalars(select(Rating).where(Rating.case_id == case.id)).all()
    entries += [TimelineEntry(r.created_at, "rated", r.value) for r in ratings]
    if case.closed_at and case.status in (CaseStatus.CLOSED, CaseStatus.REJECTED):
        entries.append(TimelineEntry(case.closed_at, case.status, case.close_reason or ""))
    return sorted(entries, key=lambda entry: entry.at)


def public_replies(case: Case) -> list[Message]:
    return [m for m in case.messages if m.kind == MessageKind.REPLY and m.public]


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


def rate(session: Session, case: Case, value: str, comment: str = "") -> Rating:
    """Record the citizen's satisfaction with the answer."""
    if not can_rate(session, case):
        raise ValidationError(
            {"rating": [N_("You can rate the answer once it has been sent, once.")]}
        )
    rating = Rating(case_id=case.id, value=value, comment=comment or "")
    session.add(rating)
    session.flush()
    audit.record(session, "case.rated", case=case, actor_kind="citizen", rating=value)
    return rating


def add_information(session: Session, case: Case, body: str) -> Message:
    """The citizen adds to their own comment; it joins the thread for the office to read."""
    if case.status in (CaseStatus.SPAM,):
        raise ValidationError({"body": [N_("This comment can no longer be added to.")]})
    message = Message(case_id=case.id, kind=MessageKind.INBOUND, body=body)
    session.add(message)
    session.flush()
    audit.record(session, "case.citizen_added", case=case, actor_kind="citizen")
    return message
