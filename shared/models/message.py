from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shared.db import Base, UTCDateTime, utcnow
from shared.models.case import Case
from shared.models.staff import StaffUser


class MessageKind:
    INBOUND = "inbound"  # from the citizen: the first comment and any follow-up
    REPLY = "reply"  # sent to the citizen
    NOTE = "note"  # internal, staff only
    EVENT = "event"  # a status change, assignment, transfer... told as part of the thread
    ALL = (INBOUND, REPLY, NOTE, EVENT)


class Message(Base):
    """One entry of a case's thread."""

    __tablename__ = "message"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    body: Mapped[str] = mapped_column(Text, default="")
    #: Sanitised HTML of an HTML mail, for staff only.
    body_html: Mapped[str | None] = mapped_column(Text)
    #: Shown on the public tracking page (replies only).
    public: Mapped[bool] = mapped_column(Boolean, default=False)
    #: The reply as the tracking page shows it: personal data removed by staff.
    public_body: Mapped[str | None] = mapped_column(Text)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    #: RFC 5322 Message-ID, for threading mail in and out.
    message_id: Mapped[str | None] = mapped_column(String(998), index=True)
    in_reply_to: Mapped[str | None] = mapped_column(String(998))
    headers: Mapped[dict] = mapped_column(JSON, default=dict)
    #: For an event entry, what happened: {"action": "assigned", "office": "cyber", ...}.
    event: Mapped[dict | None] = mapped_column(JSON)
    inbound_mail_id: Mapped[int | None] = mapped_column(ForeignKey("inbound_mail.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    case: Mapped[Case] = relationship(back_populates="messages")
    author: Mapped[StaffUser | None] = relationship()
    attachments: Mapped[list[Attachment]] = relationship(
        back_populates="message", order_by="Attachment.id"
    )


class Attachment(Base):
    __tablename__ = "attachment"

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(
        ForeignKey("message.id", ondelete="CASCADE"), index=True
    )
    filename: Mapped[str] = mapped_column(String(255))
    #: Detected from the bytes, not taken from the sender.
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    blob_sha256: Mapped[str] = mapped_column(ForeignKey("stored_blob.sha256"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    message: Mapped[Message] = relationship(back_populates="attachments")
