"""The one intake path: numbering, passcodes, routing, deadlines, audit, idempotency."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from shared.models import AuditEvent, CalendarDay, Case, Message, Notice, NoticeItem
from shared.operations import intake
from shared.operations.errors import StepRefused
from shared.schemas.submission import feedback_input
from shared.security import UNAMBIGUOUS, verify_secret
from tests.factories import SETTINGS, make_case

SHANGHAI = ZoneInfo("Asia/Shanghai")
TRACKING = re.compile(rf"^[{UNAMBIGUOUS}]{{4}}-[{UNAMBIGUOUS}]{{4}}$")


def test_case_gets_unambiguous_number_and_hashed_passcode(db, demo):
    """The number avoids 0/O/1/I/L; only the passcode's hash is stored, and it verifies."""
    receipt = make_case(db, notice_item="XC21-01")
    assert TRACKING.match(receipt.case.tracking_number)
    assert len(receipt.passcode) == 8
    assert receipt.passcode not in receipt.case.passcode_hash
    assert verify_secret(receipt.case.passcode_hash, receipt.passcode)


def test_item_routes_to_its_default_office(db, demo):
    """A comment on an item goes to the office the item names, with the reason recorded."""
    case = make_case(db, notice_item="XC21-06", body="审签单为什么没有签字？").case
    with db.session() as session:
        stored = session.get(Case, case.id)
        assert stored.office.code == "media"
        assert stored.status == "assigned"
        assert "XC21-06" in stored.routing_explanation


def test_keyword_rule_wins_over_item_default(db, demo):
    """A rule that matches (财务 → finance) routes before the item's default office."""
    case = make_case(db, notice_item="XC21-01", body="部里的财务报销是否公开？").case
    with db.session() as session:
        assert session.get(Case, case.id).office.code == "finance"


def test_keyword_matching_ignores_width_and_case(db, demo):
    """Full-width letters and mixed case match a rule's keyword after NFKC normalisation."""
    from shared.models import Office, RoutingRule

    with db.transaction() as session:
        office = session.scalar(select(Office).where(Office.code == "news"))
        session.add(RoutingRule(name="WeChat", office=office, keywords="wechat", position=1))
    case = make_case(db, body="ＷｅＣｈａｔ公众号的文章有错字").case
    with db.session() as session:
        assert session.get(Case, case.id).office.code == "news"


def test_unmatched_comment_waits_in_triage(db, demo):
    """No item and no matching rule: no office, status received."""
    case = make_case(db, body="路灯坏了").case
    with db.session() as session:
        stored = session.get(Case, case.id)
        assert stored.office is None
        assert stored.status == "received"


def test_first_message_is_the_comment(db, demo):
    """The thread starts with the citizen's text as an inbound message."""
    case = make_case(db, body="第一条").case
    with db.session() as session:
        messages = session.scalars(select(Message).where(Message.case_id == case.id)).all()
        assert [(m.kind, m.body) for m in messages] == [("inbound", "第一条")]


def test_statutory_deadlines_by_default(db, demo):
    """15 and 60 calendar days, to the end of the Asia/Shanghai day."""
    received = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai
    case = make_case(db, received_at=received).case
    assert case.acknowledge_by.astimezone(SHANGHAI) == datetime(
        2026, 3, 17, 23, 59, 59, tzinfo=SHANGHAI
    )
    assert case.reply_due.astimezone(SHANGHAI) == datetime(2026, 5, 1, 23, 59, 59, tzinfo=SHANGHAI)


def test_late_evening_utc_counts_from_the_shanghai_day(db, demo):
    """17:00 UTC on the 1st is already the 2nd in Shanghai."""
    case = make_case(db, received_at=datetime(2026, 3, 1, 17, 0, tzinfo=UTC)).case
    assert case.acknowledge_by.astimezone(SHANGHAI).date().isoformat() == "2026-03-17"


def test_inquiry_policy_counts_working_days_with_make_up_days(db, demo):
    """The demo inquiry policy is 3 working days; a holiday is skipped, a 调休 Saturday counts."""
    with db.transaction() as session:
        session.add(CalendarDay(day=datetime(2026, 3, 4).date(), is_workday=False, name="假日"))
        session.add(CalendarDay(day=datetime(2026, 3, 7).date(), is_workday=True, name="调休"))
    # Received Monday 2 March; Tue 3 counts, Wed 4 is a holiday, Thu 5, Fri 6 -> 3 working days.
    received = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
    case = make_case(db, notice_item="XC21-01", category="inquiry", received_at=received).case
    assert case.acknowledge_by.astimezone(SHANGHAI).date().isoformat() == "2026-03-06"
    # 13 working days: 3, 5, 6, 7 (调休), 9..13, 16..19 -> Thursday 19 March.
    assert case.reply_due.astimezone(SHANGHAI).date().isoformat() == "2026-03-19"


def test_audit_event_without_personal_data(db, demo):
    """Receiving writes an audit event; it names the channel, never the citizen."""
    case = make_case(db, name="王小明", email="wxm@example.cn", phone="13800000000").case
    with db.session() as session:
        events = session.scalars(select(AuditEvent).where(AuditEvent.case_id == case.id)).all()
        assert [e.action for e in events] == ["case.received"]
        assert events[0].actor_kind == "citizen"
        flat = repr(events[0].detail)
        assert "王小明" not in flat and "wxm@" not in flat and "13800000000" not in flat


def test_same_idempotency_key_returns_first_case_and_passcode(db, demo):
    """Repeating a request with its key gives the same number and passcode, and one case."""
    submission = intake.Submission(**feedback_input.load({"body": "重复的请求"}))
    submission.idempotency_key = "client-key-1"
    with db.transaction() as session:
        a = intake.receive(session, submission, settings=SETTINGS)
    with db.transaction() as session:
        b = intake.receive(session, submission, settings=SETTINGS)
    assert not a.replayed and b.replayed
    assert (a.case.tracking_number, a.passcode) == (b.case.tracking_number, b.passcode)
    with db.session() as session:
        assert len(session.scalars(select(Case)).all()) == 1


def test_reused_key_with_other_content_is_refused(db, demo):
    """The same key with a different comment is an error, not a silent replay."""
    for body, expect_error in (("甲", False), ("乙", True)):
        submission = intake.Submission(**feedback_input.load({"body": body}))
        submission.idempotency_key = "k"
        with db.transaction() as session:
            if expect_error:
                with pytest.raises(StepRefused) as error:
                    intake.receive(session, submission, settings=SETTINGS)
                assert "Idempotency-Key" in error.value.messages
            else:
                intake.receive(session, submission, settings=SETTINGS)


def test_closed_notice_refuses_comments_on_its_items(db, demo):
    """After the comment period, its items are refused with a clear message."""
    with db.transaction() as session:
        notice = session.scalar(select(Notice))
        notice.closes_at = datetime.now(UTC) - timedelta(days=1)
    with pytest.raises(StepRefused) as error:
        make_case(db, notice_item="XC21-01")
    assert error.value.messages == {"notice_item": ["Comments on this notice are closed."]}


def test_retired_or_unknown_item_is_refused(db, demo):
    """An item that was retired, or never existed, cannot be commented on."""
    with db.transaction() as session:
        session.scalar(select(NoticeItem).where(NoticeItem.code == "XC21-02")).retired = True
    for code in ("XC21-02", "NOPE"):
        with pytest.raises(StepRefused) as error:
            make_case(db, notice_item=code)
        assert list(error.value.messages) == ["notice_item"]


def test_find_case_needs_the_right_passcode(db, demo):
    """Number and passcode find the case, typed loosely; a wrong passcode finds nothing."""
    receipt = make_case(db)
    number = receipt.case.tracking_number
    with db.session() as session:
        assert intake.find_case(session, number.lower().replace("-", ""), receipt.passcode.lower())
        assert intake.find_case(session, number, "WRONGPAS") is None
        assert intake.find_case(session, "ZZZZ-ZZZZ", receipt.passcode) is None
