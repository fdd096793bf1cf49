"""Admins manage offices: the list with its counts, new offices, name, mailbox and review
levels, and merging one office into another."""

from __future__ import annotations

import re

import pytest
from argon2 import PasswordHasher
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from shared import security
from shared.models import AuditEvent, Case, NoticeItem, Office, Reply, RoutingRule, StaffUser
from shared.operations import replies
from tests.conftest import csrf_token
from tests.factories import SETTINGS, log_in, make_case, make_staff, make_token

FINANCE_ITEM = "XC21-08"  # the demo notice item whose default office is finance


@pytest.fixture(autouse=True)
def _cheap_password_hashes(monkeypatch):
    cheap = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    monkeypatch.setattr(security, "_password_hasher", cheap)


@pytest.fixture
def admin(db, demo, responder_client):
    """A client logged in as the admin ``boss``, reading the pages in English."""
    make_staff(db, "boss", "admin")
    assert log_in(responder_client, "boss").status_code == 302
    responder_client.get("/admin/offices/?lang=en")
    return responder_client


def _post(client, path: str, **data):
    return client.post(path, data={"csrf_token": csrf_token(client, "/admin/offices/"), **data})


def _office(db, code: str) -> Office:
    with db.session() as session:
        return session.scalar(select(Office).where(Office.code == code))


def _events(db, action: str) -> list[dict]:
    with db.session() as session:
        return [
            event.detail
            for event in session.scalars(
                select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
            )
        ]


def _row(page: str, code: str) -> str:
    match = re.search(rf'data-office="{code}">(.*?)</tr>', page, re.S)
    assert match, f"no row for {code}"
    return match.group(1)


def test_list_counts_open_cases_and_active_staff(db, admin):
    """Each office with its open cases and active members; closed cases are not counted."""
    make_case(db, body="财务报销不透明")
    make_case(db, body="差旅费报销问题")
    make_staff(db, "fin1", "officer", ["finance"])
    make_staff(db, "fin2", "reviewer", ["finance", "news"])
    page = admin.get("/admin/offices/").get_data(as_text=True)
    finance = _row(page, "finance")
    assert "财务室" in finance
    assert 'data-count="open">2<' in finance and 'data-count="staff">2<' in finance
    assert 'data-count="open">0<' in _row(page, "news")
    assert 'data-count="staff">1<' in _row(page, "news")


def test_a_new_office_is_listed_audited_and_offered(db, admin):
    """Created with code, name, mailbox and levels; routing rules may name it at once."""
    response = _post(
        admin,
        "/admin/offices/new",
        code="petition",
        name="信访室",
        email="XinFang@Example.cn",
        review_levels="2",
    )
    assert response.status_code == 303
    office = _office(db, "petition")
    assert (office.name, office.email, office.review_levels, office.active) == (
        "信访室",
        "xinfang@example.cn",
        2,
        True,
    )
    assert "信访室" in admin.get("/admin/offices/").get_data(as_text=True)
    assert '<option value="petition"' in admin.get("/admin/rules/new").get_data(as_text=True)
    assert _events(db, "office.created") == [
        {"office": "petition", "name": "信访室", "review_levels": 2}
    ]


@pytest.mark.parametrize(
    ("fields", "field_error"),
    [
        ({"code": "Finance Office"}, "Use lower-case letters a-z"),
        ({"code": "finance"}, "Another office has this code"),
        ({"code": ""}, "This field cannot be empty."),
        ({"code": "x" * 33}, "Keep the code to 32 characters or fewer."),
        ({"name": "  "}, "This field cannot be empty."),
        ({"email": "office at example"}, "Enter a mail address"),
        ({"review_levels": "4"}, "Choose 0 to 3 review levels."),
        ({"review_levels": "many"}, "Choose 0 to 3 review levels."),
    ],
)
def test_bad_office_input_is_refused_with_the_reason(db, admin, fields, field_error):
    """The form again, with the reason and what was typed; nothing is created."""
    before = _office_count(db)
    form = {"code": "petition", "name": "信访室", "email": "", "review_levels": "1", **fields}
    response = _post(admin, "/admin/offices/new", **form)
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert field_error in page
    assert f'value="{form["name"]}"' in page
    assert _office_count(db) == before


def _office_count(db) -> int:
    with db.session() as session:
        return session.scalar(select(func.count()).select_from(Office))


def test_rename_mailbox_and_levels_keep_the_code(db, admin):
    """The name, mailbox and review levels change; the code stays; one event per change."""
    news = _office(db, "news")
    response = _post(
        admin,
        f"/admin/offices/{news.id}",
        code="press",  # not a field of an existing office: ignored
        name="新闻宣传股",
        email="news@example.cn",
        review_levels="0",
    )
    assert response.status_code == 303
    after = _office(db, "news")
    assert after is not None and after.id == news.id and _office(db, "press") is None
    assert (after.name, after.email, after.review_levels) == ("新闻宣传股", "news@example.cn", 0)
    assert _events(db, "office.renamed") == [
        {"office": "news", "old_name": "新闻外宣股", "name": "新闻宣传股"}
    ]
    assert _events(db, "office.mailbox_changed") == [{"office": "news", "has_mailbox": True}]
    assert _events(db, "office.review_levels_changed") == [
        {"office": "news", "old_levels": 1, "levels": 0}
    ]
    page = admin.get(f"/admin/offices/{news.id}").get_data(as_text=True)
    assert 'value="新闻宣传股"' in page and 'name="code"' not in page


def test_edit_refuses_bad_mailbox_and_levels(db, admin):
    """A bad address or a fourth level: 422 with the reasons; the office is unchanged."""
    news = _office(db, "news")
    response = _post(
        admin, f"/admin/offices/{news.id}", name="新闻外宣股", email="news@", review_levels="7"
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Enter a mail address" in page and "Choose 0 to 3 review levels." in page
    after = _office(db, "news")
    assert (after.email, after.review_levels) == (news.email, news.review_levels)


def test_merge_moves_everything_and_retires_the_office(db, admin, responder_app):
    """Finance into 办公室: its cases, rules, notice items, staff and the reply waiting for
    review move; the reply is now 办公室's reviewers' to approve; finance is inactive and
    offered nowhere; the audit trail names both and the counts."""
    officer_token = make_token(db, "fin1", "officer", ["finance"])
    make_staff(db, "both", "reviewer", ["finance", "office"])
    reviewer_token = make_token(db, "office-rev", "reviewer", ["office"])
    by_rule = make_case(db, body="财务报销不透明").case
    by_item = make_case(db, body="请公开", notice_item=FINANCE_ITEM).case
    other = make_case(db, body="网络谣言需要澄清").case
    with db.transaction() as session:
        author = session.scalar(select(StaffUser).where(StaffUser.username == "fin1"))
        reply = replies.draft(session, author, session.get_one(Case, by_rule.id), "答复如下")
        replies.submit(session, author, reply, SETTINGS)
        reply_id = reply.id
    finance = _office(db, "finance")
    office = _office(db, "office")

    response = _post(admin, f"/admin/offices/{finance.id}/merge", into="office", confirm="yes")
    assert response.status_code == 303

    with db.session() as session:
        cases = {c.id: c.office_id for c in session.scalars(select(Case))}
        assert cases[by_rule.id] == office.id and cases[by_item.id] == office.id
        assert cases[other.id] != office.id
        rules = session.scalars(select(RoutingRule).where(RoutingRule.name == "财务经费转财务室"))
        assert [rule.office_id for rule in rules] == [office.id]
        item = session.scalar(select(NoticeItem).where(NoticeItem.code == FINANCE_ITEM))
        assert item.default_office_id == office.id
        members = {
            user.username: [o.code for o in user.offices]
            for user in session.scalars(select(StaffUser).options(selectinload(StaffUser.offices)))
        }
        assert members["fin1"] == ["office"] and members["both"] == ["office"]
        assert session.get(Office, finance.id).active is False
        assert session.get_one(Reply, reply_id).state == "in_review"

    # The next finance case follows the rule to 办公室.
    assert _case_office(db, make_case(db, body="差旅报销").case.id) == office.id
    # 办公室's reviewer may now sign the reply off; the finance officer still sees the case.
    approved = responder_app.test_client().post(
        f"/api/v1/replies/{reply_id}/approve",
        json={"comment": "同意"},
        headers={"Authorization": f"Bearer {reviewer_token}"},
    )
    assert approved.status_code == 200, approved.json
    seen = responder_app.test_client().get(
        f"/api/v1/cases/{by_rule.tracking_number}",
        headers={"Authorization": f"Bearer {officer_token}"},
    )
    assert seen.status_code == 200 and seen.json["office"] == "office"

    [event] = _events(db, "office.merged")
    assert event == {
        "office": "finance",
        "into": "office",
        "cases": 2,
        "open_cases": 2,
        "rules": 1,
        "items": event["items"],
        "staff": 2,
        "replies_in_review": 1,
    }
    assert event["items"] >= 1

    # Gone from every choice: rules, case assignment, staff forms, the offices API.
    assert '"finance"' not in admin.get("/admin/rules/new").get_data(as_text=True)
    assert 'value="finance"' not in admin.get("/admin/staff/invite").get_data(as_text=True)
    case_page = admin.get(f"/cases/{other.tracking_number}").get_data(as_text=True)
    assert 'value="finance"' not in case_page and 'value="office"' in case_page
    codes = [
        row["code"]
        for row in responder_app.test_client()
        .get("/api/v1/offices", headers={"Authorization": f"Bearer {reviewer_token}"})
        .json
    ]
    assert "finance" not in codes and "office" in codes
    listed = _row(admin.get("/admin/offices/").get_data(as_text=True), "finance")
    assert "Inactive" in listed


def _case_office(db, case_id: int) -> int | None:
    with db.session() as session:
        return session.get_one(Case, case_id).office_id


def test_merge_needs_the_admin_to_confirm_it_cannot_be_undone(db, admin):
    """Without the tick the form comes back with a message; nothing moves."""
    finance = _office(db, "finance")
    response = _post(admin, f"/admin/offices/{finance.id}/merge", into="office")
    assert response.status_code == 422
    assert "cannot be undone" in response.get_data(as_text=True)
    assert _office(db, "finance").active
    assert _events(db, "office.merged") == []


def test_merge_into_itself_or_an_inactive_office_is_refused(db, admin):
    """Clear reasons; nothing moves. A merged office cannot be merged again."""
    make_case(db, body="财务报销不透明")
    finance = _office(db, "finance")
    itself = _post(admin, f"/admin/offices/{finance.id}/merge", into="finance", confirm="yes")
    assert itself.status_code == 422
    assert "cannot be merged into itself" in itself.get_data(as_text=True)

    civil = _office(db, "civil")
    merged = _post(admin, f"/admin/offices/{civil.id}/merge", into="office", confirm="yes")
    assert merged.status_code == 303
    inactive = _post(admin, f"/admin/offices/{finance.id}/merge", into="civil", confirm="yes")
    assert inactive.status_code == 422
    assert "is inactive: merge into an active office" in inactive.get_data(as_text=True)
    again = _post(admin, f"/admin/offices/{civil.id}/merge", into="news", confirm="yes")
    assert again.status_code == 422
    assert "merged already" in again.get_data(as_text=True)
    nowhere = _post(admin, f"/admin/offices/{finance.id}/merge", into="", confirm="yes")
    assert nowhere.status_code == 422

    assert _office(db, "finance").active
    with db.session() as session:
        assert session.scalar(
            select(func.count()).select_from(Case).where(Case.office_id == finance.id)
        )
    assert len(_events(db, "office.merged")) == 1


def test_unknown_office_is_404(admin):
    assert admin.get("/admin/offices/999999").status_code == 404
    assert admin.get(f"/admin/offices/{2**31}").status_code == 404
