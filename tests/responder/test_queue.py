"""The triage queue: every filter, counts per tab, keyset pages, bulk assignment."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from shared.models import Case
from shared.operations.queue import QueueFilters
from tests.conftest import case_by_number, csrf_token
from tests.factories import log_in, make_case, make_staff


def _numbers(client, query: str = "") -> list[str]:
    import re

    response = client.get("/" + query)
    assert response.status_code == 200
    return re.findall(r'name="case" value="([^"]+)"', response.get_data(as_text=True))


@pytest.fixture
def mixed(db, demo):
    """Cases of several channels, items, kinds and dates, some overdue."""
    now = datetime.now(UTC)
    made = {
        "old_phone": make_case(
            db, body="来电：路灯坏了", channel="phone", received_at=now - timedelta(days=40)
        ).case,
        "cyber_item": make_case(db, body="评论区管理", notice_item="XC21-04").case,
        "praise": make_case(db, body="工作做得好", category="praise").case,
        "complaint": make_case(db, body="财务报销不公开", category="complaint").case,
    }
    with db.transaction() as session:
        session.execute(
            update(Case)
            .where(Case.id == made["old_phone"].id)
            .values(reply_due=now - timedelta(days=1))
        )
    return {name: case.tracking_number for name, case in made.items()}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("?channel=phone", {"old_phone"}),
        ("?item=XC21-04", {"cyber_item"}),
        ("?category=praise", {"praise"}),
        ("?overdue=1", {"old_phone"}),
        ("?office=finance", {"complaint"}),
        ("?office=triage", {"old_phone"}),
        ("?status=assigned&category=complaint", {"complaint"}),
        (
            "?received_to=" + (datetime.now(UTC) - timedelta(days=30)).date().isoformat(),
            {"old_phone"},
        ),
        (
            "?received_from=" + (datetime.now(UTC) - timedelta(days=1)).date().isoformat(),
            {"cyber_item", "praise", "complaint"},
        ),
        ("?q=财务", {"complaint"}),
    ],
)
def test_each_filter_narrows_the_queue(db, mixed, responder_client, query, expected):
    """Channel, item, kind, overdue, office, triage, status, dates and search each filter."""
    make_staff(db, "triage1", "triager")
    log_in(responder_client, "triage1")
    assert set(_numbers(responder_client, query)) == {mixed[name] for name in expected}


def test_bad_filter_values_are_400_not_500(db, demo, responder_client):
    """A malformed date or cursor is a 400."""
    make_staff(db, "triage1", "triager")
    log_in(responder_client, "triage1")
    for query in ("?received_from=2026-13-45", "?cursor=!!!", "?cursor=bm9wZQ"):
        assert responder_client.get("/" + query).status_code == 400


def test_tabs_count_what_they_would_show(db, mixed, responder_client):
    """Each status tab and the overdue tab show the number of cases behind them."""
    make_staff(db, "triage1", "triager")
    log_in(responder_client, "triage1")
    html = responder_client.get("/").get_data(as_text=True)
    assert 'data-status="received">1<' in html  # old_phone waits in triage
    assert 'data-status="assigned">3<' in html
    assert 'data-status="overdue">1<' in html
    narrowed = responder_client.get("/?category=praise").get_data(as_text=True)
    assert 'data-status="assigned">1<' in narrowed and 'data-status="received">0<' in narrowed


def test_an_officer_counts_only_their_office(db, mixed, responder_client):
    """Counts for an officer include only their offices' cases."""
    make_staff(db, "fin1", "officer", ["finance"])
    log_in(responder_client, "fin1")
    html = responder_client.get("/").get_data(as_text=True)
    assert 'data-status="assigned">1<' in html and 'data-status="overdue">0<' in html


def test_cursor_pages_through_every_case_once(db, demo):
    """Following next_cursor visits each case exactly once, newest first, even with equal times."""
    from sqlalchemy.orm import selectinload

    from shared.models import StaffUser
    from shared.operations.queue import list_cases

    same_time = datetime.now(UTC) - timedelta(hours=1)
    numbers = [
        make_case(
            db, body=f"第{i}封", received_at=same_time if i % 2 else None
        ).case.tracking_number
        for i in range(12)
    ]
    make_staff(db, "triage1", "triager")
    seen, cursor = [], None
    with db.session() as session:
        user = session.scalar(select(StaffUser).options(selectinload(StaffUser.offices)))
        while True:
            page = list_cases(session, user, QueueFilters(), cursor=cursor, limit=5)
            seen.extend(case.tracking_number for case in page.items)
            cursor = page.next_cursor
            if cursor is None:
                break
    assert sorted(seen) == sorted(numbers) and len(seen) == len(set(seen))


def test_bulk_assign_moves_the_ticked_cases(db, demo, responder_client):
    """Ticking cases and choosing an office assigns them all at once."""
    first, second, third = (make_case(db, body=f"第{n}盏路灯坏了").case for n in range(3))
    make_staff(db, "triage1", "triager")
    log_in(responder_client, "triage1")
    token = csrf_token(responder_client, "/")
    response = responder_client.post(
        "/cases/assign",
        data={
            "csrf_token": token,
            "case": [first.tracking_number, second.tracking_number],
            "office": "civil",
            "back": "/?office=triage",
        },
    )
    assert response.status_code == 303 and response.headers["Location"] == "/?office=triage"
    assert "已交办 2 件" in responder_client.get("/").get_data(as_text=True)
    assert case_by_number(db, first.tracking_number).office.code == "civil"
    assert case_by_number(db, second.tracking_number).office.code == "civil"
    assert case_by_number(db, third.tracking_number).office is None


def test_bulk_assign_cannot_reach_other_offices_or_leave_the_site(db, demo, responder_client):
    """An officer cannot bulk-assign; the way back never leads to another site."""
    case = make_case(db, body="财务报销不公开").case
    make_staff(db, "fin1", "officer", ["finance"])
    log_in(responder_client, "fin1")
    token = csrf_token(responder_client, "/")
    response = responder_client.post(
        "/cases/assign",
        data={"csrf_token": token, "case": [case.tracking_number], "office": "cyber"},
    )
    assert response.status_code == 403
    make_staff(db, "triage1", "triager")
    log_in(responder_client, "triage1")
    token = csrf_token(responder_client, "/")
    response = responder_client.post(
        "/cases/assign",
        data={"csrf_token": token, "case": [], "office": "civil", "back": "/\\evil.example"},
    )
    assert response.headers["Location"] == "/"


def test_export_is_the_filtered_queue_without_personal_data(db, mixed, responder_client):
    """The CSV holds the filtered cases an officer may see, no names, and no live formulas."""
    import csv
    import io

    make_case(db, body="财务问题", subject='=HYPERLINK("http://evil")', name="张三")
    make_staff(db, "fin1", "officer", ["finance"])
    log_in(responder_client, "fin1")
    response = responder_client.get("/cases.csv?q=财务")
    assert response.headers["Content-Disposition"].startswith("attachment")
    text = response.get_data(as_text=True)
    assert text.startswith("\ufeff查询编号")
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    numbers = {row[0] for row in rows[1:]}
    assert mixed["complaint"] in numbers and mixed["cyber_item"] not in numbers
    assert len(rows) == 3  # header, the complaint, the new case
    assert "张三" not in text
    assert any(cell.startswith("'=HYPERLINK") for row in rows for cell in row)
