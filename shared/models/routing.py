from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shared.db import Base, UTCDateTime, utcnow
from shared.models.notice import NoticeItem
from shared.models.office import Office


class RoutingRule(Base):
    """Sends matching cases to an office. Rules are tried in ``position`` order; the first wins.

    Every condition that is set must hold; a rule with no condition matches nothing.
    """

    __tablename__ = "routing_rule"

    id: Mapped[int] = mapped_column(primary_key=True)
    position: Mapped[int] = mapped_column(Integer, default=0, index=True)
    name: Mapped[str] = mapped_column(String(200))
    office_id: Mapped[int] = mapped_column(ForeignKey("office.id"))
    notice_item_id: Mapped[int | None] = mapped_column(ForeignKey("notice_item.id"))
    category: Mapped[str | None] = mapped_column(String(16))
    channel: Mapped[str | None] = mapped_column(String(16))
    #: One keyword per line; any of them in the subject or text (NFKC, case-folded) matches.
    keywords: Mapped[str] = mapped_column(Text, default="")
    #: Sender's mail domain, e.g. ``gov.cn`` (matches sub-domains too).
    sender_domain: Mapped[str | None] = mapped_column(String(253))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    office: Mapped[Office] = relationship()
    notice_item: Mapped[NoticeItem | None] = relationship()

    @property
    def keyword_list(self) -> list[str]:
        return [line.strip() for line in self.keywords.splitlines() if line.strip()]
