"""Receiving mail: the one operation behind the LMTP receiver, the IMAP poller and the file
importer. Every mail is stored raw first, then becomes exactly one of: a new case, a follow-up
on an existing case, a recognised auto-reply or bounce, or a quarantined mail with a reason.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from shared.attachments import Upload, attach_uploads, clean_filename, detect_type, store_blob
from shared.db import utcnow
from shared.mail import builders, inbound
from shared.mail.outbox import enqueue
from shared.models import (
    Case,
    Channel,
    InboundMail,
    MailOutcome,
    Message,
    MessageKind,
    OutboxEmail,
    StoredBlob,
)
from shared.operations import audit, intake, notices
from shared.operations.intake import Submission
from shared.schemas.submission import BODY_MAX


@dataclass
class MailResult:
    inbound: InboundMail
    #: One of MailOutcome.ALL: case | follow_up | auto_reply | bounce | quarantined
    outcome: str
    case: Case | None
    #: True when this exact mail was stored before (same content hash, or same IMAP
    #: mailbox + UIDVALIDITY + UID): nothing new was written.
    duplicate: bool = False


def receive_mail(
    session: Session,
    raw: bytes,
    *,
    settings: Mapping[str, Any],
    source: str,
    envelope_from: str | None = None,
    envelope_to: Sequence[str] = (),
    mailbox: str | None = None,
    uidvalidity: int | None = None,
    uid: int | None = None,
) -> MailResult:
    """Store ``raw`` (the mail exactly as received) and act on it. ``source`` is
    ``lmtp``, ``imap`` or ``file``.

    Idempotent: the same bytes (SHA-256), the same IMAP mailbox/UIDVALIDITY/UID, or the same
    Message-ID from the same sender give the stored result again with ``duplicate=True``.
    Never raises because of what the mail contains (broken MIME, unknown charsets, hostile
    headers): such a mail is quarantined with a reason. Raises only when the database fails.
    Flushes; the caller commits, and only then tells the sender (LMTP 250) or the mailbox
    (IMAP \\Seen) that the mail is safe.
    """
    digest = hashlib.sha256(raw).hexdigest()
    earlier = _earlier(session, digest, mailbox, uidvalidity, uid)
    if earlier is not None:
        return MailResult(earlier, earlier.outcome, _case_of(session, earlier), duplicate=True)

    try:
        mail = inbound.parse(raw)
        problem = None
    except Exception as error:  # whatever breaks the parser, the mail is kept (quarantined)
        mail, problem = inbound.ParsedMail(), f"unreadable: {type(error).__name__}"

    if problem is None and mail.message_id and mail.from_address:
        same = _same_message(session, mail)
        if same is not None:
            return MailResult(same, same.outcome, _case_of(session, same), duplicate=True)

    record = InboundMail(
        source=source,
        message_id_header=(mail.message_id or "")[:998] or None,
        sha256=digest,
        blob_sha256=store_blob(session, raw),
        envelope_from=(envelope_from or "")[:998] or None,
        envelope_to=", ".join(envelope_to)[:4000] or None,
        mailbox=mailbox,
        uidvalidity=uidvalidity,
        uid=uid,
        outcome=MailOutcome.QUARANTINED,
    )
    session.add(record)
    session.flush()

    if problem is not None:
        return _quarantine(record, problem)
    if mail.kind == "bounce":
        _mark_bounced(session, mail)
        return _finish(record, MailOutcome.BOUNCE, mail.kind_reason)
    if mail.kind == "auto_reply" or envelope_from == "":
        return _finish(record, MailOutcome.AUTO_REPLY, mail.kind_reason or "null sender")
    own = {settings["INTAKE_ADDRESS"].lower(), _address(settings["MAIL_DEFAULT_SENDER"])}
    if mail.from_address in own:
        return _finish(record, MailOutcome.AUTO_REPLY, "from our own address (a loop)")

    case = _thread(session, mail, envelope_to, settings)
    if case is not None:
        _add_follow_up(session, case, mail, record, settings)
        record.case_id = case.id
        return _finish(record, MailOutcome.FOLLOW_UP, "", case)
    if not mail.from_address:
        return _quarantine(record, "no sender address to answer")
    case = _new_case(session, mail, record, settings)
    record.case_id = case.id
    return _finish(record, MailOutcome.CASE, "", case)


def accepts_recipient(session: Session, address: str, settings: Mapping[str, Any]) -> bool:
    """Whether mail to ``address`` is ours: INTAKE_ADDRESS, or a per-case reply address
    ``reply+TOKEN@REPLY_DOMAIN`` whose token belongs to a case (case-insensitive domain)."""
    address = _address(address)
    if address == settings["INTAKE_ADDRESS"].lower():
        return True
    token = _reply_token(address, settings)
    return (
        token is not None
        and session.scalar(select(Case.id).where(Case.reply_token == token)) is not None
    )


# -- helpers ------------------------------------------------------------------------------


def _address(value: str) -> str:
    return inbound.email.utils.parseaddr(value)[1].strip().lower()


def _reply_token(address: str, settings: Mapping[str, Any]) -> str | None:
    local, _, domain = address.partition("@")
    if domain.lower() != settings["REPLY_DOMAIN"].lower() or not local.lower().startswith("reply+"):
        return None
    return local[len("reply+") :] or None


def _earlier(session, digest, mailbox, uidvalidity, uid) -> InboundMail | None:
    found = session.scalar(select(InboundMail).where(InboundMail.sha256 == digest))
    if found is None and mailbox is not None and uid is not None:
        found = session.scalar(
            select(InboundMail).where(
                InboundMail.mailbox == mailbox,
                InboundMail.uidvalidity == uidvalidity,
                InboundMail.uid == uid,
            )
        )
    return found


def _same_message(session, mail: inbound.ParsedMail) -> InboundMail | None:
    """The same mail delivered twice by different routes: same Message-ID, and the same sender,
    subject, text and files (its headers, e.g. Received, may differ). A different mail that
    reuses a Message-ID is a different mail and is kept."""
    wanted = _fingerprint(mail)
    for candidate in session.scalars(
        select(InboundMail).where(InboundMail.message_id_header == mail.message_id[:998])
    ):
        blob = session.get(StoredBlob, candidate.blob_sha256)
        try:
            earlier = inbound.parse(blob.data)
        except Exception:  # an unreadable earlier mail is not the same as this one  # noqa: S112
            continue
        if _fingerprint(earlier) == wanted:
            return candidate
    return None


def _fingerprint(mail: inbound.ParsedMail) -> tuple:
    files = sorted(hashlib.sha256(item.data).hexdigest() for item in mail.attachments)
    return (mail.from_address, mail.subject, mail.text, tuple(files))


def _case_of(session, record: InboundMail) -> Case | None:
    return session.get(Case, record.case_id) if record.case_id else None


def _finish(record, outcome, reason, case=None) -> MailResult:
    record.outcome, record.reason = outcome, (reason or None)
    return MailResult(record, outcome, case)


def _quarantine(record, reason: str) -> MailResult:
    return _finish(record, MailOutcome.QUARANTINED, reason)


#: A tracking number anywhere in a subject; ASCII look-arounds, since Chinese around it counts
#: as word characters for ``\b``.
_TRACKING_IN_SUBJECT = re.compile(
    r"(?<![0-9A-Z])([2-9A-HJKMNP-TW-Z]{4})-?([2-9A-HJKMNP-TW-Z]{4})(?![0-9A-Z])"
)


def _thread(session, mail, envelope_to, settings) -> Case | None:
    """The case this mail answers: by its reply address, by the mail it replies to, or by a
    tracking number in the subject when the sender is the case's own submitter."""
    for address in [*envelope_to, *mail.recipients]:
        token = _reply_token(_address(address), settings)
        if token:
            case = session.scalar(select(Case).where(Case.reply_token == token))
            if case is not None:
                return case
    referenced = [*mail.in_reply_to, *mail.references]
    if referenced:
        case_id = session.scalar(
            select(OutboxEmail.case_id).where(
                OutboxEmail.message_id.in_(referenced), OutboxEmail.case_id.is_not(None)
            )
        ) or session.scalar(select(Message.case_id).where(Message.message_id.in_(referenced)))
        if case_id:
            return session.get(Case, case_id)
    for first, second in _TRACKING_IN_SUBJECT.findall(mail.subject.upper()):
        case = session.scalar(select(Case).where(Case.tracking_number == f"{first}-{second}"))
        if case is not None and (case.submitter_email or "").lower() == mail.from_address:
            return case  # a guessed number from someone else attaches nothing
    return None


def _uploads(mail) -> list[Upload]:
    uploads = []
    for item in mail.attachments:
        name = clean_filename(item.filename)
        uploads.append(
            Upload(name, detect_type(item.data, name) or "application/octet-stream", item.data)
        )
    return uploads


def _body(mail) -> str:
    return (mail.text or mail.subject or "(no text)")[: BODY_MAX * 4]


def _new_case(session, mail, record, settings) -> Case:
    open_notices = notices.open_notice_ids(session)
    submission = Submission(
        body=_body(mail),
        channel=Channel.EMAIL,
        subject=mail.subject[:200],
        name=(mail.from_name or "")[:100] or None,
        email=mail.from_address[:254],
        language="zh" if re.search(r"[\u4e00-\u9fff]", mail.subject + mail.text) else "en",
        notice_id=open_notices[0] if len(open_notices) == 1 else None,
        attachments=_uploads(mail),
    )
    receipt = intake.receive(session, submission, settings=settings)
    first = receipt.case.messages[0] if receipt.case.messages else None
    if first is not None:
        first.message_id = (mail.message_id or "")[:998] or None
        first.body_html = mail.html
        first.inbound_mail_id = record.id
    return receipt.case


def _add_follow_up(session, case, mail, record, settings) -> None:
    message = Message(
        case_id=case.id,
        kind=MessageKind.INBOUND,
        body=inbound.trim_quoted(_body(mail)),
        body_html=mail.html,
        message_id=(mail.message_id or "")[:998] or None,
        in_reply_to=(mail.in_reply_to[0] if mail.in_reply_to else None),
        inbound_mail_id=record.id,
    )
    session.add(message)
    attach_uploads(session, message, _uploads(mail))
    session.flush()
    audit.record(session, "case.follow_up", case=case, actor_kind="mail")
    if case.office is not None and case.office.email:
        enqueue(session, builders.follow_up_notice(case, settings), settings, case=case)


def _mark_bounced(session, mail) -> None:
    """A bounce marks the outbox mail it reports on, so staff see the address failed."""
    if not mail.bounced_message_ids:
        return
    for row in session.scalars(
        select(OutboxEmail).where(OutboxEmail.message_id.in_(mail.bounced_message_ids))
    ):
        row.bounced_at = utcnow()
        row.last_error = f"bounced: {mail.subject[:200]}"
