"""Reminders (催办) written by the worker and delivered to a real SMTP server: one digest per
office per day, in office hours of working days only, overdue cases escalated to the admins,
and never the citizen's personal data.

The scene is National Day 2025 (Oct 1-8 off; Sunday Sep 28 and Saturday Oct 11 worked). On
Thursday 9 October, the first working day after it, 3 working days ahead are Fri 10, Sat 11
(make-up day) and Mon 13: an answer due Mon 13 is reminded, one due Tue 14 not yet.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import date, datetime
from datetime import time as clock_time
from zoneinfo import ZoneInfo

import pytest
import time_machine
from sqlalchemy import func, select

from shared.db import Database
from shared.mail import builders
from shared.models import Case, Office, OutboxEmail, ReminderDigest, StaffUser
from shared.operations import reminders
from shared.operations.calendar import import_official_calendar
from shared.reports import schedule
from tests.factories import make_case

SHANGHAI = ZoneInfo("Asia/Shanghai")
RESPONDER = "http://responder.test"
SETTINGS = {"RESPONDER_BASE_URL": RESPONDER, "REPLY_DOMAIN": "minyi.test"}
#: The citizen's personal data: none of it may appear in a reminder.
NAME, PHONE, EMAIL = "王小明", "13800000000", "wxm@example.cn"


def shanghai(*args: int) -> datetime:
    return datetime(*args, tzinfo=SHANGHAI)


#: What the tests here create is created on Wednesday 8 October 2025; the reminders are then
#: written on the days each test travels to.
pytestmark = pytest.mark.clock(shanghai(2025, 10, 8, 9, 0))


def end_of(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 23, 59, 59, tzinfo=SHANGHAI)


THURSDAY_9_OCT = shanghai(2025, 10, 9, 9, 0)


def case_due(db, office: str | None, due: date, subject: str, status: str = "assigned") -> str:
    """A case from a named citizen with a phone number, due at the end of ``due``."""
    case = make_case(
        db, subject=subject, name=NAME, phone=PHONE, received_at=shanghai(2025, 9, 1, 10, 0)
    ).case
    with db.transaction() as session:
        stored = session.get(Case, case.id)
        stored.office_id = session.scalar(select(Office.id).where(Office.code == office))
        stored.status = status
        stored.reply_due = end_of(due)
    return case.tracking_number


@pytest.fixture
def scene(db) -> dict[str, str]:
    """Offices, staff and cases on the morning of Thursday 9 October 2025."""
    with db.transaction() as session:
        import_official_calendar(session, 2025)
        session.add(Office(code="wangxin", name="网信办", email="wangxin@gov.test"))
        session.add(Office(code="jiaoyu", name="教育股", email="jiaoyu@gov.test"))
        session.add(Office(code="silent", name="无邮箱股室", email=None))
        session.flush()
        wangxin = session.scalar(select(Office).where(Office.code == "wangxin"))
        session.add_all(
            [
                StaffUser(username="admin1", role="admin", email="admin1@gov.test"),
                StaffUser(username="admin2", role="admin", email="admin2@gov.test"),
                StaffUser(username="admin3", role="admin"),  # no address: not mailed
                StaffUser(username="admin4", role="admin", email="gone@gov.test", active=False),
                StaffUser(
                    username="officer", role="officer", email="o@gov.test", offices=[wangxin]
                ),
            ]
        )
    return {
        "today": case_due(db, "wangxin", date(2025, 10, 9), "今天到期的留言"),
        "monday": case_due(db, "wangxin", date(2025, 10, 13), "周一到期的留言"),
        "tuesday": case_due(db, "wangxin", date(2025, 10, 14), "周二到期的留言"),
        "late": case_due(db, "wangxin", date(2025, 9, 30), "节前就该答复的留言"),
        "answered": case_due(db, "wangxin", date(2025, 10, 9), "已答复的留言", "replied"),
        "school": case_due(db, "jiaoyu", date(2025, 9, 29), "学校收费问题"),
        "silent": case_due(db, "silent", date(2025, 9, 30), "无邮箱股室的留言"),
        "triage": case_due(db, None, date(2025, 9, 28), "还没分派的留言", "received"),
    }


@pytest.fixture(autouse=True)
def no_monthly_report(monkeypatch):
    """The worker would also mail September's report in October: its own tests are in
    tests/responder/test_report_schedule.py; here the mail is the reminders alone."""
    monkeypatch.setattr(schedule, "send_scheduled_report", lambda *args, **kwargs: 0)


@pytest.fixture
def worker(make_worker, smtp_sink):
    return make_worker(smtp_sink.port, RESPONDER_BASE_URL=RESPONDER)


def mails_to(sink, address: str) -> list:
    return [item.message for item in sink.received if address in item.rcpt_tos]


def text_of(message) -> str:
    return f"{message['Subject']}\n{message.get_body(('plain',)).get_content()}"


def digest_rows(db) -> list[tuple[str | None, date]]:
    with db.session() as session:
        return sorted(
            session.execute(
                select(Office.code, ReminderDigest.day).outerjoin(
                    Office, Office.id == ReminderDigest.office_id
                )
            ).all(),
            key=lambda row: row[0] or "",
        )


def test_one_digest_per_office_per_day_however_often_the_worker_runs(db, scene, worker, smtp_sink):
    """Three passes on Thursday 9 October: each office with an address gets one mail listing
    its answers due by Mon 13 Oct and its overdue ones; each admin one escalation."""
    with time_machine.travel(THURSDAY_9_OCT):
        for _ in range(3):
            worker.run_once()
    office_mail = mails_to(smtp_sink, "wangxin@gov.test")
    assert len(office_mail) == 1
    text = text_of(office_mail[0])
    for listed in ("today", "monday", "late"):
        assert scene[listed] in text and f"{RESPONDER}/cases/{scene[listed]}" in text
    assert scene["tuesday"] not in text  # 4 working days ahead
    assert scene["answered"] not in text  # no longer open
    assert "网信办" in office_mail[0]["Subject"] and "2025-10-09" in office_mail[0]["Subject"]
    assert "答复期限 2025-10-13" in text and "2025-10-09（今天到期）" in text
    assert "已超期 9 天" in text  # due 30 September
    assert office_mail[0]["Auto-Submitted"] == "auto-replied"

    assert len(mails_to(smtp_sink, "jiaoyu@gov.test")) == 1
    assert mails_to(smtp_sink, "o@gov.test") == []  # officers hear through their office
    assert digest_rows(db) == [
        (None, date(2025, 10, 9)),
        ("jiaoyu", date(2025, 10, 9)),
        ("wangxin", date(2025, 10, 9)),
    ]


def test_next_working_day_brings_the_next_digest(db, scene, worker, smtp_sink):
    """On Friday 10 October the 3 working days reach Tue 14 (Sat 11, Mon 13, Tue 14): the
    office gets a second mail, now with that case too."""
    with time_machine.travel(THURSDAY_9_OCT):
        worker.run_once()
    with time_machine.travel(shanghai(2025, 10, 10, 8, 0)):
        worker.run_once()
        worker.run_once()
    office_mail = mails_to(smtp_sink, "wangxin@gov.test")
    assert len(office_mail) == 2
    assert scene["tuesday"] in text_of(office_mail[1])
    # Yesterday's "due today" is overdue now: still the office's, and escalated.
    assert f"{scene['today']}　今天到期的留言\n  答复期限 2025-10-09，已超期 1 天" in text_of(
        office_mail[1]
    ).replace("\r\n", "\n")
    assert len(mails_to(smtp_sink, "admin1@gov.test")) == 2


def run_two_workers(database_url, make_worker, smtp_sink, monkeypatch, passes: int = 3):
    """Two workers, each with its own connections, start their passes at the same moment.
    Building a digest is slowed down, so both are in the middle of one at the same time."""
    for name in ("reminder_digest", "overdue_digest"):
        build = getattr(builders, name)

        def slow(*args, _build=build, **kwargs):
            time.sleep(0.3)
            return _build(*args, **kwargs)

        monkeypatch.setattr(builders, name, slow)
    databases = [Database(database_url) for _ in range(2)]
    workers = [
        make_worker(smtp_sink.port, RESPONDER_BASE_URL=RESPONDER, DATABASE=database)
        for database in databases
    ]
    start = threading.Barrier(2)
    failures: list[BaseException] = []

    def run(worker) -> None:
        try:
            start.wait()
            for _ in range(passes):
                worker.run_once()
        except BaseException as error:
            failures.append(error)

    try:
        with time_machine.travel(THURSDAY_9_OCT):
            threads = [threading.Thread(target=run, args=(worker,)) for worker in workers]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=120)
    finally:
        for database in databases:
            database.dispose()
    assert not failures


def test_two_workers_write_one_digest_per_office(
    db, scene, database_url, make_worker, smtp_sink, monkeypatch, caplog
):
    """Two workers at once: still one mail per office and per admin, and no pass fails."""
    run_two_workers(database_url, make_worker, smtp_sink, monkeypatch)
    for address in ("wangxin@gov.test", "jiaoyu@gov.test", "admin1@gov.test", "admin2@gov.test"):
        assert len(mails_to(smtp_sink, address)) == 1, address
    assert len(digest_rows(db)) == 3
    with db.session() as session:
        states = session.execute(select(OutboxEmail.state, func.count()).group_by("state"))
        assert dict(states.all()) == {"sent": 4}
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []


def test_two_workers_write_one_escalation(
    db, database_url, make_worker, smtp_sink, monkeypatch, caplog
):
    """Only the admins' escalation is due (its row has no office, so the unique constraint
    cannot tell two apart): two workers at once still write it once."""
    with db.transaction() as session:
        import_official_calendar(session, 2025)
        session.add(StaffUser(username="admin1", role="admin", email="admin1@gov.test"))
    triage = case_due(db, None, date(2025, 9, 28), "还没分派的留言", "received")
    run_two_workers(database_url, make_worker, smtp_sink, monkeypatch)
    escalations = mails_to(smtp_sink, "admin1@gov.test")
    assert len(escalations) == 1 and triage in text_of(escalations[0])
    assert digest_rows(db) == [(None, date(2025, 10, 9))]
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []


@pytest.mark.parametrize(
    "moment",
    [
        shanghai(2025, 10, 9, 7, 59),  # before office hours
        shanghai(2025, 10, 9, 20, 0),  # after them
        shanghai(2025, 10, 9, 3, 0),  # at night
        shanghai(2025, 10, 3, 10, 0),  # Friday, National Day holiday
        shanghai(2025, 10, 12, 10, 0),  # an ordinary Sunday
    ],
    ids=["07:59", "20:00", "03:00", "holiday", "sunday"],
)
def test_nobody_is_mailed_out_of_hours_or_on_a_day_off(db, scene, moment):
    """Reminders wait for 08:00-20:00 Asia/Shanghai on a working day."""
    assert (clock_time(8, 0), clock_time(20, 0)) == reminders.REMINDER_HOURS
    with time_machine.travel(moment), db.transaction() as session:
        assert reminders.send_reminders(session, SETTINGS) == 0
    assert digest_rows(db) == []


def test_make_up_saturday_is_a_working_day_for_reminders(db, scene):
    """Saturday 11 October 2025 is worked (调休): the day's digests are written."""
    with time_machine.travel(shanghai(2025, 10, 11, 10, 0)), db.transaction() as session:
        assert reminders.send_reminders(session, SETTINGS) == 4  # 2 offices, 2 admins
    assert [code for code, _day in digest_rows(db)] == [None, "jiaoyu", "wangxin"]


def test_overdue_cases_are_escalated_to_the_admins_by_office(db, scene, worker, smtp_sink):
    """Each active admin with an address gets one escalation listing every overdue open case,
    by office, including the office without an address and the cases still in triage."""
    with time_machine.travel(THURSDAY_9_OCT):
        worker.run_once()
    escalations = mails_to(smtp_sink, "admin1@gov.test")
    assert len(escalations) == 1 and len(mails_to(smtp_sink, "admin2@gov.test")) == 1
    assert mails_to(smtp_sink, "gone@gov.test") == []
    text = text_of(escalations[0])
    assert "4 件留言已超过答复期限" in escalations[0]["Subject"]
    for overdue in ("late", "school", "silent", "triage"):
        assert scene[overdue] in text
    for not_yet in ("today", "monday", "tuesday", "answered"):
        assert scene[not_yet] not in text
    # Grouped: cases in triage first, then by office code.
    order = [text.index(heading) for heading in ("尚未分派", "教育股", "无邮箱股室", "网信办")]
    assert order == sorted(order)


def test_no_personal_data_in_any_reminder(db, scene, worker, smtp_sink):
    """Tracking numbers and subjects only: never the citizen's name, phone or address."""
    case = make_case(
        db, subject="噪音扰民", name=NAME, phone=PHONE, email=EMAIL,
        received_at=shanghai(2025, 9, 1, 10, 0),
    ).case  # fmt: skip
    with db.transaction() as session:
        stored = session.get(Case, case.id)
        stored.office_id = session.scalar(select(Office.id).where(Office.code == "wangxin"))
        stored.status, stored.reply_due = "assigned", end_of(date(2025, 10, 10))
    with time_machine.travel(THURSDAY_9_OCT):
        worker.run_once()
    digests = [
        item.message
        for item in smtp_sink.received
        if EMAIL not in item.rcpt_tos  # the citizen's own acknowledgement
    ]
    assert len(digests) == 4
    for message in digests:
        text = text_of(message)
        assert NAME not in text and PHONE not in text and EMAIL not in text
    assert "噪音扰民" in text_of(mails_to(smtp_sink, "wangxin@gov.test")[0])


def test_nothing_due_means_no_mail_and_no_row(db, worker, smtp_sink):
    """An office whose answers are all far off gets nothing, and can still get a digest later
    the same day if one falls due."""
    with db.transaction() as session:
        import_official_calendar(session, 2025)
        session.add(Office(code="wangxin", name="网信办", email="wangxin@gov.test"))
    case_due(db, "wangxin", date(2025, 11, 20), "还早")
    with time_machine.travel(THURSDAY_9_OCT):
        worker.run_once()
    assert smtp_sink.received == [] and digest_rows(db) == []


def test_english_digests(db, scene):
    """The templates exist in English too (Chinese is the default)."""
    with db.session() as session:
        office = session.scalar(select(Office).where(Office.code == "wangxin"))
        cases = session.scalars(
            select(Case).where(Case.tracking_number.in_([scene["today"], scene["late"]]))
        ).all()
        due, late = sorted(cases, key=lambda case: case.reply_due, reverse=True)
        mail = builders.reminder_digest(
            office, [due], [late], date(2025, 10, 9), SETTINGS, remind_days=3, language="en"
        )
        escalation = builders.overdue_digest(
            session.scalar(select(StaffUser).where(StaffUser.username == "admin1")),
            [(None, [late], 1)],
            date(2025, 10, 9),
            SETTINGS,
            language="en",
        )
    assert mail.subject == "[Reminder] 网信办: 1 comment(s) due soon, 1 overdue (2025-10-09)"
    assert "answer due 2025-10-09 (today)" in mail.body and "9 day(s) overdue" in mail.body
    assert escalation.subject.startswith("[Overdue] 1 comment(s)")
    assert "Not yet assigned (1)" in escalation.body
