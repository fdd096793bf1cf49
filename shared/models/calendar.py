from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import Boolean, Date, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import Base


@dataclass(frozen=True)
class OfficialDay:
    """An exception to the Monday-to-Friday week as the official calendar has it, or as an
    admin entered it; stored as a :class:`CalendarDay`."""

    day: date
    is_workday: bool
    name: str


class CalendarDay(Base):
    """An exception to the Monday-to-Friday week: a public holiday, or a make-up working day (调休).

    Admins enter next year's days when the State Council publishes them.
    """

    __tablename__ = "calendar_day"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    is_workday: Mapped[bool] = mapped_column(Boolean)
    name: Mapped[str] = mapped_column(String(100), default="")


class DeadlinePolicy(Base):
    """Time limits for a notice and/or category, shorter than the statutory defaults."""

    __tablename__ = "deadline_policy"
    __table_args__ = (UniqueConstraint("notice_id", "category"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    notice_id: Mapped[int | None] = mapped_column(ForeignKey("notice.id", ondelete="CASCADE"))
    category: Mapped[str | None] = mapped_column(String(16))
    acknowledge_days: Mapped[int] = mapped_column(Integer, default=15)
    reply_days: Mapped[int] = mapped_column(Integer, default=60)
    #: Count working days on the official calendar instead of calendar days.
    working_days: Mapped[bool] = mapped_column(Boolean, default=False)
