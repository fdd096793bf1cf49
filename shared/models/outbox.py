from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shared.db import Base, UTCDateTime, utcnow


class OutboxState:
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    ALL = (PENDING, SENDING, SENT, FAILED)


class OutboxEmail(Base):
    """A mail to send, written in the transaction of the change that causes it."""

    __tablename__ = "outbox_email"
    __table_args__ = (Index("ix_outbox_email_due", "state", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    to_addr: Mapped[str] = mapped_column(Text)
    subject: Mapped[str] = mapped_column(Text)
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str | None] = mapped_column(Text)
    #: Extra headers (Reply-To, In-Reply-To, References, Auto-Submitted...).
    headers: Mapped[dict] = mapped_column(JSON, default=dict)
    #: Fixed when the row is written, so a retried send is the same message.
    message_id: Mapped[str] = mapped_column(String(998), unique=True)
    state: Mapped[str] = mapped_column(String(16), default=OutboxState.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text)
    #: Which worker claimed it, and when (to recover rows of a worker that died).
    claimed_by: Mapped[str | None] = mapped_column(String(200))
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: Set when a delivery status notification reports the mail undeliverable.
    bounced_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("case.id"), index=True)

    case: Mapped[Case | None] = relationship()  # noqa: F821  (shared.models.case)
    attachments: Mapped[list[OutboxAttachment]] = relationship(order_by="OutboxAttachment.id")


class OutboxAttachment(Base):
    __tablename__ = "outbox_attachment"

    id: Mapped[int] = mapped_column(primary_key=True)
    outbox_id: Mapped[int] = mapped_column(
        ForeignKey("outbox_email.id", ondelete="CASCADE"), index=True
    )
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    blob_sha256: Mapped[str] = mapped_column(ForeignKey("stored_blob.sha256"))
