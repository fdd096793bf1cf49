"""The working-day calendar: the official holidays and make-up working days (调休), imported
from the chinese-calendar package into the table admins can correct."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select

from shared.models import AuditEvent, CalendarDay
from shared.operations.calendar import (
    days_of,
    has_calendar,
    import_official_calendar,
    is_working_day,
    official_years,
    working_days_between,
)
from shared.operations.errors import StepRefused

MINYI = str(Path(sys.executable).with_name("minyi"))


def _days(db, year: int) -> dict[date, tuple[bool, str]]:
    with db.session() as session:
        return {day.day: (day.is_workday, day.name) for day in days_of(session, year)}


def test_national_day_2025_holidays_and_make_up_days(db):
    """Oct 1-8 2025 are off (Oct 4-5 are a weekend anyway, so not stored); Sunday Sep 28 and
    Saturday Oct 11 are make-up working days."""
    with db.transaction() as session:
        stored = import_official_calendar(session, 2025)
    days = _days(db, 2025)
    assert stored == len(days) == 23
    national_day = {
        day: days[day] for day in days if date(2025, 9, 27) <= day <= date(2025, 10, 12)
    }
    assert national_day == {
        date(2025, 9, 28): (True, "国庆节调休上班"),
        date(2025, 10, 1): (False, "国庆节"),
        date(2025, 10, 2): (False, "国庆节"),
        date(2025, 10, 3): (False, "国庆节"),
        date(2025, 10, 6): (False, "中秋"),
        date(2025, 10, 7): (False, "国庆节"),
        date(2025, 10, 8): (False, "国庆节"),
        date(2025, 10, 11): (True, "国庆节调休上班"),
    }
    # Only exceptions are stored: holidays on weekdays, make-up days on weekends.
    assert all((day.weekday() >= 5) == is_workday for day, (is_workday, _name) in days.items())


def test_spring_festival_2026_as_published(db):
    """The State Council's 2026 schedule: Feb 15 (Sunday) to Feb 23 (Monday) off, Saturdays
    Feb 14 and Feb 28 worked; New Year Jan 1-3 off with Sunday Jan 4 worked."""
    with db.transaction() as session:
        import_official_calendar(session, 2026)
    days = _days(db, 2026)
    february = {day: days[day][0] for day in days if day.month == 2}
    assert february == {
        date(2026, 2, 14): True,
        **{date(2026, 2, d): False for d in (16, 17, 18, 19, 20, 23)},
        date(2026, 2, 28): True,
    }
    assert days[date(2026, 1, 4)] == (True, "元旦调休上班")
    assert days[date(2026, 1, 1)] == days[date(2026, 1, 2)] == (False, "元旦")


def test_import_replaces_the_year_only(db):
    """A second import replaces the year's rows, hand-entered ones included; other years stay."""
    with db.transaction() as session:
        session.add(CalendarDay(day=date(2025, 12, 26), is_workday=False, name="手工录入"))
        session.add(CalendarDay(day=date(2024, 12, 31), is_workday=False, name="去年的"))
    with db.transaction() as session:
        first = import_official_calendar(session, 2025)
    with db.transaction() as session:
        second = import_official_calendar(session, 2025)
    assert first == second == 23
    assert date(2025, 12, 26) not in _days(db, 2025)
    assert _days(db, 2024) == {date(2024, 12, 31): (False, "去年的")}
    with db.session() as session:
        events = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "calendar.imported")
        ).all()
        assert [event.detail["year"] for event in events] == [2025, 2025]
        assert events[0].detail["holidays"] + events[0].detail["make_up_days"] == 23


def test_unknown_year_is_a_clear_error_and_changes_nothing(db):
    """A year the package does not know yet is refused in words, and no row is touched."""
    unknown = official_years().stop
    with db.transaction() as session:
        session.add(CalendarDay(day=date(unknown, 1, 1), is_workday=False, name="元旦"))
    refused = pytest.raises(StepRefused, match=f"calendar of {unknown} is not known")
    with refused, db.transaction() as session:
        import_official_calendar(session, unknown)
    assert _days(db, unknown) == {date(unknown, 1, 1): (False, "元旦")}


def test_has_calendar_and_working_days(db):
    """Without a row a day follows Monday to Friday; with the import, holidays and 调休 count."""
    with db.transaction() as session:
        assert not has_calendar(session, 2025)
        assert is_working_day(session, date(2025, 10, 1))  # a Wednesday, before the import
        import_official_calendar(session, 2025)
        assert has_calendar(session, 2025) and not has_calendar(session, 2024)
        assert is_working_day(session, date(2025, 9, 28))  # Sunday, make-up day
        assert not is_working_day(session, date(2025, 10, 1))  # Wednesday, National Day
        assert is_working_day(session, date(2025, 10, 9))  # Thursday, back to work
        assert is_working_day(session, date(2025, 10, 11))  # Saturday, make-up day
        assert not is_working_day(session, date(2025, 10, 12))  # an ordinary Sunday
        # (Sep 26, Oct 12]: Sep 28, 29, 30, Oct 9, 10, 11 -> 6 working days.
        assert working_days_between(session, date(2025, 9, 26), date(2025, 10, 12)) == 6
        assert working_days_between(session, date(2025, 10, 12), date(2025, 9, 26)) == 0


def _minyi(*args: str, database_url: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": database_url, "SECRET_KEY": "cli-test"}
    return subprocess.run(
        [MINYI, *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=120
    )


def test_cli_import_prints_what_it_stored(db, database_url, tmp_path):
    """`minyi calendar import 2025` lists each day it stored and the count; an unknown year
    fails with the reason, not a traceback."""
    done = _minyi("calendar", "import", "2025", database_url=database_url, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "2025-09-28 Sun  make-up working day  国庆节调休上班" in done.stdout
    assert "2025-10-01 Wed  holiday" in done.stdout
    assert done.stdout.rstrip().endswith("stored 23 days for 2025")
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(CalendarDay)) == 23
    refused = _minyi("calendar", "import", "2099", database_url=database_url, cwd=tmp_path)
    assert refused.returncode == 1
    assert "calendar of 2099 is not known" in refused.stderr
    assert "Traceback" not in refused.stderr
    helped = _minyi("calendar", "import", "--help", database_url=database_url, cwd=tmp_path)
    assert "make-up working days" in helped.stdout
