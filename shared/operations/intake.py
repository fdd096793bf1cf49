"""Receiving a comment: the one path every channel takes (web form, API, mail, staff entry)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from shared.attachments import Upload, attach_uploads
from shared.db import utcnow
from shared.i18n import N_
from shared.mail import builders
from shared.mail.outbox import enqueue
from shared.models import (
    Case,
    Channel,
    Message,
    MessageKind,
    Notice,
    NoticeItem,
    NoticeStatus,
)
from shared.operations import audit, deadlines, duplicates, lifecycle, routing
from shared.operations.errors import StepRefused
from shared.search import search_terms
from shared.security import (
    compact_code,
    derived_passcode,
    hash_passcode,
    new_passcode,
    new_reply_token,
    new_tracking_number,
    normalise_tracking_number,
    sha256_hex,
    verify_secret,
)


@dataclass
class Submission:
    """What :func:`receive` takes, from any channel (the web form and the APIs through
    ``shared.schemas.submission``)."""

    body: str
    channel: str = Channel.WEB
    subject: str = ""
    category: str | None = None
    notice_item: str | None = None
    name: str | None = None
    phone: str | None = None
    email: str | None = None
    address: str | None = None
    anonymous: bool = False
    confidential: bool = False
    publish_consent: bool = False
    received_at: datetime | None = None
    language: str = "zh"
    #: The notice the comment was written on, when the channel knows it and no item was chosen.
    notice_id: int | None = None
    idempotency_key: str | None = None
    #: Staff member who registered a phone call, letter or visit.
    registered_by_id: int | None = None
    channel_details: dict = field(default_factory=dict)
    #: Files checked by :mod:`shared.attachments`; they belong to the first message.
    attachments: list[Upload] = field(default_factory=list)


@dataclass
class Receipt:
    """What the citizen is told: the case, and its passcode (shown this once)."""

    case: Case
    passcode: str
    #: True when an earlier request with the same Idempotency-Key created the case.
    replayed: bool = False


def receive(
    session: Session,
    submission: Submission,
    *,
    settings: Mapping[str, Any],
    now: datetime | None = None,
) -> Receipt:
    """Create the case of a new comment: validate the item, number it, route it, set its
    deadlines, record it, and put the acknowledgement in the outbox. Flushes; the caller
    commits, and only then does anything leave the process.

    ``settings`` is the service configuration (SECRET_KEY, REPLY_DOMAIN, PUBLIC_BASE_URL...).
    """
    secret_key = settings["SECRET_KEY"]
    now = now or utcnow()
    digest = _digest(submission)
    key_hash = sha256_hex(submission.idempotency_key) if submission.idempotency_key else None
    if key_hash:
        earlier = session.scalar(select(Case).where(Case.idempotency_key_hash == key_hash))
        if earlier is not None:
            return _replay(earlier, submission, digest, secret_key)

    item = _open_item(session, submission, now)
    notice = item.notice if item is not None else None
    if notice is None and submission.notice_id is not None:
        # A comment on the notice as a whole; once the notice closed, a general comment.
        written_on = session.get(Notice, submission.notice_id)
        if written_on is not None and written_on.is_open(_written_at(submission, now)):
            notice = written_on
    tracking_number = _unused_tracking_number(session)
    if submission.idempotency_key:
        passcode = derived_passcode(secret_key, submission.idempotency_key, tracking_number)
    else:
        passcode = new_passcode()

    received_at = submission.received_at or now
    case = Case(
        tracking_number=tracking_number,
        passcode_hash=hash_passcode(passcode),
        channel=submission.channel,
        notice=notice,
        notice_item=item,
        category=submission.category,
        subject=submission.subject,
        body=submission.body,
        search_terms=search_terms(f"{submission.subject}\n{submission.body}"),
        submitter_name=submission.name,
        submitter_phone=submission.phone,
        submitter_email=submission.email,
        submitter_address=submission.address,
        anonymous=submission.anonymous,
        confidential=submission.confidential,
        publish_consent=submission.publish_consent,
        language=submission.language,
        received_at=received_at,
        reply_token=new_reply_token(),
        idempotency_key_hash=key_hash,
        submission_digest=digest,
        registered_by_id=submission.registered_by_id,
        channel_details=submission.channel_details,
    )
    case.acknowledge_by, case.reply_due = deadlines.initial_due_dates(
        session, received_at, notice.id if notice else None, submission.category
    )
    routing.route(session, case)
    lifecycle.start(case)
    session.add(case)
    first = Message(
        case=case, kind=MessageKind.INBOUND, body=submission.body, created_at=received_at
    )
    session.add(first)
    attach_uploads(session, first, submission.attachments)
    session.flush()
    duplicates.cluster_near_duplicates(session, case)
    audit.record(
        session,
        "case.received",
        case=case,
        actor_kind="staff" if submission.registered_by_id else "citizen",
        channel=case.channel,
        office=case.office.code if case.office else None,
        routing=case.routing_explanation,
    )
    if submission.registered_by_id:
        audit.record(session, "case.registered", case=case, actor_kind="staff")
    if case.submitter_email:
        enqueue(session, builders.acknowledgement(case, passcode, settings), settings, case=case)
    return Receipt(case, passcode)


def _open_item(session: Session, submission: Submission, now: datetime) -> NoticeItem | None:
    """The item the comment is about, if it takes comments: offered (not retired), its notice
    published and in its comment period, and inviting comments by this channel."""
    code = submission.notice_item
    if not code:
        return None
    item = session.scalar(select(NoticeItem).where(NoticeItem.code == code))
    if item is None or item.notice.status == NoticeStatus.DRAFT:
        raise StepRefused(N_("Choose one of the listed items."), "notice_item")
    notice = item.notice
    if notice.status == NoticeStatus.WITHDRAWN:
        raise StepRefused(
            N_("This notice has been withdrawn and takes no more comments."), "notice_item"
        )
    if item.retired:
        raise StepRefused(
            N_("This item no longer takes comments: choose one of the listed items."),
            "notice_item",
        )
    at = _written_at(submission, now)
    if notice.opens_at and at < notice.opens_at:
        raise StepRefused(N_("Comments on this notice have not opened yet."), "notice_item")
    if not notice.is_open(at):
        raise StepRefused(N_("Comments on this notice are closed."), "notice_item")
    if submission.channel in (Channel.WEB, Channel.API) and not notice.invites_web:
        raise StepRefused(
            N_("This notice takes comments by phone, email or post, not on this site."),
            "notice_item",
        )
    return item


def _written_at(submission: Submission, now: datetime) -> datetime:
    """When the comment was made: now, or for a call or letter staff register later, the
    time it was received (a letter posted within the period counts)."""
    if submission.registered_by_id and submission.received_at:
        return submission.received_at
    return now


def _unused_tracking_number(session: Session) -> str:
    # 29^8 numbers: a clash is rare; the unique constraint catches the race between two.
    for _ in range(10):
        number = new_tracking_number()
        if session.scalar(select(Case.id).where(Case.tracking_number == number)) is None:
            return number
    raise RuntimeError("could not find an unused tracking number")


def _digest(submission: Submission) -> str:
    """Fingerprint of what the citizen sent, to tell a repeat from a reused key."""
    content = asdict(submission)
    for volatile in ("idempotency_key", "language", "received_at", "notice_id"):
        content.pop(volatile)
    content["attachments"] = [upload.sha256 for upload in submission.attachments]
    return sha256_hex(json.dumps(content, sort_keys=True, ensure_ascii=False, default=str))


def _replay(case: Case, submission: Submission, digest: str, secret_key: str) -> Receipt:
    if case.submission_digest != digest:
        raise StepRefused(
            N_("This Idempotency-Key was already used for a different comment."),
            "Idempotency-Key",
        )
    passcode = derived_passcode(secret_key, submission.idempotency_key or "", case.tracking_number)
    return Receipt(case, passcode, replayed=True)


def case_by_number(session: Session, tracking_number: str) -> Case | None:
    """The case with this number, for a caller that proved its right another way (a signed
    rating link); never for a citizen who only typed a number."""
    return session.scalar(select(Case).where(Case.tracking_number == tracking_number))


def find_case(session: Session, tracking_number: str, passcode: str) -> Case | None:
    """The case, if the number and passcode match; None alike for unknown number or wrong code
    (and in the same time: the hash is checked either way)."""
    case = session.scalar(
        select(Case).where(Case.tracking_number == normalise_tracking_number(tracking_number))
    )
    stored_hash = case.passcode_hash if case is not None else _UNKNOWN_CASE_HASH
    if not verify_secret(stored_hash, compact_code(passcode)) or case is None:
        return None
    return case


#: Checked against when the number is unknown, so both failures take as long.
_UNKNOWN_CASE_HASH = hash_passcode(new_passcode())
