"""The public pages in a real browser (Debian's chromium), on a phone, with and without JavaScript.

What is checked is what a citizen sees and does: labels, clicks, typing, the keyboard, the
receipt and the tracking page. Screenshots land in ``var/screenshots/`` for a person to review.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

NOTICE_TITLE = "中共通渭县委宣传部关于市委第七提级交叉巡察组巡察反馈意见整改情况的通报"
#: Item XC21-04 of the demo notice.
ITEM_TITLE = "对网络舆情转办情况跟踪问效不到位"
ITEM_CODE = "XC21-04"
TRACKING_NUMBER = re.compile(r"[A-Z0-9]{4}-[A-Z0-9]{4}")
PASSCODE = re.compile(r"[A-Z0-9]{8}")
#: An open comment: waiting for the registrar, or already with the office of its item.
OPEN_STATUS = re.compile(r"^(已收到，等待分办|办理中)$")


def fits_the_screen(page: Page) -> bool:
    """No horizontal scrolling: nothing is wider than the window."""
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def item_radio(page: Page, code: str):
    return page.locator(f'input[name="notice_item"][value="{code}"]')


def read_receipt(page: Page) -> tuple[str, str]:
    number = page.locator("#tracking-number").inner_text().strip()
    passcode = page.locator("#passcode").inner_text().strip()
    assert TRACKING_NUMBER.fullmatch(number), number
    assert PASSCODE.fullmatch(passcode), passcode
    return number, passcode


def send_comment(page: Page, base_url: str, body: str, query: str = "") -> tuple[str, str]:
    """Send a comment through the form; the receipt's tracking number and passcode."""
    page.goto(base_url + "/" + query)
    page.locator("#field-body").fill(body)
    page.locator("form button[type=submit]").click()
    expect(page.locator("#tracking-number")).to_be_visible()
    return read_receipt(page)


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
def test_comment_from_a_phone(intake_server, new_page, screenshot, javascript):
    """On a phone, a citizen reads the notice, comments on an item and follows the comment."""
    page = new_page(java_script_enabled=javascript)
    name = "js" if javascript else "no-js"
    page.goto(intake_server + "/")

    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.get_by_role("heading", level=1)).to_have_text(NOTICE_TITLE)
    expect(page.get_by_text("您的留言涉及哪一项问题？")).to_be_visible()
    expect(page.get_by_text("留言类型", exact=True)).to_be_visible()
    expect(page.get_by_label("标题", exact=True)).to_be_visible()
    expect(page.get_by_label("电子邮箱", exact=True)).to_be_visible()
    submit = page.get_by_role("button", name="提交留言")
    expect(submit).to_be_visible()

    # The item is chosen by tapping its text, as on a phone, not the small radio button.
    page.locator("#field-notice_item").get_by_text(ITEM_TITLE, exact=True).click()
    expect(item_radio(page, ITEM_CODE)).to_be_checked()
    expect(page.get_by_role("radio", name=ITEM_TITLE)).to_be_checked()
    page.locator("#field-category").get_by_text("意见建议", exact=True).click()
    expect(page.get_by_role("radio", name="意见建议")).to_be_checked()
    subject = "网络舆情转办跟踪"
    body = "建议把网络舆情转办后的跟踪问效情况按月公开，便于群众监督。"
    page.get_by_label("标题", exact=True).fill(subject)
    page.get_by_role("textbox", name="您的留言").fill(body)
    page.get_by_label("电子邮箱", exact=True).fill("citizen@example.cn")
    assert fits_the_screen(page), "the form scrolls sideways on a phone"
    screenshot(page, f"phone-{name}-1-form")

    submit.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("感谢您的留言，我们已收到")
    expect(page.get_by_text("查询编号", exact=True)).to_be_visible()
    expect(page.get_by_text("查询码", exact=True)).to_be_visible()
    number, _passcode = read_receipt(page)
    assert fits_the_screen(page), "the receipt scrolls sideways on a phone"
    screenshot(page, f"phone-{name}-2-receipt")

    page.get_by_role("link", name="查看办理进度").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"留言 {number}")
    expect(page.locator("#status")).to_have_text(OPEN_STATUS)
    expect(page.get_by_text(subject, exact=True)).to_be_visible()
    expect(page.get_by_text(body, exact=True)).to_be_visible()
    assert fits_the_screen(page), "the tracking page scrolls sideways on a phone"
    screenshot(page, f"phone-{name}-3-tracking")


def test_invalid_email_keeps_what_was_typed(intake_server, new_page, screenshot):
    """A mistake is explained at the top and at the field, and nothing typed is lost."""
    page = new_page()
    page.goto(intake_server + "/")
    page.locator("#field-notice_item").get_by_text(ITEM_TITLE, exact=True).click()
    page.locator("#field-category").get_by_text("意见建议", exact=True).click()
    body = "\n".join(
        f"第{n}条：网络舆情转办后，相关单位应当在规定时限内反馈处置情况，并由县委网信办跟踪问效。"
        for n in range(1, 31)
    )
    page.get_by_role("textbox", name="您的留言").fill(body)
    page.get_by_label("电子邮箱", exact=True).fill("bad")
    page.get_by_role("button", name="提交留言").click()

    summary = page.get_by_role("alert").filter(has_text="请修改以下内容后再次提交")
    expect(summary).to_be_visible()
    link = summary.get_by_role("link", name="请输入有效的电子邮箱，例如 name@example.com。")
    expect(link).to_have_attribute("href", "#field-email")
    expect(page.locator("#email-error")).to_contain_text("请输入有效的电子邮箱")
    email = page.get_by_label("电子邮箱", exact=True)
    expect(email).to_have_attribute("aria-invalid", "true")
    expect(email).to_have_value("bad")
    assert page.get_by_role("textbox", name="您的留言").input_value() == body
    expect(item_radio(page, ITEM_CODE)).to_be_checked()
    expect(page.get_by_role("radio", name="意见建议")).to_be_checked()
    assert fits_the_screen(page), "the page with errors scrolls sideways on a phone"
    screenshot(page, "phone-validation-error")

    link.click()
    expect(page).to_have_url(re.compile(r"#field-email$"))
    expect(email).to_be_focused()
    expect(email).to_be_in_viewport()


def test_english_form_gives_an_english_receipt(intake_server, new_page, screenshot):
    """With ?lang=en the form, the receipt and the tracking page are in English."""
    page = new_page()
    page.goto(intake_server + "/?lang=en")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_text("Which item is your comment about?")).to_be_visible()
    expect(page.get_by_label("Email", exact=True)).to_be_visible()
    page.locator("#field-notice_item").get_by_text(ITEM_TITLE, exact=True).click()
    page.get_by_role("textbox", name="Your comment").fill(
        "Please publish how each case was followed up."
    )
    assert fits_the_screen(page)
    screenshot(page, "phone-en-1-form")

    page.get_by_role("button", name="Send comment").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Thank you: your comment was received"
    )
    expect(page.get_by_text("Tracking number", exact=True)).to_be_visible()
    expect(page.get_by_text("Passcode", exact=True)).to_be_visible()
    number, _passcode = read_receipt(page)
    screenshot(page, "phone-en-2-receipt")

    page.get_by_role("link", name="Track this comment").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Comment {number}")
    expect(page.locator("#status")).to_have_text(
        re.compile("^(Received, waiting to be assigned|Being handled)$")
    )


def test_lookup_form_takes_the_codes_as_typed(intake_server, new_page, screenshot):
    """The tracking form finds the comment from codes typed in lower case and with spaces."""
    number, passcode = send_comment(new_page(), intake_server, "请公开整改台账。")

    page = new_page()  # another visit, later: nothing remembered
    page.goto(intake_server + "/")
    page.get_by_role("link", name="查询办理进度").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("查询办理进度")
    page.get_by_label("查询编号").fill(number.lower().replace("-", " "))
    page.get_by_label("查询码").fill(f" {passcode.lower()} ")
    screenshot(page, "phone-lookup-1-form")
    page.get_by_role("button", name="查询", exact=True).click()

    expect(page.get_by_role("heading", level=1)).to_have_text(f"留言 {number}")
    expect(page.locator("#status")).to_have_text(OPEN_STATUS)
    expect(page.get_by_text("请公开整改台账。")).to_be_visible()
    screenshot(page, "phone-lookup-2-case")


def test_english_lookup_stays_in_english(intake_server, new_page):
    """The English tracking form leads to the English case page."""
    page = new_page()
    number, passcode = send_comment(page, intake_server, "Please publish the records.", "?lang=en")
    page.goto(intake_server + "/track?lang=en")
    page.get_by_label("Tracking number").fill(number)
    page.get_by_label("Passcode").fill(passcode)
    page.get_by_role("button", name="Show my comment").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Comment {number}")
    expect(page.locator("html")).to_have_attribute("lang", "en")


def test_keyboard_alone_can_send_a_comment(intake_server, new_page, screenshot):
    """Tab reaches the item choice and the send button, arrows choose, Enter sends."""
    page = new_page()
    page.goto(intake_server + "/")

    def focused(attribute: str) -> str | None:
        return page.evaluate(f"document.activeElement && document.activeElement.{attribute}")

    for _ in range(30):  # past the header links, the notice's summary and its mailto link
        page.keyboard.press("Tab")
        if focused("name") == "notice_item":
            break
    else:
        pytest.fail("Tab never reached the item choice")
    # A radio group is one Tab stop, on its checked radio: "Other" until the citizen chooses.
    assert focused("value") == ""
    page.keyboard.press("ArrowUp")
    expect(item_radio(page, "XC21-12")).to_be_checked()
    expect(item_radio(page, "XC21-12")).to_be_focused()

    page.get_by_role("textbox", name="您的留言").press_sequentially("建议公开整改台账。")
    for _ in range(20):  # name, phone, email, three checkboxes
        page.keyboard.press("Tab")
        if focused("type") == "submit":
            break
    else:
        pytest.fail("Tab never reached the send button")
    button = page.get_by_role("button", name="提交留言")
    expect(button).to_be_focused()
    assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") != "none", (
        "the focused button shows no focus ring"
    )
    screenshot(page, "phone-keyboard-focus")

    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("感谢您的留言，我们已收到")
    read_receipt(page)


# Bugs found by these tests and fixed; each test keeps them fixed.


def test_language_link_on_the_receipt_works(intake_server, new_page):
    """The English link on the receipt page opens an English page, not an error."""
    page = new_page()
    send_comment(page, intake_server, "请公开整改台账。")
    with page.expect_response(lambda response: "lang=en" in response.url) as answer:
        page.get_by_role("link", name="English").click()
    assert answer.value.status == 200, f"{answer.value.url} answered {answer.value.status}"


def test_language_link_on_the_tracking_page_keeps_the_case(intake_server, new_page):
    """Switching the tracking page to English still shows the same comment."""
    page = new_page()
    number, _passcode = send_comment(page, intake_server, "请公开整改台账。")
    page.get_by_role("link", name="查看办理进度").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"留言 {number}")
    page.get_by_role("link", name="English").click()
    page.wait_for_url(re.compile(r"lang=en"))
    assert page.locator("h1").inner_text() == f"Comment {number}"


def test_passcode_typed_in_two_groups_is_accepted(intake_server, new_page):
    """A passcode typed as two groups of four, like the tracking number, still matches."""
    page = new_page()
    number, passcode = send_comment(page, intake_server, "请公开整改台账。")
    page.goto(intake_server + "/track")
    page.get_by_label("查询编号").fill(number)
    page.get_by_label("查询码").fill(f"{passcode[:4]} {passcode[4:]}".lower())
    page.get_by_role("button", name="查询", exact=True).click()
    page.wait_for_url(re.compile(rf"/track/{number}\?"))
    assert page.locator("h1").inner_text() == f"留言 {number}"


def test_long_link_in_a_comment_fits_the_phone(intake_server, new_page):
    """A comment quoting a long web address does not widen the tracking page."""
    page = new_page()
    body = "相关报道见 https://www.tongwei.example/xcb/2021/inspection/" + "a1b2c3d4" * 12
    send_comment(page, intake_server, body)
    page.get_by_role("link", name="查看办理进度").click()
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    assert fits_the_screen(page), page.evaluate("document.documentElement.scrollWidth")


def test_body_starting_with_a_blank_line_is_kept(intake_server, new_page):
    """The form shown again after an error holds the comment exactly, leading newline too."""
    page = new_page()
    page.goto(intake_server + "/")
    body = "\n第一段：请公开整改台账。"
    page.get_by_role("textbox", name="您的留言").fill(body)
    page.get_by_label("电子邮箱", exact=True).fill("bad")
    page.get_by_role("button", name="提交留言").click()
    page.locator("#email-error").wait_for()
    assert page.get_by_role("textbox", name="您的留言").input_value() == body
