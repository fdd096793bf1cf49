"""Asia/Shanghai calendar months, as the report counts them: the month a person or the command
line asks for, the current and the last completed month, and a month as an instant range.

A month is written ``YYYY-MM`` and held as the date of its first day. Months are Asia/Shanghai
calendar months (no daylight saving time: every day is 24 hours), stored times are UTC.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import and_
from sqlalchemy.sql import ColumnElement

from shared.db import SHANGHAI, utcnow
from shared.i18n import N_
from shared.operations.errors import StepRefused

#: Months before this are refused (nothing was recorded then).
FIRST_YEAR = 2000


def parse_month(text: str, *, now: datetime | None = None) -> date:
    """The first day of the month written as ``YYYY-MM``; ValueError with a clear message
    for anything else, for a month before 2000, or for a month that has not begun."""
    value = (text or "").strip()
    match = re.fullmatch(r"(\d{4})-(\d{2})", value)
    if match is None:
        raise ValueError(f"Write the month as YYYY-MM, for example 2026-10 (not {value!r}).")
    year, month = int(match[1]), int(match[2])
    if not 1 <= month <= 12:
        raise ValueError(f"There is no month {month:02d}: write a month from 01 to 12.")
    if year < FIRST_YEAR:
        raise ValueError(f"Months before {FIRST_YEAR}-01 cannot be reported.")
    first = date(year, month, 1)
    current = current_month(now)
    if first > current:
        raise ValueError(f"{value} has not begun yet: choose {current:%Y-%m} or an earlier month.")
    return first


def requested_month(value: str | None, *, now: datetime | None = None) -> date:
    """The month a page, the API or the command line asks for: ``YYYY-MM``, or the last
    completed month when none is given. Refused on ``month`` otherwise (the English reason
    of :func:`parse_month` for the command line)."""
    if not value:
        return last_completed_month(now)
    try:
        return parse_month(value, now=now)
    except ValueError as error:
        raise StepRefused(
            N_("Choose a month written as YYYY-MM, from January 2000 to the current month."),
            "month",
            detail=str(error),
        ) from None


def shift_month(month: date, months: int) -> date:
    """The first day of the month ``months`` after ``month`` (before it, when negative)."""
    index = month.year * 12 + month.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def month_start(month: date) -> datetime:
    """00:00 Asia/Shanghai of the month's first day."""
    return datetime.combine(month.replace(day=1), time(0), SHANGHAI)


def current_month(now: datetime | None = None) -> date:
    """The Asia/Shanghai month ``now`` (default: this moment) is in."""
    return (now or utcnow()).astimezone(SHANGHAI).date().replace(day=1)


def last_completed_month(now: datetime | None = None) -> date:
    """The month before the current Asia/Shanghai month: the one the 1st's report covers."""
    return shift_month(current_month(now), -1)


def is_completed(month: date, now: datetime | None = None) -> bool:
    """Whether the month has ended (by ``now``): its report may be archived."""
    return month_start(shift_month(month, 1)) <= (now or utcnow())


@dataclass(frozen=True)
class Period:
    """A month as an instant range, for the queries: start included, end excluded."""

    month: date
    start: datetime  # UTC, inclusive
    end: datetime  # UTC, exclusive

    @classmethod
    def of(cls, month: date) -> Period:
        first = month.replace(day=1)
        start = datetime.combine(first, time(0), SHANGHAI).astimezone(UTC)
        end = datetime.combine(shift_month(first, 1), time(0), SHANGHAI).astimezone(UTC)
        return cls(first, start, end)

    def days(self) -> list[date]:
        count = (shift_month(self.month, 1) - self.month).days
        return [self.month + timedelta(days=offset) for offset in range(count)]

    def contains(self, column) -> ColumnElement[bool]:
        return and_(column >= self.start, column < self.end)
