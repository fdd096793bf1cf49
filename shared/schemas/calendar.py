"""A year's holidays and make-up working days (调休) as an admin types them, one a line:

    2027-01-01 元旦
    2027-02-06..2027-02-12 春节
    2027-02-07 上班

A line is a date, or a range of dates (``..``, ``~``, ``至`` or ``到`` between them), then its
name. A name ending in 上班 or 补班 (or ``work``) makes a make-up working day; any other name
a holiday. Lines starting with ``#`` and blank lines are skipped.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date, timedelta

from marshmallow import EXCLUDE, Schema, ValidationError, post_load

from shared.i18n import N_, Formatted
from shared.models.calendar import OfficialDay
from shared.schemas.fields import Text

#: Enough for any year's exceptions several times over.
LINES_MAX = 400
NAME_MAX = 100
_DATE = r"(\d{4})-(\d{1,2})-(\d{1,2})"
_LINE = re.compile(rf"^{_DATE}(?:\s*(?:\.\.|~|至|到)\s*{_DATE})?(?:\s+(.*))?$")
_WORKDAY_NAMES = re.compile(r"(上班|补班|\bwork(?:day|ing day)?)$", re.IGNORECASE)


def is_workday_name(name: str) -> bool:
    return bool(_WORKDAY_NAMES.search(name.strip()))


class CalendarInputSchema(Schema):
    """The calendar form of one year; the year is given when the schema is made."""

    class Meta:
        unknown = EXCLUDE

    days = Text(
        required=True,
        error_messages={
            "required": N_("Enter at least one holiday."),
            "null": N_("Enter at least one holiday."),
        },
    )

    def __init__(self, year: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.year = year

    @post_load
    def _make_days(self, data: dict, **_kwargs) -> list[OfficialDay]:
        return parse_lines(data["days"], self.year)


def parse_lines(text: str, year: int) -> list[OfficialDay]:
    """The days of the text, by date. Raises ValidationError on ``days`` with a message per
    wrong line: not a date, not in ``year``, a range backwards, a day given twice, a make-up
    working day on a weekday."""
    errors: list[str] = []
    days: list[OfficialDay] = []
    first_line: dict[date, int] = {}
    lines = text.splitlines()
    if len(lines) > LINES_MAX:
        raise ValidationError({"days": [N_("Enter at most 400 lines.")]})
    for number, raw in enumerate(lines, start=1):
        line = unicodedata.normalize("NFKC", raw).strip()
        if not line or line.startswith("#"):
            continue
        match = _LINE.match(line)
        if match is None:
            errors.append(
                Formatted(
                    N_(
                        "Line %(line)s: write a date as 2027-01-01, or a range as "
                        "2027-02-06..2027-02-12, then the name."
                    ),
                    line=number,
                )
            )
            continue
        name = (match[7] or "").strip()[:NAME_MAX]
        try:
            start = date(int(match[1]), int(match[2]), int(match[3]))
            end = date(int(match[4]), int(match[5]), int(match[6])) if match[4] else start
        except ValueError:
            errors.append(Formatted(N_("Line %(line)s: there is no such date."), line=number))
            continue
        if start.year != year or end.year != year:
            errors.append(
                Formatted(N_("Line %(line)s: the date is not in %(year)s."), line=number, year=year)
            )
            continue
        if end < start:
            errors.append(
                Formatted(N_("Line %(line)s: the range ends before it starts."), line=number)
            )
            continue
        workday = is_workday_name(name)
        current = start
        while current <= end:
            if current in first_line:
                errors.append(
                    Formatted(
                        N_("Line %(line)s: %(day)s is already given on line %(first)s."),
                        line=number,
                        day=current.isoformat(),
                        first=first_line[current],
                    )
                )
            elif workday and current.weekday() < 5:
                errors.append(
                    Formatted(
                        N_(
                            "Line %(line)s: %(day)s is a weekday, so it is a working day "
                            "anyway; a make-up working day falls on a Saturday or Sunday."
                        ),
                        line=number,
                        day=current.isoformat(),
                    )
                )
            else:
                first_line[current] = number
                days.append(OfficialDay(current, workday, name))
            current += timedelta(days=1)
    if errors:
        raise ValidationError({"days": errors})
    if not days:
        raise ValidationError({"days": [N_("Enter at least one holiday.")]})
    return sorted(days, key=lambda entered: entered.day)


def as_lines(days: list) -> str:
    """Stored days (anything with ``day``, ``is_workday``, ``name``) as the form's lines;
    consecutive days of the same name and kind become one range."""
    lines = []
    runs: list[list] = []
    for entry in sorted(days, key=lambda entry: entry.day):
        run = runs[-1] if runs else None
        if (
            run
            and run[-1].day + timedelta(days=1) == entry.day
            and run[-1].name == entry.name
            and run[-1].is_workday == entry.is_workday
        ):
            run.append(entry)
        else:
            runs.append([entry])
    for run in runs:
        first, last = run[0], run[-1]
        name = first.name or ("上班" if first.is_workday else "")
        if first.is_workday and not is_workday_name(name):
            name = f"{name}上班"
        when = first.day.isoformat()
        if last.day != first.day:
            when += f"..{last.day.isoformat()}"
        lines.append(f"{when} {name}".rstrip())
    return "\n".join(lines)
