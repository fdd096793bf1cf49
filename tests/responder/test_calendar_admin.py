"""Admins keep the working-day calendar: each year's state, the official import, a year
entered by hand and shown as a month grid; deadlines use what was saved; in December the
dashboard warns when next year is missing."""

from __future__ import annotations

import html
import re
from datetime import UTC, date, datetime

import pytest
import time_machine
from sqlalchemy import select

from shared.models import AuditEvent, CalendarDay
from shared.operations import calendar as working_calendar
from shared.operations import deadlines
from tests.conftest import csrf_token
from tests.factories import log_in, make_staff

#: The whole module lives in late November 2026: the demo has imported the official 2026, the
#: installed chinese-calendar does not know 2027, and December is days away.
pytestmark = pytest.mark.clock(datetime(2026, 11, 20, 2, 0, tzinfo=UTC))

#: 2027 as an admin would type it from the State Council's notice (invented days: the
#: installed package does not know 2027).
DAYS_2027 = """# 2027
2027-01-01 元旦
2027-02-05..2027-02-11 春节
2027-02-13 春节调休上班
2027-02-14 上班
2027-10-01~2027-10-07 国庆节
2027-10-09 补班
"""


@pytest.fixture
def admin(db, demo, responder_client):
    """A client logged in as an admin, reading the pages in English."""
    make_staff(db, "boss", "admin")
    log_in(responder_client, "boss")
    responder_client.get("/admin/calendar/?lang=en")
    return responder_client


def _post(client, path: str, **data):
    token = csrf_token(client, "/admin/calendar/2027")
    return client.post(path, data={"csrf_token": token, **data})


def _stored(db, year: int) -> dict[date, tuple[bool, str]]:
    with db.session() as session:
        return {
            row.day: (row.is_workday, row.name) for row in working_calendar.days_of(session, year)
        }


def _states(page: str) -> dict[int, str]:
    return {int(y): s for y, s in re.findall(r'data-year="(\d+)" data-state="(\w+)"', page)}


def _cell(page: str, day: str) -> str:
    match = re.search(rf'<td data-day="{day}" class="([^"]*)"', page)
    assert match, f"no cell for {day}"
    return match.group(1)


def test_the_list_tells_each_years_state(db, admin):
    """The demo imported this year; next year is missing; a year entered by hand says so."""
    assert _states(admin.get("/admin/calendar/").get_data(as_text=True))[2027] == "missing"
    _post(admin, "/admin/calendar/2027", days=DAYS_2027)
    page = admin.get("/admin/calendar/").get_data(as_text=True)
    states = _states(page)
    assert states[2026] == "official" and states[2027] == "manual"
    assert "Entered by hand" in page and "Complete, from the official calendar" in page


def test_a_year_entered_by_hand_is_stored_shown_and_audited(db, admin):
    """Holidays and make-up days, single and in ranges, are stored; the month grid marks them
    and weekends; the audit trail has the counts."""
    response = _post(admin, "/admin/calendar/2027", days=DAYS_2027)
    assert response.status_code == 303 and response.location == "/admin/calendar/2027"
    stored = _stored(db, 2027)
    assert len(stored) == 1 + 7 + 2 + 7 + 1
    assert stored[date(2027, 1, 1)] == (False, "元旦")
    assert stored[date(2027, 2, 13)] == (True, "春节调休上班")
    assert stored[date(2027, 10, 9)] == (True, "补班")
    page = admin.get("/admin/calendar/2027").get_data(as_text=True)
    assert "days. Deadlines computed from now on use it." in page
    assert _cell(page, "2027-01-01") == "holiday"
    assert _cell(page, "2027-02-14") == "make-up"
    assert _cell(page, "2027-01-02") == "weekend"
    assert _cell(page, "2027-01-04") == ""
    assert 'data-state="manual"' in page
    with db.session() as session:
        event = session.scalar(select(AuditEvent).where(AuditEvent.action == "calendar.entered"))
    assert event.detail == {"year": 2027, "holidays": 15, "make_up_days": 3}
    assert event.actor_id is not None


def test_deadlines_computed_afterwards_use_the_entered_days(db, admin):
    """Before: 2027-02-05 (Friday) counts as a working day. After: the Spring Festival is off
    and the weekend make-up days count, so 5 working days from 4 February end later."""
    start = datetime(2027, 2, 4, 2, 0, tzinfo=UTC)  # Thursday morning in Shanghai
    with db.session() as session:
        assert working_calendar.is_working_day(session, date(2027, 2, 5))
        before = deadlines.add_days(session, start, 5, working=True)
    assert before.date() == date(2027, 2, 11)
    _post(admin, "/admin/calendar/2027", days=DAYS_2027)
    with db.session() as session:
        assert not working_calendar.is_working_day(session, date(2027, 2, 5))
        assert working_calendar.is_working_day(session, date(2027, 2, 13))
        # (4 Feb, 14 Feb]: Friday 12 and the make-up weekend 13 and 14 are the working days.
        between = working_calendar.working_days_between(
            session, date(2027, 2, 4), date(2027, 2, 14)
        )
        assert between == 3
        after = deadlines.add_days(session, start, 5, working=True)
    assert after.date() == date(2027, 2, 16)  # 12, 13, 14, 15, 16 February


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("2026-12-31 元旦", "Line 2: the date is not in 2027."),
        ("2027-01-01 重复", "Line 2: 2027-01-01 is already given on line 1."),
        ("2027-02-30 无此日", "Line 2: there is no such date."),
        ("元旦 2027-01-01", "Line 2: write a date as 2027-01-01"),
        ("2027-02-10..2027-02-01 春节", "Line 2: the range ends before it starts."),
        ("2027-01-04 上班", "Line 2: 2027-01-04 is a weekday, so it is a working day anyway"),
    ],
)
def test_wrong_lines_are_refused_with_their_line_number(db, admin, line, message):
    """Each wrong line is named; the typed text comes back; nothing is stored."""
    text = f"2027-01-01 元旦\n{line}"
    response = _post(admin, "/admin/calendar/2027", days=text)
    page = html.unescape(response.get_data(as_text=True))
    assert response.status_code == 422
    assert message in page
    assert f"{text}</textarea>" in page
    assert _stored(db, 2027) == {}


def test_an_empty_calendar_is_refused(db, admin):
    response = _post(admin, "/admin/calendar/2027", days="  \n# nothing\n")
    assert response.status_code == 422
    assert "Enter at least one holiday." in response.get_data(as_text=True)


def test_the_official_import_fills_a_year_the_package_knows(db, admin):
    """Import replaces what was typed by hand with the official days; audited."""
    _post(admin, "/admin/calendar/2025", days="2025-03-03 自定")
    assert _post(admin, "/admin/calendar/2025/import").status_code == 303
    with db.session() as session:
        official = working_calendar.official_days(2025)
        assert working_calendar.year_state(session, 2025) == "official"
        event = session.scalar(
            select(AuditEvent)
            .where(AuditEvent.action == "calendar.imported")
            .order_by(AuditEvent.id.desc())
        )
    stored = _stored(db, 2025)
    assert {day: workday for day, (workday, _name) in stored.items()} == {
        o.day: o.is_workday for o in official
    }
    assert date(2025, 3, 3) not in stored
    assert event.detail["year"] == 2025 and event.actor_id is not None


def test_the_prefilled_form_saved_again_changes_nothing(db, admin):
    """The form shows a year's days as lines (runs as ranges); saving them back unchanged keeps
    the year exactly as it was: still the official calendar."""
    _post(admin, "/admin/calendar/2025/import")
    before = _stored(db, 2025)
    page = admin.get("/admin/calendar/2025").get_data(as_text=True)
    text = html.unescape(re.search(r'<textarea id="days"[^>]*>(.*?)</textarea>', page, re.S)[1])
    assert ".." in text and "上班" in text
    assert _post(admin, "/admin/calendar/2025", days=text).status_code == 303
    assert _stored(db, 2025) == before
    with db.session() as session:
        assert working_calendar.year_state(session, 2025) == "official"


def test_importing_a_year_the_package_does_not_know_says_what_to_do(db, admin):
    response = _post(admin, "/admin/calendar/2027/import")
    assert response.status_code == 303
    page = admin.get(response.location).get_data(as_text=True)
    assert "The official calendar of 2027 is not known yet" in html.unescape(page)
    assert "enter the holidays and make-up working days by hand" in html.unescape(page)
    assert _stored(db, 2027) == {}


def test_a_year_out_of_range_does_not_exist(admin):
    assert admin.get("/admin/calendar/1999").status_code == 404
    assert admin.get("/admin/calendar/2101").status_code == 404


# -- the December warning on the dashboard ------------------------------------------------


def _dashboard(client) -> str:
    return client.get("/?lang=en").get_data(as_text=True)


def test_in_december_admins_are_warned_and_led_to_next_years_calendar(db, admin):
    """1 December 01:00 in Shanghai (still 30 November in UTC), 2027 missing: the warning with
    a link to enter 2027."""
    with time_machine.travel(datetime(2026, 11, 30, 17, 0, tzinfo=UTC), tick=False):
        page = _dashboard(admin)
    assert 'id="calendar-warning"' in page
    assert "The working-day calendar of 2027 is missing" in page
    assert 'href="/admin/calendar/2027"' in page


def test_in_december_other_staff_get_a_short_note_without_the_link(db, demo, responder_client):
    make_staff(db, "clerk", "triager")
    log_in(responder_client, "clerk")
    with time_machine.travel(datetime(2026, 12, 20, 2, 0, tzinfo=UTC), tick=False):
        page = _dashboard(responder_client)
    assert "Deadlines in 2027 may be off by a few days" in page
    assert "/admin/calendar/2027" not in page


def test_no_warning_outside_december(db, admin):
    """30 November 23:00 in Shanghai: not yet December there."""
    with time_machine.travel(datetime(2026, 11, 30, 15, 0, tzinfo=UTC), tick=False):
        assert 'id="calendar-warning"' not in _dashboard(admin)


def test_no_warning_once_next_years_calendar_exists(db, admin):
    _post(admin, "/admin/calendar/2027", days=DAYS_2027)
    with time_machine.travel(datetime(2026, 12, 15, 2, 0, tzinfo=UTC), tick=False):
        assert 'id="calendar-warning"' not in _dashboard(admin)


def test_stored_days_are_only_the_year_entered(db, admin):
    """Saving 2027 leaves the demo's 2026 alone."""
    before = _stored(db, 2026)
    _post(admin, "/admin/calendar/2027", days=DAYS_2027)
    assert _stored(db, 2026) == before and before
    with db.session() as session:
        assert session.scalar(select(CalendarDay).where(CalendarDay.day == date(2027, 1, 1)))


def test_a_year_begun_without_its_calendar_is_warned_about_all_year(db, demo, responder_client):
    """March 2027 and still no calendar of 2027 (the package does not know it): the warning is
    there outside December too, since every deadline now runs in that year."""
    make_staff(db, "boss", "admin")
    with time_machine.travel(datetime(2027, 3, 2, 2, 0, tzinfo=UTC), tick=False):
        log_in(responder_client, "boss")
        page = _dashboard(responder_client)
    assert "The working-day calendar of 2027 is missing" in page
    assert 'href="/admin/calendar/2027"' in page


def test_no_warning_in_a_year_with_its_calendar_outside_december(db, demo, responder_client):
    """June 2026: this year's calendar is there and next year's is not needed yet."""
    make_staff(db, "boss", "admin")
    with time_machine.travel(datetime(2026, 6, 1, 2, 0, tzinfo=UTC), tick=False):
        log_in(responder_client, "boss")
        response = responder_client.get("/?lang=en")
    assert response.status_code == 200 and "boss" in response.get_data(as_text=True)
    assert 'id="calendar-warning"' not in response.get_data(as_text=True)
