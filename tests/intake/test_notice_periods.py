"""The public side of comment periods: which notices the front page offers, what a notice not
yet open or already closed says instead of the form, and the answers of the form and the API
for an item that takes no comments; tracking and rating carry on regardless."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update

from shared.models import Case, Notice, NoticeItem, NoticeStatus, Office
from tests.conftest import case_by_number, csrf_token
from tests.factories import answer, make_case, make_token

DEMO_ITEM = "XC21-04"  # an item of the demo notice (县委网信办)
NOW = datetime.now(UTC)
SHANGHAI = ZoneInfo("Asia/Shanghai")


def add_notice(
    db,
    title: str,
    items: dict[str, str],
    *,
    opens: timedelta | None = timedelta(days=-1),
    closes: timedelta | None = timedelta(days=30),
    status: str = NoticeStatus.PUBLISHED,
    invites_web: bool = True,
) -> int:
    """A notice with items {code: office code}; its period relative to now."""
    now = datetime.now(UTC)
    with db.transaction() as session:
        offices = {office.code: office for office in session.scalars(select(Office))}
        notice = Notice(
            slug=f"test-{title}",
            title=title,
            issuer="县委宣传部",
            summary="",
            body="正文",
            status=status,
            opens_at=now + opens if opens is not None else None,
            closes_at=now + closes if closes is not None else None,
            invites_web=invites_web,
            contact_phone="0932-5551234",
            contact_email="xcb@tongwei.example",
            postal_address="通渭县平襄镇",
            postcode="743300",
        )
        for position, (code, office) in enumerate(items.items(), start=1):
            notice.items.append(
                NoticeItem(
                    code=code,
                    area="一、方面",
                    title=f"{title}的事项{position}",
                    position=position,
                    default_office=offices[office],
                )
            )
        session.add(notice)
        session.flush()
        return notice.id


def set_demo_period(db, **period) -> int:
    """Move the demo notice's period (e.g. closes_at in the past); returns its id."""
    with db.transaction() as session:
        notice_id = session.scalar(select(Notice.id).where(Notice.slug.like("tongwei-%")))
        if period:
            session.execute(update(Notice).where(Notice.id == notice_id).values(**period))
        return notice_id


def post_form(client, path: str = "/", **fields):
    data = {"csrf_token": csrf_token(client, path), "form_token": "form-1", **fields}
    return client.post("/feedback?lang=en", data=data)


def receipt_number(response) -> str:
    match = re.search(r'id="tracking-number">([^<]*)<', response.get_data(as_text=True))
    assert match, response.get_data(as_text=True)[:2000]
    return match.group(1)


def radios(html: str) -> list[str]:
    return re.findall(r'<input type="radio" name="notice_item" value="([^"]*)"', html)


# --- Several notices open at once ---------------------------------------------------------------


def test_two_open_notices_are_both_offered_with_their_items(db, demo, intake_client):
    """Two notices open at once: the page shows both, links to each, and the form offers each
    notice's items, a "this notice as a whole" choice for each, and "something else"."""
    second = add_notice(db, "文明创建通报", {"WM27-01": "civil", "WM27-02": "finance"})
    demo_id = set_demo_period(db)
    html = intake_client.get("/?lang=en").get_data(as_text=True)
    assert "Several notices are open for comments" in html
    assert f'href="#notice-{second}"' in html and f'href="#notice-{demo_id}"' in html
    assert f'id="notice-{second}" data-state="open"' in html
    choices = radios(html)
    assert {"WM27-01", "WM27-02", DEMO_ITEM} <= set(choices)
    assert f"notice:{second}" in choices and f"notice:{demo_id}" in choices
    assert choices[-1] == ""
    assert 'name="notice_id"' not in html  # the choice says which notice, not a hidden field


def test_a_comment_on_the_second_notice_goes_to_its_item_office(db, demo, intake_client):
    """The chosen item decides the notice and the office; the whole-notice choice keeps the
    notice without an item."""
    second = add_notice(db, "文明创建通报", {"WM27-01": "civil", "WM27-02": "finance"})
    case = case_by_number(
        db, receipt_number(post_form(intake_client, body="经费要公开", notice_item="WM27-02"))
    )
    assert (case.notice_id, case.notice_item.code, case.office.code) == (
        second,
        "WM27-02",
        "finance",
    )
    whole = post_form(intake_client, body="整体意见", notice_item=f"notice:{second}")
    case = case_by_number(db, receipt_number(whole))
    assert case.notice_id == second and case.notice_item is None


def test_a_mistake_on_a_page_with_two_notices_keeps_the_whole_notice_choice(
    db, demo, intake_client
):
    """Sent back for a mistake, the form still has the whole-notice choice ticked."""
    second = add_notice(db, "文明创建通报", {"WM27-01": "civil"})
    response = post_form(intake_client, body="", notice_item=f"notice:{second}")
    assert response.status_code == 422
    assert f'value="notice:{second}" checked' in response.get_data(as_text=True)


# --- Not yet open -------------------------------------------------------------------------------


def test_a_notice_not_yet_open_says_when_it_opens_and_takes_no_comments(db, demo, intake_client):
    """Published with a later opening: the page says when comments open, offers none of its
    items; the form and the API refuse them."""
    later = add_notice(
        db, "明年的通报", {"NY28-01": "civil"}, opens=timedelta(days=10), closes=timedelta(days=40)
    )
    opens = (NOW + timedelta(days=10)).astimezone(SHANGHAI).strftime("%Y-%m-%d")
    html = intake_client.get("/?lang=en").get_data(as_text=True)
    assert f'id="notice-{later}" data-state="upcoming"' in html
    assert "Comments on this notice open on" in html
    assert "NY28-01" not in radios(html)
    page = intake_client.get(f"/notices/{later}?lang=en").get_data(as_text=True)
    assert "Comments on this notice open on" in page and 'name="body"' not in page
    assert f"Comments on this notice open on {opens}" in page

    form = post_form(intake_client, body="提前提意见", notice_item="NY28-01")
    assert form.status_code == 422
    assert "Comments on this notice have not opened yet." in form.get_data(as_text=True)
    api = intake_client.post("/api/v1/feedback", json={"body": "提前", "notice_item": "NY28-01"})
    assert api.status_code == 422
    assert list(api.json["errors"]) == ["notice_item"]
    listed = {notice["id"]: notice for notice in intake_client.get("/api/v1/notices").json}
    opens_at = datetime.fromisoformat(listed[later]["opens_at"])
    assert opens_at > datetime.now(UTC) and listed[later]["opens_at"].endswith("+08:00")


# --- Closed -------------------------------------------------------------------------------------


def test_a_closed_notice_says_so_politely_instead_of_the_form(db, demo, intake_client):
    """After its period, the front page says the notice closed, when, how else to reach the
    office and that tracking still works; it offers no form, only a link to a general one."""
    closed_at = datetime.now(UTC) - timedelta(days=1)
    notice_id = set_demo_period(db, closes_at=closed_at)
    html = intake_client.get("/?lang=en").get_data(as_text=True)
    assert f'id="notice-{notice_id}" data-state="closed"' in html
    shown = closed_at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")
    assert f"Comments on this notice closed on {shown}" in html
    assert "0932-5552740" in html  # the demo notice's phone, among the other ways
    assert 'href="/track?lang=en"' in html
    assert 'name="body"' not in html and radios(html) == []
    assert 'href="/feedback?lang=en"' in html


def test_the_api_says_whether_each_notice_takes_comments(db, demo, intake_client):
    """`open` in GET /api/v1/notices: a client knows before it sends a comment."""
    assert [n["open"] for n in intake_client.get("/api/v1/notices").get_json()] == [True]
    set_demo_period(db, closes_at=datetime.now(UTC) - timedelta(days=1))
    notices = intake_client.get("/api/v1/notices").get_json()
    assert [n["open"] for n in notices] == [False] and notices[0]["items"]


def test_the_closed_notice_page_is_in_chinese_first(db, demo, intake_client):
    """Without a language asked for, the page is Chinese (the notice's own words and the
    labels the catalogue has); it keeps the contacts and the tracking link."""
    notice_id = set_demo_period(db, closes_at=datetime.now(UTC) - timedelta(days=1))
    response = intake_client.get(f"/notices/{notice_id}")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert '<html lang="zh-CN">' in html
    assert "查询办理进度" in html and "电话 0932-5552740" in html
    assert 'name="body"' not in html


@pytest.mark.parametrize("channel", ["form", "api"])
def test_an_item_of_a_closed_notice_is_refused_with_a_clear_error(db, demo, intake_client, channel):
    """The form and the API answer 422 on notice_item, in Chinese by default."""
    set_demo_period(db, closes_at=datetime.now(UTC) - timedelta(days=1))
    if channel == "api":
        response = intake_client.post(
            "/api/v1/feedback", json={"body": "晚到的意见", "notice_item": DEMO_ITEM}
        )
        assert response.status_code == 422
        assert response.json == {"errors": {"notice_item": ["该通报的意见征集已结束。"]}}
    else:
        # A form kept open in another tab since before the closing.
        response = post_form(intake_client, "/feedback", body="晚到的意见", notice_item=DEMO_ITEM)
        assert response.status_code == 422
        assert "Comments on this notice are closed." in response.get_data(as_text=True)


def test_tracking_and_rating_work_for_a_case_of_a_closed_notice(db, demo, intake_client):
    """A case made while the notice was open is still tracked and rated after it closed."""
    receipt = make_case(db, body="网络评论管理要加强", notice_item=DEMO_ITEM)
    number, passcode = receipt.case.tracking_number, receipt.passcode
    set_demo_period(db, closes_at=datetime.now(UTC) - timedelta(minutes=1))
    answer(db, number)
    page = intake_client.get(f"/track/{number}?passcode={passcode}&lang=en")
    assert page.status_code == 200 and number in page.get_data(as_text=True)
    tracked = intake_client.get(f"/api/v1/feedback/{number}", headers={"X-Passcode": passcode})
    assert tracked.status_code == 200 and tracked.json["replies"]
    rated = intake_client.post(
        f"/api/v1/feedback/{number}/rating",
        json={"rating": "basically_satisfied"},
        headers={"X-Passcode": passcode},
    )
    assert rated.status_code == 201


# --- Without an open notice: a general comment --------------------------------------------------


def test_a_general_comment_is_taken_while_no_notice_is_open(db, demo, intake_client):
    """No notice open: the general form still takes a comment (no notice, no item), by form
    and API; it is routed like any other."""
    set_demo_period(db, closes_at=datetime.now(UTC) - timedelta(days=1))
    page = intake_client.get("/feedback?lang=en").get_data(as_text=True)
    assert 'name="body"' in page and radios(page) == []
    response = post_form(intake_client, "/feedback", body="县城路灯坏了", page="general")
    case = case_by_number(db, receipt_number(response))
    assert case.notice_id is None and case.notice_item is None
    api = intake_client.post("/api/v1/feedback", json={"body": "希望公开更多信息"})
    assert api.status_code == 201


def test_a_whole_notice_comment_sent_after_closing_is_a_general_one(db, demo, intake_client):
    """A form loaded while the notice was open and sent after it closed, with no item: the
    comment is taken, but not counted as one on the closed notice."""
    notice_id = set_demo_period(db)
    data = {"csrf_token": csrf_token(intake_client, "/"), "form_token": "late"}
    set_demo_period(db, closes_at=datetime.now(UTC) - timedelta(seconds=1))
    response = intake_client.post(
        "/feedback", data=data | {"body": "迟到的整体意见", "notice_id": str(notice_id)}
    )
    case = case_by_number(db, receipt_number(response))
    assert case.notice_id is None


def test_with_no_notice_at_all_the_front_page_is_the_general_form(db, intake_client):
    """A new installation without notices still takes comments on its front page."""
    html = intake_client.get("/?lang=en").get_data(as_text=True)
    assert "No notice is open for comments at the moment" in html
    assert 'name="body"' in html


# --- Retired items, drafts, withdrawn, channels -----------------------------------------------


def test_a_retired_item_is_not_offered_and_is_refused(db, demo, intake_client):
    with db.transaction() as session:
        session.execute(update(NoticeItem).where(NoticeItem.code == DEMO_ITEM).values(retired=True))
    assert DEMO_ITEM not in radios(intake_client.get("/").get_data(as_text=True))
    api = intake_client.post(
        "/api/v1/feedback?lang=en", json={"body": "意见", "notice_item": DEMO_ITEM}
    )
    assert api.status_code == 422
    assert api.json["errors"]["notice_item"] == [
        "This item no longer takes comments: choose one of the listed items."
    ]
    listed = intake_client.get("/api/v1/notices").json
    assert DEMO_ITEM not in [item["code"] for notice in listed for item in notice["items"]]


def test_drafts_do_not_exist_for_the_public(db, demo, intake_client):
    """A draft's page is 404, its items are 'not listed', the API does not list it."""
    draft = add_notice(db, "草稿", {"DR27-01": "civil"}, status=NoticeStatus.DRAFT)
    assert intake_client.get(f"/notices/{draft}").status_code == 404
    api = intake_client.post(
        "/api/v1/feedback?lang=en", json={"body": "意见", "notice_item": "DR27-01"}
    )
    assert api.json["errors"]["notice_item"] == ["Choose one of the listed items."]
    assert draft not in [notice["id"] for notice in intake_client.get("/api/v1/notices").json]


def test_a_notice_without_the_web_form_takes_comments_by_other_channels(db, demo, intake_client):
    """A notice that invites phone and post only: its items are not on the form, the API
    refuses them, and staff may still register a call about them."""
    add_notice(db, "只收信函的通报", {"PO27-01": "civil"}, invites_web=False)
    html = intake_client.get("/?lang=en").get_data(as_text=True)
    assert "PO27-01" not in radios(html)
    assert "This notice takes comments by phone, email or post:" in html
    api = intake_client.post(
        "/api/v1/feedback?lang=en", json={"body": "意见", "notice_item": "PO27-01"}
    )
    assert api.status_code == 422
    assert "not on this site" in api.json["errors"]["notice_item"][0]


def test_a_letter_sent_in_the_period_is_registered_after_it_closed(db, demo, responder_client):
    """Staff register a letter received before the closing time, after it: its item counts."""
    add_notice(
        db,
        "已结束的通报",
        {"LT27-01": "civil"},
        opens=timedelta(days=-30),
        closes=timedelta(hours=-1),
    )
    token = make_token(db, "triage1", "triager")
    received = (datetime.now(UTC) - timedelta(days=2)).isoformat(timespec="seconds")
    headers = {"Authorization": f"Bearer {token}"}
    late = {"channel": "letter", "body": "来信", "notice_item": "LT27-01"}
    response = responder_client.post(
        "/api/v1/cases", json=late | {"received_at": received}, headers=headers
    )
    assert response.status_code == 201, response.json
    with db.session() as session:
        case = session.scalar(
            select(Case).where(Case.tracking_number == response.json["tracking_number"])
        )
        assert case.notice_item_id is not None
    refused = responder_client.post("/api/v1/cases", json=late, headers=headers)
    assert refused.status_code == 422
