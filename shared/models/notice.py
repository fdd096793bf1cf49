from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shared.db import Base, UTCDateTime, utcnow
from shared.models.office import Office


class NoticeStatus:
    DRAFT = "draft"
    PUBLISHED = "published"
    WITHDRAWN = "withdrawn"


class Notice(Base):
    """A published text that invites the public to comment."""

    __tablename__ = "notice"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    title: Mapped[str] = mapped_column(String(300))
    issuer: Mapped[str] = mapped_column(String(200))
    issued_on: Mapped[date | None] = mapped_column(Date)
    #: A few sentences for the top of the public page.
    summary: Mapped[str] = mapped_column(Text, default="")
    body: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), default=NoticeStatus.DRAFT)
    #: The comment period; open-ended when null.
    opens_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closes_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: The channels the notice invites, as printed at its end.
    invites_web: Mapped[bool] = mapped_column(Boolean, default=True)
    contact_phone: Mapped[str | None] = mapped_column(String(64))
    contact_email: Mapped[str | None] = mapped_column(String(320))
    postal_address: Mapped[str | None] = mapped_column(String(300))
    postcode: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    items: Mapped[list[NoticeItem]] = relationship(
        back_populates="notice", order_by="NoticeItem.position", cascade="all, delete-orphan"
    )

    def is_open(self, at: datetime) -> bool:
        if self.status != NoticeStatus.PUBLISHED:
            return False
        if self.opens_at and at < self.opens_at:
            return False
        return not (self.closes_at and at >= self.closes_at)


class NoticeItem(Base):
    """One problem of the notice that the public may comment on, with its answering office."""

    __tablename__ = "notice_item"

    id: Mapped[int] = mapped_column(primary_key=True)
    notice_id: Mapped[int] = mapped_column(ForeignKey("notice.id", ondelete="CASCADE"), index=True)
    #: Public, stable code used by the API and the routing rules; unique across notices.
    code: Mapped[str] = mapped_column(String(32), unique=True)
    #: The notice's area (方面) this item belongs to, as written in the notice.
    area: Mapped[str] = mapped_column(String(300))
    title: Mapped[str] = mapped_column(Text)
    #: What the notice says was done about it (整改情况).
    description: Mapped[str] = mapped_column(Text, default="")
    position: Mapped[int] = mapped_column(Integer, default=0)
    default_office_id: Mapped[int | None] = mapped_column(ForeignKey("office.id"))
    #: Kept for the cases that refer to it after the notice changed; not offered any more.
    retired: Mapped[bool] = mapped_column(Boolean, default=False)

    notice: Mapped[Notice] = relationship(back_populates="items")
    default_office: Mapped[Office | None] = relationship()
