from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shared.db import Base, UTCDateTime, utcnow

if TYPE_CHECKING:
    from shared.models.case import Case
    from shared.models.staff import StaffUser


class ReplyKind:
    ACCEPTANCE = "acceptance"  # 受理告知
    REFUSAL = "refusal"  # 不予受理告知
    EXTENSION = "extension"  # 延期告知
    ANSWER = "answer"  # 答复意见
    OTHER = "other"
    ALL = (ACCEPTANCE, REFUSAL, EXTENSION, ANSWER, OTHER)


class ReplyState:
    DRAFT = "draft"
    IN_REVIEW = "in_review"
    RETURNED = "returned"
    APPROVED = "approved"
    SENT = "sent"
    ALL = (DRAFT, IN_REVIEW, RETURNED, APPROVED, SENT)


class Reply(Base):
    """A reply to the citizen on its way through review to sending."""

    __tablename__ = "reply"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case.id", ondelete="CASCADE"), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("staff_user.id"))
    kind: Mapped[str] = mapped_column(String(16), default=ReplyKind.ANSWER)
    body: Mapped[str] = mapped_column(Text)
    #: The version for the public tracking page, personal data removed by staff.
    public_body: Mapped[str | None] = mapped_column(Text)
    public: Mapped[bool] = mapped_column(Boolean, default=True)
    #: Sent also to every open case of the case's cluster (one answer to a campaign).
    whole_cluster: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    state: Mapped[str] = mapped_column(String(16), default=ReplyState.DRAFT)
    #: Review levels this reply needs (the office's setting when it was written).
    levels_required: Mapped[int] = mapped_column(Integer, default=1)
    levels_approved: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: The thread entry created when it was sent.
    message_pk: Mapped[int | None] = mapped_column(ForeignKey("message.id"))

    reviews: Mapped[list[Review]] = relationship(order_by="Review.id")
    case: Mapped[Case] = relationship()
    author: Mapped[StaffUser] = relationship()


class Review(Base):
    __tablename__ = "review"

    id: Mapped[int] = mapped_column(primary_key=True)
    reply_id: Mapped[int] = mapped_column(ForeignKey("reply.id", ondelete="CASCADE"), index=True)
    reviewer_id: Mapped[int] = mapped_column(ForeignKey("staff_user.id"))
    level: Mapped[int] = mapped_column(Integer)
    decision: Mapped[str] = mapped_column(String(16))  # approved | returned
    comment: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    reviewer: Mapped[StaffUser] = relationship()


class ReplyTemplate(Base):
    """Canned replies and formal notices, with variables such as ``{tracking_number}``."""

    __tablename__ = "reply_template"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16), default=ReplyKind.OTHER)
    language: Mapped[str] = mapped_column(String(8), default="zh")
    body: Mapped[str] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
