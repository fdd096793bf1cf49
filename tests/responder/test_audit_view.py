"""Admins read the audit trail: newest first, page by page, filtered; bad filters get a message;
nothing of a confidential citizen's identity is shown."""

from __future__ import annotations

import html
import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from shared.models import AuditEvent, Case, StaffUser
from shared.operations import audit, replies
from shared.operations import cases as case_steps
from shared.operations.audit_log import PAGE_SIZE
from tests.factories import log_in, make_case, make_staff


@pytest.fixture
def admin(db, demo, responder_client):
    """A client logged in as an admin, reading the pages in English."""
    make_staff(db, "boss", "admin")
    log_in(responder_client, "boss")
    responder_client.get("/admin/audit/?lang=en")
    return responder_client


def _events_shown(page: str) -> list[int]:
    return [int(found) for found in re.findall(r'<tr data-event="(\d+)"', page)]


def _record(db, action: str, at: datetime, *, username: str | None = None, **facts) -> int:
    with db.transaction() as session:
        actor = None
        if username:
            actor = session.scalar(select(StaffUser).where(StaffUser.username == username))
        event = audit.record(session, action, actor=actor, **facts)
        event.at = at
        session.flush()
        return event.id


def test_newest_first_page_by_page_even_when_times_are_equal(db, admin):
    """More events than a page, all at the same instant: the pages together show each event
    once, newest (highest id) first."""
    at = datetime(2026, 5, 1, 4, 0, tzinfo=UTC)
    ids = [_record(db, "test.bulk", at, n=n) for n in range(PAGE_SIZE + 7)]
    first = admin.get("/admin/audit/?action=test.").get_data(as_text=True)
    shown = _events_shown(first)
    assert shown == sorted(ids, reverse=True)[:PAGE_SIZE]
    link = html.unescape(re.search(r'<a href="([^"]+)" rel="next">', first).group(1))
    assert "action=test." in link
    second = admin.get(link).get_data(as_text=True)
    rest = _events_shown(second)
    assert rest == sorted(ids, reverse=True)[PAGE_SIZE:]
    assert 'rel="next"' not in second


def test_a_row_shows_when_who_what_which_case_and_the_facts(db, admin):
    """Shanghai time, the member of staff, the action's label, a link to the case, the facts."""
    number = make_case(db, body="路灯坏了").case.tracking_number
    with db.transaction() as session:
        boss = session.scalar(select(StaffUser).where(StaffUser.username == "boss"))
        case = session.scalar(select(Case).where(Case.tracking_number == number))
        case_steps.assign(session, boss, case, "civil", "转文明办")
    page = admin.get(f"/admin/audit/?case={number}&actor=boss").get_data(as_text=True)
    row = re.search(
        r'<tr data-event="\d+" data-action="case.(?:assigned|transferred)">.*?</tr>', page, re.S
    )
    assert row, page
    row = row.group(0)
    assert "(boss)" in row and f'href="/cases/{number}"' in row
    assert "Case assigned" in row or "Case transferred" in row
    assert "office</span>: civil" in row
    with db.session() as session:
        at = session.scalar(
            select(AuditEvent.at).where(
                AuditEvent.action.in_(["case.assigned", "case.transferred"])
            )
        )
    shanghai = at + timedelta(hours=8)
    assert shanghai.strftime("%Y-%m-%d %H:%M:%S") in row


def test_filters_by_action_actor_case_days_and_kind(db, admin):
    make_staff(db, "clerk", "triager")
    number = make_case(db, body="测试留言").case.tracking_number
    late = _record(
        db, "staff.test_late", datetime(2026, 3, 1, 16, 30, tzinfo=UTC), username="clerk"
    )
    early = _record(db, "staff.test_early", datetime(2026, 3, 1, 15, 30, tzinfo=UTC))

    def shown(query: str) -> set[int]:
        response = admin.get(f"/admin/audit/?{query}")
        assert response.status_code == 200, query
        return set(_events_shown(response.get_data(as_text=True)))

    assert {late, early} <= shown("action=staff.test")
    assert shown("action=staff.test_l") == {late}
    assert shown("actor=clerk") >= {late} and early not in shown("actor=clerk")
    # 16:30 UTC on 1 March is 00:30 on 2 March in Shanghai; 15:30 UTC is 23:30 on 1 March.
    assert shown("action=staff.test&date_from=2026-03-02") == {late}
    assert shown("action=staff.test&date_to=2026-03-01") == {early}
    assert shown("action=staff.test&date_from=2026-03-01&date_to=2026-03-01") == {early}
    with db.session() as session:
        received = session.scalar(
            select(AuditEvent.id)
            .join(Case, Case.id == AuditEvent.case_id)
            .where(Case.tracking_number == number, AuditEvent.action == "case.received")
        )
    assert received in shown(f"case={number.lower()}")
    assert received in shown("actor_kind=citizen")
    assert late not in shown("actor_kind=citizen") and early in shown("actor_kind=system")


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("date_from=2026-13-01", "Enter a date as 2026-12-31."),
        ("date_from=2026-03-02&date_to=2026-03-01", "The last day comes before the first."),
        ("actor=nobody", "No member of staff has this user name."),
        ("case=ZZZZ-ZZZZ", "No case has this tracking number."),
        ("actor_kind=robot", "Choose one of the listed kinds of actor."),
        ("action=%27%3B+drop", "Enter the start of an action"),
        ("cursor=not-a-cursor", "This page link is broken: start again."),
    ],
)
def test_bad_filters_get_a_message_not_an_error(admin, query, message):
    response = admin.get(f"/admin/audit/?{query}")
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert message in page and "Please correct the marked filters." in page


SECRET = {
    "name": "秦守密",
    "phone": "13912345678",
    "email": "qin.secret@example.cn",
    "address": "通渭县密巷九号",
}


def test_nothing_of_a_confidential_citizen_is_shown(db, admin):
    """A confidential case goes through receipt, viewing, a note, a transfer, a reply and its
    review: no event's details hold the citizen's name, phone, email or address, and the
    audit pages do not show them."""
    number = make_case(db, body="举报材料", confidential=True, **SECRET).case.tracking_number
    assert SECRET["name"] in admin.get(f"/cases/{number}").get_data(as_text=True)
    make_staff(db, "fin1", "officer", ["finance"])
    with db.transaction() as session:
        boss = session.scalar(select(StaffUser).where(StaffUser.username == "boss"))
        case = session.scalar(select(Case).where(Case.tracking_number == number))
        case_steps.add_note(session, boss, case, f"已联系{SECRET['name']}")
        if case.office is None or case.office.code != "finance":
            case_steps.assign(session, boss, case, "finance", "转财务")
        author = session.scalar(select(StaffUser).where(StaffUser.username == "fin1"))
        reply = replies.draft(session, author, case, f"{SECRET['name']}：答复如下。")
        replies.submit(session, author, reply, {"SECRET_KEY": "x", "REPLY_DOMAIN": "minyi.test"})
    with db.session() as session:
        events = session.scalars(select(AuditEvent)).all()
        actions = {event.action for event in events}
        details = json.dumps([event.detail for event in events], ensure_ascii=False)
    assert {"case.received", "case.submitter_viewed", "case.noted", "reply.drafted"} <= actions
    for value in SECRET.values():
        assert value not in details
    for query in ("", f"?case={number}"):
        page = admin.get(f"/admin/audit/{query}").get_data(as_text=True)
        assert number in page
        for what, value in SECRET.items():
            assert value not in page, f"the audit page shows the citizen's {what}"


def test_only_admins_see_the_audit_trail(db, demo, responder_client):
    make_staff(db, "clerk", "triager")
    log_in(responder_client, "clerk")
    assert responder_client.get("/admin/audit/").status_code == 404
