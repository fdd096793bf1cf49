"""The working-day calendar: Monday to Friday, except what the ``calendar_day`` table says.

The table holds the exceptions of the official calendar (国务院办公厅关于节假日安排的通知):
public holidays that fall on a weekday, and make-up working days (调休) that fall on a
Saturday or Sunday. :func:`import_official_calendar` fills a year from the chinese-calendar
package; an admin can correct or add days by hand when the State Council publishes the next
year's holidays before the package knows them.
"""

from __future__ import annotations

import calendar as gregorian
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import chinese_calendar
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from shared.db import SHANGHAI, utcnow
from shared.i18n import N_
from shared.models import CalendarDay, StaffUser
from shared.models.calendar import OfficialDay
from shared.operations import audit
from shared.operations.errors import StepRefused


def official_years() -> range:
    """The years the installed chinese-calendar package knows."""
    years = {day.year for day in chinese_calendar.holidays}
    return range(min(years), max(years) + 1)


def official_days(year: int) -> list[OfficialDay]:
    """The year's holidays on weekdays and make-up working days on weekends, by date.

    Refused (:class:`StepRefused`) if the package does not know the year (the State Council
    publishes each year's holidays late in the year before).
    """
    if year not in official_years():
        raise StepRefused(
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


# --- Administration: what each year holds, entering a year by hand, the month grid ---------


class CalendarState:
    """Where a year's calendar stands."""

    #: The table holds exactly the official days of the chinese-calendar package.
    OFFICIAL = "official"
    #: The table holds days, entered (or corrected) by hand.
    MANUAL = "manual"
    #: Nothing for the year: every weekday counts as a working day, which is wrong.
    MISSING = "missing"


@dataclass(frozen=True)
class YearSummary:
    year: int
    state: str
    holidays: int
    make_up_days: int
    #: The installed chinese-calendar package knows the year, so it can be imported.
    importable: bool


def year_state(session: Session, year: int) -> str:
    stored = {(row.day, row.is_workday) for row in days_of(session, year)}
    if not stored:
        return CalendarState.MISSING
    if year in official_years():
        official = {(official.day, official.is_workday) for official in official_days(year)}
        if stored == official:
            return CalendarState.OFFICIAL
    return CalendarState.MANUAL


def calendar_years(session: Session, today: date | None = None) -> list[YearSummary]:
    """The years worth showing, newest first: those the table holds, and last year, this year
    and the next whatever they hold (older years matter only to deadlines long past)."""
    today = today or utcnow().astimezone(SHANGHAI).date()
    counts: dict[int, tuple[int, int]] = {}
    rows = session.execute(select(CalendarDay.day, CalendarDay.is_workday)).all()
    for day, is_workday in rows:
        holidays, make_up = counts.get(day.year, (0, 0))
        counts[day.year] = (holidays + (not is_workday), make_up + bool(is_workday))
    known = official_years()
    years = set(counts) | {today.year - 1, today.year, today.year + 1}
    summaries = []
    for year in sorted(years, reverse=True):
        holidays, make_up = counts.get(year, (0, 0))
        summaries.append(
            YearSummary(
                year=year,
                state=year_state(session, year) if year in counts else CalendarState.MISSING,
                holidays=holidays,
                make_up_days=make_up,
                importable=year in known,
            )
        )
    return summaries


def enter_calendar(
    session: Session, year: int, days: list[OfficialDay], *, actor: StaffUser | None = None
) -> int:
    """Replace the year's days with those an admin entered: holidays (``is_workday`` false)
    and make-up working days. Each day must be of the year, once, and a make-up working day
    must fall on a Saturday or Sunday. Returns how many were stored. Flushes."""
    seen: set[date] = set()
    for entered in days:
        if entered.day.year != year:
            raise StepRefused(N_("%(day)s is not in %(year)s."), "days", day=entered.day, year=year)
        if entered.day in seen:
            raise StepRefused(N_("%(day)s is given twice."), "days", day=entered.day)
        if entered.is_workday and entered.day.weekday() < 5:
            raise StepRefused(
                N_("%(day)s is a weekday: it is a working day anyway."), "days", day=entered.day
            )
        seen.add(entered.day)
    if not days:
        raise StepRefused(N_("Enter at least one holiday."), "days")
    session.execute(delete(CalendarDay).where(_in_year(year)))
    session.add_all(
        CalendarDay(day=entered.day, is_workday=entered.is_workday, name=entered.name[:100])
        for entered in days
    )
    session.flush()
    holidays = sum(not entered.is_workday for entered in days)
    audit.record(
        session,
        "calendar.entered",
        actor=actor,
        year=year,
        holidays=holidays,
        make_up_days=len(days) - holidays,
    )
    return len(days)


@dataclass(frozen=True)
class GridDay:
    day: date
    weekend: bool
    #: A holiday on a day that would be a working day, or named as a holiday on a weekend.
    holiday: bool
    #: A make-up working day (调休) on a weekend.
    make_up: bool
    working: bool
    name: str


@dataclass(frozen=True)
class Month:
    first: date
    #: Weeks from Monday to Sunday; None outside the month.
    weeks: list[list[GridDay | None]]


def month_grid(session: Session, year: int) -> list[Month]:
    """The year as twelve month calendars with the table's days marked."""
    listed = {row.day: row for row in days_of(session, year)}
    months = []
    for number in range(1, 13):
        weeks = []
        for week in gregorian.Calendar(firstweekday=0).monthdatescalendar(year, number):
            cells: list[GridDay | None] = []
            for day in week:
                if day.month != number:
                    cells.append(None)
                    continue
                row = listed.get(day)
                weekend = day.weekday() >= 5
                cells.append(
                    GridDay(
                        day=day,
                        weekend=weekend,
                        holiday=row is not None and not row.is_workday,
                        make_up=row is not None and row.is_workday and weekend,
                        working=row.is_workday if row is not None else not weekend,
                        name=row.name if row is not None else "",
                    )
                )
            weeks.append(cells)
        months.append(Month(first=date(year, number, 1), weeks=weeks))
    return months


def missing_calendar_year(session: Session, now: datetime | None = None) -> int | None:
    """The year whose working-day calendar deadlines need and do not have, so that they count
    every weekday as a working day: this year (Asia/Shanghai) at any time, and in December the
    coming year too; else None."""
    today = (now or utcnow()).astimezone(SHANGHAI).date()
    years = [today.year, today.year + 1] if today.month == 12 else [today.year]
    return next((year for year in years if not has_calendar(session, year)), None)
