"""Deadlines on real calendars: National Day 2025, Spring Festival 2026, New Year 2026; the
one extension; re-handling; the clock on the case page.

Every expected date is worked out by hand in the test, the way a clerk would count on a
printed calendar.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from sqlalchemy import select

from shared.models import AuditEvent, Case, DeadlinePolicy, Message, Office, StaffUser
from shared.operations import deadlines
from shared.operations.calendar import import_official_calendar
from shared.operations.deadlines import Clock
from shared.operations.errors import NotAllowed, StepRefused
from tests.factories import make_case

SHANGHAI = ZoneInfo("Asia/Shanghai")


def shanghai(*args: int) -> datetime:
    return datetime(*args, tzinfo=SHANGHAI)


#: The cases here are received in the autumn of 2025 and their clocks read on chosen days; the
#: steps taken on them (extensions, approvals) happen on 1 December 2025.
pytestmark = pytest.mark.clock(shanghai(2025, 12, 1, 9, 0))


def end_of(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 23, 59, 59, tzinfo=SHANGHAI)


@pytest.fixture
def calendar(db):
    """The official 2025 and 2026 calendars, as `minyi calendar import` stores them."""
    with db.transaction() as session:
        import_official_calendar(session, 2025)
        import_official_calendar(session, 2026)


@pytest.fixture
def complaints_in_working_days(db):
    """A 12345-style policy for complaints: acknowledge in 3 working days, answer in 5."""
    with db.transaction() as session:
        session.add(
            DeadlinePolicy(
                category="complaint", acknowledge_days=3, reply_days=5, working_days=True
            )
        )


@pytest.fixture
def office(db):
    with db.transaction() as session:
        session.add(Office(code="wangxin", name="网信办", email="wangxin@gov.test"))
        session.add(Office(code="other", name="其他股室", email="other@gov.test"))


def complaint(db, received_at: datetime) -> Case:
    return make_case(db, category="complaint", received_at=received_at).case


def local_day(moment: datetime) -> date:
    return moment.astimezone(SHANGHAI).date()


# -- counting days on the official calendar -------------------------------------------------


def test_national_day_2025(db, calendar, complaints_in_working_days):
    """Received Friday 26 September 2025. Working days after it: Sun 28 (make-up day) 1,
    Mon 29 2, Tue 30 3 -> acknowledge by Tue 30 Sep. Then Oct 1-8 are off; Thu 9 Oct 4,
    Fri 10 Oct 5 -> answer by Fri 10 October."""
    case = complaint(db, shanghai(2025, 9, 26, 10, 0))
    assert case.acknowledge_by == end_of(date(2025, 9, 30))
    assert case.reply_due == end_of(date(2025, 10, 10))


def test_national_day_without_the_calendar_is_wrong_by_a_week(db, complaints_in_working_days):
    """The same case counted Monday to Friday only (no calendar imported): Mon 29, Tue 30,
    Wed 1, Thu 2, Fri 3 -> Fri 3 October, in the middle of the holiday. Why the import matters."""
    case = complaint(db, shanghai(2025, 9, 26, 10, 0))
    assert case.reply_due == end_of(date(2025, 10, 3))


def test_spring_festival_2026(db, calendar, complaints_in_working_days):
    """Received Thursday 12 February 2026: Fri 13 1, Sat 14 (make-up day) 2, Feb 15-23 off,
    Tue 24 3 -> acknowledge by Tue 24 Feb; Wed 25 4, Thu 26 5 -> answer by Thu 26 Feb."""
    case = complaint(db, shanghai(2026, 2, 12, 15, 30))
    assert case.acknowledge_by == end_of(date(2026, 2, 24))
    assert case.reply_due == end_of(date(2026, 2, 26))


def test_spring_festival_2026_second_make_up_saturday(db, calendar):
    """From Thursday 26 February 2026, 2 working days: Fri 27 1, Sat 28 (make-up day) 2."""
    with db.session() as session:
        due = deadlines.add_days(session, shanghai(2026, 2, 26, 9, 0), 2, working=True)
    assert due == end_of(date(2026, 2, 28))


def test_new_year_2026_across_the_year_boundary(db, calendar, complaints_in_working_days):
    """Received Monday 29 December 2025: Tue 30 1, Wed 31 2, Jan 1-3 off, Sun 4 Jan (make-up
    day) 3 -> acknowledge by Sun 4 Jan 2026; Mon 5 4, Tue 6 5 -> answer by Tue 6 Jan 2026."""
    case = complaint(db, shanghai(2025, 12, 29, 11, 0))
    assert case.acknowledge_by == end_of(date(2026, 1, 4))
    assert case.reply_due == end_of(date(2026, 1, 6))


def test_late_evening_utc_is_already_the_next_shanghai_day(db, calendar):
    """16:30 UTC on Tuesday 30 September is 00:30 on Wednesday 1 October in Shanghai: the
    count starts from 1 October, so 1 working day later is Thursday 9 October."""
    with db.session() as session:
        due = deadlines.add_days(
            session, datetime(2025, 9, 30, 16, 30, tzinfo=UTC), 1, working=True
        )
    assert due == end_of(date(2025, 10, 9))


def test_statutory_calendar_days_ignore_holidays(db, calendar):
    """Without a policy: 15 and 60 calendar days, holidays included. From 26 September 2025:
    acknowledge by 11 October; 60 days = 4 (to Sep 30) + 31 (October) + 25 -> 25 November."""
    case = make_case(db, received_at=shanghai(2025, 9, 26, 10, 0)).case
    assert case.acknowledge_by == end_of(date(2025, 10, 11))
    assert case.reply_due == end_of(date(2025, 11, 25))


def test_answer_clock_runs_from_acceptance(db, calendar, complaints_in_working_days):
    """Statutory: accepted Thursday 9 October 2025, 60 days = 22 (to Oct 31) + 30 (November)
    + 8 -> 8 December. With the 5-working-day policy, accepted Tue 30 September: Thu 9 1,
    Fri 10 2, Sat 11 (make-up day) 3, Mon 13 4, Tue 14 5 -> 14 October."""
    plain = make_case(db, received_at=shanghai(2025, 9, 26, 10, 0)).case
    short = complaint(db, shanghai(2025, 9, 26, 10, 0))
    with db.session() as session:
        plain, short = session.get(Case, plain.id), session.get(Case, short.id)
        assert deadlines.reply_due_after_acceptance(
            session, plain, shanghai(2025, 10, 9, 10, 0)
        ) == end_of(date(2025, 12, 8))
        assert deadlines.reply_due_after_acceptance(
            session, short, shanghai(2025, 9, 30, 16, 0)
        ) == end_of(date(2025, 10, 14))


def test_rehandling_is_fifteen_working_days(db, calendar):
    """Reopened Thursday 25 September 2025: Fri 26 1, Sun 28 2, Mon 29 3, Tue 30 4, (Oct 1-8
    off) Thu 9 5, Fri 10 6, Sat 11 7, Mon 13 .. Fri 17 8-12, Mon 20 13, Tue 21 14,
    Wed 22 15 -> Wednesday 22 October, whatever the case's own policy."""
    assert deadlines.REHANDLING_WORKING_DAYS == 15
    case = make_case(db, received_at=shanghai(2025, 9, 20, 10, 0)).case
    with db.session() as session:
        due = deadlines.rehandling_due(
            session, session.get(Case, case.id), shanghai(2025, 9, 25, 14, 0)
        )
    assert due == end_of(date(2025, 10, 22))


# -- the one extension --------------------------------------------------------------------


@pytest.fixture
def staff(db, office):
    """An officer and two reviewers of 网信办, a reviewer of another office, an admin.
    (Accounts without a password: what matters here is the role and the office.)"""
    with db.transaction() as session:
        offices = {office.code: office for office in session.scalars(select(Office))}
        for username, role, codes in [
            ("officer", "officer", ["wangxin"]),
            ("reviewer", "reviewer", ["wangxin"]),
            ("reviewer2", "reviewer", ["wangxin"]),
            ("elsewhere", "reviewer", ["other"]),
            ("admin", "admin", []),
        ]:
            offices_of = [offices[code] for code in codes]
            session.add(StaffUser(username=username, role=role, offices=offices_of))


def assigned_case(db, received_at: datetime, **fields) -> int:
    case = make_case(db, received_at=received_at, **fields).case
    with db.transaction() as session:
        stored = session.get(Case, case.id)
        stored.office_id = session.scalar(select(Office.id).where(Office.code == "wangxin"))
        stored.status = "assigned"
    return case.id


def act(db, username: str, case_id: int, step, *args):
    """Run a deadline operation as ``username`` in one transaction; returns the case."""
    with db.transaction() as session:
        user = session.scalar(select(StaffUser).where(StaffUser.username == username))
        case = session.get(Case, case_id)
        step(session, user, case, *args)
    with db.session() as session:
        return session.get(Case, case_id)


def test_extension_is_requested_then_approved_and_moves_the_answer_deadline(db, calendar, staff):
    """Received 26 September 2025, answer due 25 November (60 calendar days). The officer asks
    for 30 days: nothing moves until a reviewer of the office approves; then 25 November + 30
    days = 25 December."""
    case_id = assigned_case(db, shanghai(2025, 9, 26, 10, 0))
    requested = act(
        db, "officer", case_id, deadlines.request_extension, 30, "需会同住建部门现场核查"
    )
    assert (requested.extension_days, requested.extension_reason) == (30, "需会同住建部门现场核查")
    assert requested.extension_approved_by_id is None
    assert requested.reply_due == end_of(date(2025, 11, 25))

    approved = act(db, "reviewer", case_id, deadlines.approve_extension)
    assert approved.reply_due == end_of(date(2025, 12, 25))
    with db.session() as session:
        reviewer = session.scalar(select(StaffUser).where(StaffUser.username == "reviewer"))
        officer = session.scalar(select(StaffUser).where(StaffUser.username == "officer"))
        assert approved.extension_approved_by_id == reviewer.id
        events = session.execute(
            select(AuditEvent.action, AuditEvent.actor_id, AuditEvent.detail)
            .where(AuditEvent.case_id == case_id, AuditEvent.action.like("case.extension%"))
            .order_by(AuditEvent.id)
        ).all()
        assert [(action, actor) for action, actor, _detail in events] == [
            ("case.extension_requested", officer.id),
            ("case.extension_approved", reviewer.id),
        ]
        assert events[1].detail["days"] == 30
        thread = session.scalars(
            select(Message.event)
            .where(Message.case_id == case_id, Message.kind == "event")
            .order_by(Message.id)  # as written: PostgreSQL's order on disk is not that
        ).all()
        assert [event["action"] for event in thread] == [
            "extension_requested",
            "extension_approved",
        ]


@pytest.mark.parametrize(
    ("days", "reason", "field"),
    [(31, "理由", "days"), (0, "理由", "days"), (-5, "理由", "days"), (10, "  ", "reason")],
)
def test_extension_is_at_most_30_days_with_a_reason(db, staff, days, reason, field):
    """31 days, no days, or no reason: refused, nothing recorded."""
    case_id = assigned_case(db, shanghai(2025, 9, 26, 10, 0))
    with pytest.raises(StepRefused) as refused:
        act(db, "officer", case_id, deadlines.request_extension, days, reason)
    assert refused.value.field == field
    with db.session() as session:
        assert session.get(Case, case_id).extension_days == 0


def test_only_one_extension_per_case(db, staff):
    """A second request is refused while the first waits, and after it was granted."""
    case_id = assigned_case(db, shanghai(2025, 9, 26, 10, 0))
    act(db, "officer", case_id, deadlines.request_extension, 10, "情况复杂")
    with pytest.raises(StepRefused, match="already waits"):
        act(db, "officer", case_id, deadlines.request_extension, 5, "再延")
    act(db, "admin", case_id, deadlines.approve_extension)
    with pytest.raises(StepRefused, match="already been extended once"):
        act(db, "officer", case_id, deadlines.request_extension, 5, "再延")
    with pytest.raises(StepRefused, match="No extension"):
        act(db, "reviewer", case_id, deadlines.approve_extension)


def test_nobody_approves_their_own_extension(db, staff):
    """The reviewer who asked cannot approve; another reviewer of the office can."""
    case_id = assigned_case(db, shanghai(2025, 9, 26, 10, 0))
    act(db, "reviewer", case_id, deadlines.request_extension, 10, "情况复杂")
    with pytest.raises(StepRefused, match="own extension"):
        act(db, "reviewer", case_id, deadlines.approve_extension)
    assert act(db, "reviewer2", case_id, deadlines.approve_extension).extension_days == 10


def test_who_may_approve(db, staff):
    """Not an officer, not a reviewer of another office; another reviewer of the office or an
    admin."""
    case_id = assigned_case(db, shanghai(2025, 9, 26, 10, 0))
    act(db, "reviewer", case_id, deadlines.request_extension, 10, "情况复杂")
    for username in ("officer", "elsewhere"):
        with pytest.raises(NotAllowed):
            act(db, username, case_id, deadlines.approve_extension)
    with db.session() as session:
        case = session.get(Case, case_id)
        assert case.extension_approved_by_id is None
        may = {
            user.username: deadlines.may_approve_extension(user, case, session)
            for user in session.scalars(select(StaffUser))
        }
    assert may == {
        "officer": False,
        "reviewer": False,
        "reviewer2": True,
        "elsewhere": False,
        "admin": True,
    }


def test_a_rejected_extension_leaves_the_deadline_and_may_be_asked_again(db, staff):
    """A reviewer refuses with a reason: the deadline stays 25 November, the request is
    cleared, and the officer may ask again (the one extension was never granted)."""
    case_id = assigned_case(db, shanghai(2025, 9, 26, 10, 0))
    act(db, "officer", case_id, deadlines.request_extension, 30, "情况复杂")
    with pytest.raises(StepRefused, match="Give the reason"):
        act(db, "reviewer", case_id, deadlines.reject_extension, " ")
    rejected = act(db, "reviewer", case_id, deadlines.reject_extension, "理由不充分")
    assert (rejected.extension_days, rejected.extension_reason) == (0, None)
    assert rejected.reply_due == end_of(date(2025, 11, 25))
    again = act(db, "officer", case_id, deadlines.request_extension, 15, "需会同住建部门核查")
    assert again.extension_days == 15
    with db.session() as session:
        actions = session.scalars(
            select(AuditEvent.action)
            .where(AuditEvent.case_id == case_id, AuditEvent.action.like("case.extension%"))
            .order_by(AuditEvent.id)
        ).all()
    assert actions == [
        "case.extension_requested",
        "case.extension_rejected",
        "case.extension_requested",
    ]


def test_extension_of_a_closed_case_is_refused(db, staff):
    case_id = assigned_case(db, shanghai(2025, 9, 26, 10, 0))
    with db.transaction() as session:
        session.get(Case, case_id).status = "closed"
    with pytest.raises(StepRefused, match="open case"):
        act(db, "officer", case_id, deadlines.request_extension, 10, "情况复杂")


def test_extension_counts_in_the_policys_working_days(
    db, calendar, staff, complaints_in_working_days
):
    """A complaint received Fri 26 Sep 2025 is due Fri 10 Oct (5 working days). 3 more working
    days: Sat 11 (make-up day) 1, Mon 13 2, Tue 14 3 -> Tuesday 14 October. An acceptance
    afterwards keeps the extension: accepted Thu 9 Oct, 5 + 3 working days: Fri 10, Sat 11,
    Mon 13 .. Fri 17, Mon 20 -> Monday 20 October."""
    case_id = assigned_case(db, shanghai(2025, 9, 26, 10, 0), category="complaint")
    act(db, "officer", case_id, deadlines.request_extension, 3, "需调取监控")
    assert act(db, "admin", case_id, deadlines.approve_extension).reply_due == end_of(
        date(2025, 10, 14)
    )
    with db.session() as session:
        case = session.get(Case, case_id)
        accepted = deadlines.reply_due_after_acceptance(session, case, shanghai(2025, 10, 9, 9))
    assert accepted == end_of(date(2025, 10, 20))


# -- the clock ------------------------------------------------------------------------------


def clock_at(db, case_id: int, moment: datetime) -> Clock | None:
    with time_machine.travel(moment, tick=False), db.session() as session:
        return deadlines.clock(session.get(Case, case_id))


def test_clock_before_acceptance_shows_the_acknowledgement(
    db, calendar, office, complaints_in_working_days
):
    """Received Fri 26 Sep 2025, acknowledge by Tue 30 Sep. On Mon 29 Sep: 1 calendar day and
    1 working day left (Tue 30)."""
    case_id = assigned_case(db, shanghai(2025, 9, 26, 10, 0), category="complaint")
    assert clock_at(db, case_id, shanghai(2025, 9, 29, 10, 0)) == Clock(
        deadline="acknowledge",
        due=end_of(date(2025, 9, 30)),
        counts_working_days=True,
        calendar_days_left=1,
        working_days_left=1,
        overdue=False,
        extended=False,
        extension_pending=False,
    )


def test_clock_after_acceptance_counts_to_the_answer(
    db, calendar, staff, complaints_in_working_days
):
    """Accepted Tue 30 Sep: answer due Tue 14 Oct. On Thu 9 Oct: 5 calendar days, and 4 working
    days (Fri 10, Sat 11 make-up, Mon 13, Tue 14). On the day itself: 0 and not overdue. On
    Thu 16 Oct: overdue, -2 calendar days and -2 working days (Wed 15, Thu 16). On Saturday
    18 Oct, overdue since Fri 17 with no working day between: still -1."""
    case_id = assigned_case(db, shanghai(2025, 9, 26, 10, 0), category="complaint")
    with db.transaction() as session:
        case = session.get(Case, case_id)
        case.accepted_at = shanghai(2025, 9, 30, 16, 0)
        case.reply_due = deadlines.reply_due_after_acceptance(session, case, case.accepted_at)
    ninth = clock_at(db, case_id, shanghai(2025, 10, 9, 9, 0))
    assert (ninth.deadline, ninth.due) == ("answer", end_of(date(2025, 10, 14)))
    assert (ninth.calendar_days_left, ninth.working_days_left, ninth.days_left) == (5, 4, 4)
    assert not ninth.overdue
    on_the_day = clock_at(db, case_id, shanghai(2025, 10, 14, 23, 0))
    assert (on_the_day.calendar_days_left, on_the_day.working_days_left) == (0, 0)
    assert not on_the_day.overdue
    late = clock_at(db, case_id, shanghai(2025, 10, 16, 10, 0))
    assert (late.calendar_days_left, late.working_days_left, late.overdue) == (-2, -2, True)

    with db.transaction() as session:
        session.get(Case, case_id).reply_due = end_of(date(2025, 10, 17))
    weekend = clock_at(db, case_id, shanghai(2025, 10, 18, 10, 0))
    assert (weekend.calendar_days_left, weekend.working_days_left, weekend.overdue) == (
        -1,
        -1,
        True,
    )


def test_clock_shows_the_extension(db, calendar, staff):
    """Calendar-day policy: days_left is in calendar days; pending, then granted."""
    case_id = assigned_case(db, shanghai(2025, 9, 26, 10, 0))
    with db.transaction() as session:
        session.get(Case, case_id).accepted_at = shanghai(2025, 9, 27, 10, 0)
    act(db, "officer", case_id, deadlines.request_extension, 30, "情况复杂")
    pending = clock_at(db, case_id, shanghai(2025, 11, 20, 10, 0))
    assert (pending.extension_pending, pending.extended) == (True, False)
    assert pending.days_left == pending.calendar_days_left == 5  # to 25 November
    act(db, "reviewer", case_id, deadlines.approve_extension)
    granted = clock_at(db, case_id, shanghai(2025, 11, 20, 10, 0))
    assert (granted.extension_pending, granted.extended) == (False, True)
    assert granted.due == end_of(date(2025, 12, 25)) and granted.days_left == 35


def test_no_clock_once_the_case_is_answered(db, office):
    case_id = assigned_case(db, shanghai(2025, 9, 26, 10, 0))
    with db.transaction() as session:
        session.get(Case, case_id).status = "replied"
    assert clock_at(db, case_id, shanghai(2025, 10, 9, 9, 0)) is None
