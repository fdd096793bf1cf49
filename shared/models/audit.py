from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import Base, UTCDateTime, utcnow

#: Who acted (``AuditEvent.actor_kind``): a member of staff, or else the citizen, the mail
#: system or the worker.
ACTOR_KINDS = ("staff", "citizen", "mail", "system")


class AuditEvent(Base):
    """Who did what to which case, including who viewed protected personal data."""

    __tablename__ = "audit_event"
    __table_args__ = (Index("ix_audit_event_case_at", "case_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    #: The member of staff; null for the citizen, the mail system or the worker.
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    #: Who acted when it was not staff: "citizen", "mail", "system".
    actor_kind: Mapped[str] = mapped_column(String(16), default="staff")
    action: Mapped[str] = mapped_column(String(64), index=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("case.id", ondelete="SET NULL"))
    #: Facts of the event, never personal data of the citizen.
    detail: Mapped[dict] = mapped_column(JSON, default=dict)
