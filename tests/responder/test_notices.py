"""Admins write, publish, change, close and withdraw notices in the browser, with their items
as repeated rows of one form; what the public sees follows from it."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from shared.models import AuditEvent, Case, Notice, NoticeItem, NoticeStatus
from tests.conftest import csrf_token
from tests.factories import answer, make_case, make_staff

SHANGHAI = ZoneInfo("Asia/Shanghai")

#: A new notice with two items answered by different offices.
NOTICE = {
    "title": "县文明办关于2027年文明城市创建工作的通报",
    "issuer": "通渭县文明办",
    "issued_on": "2027-02-20",
    "summary": "欢迎监督。",
    "body": "一、创建工作\n二、整改情况",
    "invites_web": "on",
    "contact_phone": "0932-5550000",
    "contact_email": "wmb@tongwei.example",
    "postal_address": "通渭县平襄镇",
    "postcode": "743300",
    "opens_at": "2027-03-01 09:00",
    "closes_at": "2027-03-31T18:00",
}
ITEMS = [
    {"code": "WM27-01", "area": "创建工作", "title": "志愿服务不足", "office": "civil"},
    {"code": "WM27-02", "area": "创建工作", "title": "经费使用不透明", "office": "finance"},
]


def rows(*items: dict, start: int = 0) -> dict[str, str]:
    """Item rows as the form sends them: ``items-<n>-<field>``, numbered in order."""
    fields = {}
    for number, item in enumerate(items, start=start):
        position = item.get("position", str(number + 1))
        for name, value in {**item, "position": position}.items():
            if value is not None:
                fields[f"items-{number}-{name}"] = value
    return fields


@pytest.fixture
def admin(db, demo, responder_client):
    """A client logged in as an admin, reading the pages in English."""
    make_staff(db, "boss", "admin")
    token = csrf_token(responder_client, "/login")
    responder_client.post(
        "/login", data={"username": "boss", "password": "correct horse 1", "csrf_token": token}
    )
    responder_client.get("/admin/notices/?lang=en")
    return responder_client


def post(client, path: str, **data):
    token = csrf_token(client, "/admin/notices/new")
    return client.post(path, data={"csrf_token": token, **data})


def create(client, notice: dict | None = None, items=ITEMS) -> int:
    """A new notice through the form; returns its id."""
    response = post(client, "/admin/notices/new", **(notice or NOTICE), **rows(*items))
    assert response.status_code == 303, _errors(response)
    return int(response.headers["Location"].rsplit("/", 1)[1])


def _errors(response) -> list[str]:
    return re.findall(r'class="error"[^>]*>([^<]*)<', response.get_data(as_text=True))


def notice_of(db, notice_id: int) -> Notice:
    with db.session() as session:
        notice = session.get(Notice, notice_id)
        for item in notice.items:
            _ = item.default_office
        return notice


def items_of(db, notice_id: int) -> dict[str, NoticeItem]:
    with db.session() as session:
        found = session.scalars(
            select(NoticeItem).where(NoticeItem.notice_id == notice_id).order_by("position")
        ).all()
        for item in found:
            _ = item.default_office
        return {item.code: item for item in found}


def actions(db) -> list[str]:
    with db.session() as session:
        return list(
            session.scalars(
                select(AuditEvent.action)
                .where(AuditEvent.action.like("notice.%"))
                .order_by(AuditEvent.id)
            )
        )


def notice_count(db) -> int:
    with db.session() as session:
        return session.scalar(select(func.count()).select_from(Notice))


def edit_form(client, notice_id: int) -> dict[str, str]:
    """The edit form's fields as the page fills them in (what a browser would send back)."""
    html = client.get(f"/admin/notices/{notice_id}").get_data(as_text=True)
    form = html[html.index('<form method="post" class="notice-form">') :]
    fields: dict[str, str] = {}
    for tag in re.findall(r"<input [^>]*>", form):
        name = re.search(r'name="([^"]+)"', tag)
        value = re.search(r'value="([^"]*)"', tag)
        if not name or name[1] == "csrf_token":
            continue
        if 'type="checkbox"' in tag:
            if "checked" in tag:
                fields[name[1]] = "on"
        else:
            fields[name[1]] = value[1] if value else ""
    for name, text in re.findall(r'<textarea [^>]*name="([^"]+)"[^>]*>([^<]*)</textarea>', form):
        fields[name] = text
    for name, body in re.findall(r'<select [^>]*name="([^"]+)"[^>]*>(.*?)</select>', form, re.S):
        chosen = re.search(r'<option value="([^"]*)" selected', body)
        fields[name] = chosen[1] if chosen else ""
    return {key: value.replace("&#34;", '"').replace("&amp;", "&") for key, value in fields.items()}


def row_number(fields: dict[str, str], code: str) -> int:
    return next(
        int(key.split("-")[1])
        for key, value in fields.items()
        if key.endswith("-code") and value == code
    )


# --- Listing and creating -------------------------------------------------------------------


def test_list_shows_each_notice_with_its_state_and_counts(db, admin):
    """The demo notice is listed as open for comments, with its 12 items."""
    page = admin.get("/admin/notices/").get_data(as_text=True)
    assert "中共通渭县委宣传部关于市委第七提级交叉巡察组" in page
    assert "Open for comments" in page
    assert re.search(r"<td>12</td>", page)


def test_new_notice_is_a_draft_with_its_items_offices_and_period(db, admin):
    """A saved notice is a draft holding its items (code, area, office, order) and its period,
    typed in Beijing time and stored in UTC; the public does not see it yet."""
    notice_id = create(admin)
    notice = notice_of(db, notice_id)
    assert notice.status == NoticeStatus.DRAFT
    assert notice.opens_at == datetime(2027, 3, 1, 1, 0, tzinfo=UTC)
    assert notice.closes_at == datetime(2027, 3, 31, 10, 0, tzinfo=UTC)
    assert notice.invites_web and notice.postcode == "743300"
    items = items_of(db, notice_id)
    assert list(items) == ["WM27-01", "WM27-02"]
    assert [item.default_office.code for item in items.values()] == ["civil", "finance"]
    assert actions(db) == ["notice.created", "notice.item_added", "notice.item_added"]
    page = admin.get(f"/admin/notices/{notice_id}").get_data(as_text=True)
    assert "The notice is saved as a draft." in page
    assert 'value="2027-03-01T09:00"' in page  # shown again in Beijing time


def test_a_row_left_without_code_gets_a_free_suggested_code(db, admin):
    """The blank rows come with suggested codes; a typed row without one gets the next free
    code of the notice's year (N27-…), never one another notice uses."""
    page = admin.get("/admin/notices/new").get_data(as_text=True)
    assert re.search(r'name="items-0-code" maxlength="32" value="N\d\d-01"', page)
    notice_id = create(admin, items=[ITEMS[0] | {"code": ""}])
    assert list(items_of(db, notice_id)) == ["N27-01"]
    second = create(admin, NOTICE | {"title": "另一份通报"}, items=[ITEMS[1] | {"code": ""}])
    assert list(items_of(db, second)) == ["N27-02"]


def test_add_more_rows_keeps_everything_typed_and_saves_nothing(db, admin):
    """Without JavaScript, "Add more rows" sends the form back with three more blank rows."""
    before = notice_count(db)
    fields = {**NOTICE, **rows(*ITEMS, {"code": "WM27-03"})}
    response = post(admin, "/admin/notices/new", action="more_rows", **fields)
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'value="县文明办关于2027年文明城市创建工作的通报"' in page
    assert "经费使用不透明</textarea>" in page
    assert len(re.findall(r'name="items-\d+-area"', page)) == 6
    assert notice_count(db) == before


# --- Validation -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"title": "  "}, "title", "This field cannot be empty."),
        ({"opens_at": "2027-02-30 09:00"}, "opens_at", "Enter a date and time like"),
        ({"closes_at": "tomorrow"}, "closes_at", "Enter a date and time like"),
        ({"issued_on": "2027-13-01"}, "issued_on", "Enter a date like 2027-03-01."),
        (
            {"opens_at": "2027-03-31 18:00", "closes_at": "2027-03-01 09:00"},
            "closes_at",
            "The comment period must close after it opens.",
        ),
        ({"postcode": "74330"}, "postcode", "Enter the 6-digit postcode."),
    ],
    ids=[
        "missing-title",
        "impossible-date",
        "not-a-date",
        "bad-issued-on",
        "closes-first",
        "postcode",
    ],
)
def test_invalid_notice_fields_are_shown_on_the_form(db, admin, change, field, message):
    """Each mistake is told on its field; nothing is saved; everything typed is still there."""
    before = notice_count(db)
    response = post(admin, "/admin/notices/new", **(NOTICE | change), **rows(*ITEMS))
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert re.search(rf'id="{field}-error">{re.escape(message)}', page), _errors(response)
    assert "经费使用不透明</textarea>" in page
    assert notice_count(db) == before
    assert actions(db) == []


def test_missing_title_field_altogether_is_refused(db, admin):
    """A form without a title at all (not even empty) is refused, not a crash."""
    fields = {key: value for key, value in NOTICE.items() if key != "title"}
    response = post(admin, "/admin/notices/new", **fields, **rows(*ITEMS))
    assert response.status_code == 422
    assert 'id="title-error">This field is required.' in response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("items", "row", "field", "message"),
    [
        ([ITEMS[0] | {"code": "XC21-01"}], 0, "code", "Another notice already uses this code."),
        ([ITEMS[0], ITEMS[1] | {"code": "WM27-01"}], 1, "code", "Two items of this notice"),
        ([ITEMS[0] | {"code": "wm 27"}], 0, "code", "Use 2 to 32 capital letters"),
        ([ITEMS[0] | {"office": "nowhere"}], 0, "office", "Choose one of the listed offices."),
        ([ITEMS[0] | {"office": ""}], 0, "office", "Choose the office that answers"),
        ([ITEMS[0] | {"title": ""}], 0, "title", "This field is required."),
        ([ITEMS[0] | {"position": "many"}], 0, "position", "Enter a whole number"),
    ],
    ids=[
        "code-of-another-notice",
        "code-twice",
        "bad-code",
        "unknown-office",
        "no-office",
        "no-item-title",
        "bad-position",
    ],
)
def test_invalid_item_rows_are_shown_on_their_row(db, admin, items, row, field, message):
    """A bad row is told on its own field; nothing is saved."""
    before = notice_count(db)
    response = post(admin, "/admin/notices/new", **NOTICE, **rows(*items))
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert re.search(rf'id="items-{row}-{field}-error">{re.escape(message)}', page), _errors(
        response
    )
    assert notice_count(db) == before


def test_an_item_row_of_another_notice_is_refused(db, admin):
    """A tampered row naming another notice's item changes nothing (the form is out of date)."""
    notice_id = create(admin)
    with db.session() as session:
        foreign = session.scalar(select(NoticeItem.id).where(NoticeItem.code == "XC21-01"))
    fields = edit_form(admin, notice_id) | {"items-0-id": str(foreign)}
    response = post(admin, f"/admin/notices/{notice_id}", **fields)
    assert response.status_code == 422
    assert "The form is out of date" in response.get_data(as_text=True)
    assert items_of(db, notice_id).keys() == {"WM27-01", "WM27-02"}


# --- Changing a published notice ------------------------------------------------------------


def publish(client, notice_id: int):
    return post(client, f"/admin/notices/{notice_id}/publish")


def open_now(notice: dict = NOTICE) -> dict:
    """The notice with a period that is on now."""
    now = datetime.now(SHANGHAI)
    return notice | {
        "opens_at": (now - timedelta(days=1)).strftime("%Y-%m-%d %H:%M"),
        "closes_at": (now + timedelta(days=30)).strftime("%Y-%m-%d %H:%M"),
    }


def test_an_item_with_cases_is_retired_and_one_without_is_deleted(db, admin, intake_client):
    """Taking items off a published notice: the one cases refer to stays (retired, still on
    its case, no longer offered); the other is deleted. Both are in the audit trail."""
    notice_id = create(
        admin,
        open_now(),
        items=[
            *ITEMS,
            {"code": "WM27-03", "area": "其他", "title": "宣传栏破损", "office": "civil"},
        ],
    )
    assert publish(admin, notice_id).status_code == 303
    case = make_case(db, body="志愿者太少", notice_item="WM27-01").case
    fields = edit_form(admin, notice_id)
    fields[f"items-{row_number(fields, 'WM27-01')}-remove"] = "on"
    fields[f"items-{row_number(fields, 'WM27-03')}-remove"] = "on"
    response = post(admin, f"/admin/notices/{notice_id}", **fields)
    assert response.status_code == 303, _errors(response)

    items = items_of(db, notice_id)
    assert set(items) == {"WM27-01", "WM27-02"}
    assert items["WM27-01"].retired and not items["WM27-02"].retired
    assert {"notice.item_retired", "notice.item_deleted", "notice.updated"} <= set(actions(db))
    with db.session() as session:
        assert session.get(Case, case.id).notice_item_id == items["WM27-01"].id
    case_page = admin.get(f"/cases/{case.tracking_number}").get_data(as_text=True)
    assert "WM27-01" in case_page and "志愿服务不足" in case_page
    form = intake_client.get("/").get_data(as_text=True)
    assert 'value="WM27-02"' in form and 'value="WM27-01"' not in form
    api = intake_client.post(
        "/api/v1/feedback", json={"body": "还有意见", "notice_item": "WM27-01"}
    )
    assert api.status_code == 422
    assert list(api.json["errors"]) == ["notice_item"]


def test_a_retired_item_is_offered_again_when_unticked(db, admin, intake_client):
    """Unticking "take off" on a retired item restores it."""
    notice_id = create(admin, open_now())
    publish(admin, notice_id)
    make_case(db, body="意见", notice_item="WM27-01")
    fields = edit_form(admin, notice_id)
    number = row_number(fields, "WM27-01")
    post(admin, f"/admin/notices/{notice_id}", **fields | {f"items-{number}-remove": "on"})
    assert items_of(db, notice_id)["WM27-01"].retired
    fields = edit_form(admin, notice_id)
    number = row_number(fields, "WM27-01")  # now after the offered items
    assert number == 1
    assert fields.get(f"items-{number}-remove") == "on"  # shown as taken off
    del fields[f"items-{number}-remove"]
    assert post(admin, f"/admin/notices/{notice_id}", **fields).status_code == 303
    assert not items_of(db, notice_id)["WM27-01"].retired
    assert "notice.item_restored" in actions(db)
    assert 'value="WM27-01"' in intake_client.get("/").get_data(as_text=True)


def test_the_code_of_an_item_with_cases_cannot_change(db, admin):
    """Cases and reports name the item by its code: once cases refer to it, it stays."""
    notice_id = create(admin, open_now())
    publish(admin, notice_id)
    make_case(db, body="意见", notice_item="WM27-01")
    fields = edit_form(admin, notice_id)
    fields[f"items-{row_number(fields, 'WM27-01')}-code"] = "WM27-99"
    response = post(admin, f"/admin/notices/{notice_id}", **fields)
    assert response.status_code == 422
    assert "it cannot change" in response.get_data(as_text=True)
    assert "WM27-01" in items_of(db, notice_id)


def test_items_are_reordered_by_their_numbers_and_codes_can_be_swapped(db, admin, intake_client):
    """Giving the second item the first number puts it first, on the public form too; two
    items without cases may swap codes in one save."""
    notice_id = create(admin, open_now())
    publish(admin, notice_id)
    fields = edit_form(admin, notice_id)
    first, second = row_number(fields, "WM27-01"), row_number(fields, "WM27-02")
    fields |= {f"items-{second}-position": "0"}
    assert post(admin, f"/admin/notices/{notice_id}", **fields).status_code == 303
    assert list(items_of(db, notice_id)) == ["WM27-02", "WM27-01"]
    page = intake_client.get("/").get_data(as_text=True)
    assert page.index('value="WM27-02"') < page.index('value="WM27-01"')

    fields = edit_form(admin, notice_id)
    first, second = row_number(fields, "WM27-01"), row_number(fields, "WM27-02")
    fields |= {f"items-{first}-code": "WM27-02", f"items-{second}-code": "WM27-01"}
    response = post(admin, f"/admin/notices/{notice_id}", **fields)
    assert response.status_code == 303, _errors(response)
    titles = {code: item.title for code, item in items_of(db, notice_id).items()}
    assert titles == {"WM27-01": "经费使用不透明", "WM27-02": "志愿服务不足"}


def test_an_edit_is_audited_with_the_fields_that_changed(db, admin):
    """notice.updated names the changed fields, not their (possibly long) text."""
    notice_id = create(admin)
    fields = edit_form(admin, notice_id) | {"summary": "新的摘要", "postcode": "743399"}
    assert post(admin, f"/admin/notices/{notice_id}", **fields).status_code == 303
    with db.session() as session:
        event = session.scalar(select(AuditEvent).where(AuditEvent.action == "notice.updated"))
        assert event.detail["changed"] == ["postcode", "summary"]
        assert event.detail["notice"] == notice_id
        assert event.actor_id is not None


# --- Publish, close, withdraw ---------------------------------------------------------------


def test_publish_and_withdraw_decide_what_the_public_can_comment_on(db, admin, intake_client):
    """A draft is not public; published, its items are offered and the API lists it as open;
    withdrawn, it is gone from the page, takes no comments, and its cases can still be
    tracked and rated."""
    notice_id = create(admin, open_now())
    assert 'value="WM27-02"' not in intake_client.get("/").get_data(as_text=True)
    assert intake_client.get(f"/notices/{notice_id}").status_code == 404

    assert publish(admin, notice_id).status_code == 303
    assert notice_of(db, notice_id).status == NoticeStatus.PUBLISHED
    assert 'value="WM27-02"' in intake_client.get("/").get_data(as_text=True)
    listed = {notice["id"]: notice for notice in intake_client.get("/api/v1/notices").json}
    assert datetime.fromisoformat(listed[notice_id]["closes_at"]) > datetime.now(UTC)
    assert [item["code"] for item in listed[notice_id]["items"]] == ["WM27-01", "WM27-02"]
    receipt = intake_client.post(
        "/api/v1/feedback", json={"body": "经费要公开", "notice_item": "WM27-02"}
    )
    assert receipt.status_code == 201
    number, passcode = receipt.json["tracking_number"], receipt.json["passcode"]
    with db.session() as session:
        case = session.scalar(select(Case).where(Case.tracking_number == number))
        assert case.office.code == "finance"

    response = post(admin, f"/admin/notices/{notice_id}/withdraw")
    assert response.status_code == 303
    assert "The notice is withdrawn" in admin.get(response.location).get_data(as_text=True)
    assert 'value="WM27-02"' not in intake_client.get("/").get_data(as_text=True)
    assert notice_id not in {notice["id"] for notice in intake_client.get("/api/v1/notices").json}
    refused = intake_client.post(
        "/api/v1/feedback", json={"body": "再提", "notice_item": "WM27-02"}
    )
    assert refused.status_code == 422
    assert refused.json["errors"]["notice_item"]
    page = intake_client.get(f"/notices/{notice_id}?lang=en").get_data(as_text=True)
    assert "This notice has been withdrawn" in page and 'name="body"' not in page

    tracked = intake_client.get(f"/api/v1/feedback/{number}", headers={"X-Passcode": passcode})
    assert tracked.status_code == 200 and tracked.json["status"] == "assigned"
    answer(db, number)
    rated = intake_client.post(
        f"/api/v1/feedback/{number}/rating",
        json={"rating": "satisfied"},
        headers={"X-Passcode": passcode},
    )
    assert rated.status_code == 201
    assert actions(db)[-2:] == ["notice.published", "notice.withdrawn"]


def test_a_notice_whose_period_is_over_cannot_be_published(db, admin):
    """Publishing a notice that would already be closed is refused with the reason."""
    notice_id = create(
        admin, NOTICE | {"opens_at": "2020-01-01 09:00", "closes_at": "2020-02-01 09:00"}
    )
    response = publish(admin, notice_id)
    page = admin.get(response.location).get_data(as_text=True)
    assert "The comment period is already over" in page
    assert notice_of(db, notice_id).status == NoticeStatus.DRAFT
    assert "notice.published" not in actions(db)


def test_close_now_ends_the_period_and_the_public_is_told(db, admin, intake_client):
    """ "Close comments now" sets the closing time to now: the form no longer offers the items,
    the API refuses them, and the notice's page says it is closed, with the other ways to reach
    the office."""
    notice_id = create(admin, open_now())
    publish(admin, notice_id)
    before = datetime.now(UTC)
    response = post(admin, f"/admin/notices/{notice_id}/close")
    assert response.status_code == 303
    closes_at = notice_of(db, notice_id).closes_at
    assert before - timedelta(seconds=1) <= closes_at <= datetime.now(UTC)
    assert "notice.closed" in actions(db)
    refused = intake_client.post(
        "/api/v1/feedback", json={"body": "晚了", "notice_item": "WM27-01"}
    )
    assert refused.status_code == 422
    assert refused.json == {"errors": {"notice_item": ["该通报的意见征集已结束。"]}}
    page = intake_client.get(f"/notices/{notice_id}?lang=en").get_data(as_text=True)
    assert "Comments on this notice closed on" in page
    assert "0932-5550000" in page and "wmb@tongwei.example" in page
    assert 'name="notice_item"' not in page


# --- Who may ---------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["triager", "officer", "reviewer"])
def test_other_roles_find_no_notice_pages(db, demo, responder_client, role):
    """For anyone but an admin the notice pages do not exist, and nothing changes."""
    make_staff(db, "someone", role, ["civil"] if role != "triager" else [])
    token = csrf_token(responder_client, "/login")
    responder_client.post(
        "/login", data={"username": "someone", "password": "correct horse 1", "csrf_token": token}
    )
    with db.session() as session:
        notice_id = session.scalar(select(func.min(Notice.id)))
    token = csrf_token(responder_client, "/")
    for path in ("/admin/notices/", "/admin/notices/new", f"/admin/notices/{notice_id}"):
        assert responder_client.get(path).status_code == 404
    for action in ("withdraw", "close", "publish"):
        response = responder_client.post(
            f"/admin/notices/{notice_id}/{action}", data={"csrf_token": token}
        )
        assert response.status_code == 404
    assert notice_of(db, notice_id).status == NoticeStatus.PUBLISHED
    assert notice_of(db, notice_id).closes_at is None


def test_anonymous_visitors_are_sent_to_the_login_page(db, demo, responder_client):
    response = responder_client.get("/admin/notices/")
    assert response.status_code == 302 and "/login" in response.location
