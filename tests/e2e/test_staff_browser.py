"""The staff pages in a real browser (Debian's chromium): login, the queue, the case page, assign.

The responder runs under gunicorn over the test database with the demo data, as the intake does
in ``test_browser.py``; the cases are made through the one intake path (``make_case``). What is
checked is what a person at the department sees and does, in Chinese, the default language.
Screenshots land in ``var/screenshots/`` for a person to review.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from tests.factories import make_case, make_staff

PASSWORD = "correct horse 1"  # make_staff's
DESKTOP = {"width": 1280, "height": 900}
#: The queue's heading ("Cases").
QUEUE_HEADING = re.compile(r"^案件$")
TRIAGE_LABEL = "待分办"
CYBER = "县委网信办"
#: A demo routing rule: these words send a case to 县委网信办.
CYBER_RULE = "网络舆情转县委网信办"
#: Username and offices of the staff account used for each role.
STAFF_USERS = {"triager": ("triage1", ()), "officer": ("cyber1", ("cyber",))}


@pytest.fixture
def responder_server(running_responder, demo) -> str:
    """The running responder, over a database holding the demo data (emptied after the test)."""
    return running_responder


class Accounts:
    """Staff accounts by role, each made on first use: hashing a password takes a good part
    of a second. The officer works for 县委网信办."""

    def __init__(self, db) -> None:
        self.db = db
        self.made: set[str] = set()

    def __getitem__(self, role: str) -> str:
        username, offices = STAFF_USERS[role]
        if role not in self.made:
            make_staff(self.db, username, role, offices)
            self.made.add(role)
        return username


@pytest.fixture
def staff(db) -> Accounts:
    return Accounts(db)


@pytest.fixture(autouse=True)
def patient_expect() -> Iterator[None]:
    """A busy machine answers a login (argon2) slowly: wait up to 10 s, not 5, then put
    playwright's default back for the other modules."""
    expect.set_options(timeout=10_000)
    yield
    expect.set_options(timeout=5_000)


def log_in(page: Page, base_url: str, username: str, password: str = PASSWORD) -> None:
    page.goto(base_url + "/login")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(password)
    page.get_by_role("button", name="登录").click()


def logged_in(new_page, base_url: str, username: str, **options) -> Page:
    """A fresh browser, logged in, on the queue."""
    page = new_page(**options)
    log_in(page, base_url, username)
    expect(page.get_by_role("heading", level=1)).to_have_text(QUEUE_HEADING)
    return page


def fits_the_screen(page: Page) -> bool:
    return page.evaluate(
        "document.scrollingElement.scrollWidth <= document.scrollingElement.clientWidth"
    )


def row_of(page: Page, number: str):
    """The queue's row for a case."""
    return page.locator("table.cases tbody tr").filter(
        has=page.get_by_role("link", name=number, exact=True)
    )


def listed_numbers(page: Page) -> list[str]:
    return page.locator("table.cases tbody td.mono a").all_inner_texts()


def flash(page: Page, text: str):
    return page.locator(".flash").filter(has_text=text)


def test_login_wrong_then_right_password_and_logout(responder_server, staff, new_page):
    """A wrong password is explained in Chinese; the right one opens the queue; logout leaves."""
    page = new_page(viewport=DESKTOP)
    page.goto(responder_server + "/")  # not logged in: sent to the login page
    expect(page).to_have_url(re.compile(r"/login"))
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.get_by_role("heading", level=1)).to_have_text("登录")

    log_in(page, responder_server, staff["triager"], "wrong password 1")
    expect(page.get_by_role("alert")).to_have_text("用户名或密码错误。")
    expect(page.get_by_label("用户名")).to_have_value(staff["triager"])
    expect(page.get_by_label("密码")).to_have_value("")

    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(QUEUE_HEADING)
    assert page.url == responder_server + "/"
    expect(page.locator("header.site")).to_contain_text(staff["triager"])

    page.get_by_role("button", name="退出").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("登录")
    expect(page).to_have_url(re.compile(r"/login$"))
    page.goto(responder_server + "/")  # the session is over
    expect(page.get_by_role("heading", level=1)).to_have_text("登录")


def test_queue_counts_filters_and_search(responder_server, db, staff, new_page, screenshot):
    """The queue lists the cases with their numbers, counts them by status, and narrows them."""

    def number(**fields) -> str:
        return make_case(db, **fields).case.tracking_number

    cyber = number(subject="网络舆情转办", body="网络舆情转办后没有跟踪问效，请公开处置情况。")
    lamp = number(body="县城东关路灯不亮已有两周，请尽快修复。")
    ledger = number(body="建议把整改台账在网站上公开，便于群众监督。")
    finance = number(body="差旅报销的标准是否已经公开？")
    everything = {cyber, lamp, ledger, finance}
    page = logged_in(new_page, responder_server, staff["triager"], viewport=DESKTOP)

    for each in everything:
        expect(row_of(page, each)).to_be_visible()
    assert set(listed_numbers(page)) == everything
    expect(row_of(page, cyber)).to_contain_text(CYBER)
    expect(row_of(page, lamp)).to_contain_text(TRIAGE_LABEL)
    expect(page.locator(".count[data-status=received]")).to_have_text("2")
    expect(page.locator(".count[data-status=assigned]")).to_have_text("2")
    expect(page.locator(".count[data-status=replied]")).to_have_text("0")
    expect(page.locator(".count[data-status=overdue]")).to_have_text("0")
    screenshot(page, "staff-queue")

    filters = page.locator("form.filters")
    filters.locator("select[name=office]").select_option(label=CYBER)
    filters.get_by_role("button", name="筛选").click()
    expect(page).to_have_url(re.compile(r"office=cyber"))
    expect(page.locator("table.cases tbody tr")).to_have_count(1)
    assert listed_numbers(page) == [cyber]

    filters.locator("select[name=office]").select_option(label=TRIAGE_LABEL)
    filters.get_by_role("button", name="筛选").click()
    expect(page.locator("table.cases tbody tr")).to_have_count(2)
    assert set(listed_numbers(page)) == {lamp, ledger}
    # The tabs count what the other filters let through.
    expect(page.locator(".count[data-status=received]")).to_have_text("2")
    expect(page.locator(".count[data-status=assigned]")).to_have_text("0")

    filters.locator("select[name=office]").select_option(value="")
    filters.get_by_role("searchbox").fill("舆情")
    filters.get_by_role("button", name="筛选").click()
    expect(page.locator("table.cases tbody tr")).to_have_count(1)
    assert listed_numbers(page) == [cyber]

    filters.get_by_role("searchbox").fill("路灯")
    filters.get_by_role("button", name="筛选").click()
    expect(page.locator("table.cases tbody tr")).to_have_count(1)
    assert listed_numbers(page) == [lamp]

    page.get_by_role("link", name="清除").click()
    expect(page.locator("table.cases tbody tr")).to_have_count(4)


def test_older_cases_link_leads_to_the_rest(responder_server, db, staff, new_page):
    """With more than a page of cases, "older cases" shows the rest, none twice."""
    numbers = [
        make_case(db, body=f"第{n}号意见：请把第{n}项整改的完成时间写清楚。").case.tracking_number
        for n in range(55)
    ]
    page = logged_in(new_page, responder_server, staff["triager"], viewport=DESKTOP)
    expect(page.locator("table.cases tbody tr")).to_have_count(50)
    first = listed_numbers(page)
    assert first == numbers[::-1][:50], "newest first"

    page.get_by_role("link", name=re.compile("更早的")).click()
    expect(page.locator("table.cases tbody tr")).to_have_count(5)
    assert listed_numbers(page) == numbers[::-1][50:]
    expect(page.get_by_role("link", name=re.compile("更早的"))).to_have_count(0)


def test_case_page_for_an_officer(responder_server, db, staff, new_page, screenshot):
    """Clicking a number opens the case: the citizen's text, why it was routed, and for an
    officer the notice that the submitter is confidential (and not who it is)."""
    body = "网络舆情转办后，相关单位没有在规定时限内反馈处置情况。"
    receipt = make_case(
        db, body=body, name="王小明", phone="13800000000", email="wxm@example.cn", confidential=True
    )
    number = receipt.case.tracking_number
    page = logged_in(new_page, responder_server, staff["officer"], viewport=DESKTOP)
    page.get_by_role("link", name=number, exact=True).click()

    expect(page.get_by_role("heading", level=1)).to_contain_text(number)
    thread = page.get_by_role("region", name="办理记录")
    citizen = thread.locator("article.entry-inbound")
    expect(citizen).to_contain_text("群众来信")
    expect(citizen.locator(".text")).to_have_text(body)
    expect(page.locator("#routing")).to_contain_text(CYBER_RULE)
    expect(page.locator("#case-office")).to_have_text(CYBER)
    submitter = page.locator("#submitter")
    expect(submitter).to_contain_text("保密：只有分办人员和管理员能看到来信人身份。")
    for detail in ("王小明", "13800000000", "wxm@example.cn"):
        expect(submitter).not_to_contain_text(detail)
    screenshot(page, "staff-case")


def test_triager_assigns_and_officer_sends_back(responder_server, db, staff, new_page):
    """A triager sends a waiting case to 县委网信办; its officer says "not ours", with a reason,
    and the case goes back to triage and out of the officer's queue."""
    number = make_case(db, body="县城东关路灯不亮已有两周，请尽快修复。").case.tracking_number
    page = logged_in(new_page, responder_server, staff["triager"], viewport=DESKTOP)
    expect(row_of(page, number)).to_contain_text(TRIAGE_LABEL)
    page.get_by_role("link", name=number, exact=True).click()
    expect(page.locator("#case-status")).to_have_text(TRIAGE_LABEL)
    expect(page.locator("#case-office")).to_have_text(TRIAGE_LABEL)

    page.locator("#assign-office").select_option(label=CYBER)
    page.locator("#assign-form").get_by_role("button", name="交办").click()
    expect(flash(page, "案件已交办。")).to_be_visible()
    expect(page.locator("#case-office")).to_have_text(CYBER)
    expect(page.locator("article.entry-event")).to_contain_text(CYBER)

    officer = logged_in(new_page, responder_server, staff["officer"], viewport=DESKTOP)
    expect(row_of(officer, number)).to_be_visible()
    officer.get_by_role("link", name=number, exact=True).click()
    expect(officer.locator("#case-office")).to_have_text(CYBER)
    officer.get_by_label("理由，以及应由谁办理").fill("路灯归县住建局管，不属于网信办。")
    with officer.expect_response(lambda response: response.url.endswith("/return")) as sent:
        officer.get_by_role("button", name="退回分办").click()
    assert sent.value.status == 303

    officer.goto(responder_server + "/")
    expect(officer.get_by_role("heading", level=1)).to_have_text(QUEUE_HEADING)
    expect(row_of(officer, number)).to_have_count(0)

    page.reload()
    expect(page.locator("#case-office")).to_have_text(TRIAGE_LABEL)
    expect(page.locator("#case-status")).to_have_text(TRIAGE_LABEL)
    expect(page.locator("article.entry-event").last).to_contain_text("路灯归县住建局管")


def test_officer_sees_that_the_case_went_back(responder_server, db, staff, new_page):
    """After "not ours" the officer lands on a page that says the case went back to triage."""
    number = make_case(db, body="网络舆情转办情况请公开。").case.tracking_number  # routed to 网信办
    page = logged_in(new_page, responder_server, staff["officer"], viewport=DESKTOP)
    page.get_by_role("link", name=number, exact=True).click()
    page.get_by_label("理由，以及应由谁办理").fill("此事应由县融媒体中心答复。")
    with page.expect_navigation() as landing:  # wherever the form's answer leads
        page.get_by_role("button", name="退回分办").click()
    assert landing.value.status == 200, f"{landing.value.url} answered {landing.value.status}"
    expect(flash(page, "案件已退回分办。")).to_be_visible(timeout=2_000)


def test_bulk_assign_from_the_queue(responder_server, db, staff, new_page):
    """Tick two waiting cases, choose an office in the bulk form, submit: both are assigned."""
    ticked = [
        make_case(db, body="县城东关路灯不亮已有两周。").case.tracking_number,
        make_case(db, body="建议把整改台账在网站上公开。").case.tracking_number,
    ]
    left = make_case(db, body="请问整改通报还会更新吗？").case.tracking_number
    page = logged_in(new_page, responder_server, staff["triager"], viewport=DESKTOP)
    for number in ticked:
        page.get_by_role("checkbox", name=f"选择 {number}").check()
    bulk = page.locator("form#bulk")
    bulk.locator("select[name=office]").select_option(label=CYBER)
    bulk.get_by_role("button", name="交办").click()

    expect(flash(page, "已交办 2 件，跳过 0 件。")).to_be_visible()
    expect(page.get_by_role("heading", level=1)).to_have_text(QUEUE_HEADING)
    for number in ticked:
        expect(row_of(page, number)).to_contain_text(CYBER)
    expect(row_of(page, left)).to_contain_text(TRIAGE_LABEL)
    expect(page.locator(".count[data-status=assigned]")).to_have_text("2")
    expect(page.locator(".count[data-status=received]")).to_have_text("1")


def test_note_appears_in_the_thread(responder_server, db, staff, new_page):
    """A note added on the case page shows in the thread as an internal note."""
    number = make_case(db, body="网络舆情转办情况请公开。").case.tracking_number
    page = logged_in(new_page, responder_server, staff["officer"], viewport=DESKTOP)
    page.goto(f"{responder_server}/cases/{number}")
    note = "已电话联系来信人，约定下周答复。"
    page.get_by_label("内部备注（仅工作人员可见）").fill(note)
    page.get_by_role("button", name="添加备注").click()

    expect(flash(page, "备注已添加。")).to_be_visible()
    entry = page.locator("article.entry-note")
    expect(entry).to_have_count(1)
    expect(entry.locator("header")).to_contain_text("内部备注")
    expect(entry.locator("header")).to_contain_text(staff["officer"])
    expect(entry.locator(".text")).to_have_text(note)


def test_case_page_fits_a_phone(responder_server, db, staff, new_page, screenshot):
    """On a 390×844 phone the case page does not scroll sideways, for a triager's full page."""
    number = make_case(
        db,
        subject="网络舆情转办跟踪",
        body="相关报道见 https://www.tongwei.example/xcb/2021/inspection/" + "a1b2c3d4" * 12,
        name="王小明",
        email="wxm@example.cn",
    ).case.tracking_number
    page = logged_in(new_page, responder_server, staff["triager"])  # the phone, by default
    page.goto(f"{responder_server}/cases/{number}")
    expect(page.locator("#assign-form")).to_be_visible()
    screenshot(page, "staff-case-phone")
    assert fits_the_screen(page), page.evaluate(
        "[document.scrollingElement.scrollWidth, document.scrollingElement.clientWidth]"
    )
