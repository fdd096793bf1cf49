"""A new notice from start to end in a real browser (Debian's chromium): an admin writes and
publishes it, a citizen comments on one of its items on a phone, the comment reaches that
item's office, the admin closes the comments, and the public page says so instead of a form.

Both services run under gunicorn over the test database, as in test_browser.py and
test_staff_browser.py. Screenshots land in ``var/screenshots/notice-*.png``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select, update

from shared.models import Case, Notice, NoticeStatus
from tests.factories import make_staff

PASSWORD = "correct horse 1"  # make_staff's
DESKTOP = {"width": 1280, "height": 900}
TITLE = "县文明办关于2027年文明城市创建工作的通报"
ITEMS = (
    ("WM27-01", "志愿服务站点覆盖不足", "civil"),
    ("WM27-02", "创建经费使用情况未公开", "finance"),
)


@pytest.fixture(autouse=True)
def patient_expect() -> Iterator[None]:
    """A login (argon2) on a busy machine is slow: wait up to 10 s, then put the default back."""
    expect.set_options(timeout=10_000)
    yield
    expect.set_options(timeout=5_000)


def log_in(page: Page, base_url: str, username: str) -> None:
    page.goto(base_url + "/login")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("案件")


def fits_the_screen(page: Page) -> bool:
    return page.evaluate(
        "document.scrollingElement.scrollWidth <= document.scrollingElement.clientWidth"
    )


def test_a_new_notice_from_publication_to_closing(
    db, intake_server, running_responder, new_page, screenshot
):
    """Admin publishes a notice with two items for two offices; a citizen comments on the
    second; the case is with that item's office; closed, the notice offers no form."""
    # The demo notice's period is over, so the front page is about the new notice alone.
    with db.transaction() as session:
        session.execute(update(Notice).values(closes_at=datetime.now(UTC) - timedelta(days=100)))
    make_staff(db, "boss", "admin")

    admin = new_page(viewport=DESKTOP)
    log_in(admin, running_responder, "boss")
    admin.goto(running_responder + "/admin/notices/")
    admin.get_by_role("link", name=re.compile("^(新建通报|New notice)$")).click()
    admin.locator("#title").fill(TITLE)
    admin.locator("#issuer").fill("通渭县文明办")
    admin.locator("#summary").fill("现将创建工作整改情况通报如下，欢迎监督。")
    admin.locator("#body").fill("一、创建工作的主要问题\n二、整改情况")
    admin.locator("#contact_phone").fill("0932-5550000")
    admin.locator("#postal_address").fill("通渭县平襄镇文明路1号")
    admin.locator("#postcode").fill("743300")
    for row, (code, title, office) in enumerate(ITEMS):
        admin.locator(f"#items-{row}-code").fill(code)
        admin.locator(f"#items-{row}-area").fill("创建工作")
        admin.locator(f"#items-{row}-title").fill(title)
        admin.locator(f"#items-{row}-office").select_option(value=office)
    screenshot(admin, "notice-1-admin-form")
    admin.get_by_role("button", name=re.compile("^(保存|Save)$")).click()
    expect(admin.locator(".flash")).to_be_visible()
    expect(admin.locator("#items-1-code")).to_have_value("WM27-02")

    admin.locator("form[action$='/publish'] button").click()
    expect(admin.locator(".notice-state .state-open")).to_be_visible()
    screenshot(admin, "notice-2-admin-published")
    with db.session() as session:
        notice = session.scalar(select(Notice).where(Notice.title == TITLE))
        assert notice.status == NoticeStatus.PUBLISHED
        notice_id = notice.id

    citizen = new_page()
    citizen.goto(intake_server + "/")
    expect(citizen.get_by_role("heading", level=1)).to_have_text(TITLE)
    citizen.locator("#field-notice_item").get_by_text(ITEMS[1][1], exact=True).click()
    expect(citizen.locator('input[name="notice_item"][value="WM27-02"]')).to_be_checked()
    citizen.get_by_role("textbox", name="您的留言").fill("请公开创建经费的使用明细，接受群众监督。")
    assert fits_the_screen(citizen), "the form scrolls sideways on a phone"
    screenshot(citizen, "notice-3-intake-open")
    citizen.get_by_role("button", name="提交留言").click()
    expect(citizen.get_by_role("heading", level=1)).to_have_text("感谢您的留言，我们已收到")
    number = citizen.locator("#tracking-number").inner_text().strip()
    screenshot(citizen, "notice-4-receipt")
    with db.session() as session:
        case = session.scalar(select(Case).where(Case.tracking_number == number))
        assert case.notice_id == notice_id
        assert case.notice_item.code == "WM27-02"
        assert case.office.code == "finance"

    admin.reload()
    admin.locator("form[action$='/close'] button").click()
    expect(admin.locator(".notice-state .state-closed")).to_be_visible()

    citizen.goto(intake_server + "/")
    closed = citizen.locator(f"#notice-{notice_id} .notice-closed")
    expect(closed).to_be_visible()
    expect(closed).to_contain_text("0932-5550000")
    expect(closed.get_by_role("link", name="查询办理进度")).to_be_visible()
    expect(citizen.locator("textarea[name=body]")).to_have_count(0)
    expect(citizen.locator("input[name=notice_item]")).to_have_count(0)
    assert fits_the_screen(citizen), "the closed notice scrolls sideways on a phone"
    screenshot(citizen, "notice-5-intake-closed")

    # Its own page says the same; the case is still tracked.
    citizen.goto(f"{intake_server}/notices/{notice_id}")
    expect(citizen.locator(".notice-closed")).to_be_visible()
    expect(citizen.locator("form textarea")).to_have_count(0)
