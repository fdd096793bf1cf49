"""The working-day calendar: Monday to Friday, except what the ``calendar_day`` table says.

The table holds the exceptions of the official calendar (国务院办公厅关于节假日安排的通知):
public holidays that fall on a weekday, and make-up working days (调休) that fall on a
Saturday or Sunday. :func:`import_official_calendar` fills a year from the chinese-calendar
package; an admin can correct or add days by hand when the State Council publishes the next
year's holidays before the package knows them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import chinese_calendar
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from shared.i18n import N_
from shared.models import CalendarDay, StaffUser
from shared.operations import audit


class CalendarError(ValueError):
    """The calendar cannot be had as asked; ``message`` (a msgid) says why."""

    def __init__(self, message: str, **params: object) -> None:
        super().__init__(message % params if params else message)
        self.message = message
        self.params = params


@dataclass(frozen=True)
class OfficialDay:
    """An exception to the Monday-to-Friday week, as the official calendar has it."""

    day: date
    is_workday: bool
    name: str


def official_years() -> range:
    """The years the installed chinese-calendar package knows."""
    years = {day.year for day in chinese_calendar.holidays}
    return range(min(years), max(years) + 1)


def official_days(year: int) -> list[OfficialDay]:
    """The year's holidays on weekdays and make-up working days on weekends, by date.

    Raises :class:`CalendarError` if the package does not know the year (the State Council
    publishes each year's holidays late in the year before).
    """
    if year not in official_years():
        raise CalendarError(
            N_(
                "The official calendar of %(year)s is not known yet: update the "
                "chinese-calendar package, or enter the holidays and make-up working days "
                "by hand."
            ),
            year=year,
        )
    days = []
    for day, english_name in chinese_calendar.holidays.items():
        if day.year == year and day.weekday() < 5:
            days.append(OfficialDay(day, False, chinese_calendar.Holiday(english_name).chinese))
    for day, english_name in chinese_calendar.workdays.items():
        if day.year == year and day.weekday() >= 5:
            holiday = chinese_calendar.Holiday(english_name).chinese
            days.append(OfficialDay(day, True, f"{holiday}调休上班"))
    return sorted(days, key=lambda official: official.day)


def import_official_calendar(session: Session, year: int, *, actor: StaffUser | None = None) -> int:
    """Replace the year's calendar days (including any entered by hand) with the official
    ones from the chinese-calendar package; returns how many were stored. Flushes."""
    days = official_days(year)
    session.execute(delete(CalendarDay).where(_in_year(year)))
    session.add_all(
        CalendarDay(day=official.day, is_workday=official.is_workday, name=official.name)
        for official in days
    )
    session.flush()
    holidays = sum(not official.is_workday for official in days)
    audit.record(
        session,
        "calendar.imported",
        actor=actor,
        year=year,
        holidays=holidays,
        make_up_days=len(days) - holidays,
        source=f"chinese-calendar {chinese_calendar.__version__}",
    )
    return len(days)


def _in_year(year: int):
    return CalendarDay.day.between(date(year, 1, 1), date(year, 12, 31))


def days_of(session: Session, year: int) -> list[CalendarDay]:
    """The year's holidays and make-up working days as the table holds them, by date."""
    return list(
        session.scalars(select(CalendarDay).where(_in_year(year)).order_by(CalendarDay.day))
    )


def has_calendar(session: Session, year: int) -> bool:
    """Whether the table holds any day of the year (a Chinese year always has exceptions)."""
    return session.scalar(select(CalendarDay.day).where(_in_year(year)).limit(1)) is not None


def exceptions(session: Session, after: date, until: date) -> dict[date, bool]:
    """{day: is_workday} for the table's days in (after, until]."""
    return dict(
        session.execute(
            select(CalendarDay.day, CalendarDay.is_workday).where(
                CalendarDay.day > after, CalendarDay.day <= until
            )
        ).all()
    )


def is_working_day(session: Session, day: date) -> bool:
    listed = session.scalar(select(CalendarDay.is_workday).where(CalendarDay.day == day))
    return _working(day, {day: listed} if listed is not None else {})


def working_days_between(session: Session, after: date, until: date) -> int:
    """How many working days lie in (after, until]; 0 when ``until`` is not after ``after``."""
    if until <= after:
        return 0
    listed = exceptions(session, after, until)
    return sum(
        _working(after + timedelta(days=offset), listed)
        for offset in range(1, (until - after).days + 1)
    )


def _working(day: date, listed: dict[date, bool]) -> bool:
    return listed.get(day, day.weekday() < 5)
