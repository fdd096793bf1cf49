"""Time limits of a case.

Defaults follow the 2022 Regulations on Letters and Visits (信访工作条例): tell the citizen
within 15 days whether the matter is accepted, answer within 60 days. A notice or category
may set shorter limits in a :class:`~shared.models.DeadlinePolicy`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from shared.models import CalendarDay, DeadlinePolicy

SHANGHAI = ZoneInfo("Asia/Shanghai")
ACKNOWLEDGE_DAYS = 15
REPLY_DAYS = 60


@dataclass(frozen=True)
class Limits:
    acknowledge_days: int = ACKNOWLEDGE_DAYS
    reply_days: int = REPLY_DAYS
    working_days: bool = False


def limits_for(session: Session, notice_id: int | None, category: str | None) -> Limits:
    """The most specific policy: notice and category, then notice, then category, then law."""
    candidates = session.scalars(
        select(DeadlinePolicy).where(
            DeadlinePolicy.notice_id.in_([notice_id]) | DeadlinePolicy.notice_id.is_(None),
            DeadlinePolicy.category.in_([category]) | DeadlinePolicy.category.is_(None),
        )
    ).all()

    def specificity(policy: DeadlinePolicy) -> tuple[bool, bool]:
        return (policy.notice_id is not None, policy.category is not None)

    if not candidates:
        return Limits()
    best = max(candidates, key=specificity)
    return Limits(best.acknowledge_days, best.reply_days, best.working_days)


def add_days(session: Session, start: datetime, days: int, *, working: bool) -> datetime:
    """The end of the Asia/Shanghai day ``days`` calendar or working days after ``start``."""
    local_day = start.astimezone(SHANGHAI).date()
    if working:
        local_day = _add_working_days(session, local_day, days)
    else:
        local_day += timedelta(days=days)
    return datetime.combine(local_day, time(23, 59, 59), SHANGHAI)


def _add_working_days(session: Session, start: date, days: int) -> date:
    horizon = start + timedelta(days=days * 2 + 60)  # enough for the longest holiday runs
    exceptions = dict(
        session.execute(
            select(CalendarDay.day, CalendarDay.is_workday).where(
                CalendarDay.day > start, CalendarDay.day <= horizon
            )
        ).all()
    )
    current, counted = start, 0
    while counted < days:
        current += timedelta(days=1)
        if exceptions.get(current, current.weekday() < 5):
            counted += 1
    return current


def initial_due_dates(
    session: Session, received_at: datetime, notice_id: int | None, category: str | None
) -> tuple[datetime, datetime]:
    """(acknowledge_by, reply_due) for a new case; the answer clock runs from receipt until
    the case is formally accepted."""
    limits = limits_for(session, notice_id, category)
    acknowledge_by = add_days(
        session, received_at, limits.acknowledge_days, working=limits.working_days
    )
    reply_due = add_days(session, received_at, limits.reply_days, working=limits.working_days)
    return acknowledge_by, reply_due
