"""Writing mail to the outbox, in the transaction of the change that causes it."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from shared.mail.headers import clean_header_value, format_address
from shared.models import Case, OutboxEmail


@dataclass
class OutgoingMail:
    """A mail as a builder describes it, before it becomes an outbox row."""

    to_address: str
    subject: str
    body: str
    to_name: str | None = None
    reply_to: str | None = None
    in_reply_to: str | None = None
    references: Sequence[str] = field(default_factory=tuple)
    #: Our automatic mail says so (RFC 3834), so auto-responders do not answer it.
    automatic: bool = True


def new_message_id(settings: Mapping[str, Any]) -> str:
    return f"<{uuid.uuid4().hex}@{settings['REPLY_DOMAIN']}>"


def enqueue(
    session: Session, mail: OutgoingMail, settings: Mapping[str, Any], *, case: Case | None = None
) -> OutboxEmail:
    """Add the mail to the outbox. Its Message-ID is fixed now, so every retry is the same
    message. Every header value passes :func:`clean_header_value`."""
    headers: dict[str, str] = {}
    if mail.reply_to:
        headers["Reply-To"] = clean_header_value(mail.reply_to)
    if mail.in_reply_to:
        headers["In-Reply-To"] = clean_header_value(mail.in_reply_to)
    if mail.references:
        headers["References"] = " ".join(clean_header_value(ref) for ref in mail.references)
    if mail.automatic:
        headers["Auto-Submitted"] = "auto-replied"
    row = OutboxEmail(
        to_addr=format_address(mail.to_name, mail.to_address),
        subject=clean_header_value(mail.subject),
        body_text=mail.body,
        headers=headers,
        message_id=new_message_id(settings),
        case=case,
    )
    session.add(row)
    return row
