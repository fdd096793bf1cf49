"""The public comment form at ``GET /`` and ``POST /feedback``, as a citizen's browser uses it."""

from __future__ import annotations

import io
import re
from html.parser import HTMLParser

import pytest
from sqlalchemy import func, select

from shared.models import Case
from shared.security import UNAMBIGUOUS, verify_secret
from tests.conftest import case_by_number, csrf_token

NOTICE_TITLE = "中共通渭县委宣传部关于市委第七提级交叉巡察组巡察反馈意见整改情况的通报"
TRACKING = re.compile(rf"^[{UNAMBIGUOUS}]{{4}}-[{UNAMBIGUOUS}]{{4}}$")
PASSCODE = re.compile(rf"^[{UNAMBIGUOUS}]{{8}}$")
FORM = "application/x-www-form-urlencoded"

#: The notice's three areas (方面) and the items under each, as the demo seeds them.
AREAS = {
    "学习贯彻落实党的路线方针政策和党中央重大决策部署方面": [f"XC21-{n:02d}" for n in range(1, 7)],
    "落实管党治党政治责任和整治作风问题方面": ["XC21-07", "XC21-08", "XC21-09"],
    "党组织建设、党内政治生活和单位管理方面": ["XC21-10", "XC21-11", "XC21-12"],
}


class Page(HTMLParser):
    """What a browser makes of a page: its language, text, form controls and links."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.lang: str | None = None
        self.title = ""
        self.texts: list[str] = []
        self.ids: set[str] = set()
        self.inputs: list[dict[str, str | None]] = []
        self.textareas: dict[str, str] = {}
        self.links: dict[str, str] = {}
        self.elements: list[str] = []
        self.item_groups: list[tuple[str, list[str]]] = []
        self._in: str | None = None
        self._buffer: list[str] = []
        self._attrs: dict[str, str | None] = {}
        self.feed(html)
        self.close()

    @property
    def text(self) -> str:
        return " ".join(" ".join(self.texts).split())

    def radios(self, name: str) -> list[str]:
        return [
            i["value"] or "" for i in self.inputs if i.get("type") == "radio" and i["name"] == name
        ]

    def value(self, name: str) -> str | None:
        for i in self.inputs:
            if i.get("name") == name and i.get("type") not in ("radio", "checkbox"):
                return i.get("value") or ""
        return None

    def checked(self, name: str) -> list[str | None]:
        """The values (or "on") of the checked radios and checkboxes of ``name``."""
        return [
            "on" if i.get("value") is None else i["value"]
            for i in self.inputs
            if i.get("name") == name and "checked" in i
        ]

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        self.elements.append(tag)
        if attributes.get("id"):
            self.ids.add(attributes["id"])
        if tag == "html":
            self.lang = attributes.get("lang")
        elif tag == "input":
            self.inputs.append(attributes)
            is_item = attributes.get("type") == "radio" and attributes.get("name") == "notice_item"
            if is_item and attributes.get("value") and self.item_groups:
                self.item_groups[-1][1].append(attributes["value"])
        elif tag in ("textarea", "a", "title") or (
            tag == "div" and attributes.get("class") == "area"
        ):
            self._in, self._buffer, self._attrs = tag, [], attributes

    def handle_endtag(self, tag):
        if self._in != tag:
            return
        content = "".join(self._buffer)
        if tag == "textarea":
            # As in browsers: one newline right after <textarea> is not part of the value.
            if content.startswith("\n"):
                content = content[1:]
            self.textareas[self._attrs.get("name") or ""] = content
        elif tag == "a":
            self.links[self._attrs.get("href") or ""] = content
        elif tag == "title":
            self.title = content
        else:
            self.item_groups.append((content, []))
        self._in = None

    def handle_data(self, data):
        self.texts.append(data)
        if self._in:
            self._buffer.append(data)


def post_form(client, query: str = "", **fields):
    """Send the comment form as a browser does: with its CSRF token and form token."""
    data = {"csrf_token": csrf_token(client, "/"), "form_token": "form-1", **fields}
    return client.post(f"/feedback{query}", data=data)


def count_cases(db) -> int:
    with db.session() as session:
        return session.scalar(select(func.count()).select_from(Case))


def receipt_of(response) -> tuple[str, str]:
    html = response.get_data(as_text=True)
    number = re.search(r'id="tracking-number">([^<]*)<', html)
    passcode = re.search(r'id="passcode">([^<]*)<', html)
    assert number and passcode, "no tracking number and passcode on the receipt"
    return number.group(1), passcode.group(1)


# --- The page --------------------------------------------------------------------------------


def test_form_page_shows_notice_in_chinese(db, demo, intake_client):
    """The page shows the notice's title, its contact phone and Chinese labels, marked zh-CN."""
    response = intake_client.get("/")
    page = Page(response.get_data(as_text=True))
    assert response.status_code == 200
    assert page.lang == "zh-CN"
    assert NOTICE_TITLE in page.title
    assert NOTICE_TITLE in page.text
    assert "电话 0932-5552740" in page.text
    assert "提交留言" in page.text
    assert "Send comment" not in page.text


def test_form_offers_the_twelve_items_grouped_by_area(db, demo, intake_client):
    """Each of the 12 items is a radio choice, under the heading of its area, plus "Other"."""
    page = Page(intake_client.get("/").get_data(as_text=True))
    assert page.item_groups == list(AREAS.items())
    codes = [code for codes in AREAS.values() for code in codes]
    assert page.radios("notice_item") == [*codes, ""]
    assert page.checked("notice_item") == [""]  # "Other" is chosen until the citizen picks
    assert "其他，或针对通报整体" in page.text


@pytest.mark.parametrize(
    ("query", "headers"),
    [("?lang=en", {}), ("", {"Accept-Language": "en-US,en;q=0.9"})],
    ids=["lang-parameter", "accept-language"],
)
def test_form_page_in_english_on_request(db, demo, intake_client, query, headers):
    """English labels for ?lang=en or a browser that prefers English; the notice stays Chinese."""
    page = Page(intake_client.get(f"/{query}", headers=headers).get_data(as_text=True))
    assert page.lang == "en"
    assert "Send comment" in page.text
    assert "提交留言" not in page.text
    assert NOTICE_TITLE in page.text


def test_chinese_browser_gets_chinese(db, demo, intake_client):
    """A browser preferring Chinese (or no preference) gets the Chinese form."""
    for headers in ({}, {"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"}):
        page = Page(intake_client.get("/", headers=headers).get_data(as_text=True))
        assert page.lang == "zh-CN"
        assert "提交留言" in page.text


# --- A comment sent ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("item", "office"),
    [("XC21-04", "cyber"), ("XC21-08", "finance"), ("XC21-02", "office")],
)
def test_valid_comment_gets_receipt_and_goes_to_item_office(db, demo, intake_client, item, office):
    """A valid comment shows a tracking number and passcode, and reaches the item's office."""
    response = post_form(intake_client, body="希望进一步加强整改落实。", notice_item=item)
    assert response.status_code == 200
    number, passcode = receipt_of(response)
    assert TRACKING.match(number)
    assert PASSCODE.match(passcode)
    assert "感谢您的留言" in response.get_data(as_text=True)

    case = case_by_number(db, number)
    assert case is not None
    assert case.body == "希望进一步加强整改落实。"
    assert case.notice_item.code == item
    assert case.office.code == office
    assert case.status == "assigned"
    assert case.channel == "web"


def test_passcode_is_stored_only_as_hash(db, demo, intake_client):
    """The passcode on the receipt is not in the database, but it opens the case."""
    number, passcode = receipt_of(post_form(intake_client, body="请公开整改结果"))
    case = case_by_number(db, number)
    assert case.passcode_hash != passcode
    assert passcode not in case.passcode_hash
    assert verify_secret(case.passcode_hash, passcode)
    tracked = intake_client.get(f"/api/v1/feedback/{number}", headers={"X-Passcode": passcode})
    assert tracked.status_code == 200


def test_keyword_rule_routes_comment_without_item(db, demo, intake_client):
    """A comment on the notice as a whole that mentions 谣言 goes to the cyber office."""
    number, _ = receipt_of(post_form(intake_client, body="网上有关于整改的谣言，请澄清。"))
    case = case_by_number(db, number)
    assert case.notice_item is None
    assert case.office.code == "cyber"


def test_receipt_in_english(db, demo, intake_client):
    """The English form gives an English receipt."""
    response = post_form(intake_client, "?lang=en", body="Please publish the results.")
    assert response.status_code == 200
    assert "Tracking number" in response.get_data(as_text=True)
    assert TRACKING.match(receipt_of(response)[0])


def test_double_submit_is_one_comment(db, demo, intake_client):
    """The same form sent twice (double tap, reload) gives the same receipt and one case."""
    fields = {"body": "差旅费报销情况能否公开？", "notice_item": "XC21-08", "form_token": "tap-1"}
    first = post_form(intake_client, **fields)
    second = post_form(intake_client, **fields)
    assert first.status_code == second.status_code == 200
    assert receipt_of(first) == receipt_of(second)
    assert count_cases(db) == 1


def test_new_form_with_same_text_is_a_new_comment(db, demo, intake_client):
    """A fresh form (new form token) with the same text is a second comment, not a repeat."""
    first = post_form(intake_client, body="同样的意见", form_token="page-1")
    second = post_form(intake_client, body="同样的意见", form_token="page-2")
    assert receipt_of(first)[0] != receipt_of(second)[0]
    assert count_cases(db) == 2


# --- Mistakes ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "errors"),
    [
        ({"body": ""}, {"body": "此项不能为空。"}),
        ({"body": "   \r\n  "}, {"body": "此项不能为空。"}),
        (
            {"body": "留言", "email": "bad", "phone": "abc"},
            {
                "email": "请输入有效的电子邮箱，例如 name@example.com。",
                "phone": "请输入由数字组成的电话号码，例如 0932-5552740。",
            },
        ),
        (
            {"body": "留言", "anonymous": "on", "name": "张三"},
            {"anonymous": "您选择了匿名留言：请清空姓名、电话和邮箱，或取消“匿名留言”。"},
        ),
        ({"body": "留言", "category": "spam"}, {"category": "请从列出的留言类型中选择。"}),
        ({"body": "x" * 5001}, {"body": "留言内容不能超过5000字。"}),
        ({"body": "留言", "notice_item": "XC99-99"}, {"notice_item": "请从列出的事项中选择。"}),
    ],
    ids=["empty", "blank", "email-phone", "anonymous-with-name", "category", "5001", "item"],
)
def test_invalid_comment_explains_each_mistake(db, demo, intake_client, fields, errors):
    """Status 422, a summary linking to each field in error, the Chinese message at the field."""
    response = post_form(intake_client, **fields)
    page = Page(response.get_data(as_text=True))
    assert response.status_code == 422
    assert "请修改以下内容后再次提交" in page.text
    for name, message in errors.items():
        assert page.links.get(f"#field-{name}") == message
        assert f"field-{name}" in page.ids  # the link leads somewhere
        assert page.text.count(message) == 2  # in the summary and at the field
    summary = {href for href in page.links if href.startswith("#field-")}
    assert summary == {f"#field-{name}" for name in errors}
    assert count_cases(db) == 0


def test_invalid_comment_keeps_everything_typed(db, demo, intake_client):
    """The form comes back with the text, inputs, choices and ticks as the citizen left them."""
    body = '第一行\r\n<b>第二行</b> & "引号" </textarea><script>alert(1)</script>'
    response = post_form(
        intake_client,
        body=body,
        subject="关于<网评>",
        notice_item="XC21-04",
        category="complaint",
        name="李四",
        phone="abc",
        email="bad",
        confidential="on",
        publish_consent="on",
    )
    page = Page(response.get_data(as_text=True))
    assert response.status_code == 422
    assert page.textareas["body"].replace("\r\n", "\n") == body.replace("\r\n", "\n")
    assert page.elements.count("script") == 1  # only our own file: what was typed is never run
    assert page.value("subject") == "关于<网评>"
    assert page.value("name") == "李四"
    assert page.value("phone") == "abc"
    assert page.value("email") == "bad"
    assert page.checked("notice_item") == ["XC21-04"]
    assert page.checked("category") == ["complaint"]
    assert page.checked("confidential") == ["on"]
    assert page.checked("publish_consent") == ["on"]
    assert page.checked("anonymous") == []


def test_invalid_comment_in_english(db, demo, intake_client):
    """With ?lang=en the summary and the messages are English."""
    response = post_form(intake_client, "?lang=en", body="", email="bad")
    page = Page(response.get_data(as_text=True))
    assert response.status_code == 422
    assert "Please correct the following and send again" in page.text
    assert page.links["#field-body"] == "This field cannot be empty."
    assert page.links["#field-email"] == "Enter an email address like name@example.com."
    assert "此项不能为空。" not in page.text


def test_body_of_exactly_5000_characters_is_accepted(db, demo, intake_client):
    """The limit is 5000 characters (not bytes): 5000 Chinese characters are accepted."""
    response = post_form(intake_client, body="意" * 5000)
    assert response.status_code == 200
    assert len(case_by_number(db, receipt_of(response)[0]).body) == 5000


# --- An expired form ---------------------------------------------------------------------------


def test_form_without_csrf_token_is_kept_and_explained(db, demo, intake_client):
    """No (or a stale) CSRF token: 400, nothing saved, the text kept and 页面已过期 explained."""
    intake_client.get("/")
    data = {"form_token": "f", "body": "我写了很久的意见", "name": "王五", "anonymous": ""}
    for extra in ({}, {"csrf_token": "stale-token"}):
        response = intake_client.post("/feedback", data={**data, **extra})
        page = Page(response.get_data(as_text=True))
        assert response.status_code == 400
        assert "页面已过期" in page.text
        assert page.textareas["body"] == "我写了很久的意见"
        assert page.value("name") == "王五"
        assert page.checked("anonymous") == ["on"]
        assert page.value("csrf_token")  # a fresh token, so sending again works
    assert count_cases(db) == 0


def test_expired_form_can_be_sent_again(db, demo, intake_client):
    """Sending the re-rendered form after an expiry works."""
    expired = intake_client.post("/feedback", data={"form_token": "f", "body": "再试一次"})
    page = Page(expired.get_data(as_text=True))
    again = intake_client.post(
        "/feedback",
        data={
            "csrf_token": page.value("csrf_token"),
            "form_token": page.value("form_token"),
            "body": page.textareas["body"],
        },
    )
    assert again.status_code == 200
    assert case_by_number(db, receipt_of(again)[0]).body == "再试一次"


# --- Hostile input -----------------------------------------------------------------------------


def _raw(client, tail: bytes) -> bytes:
    token = csrf_token(client, "/").encode()
    return b"csrf_token=" + token + b"&form_token=raw&" + tail


@pytest.mark.parametrize(
    ("tail", "status", "message"),
    [
        (b"body=a%00b", 422, "请删除文字中的不可见控制字符。"),
        (b"body=ok&name=%00", 422, "请删除文字中的不可见控制字符。"),
        (b"body=ok&subject=a%0D%0ABcc:x", 200, None),
        (b"body=%1B%5B31m", 422, "请删除文字中的不可见控制字符。"),
        (b"body=" + b"x" * 5001, 422, "留言内容不能超过5000字。"),
        (b"body=ok&notice_item=XC21-99", 422, "请从列出的事项中选择。"),
        (b"body=ok&notice_item=%27%20OR%201=1--", 422, "请从列出的事项中选择。"),
        (b"body=ok&category=%00", 422, "请从列出的留言类型中选择。"),
        (b"body=ok&anonymous=on&email=a@b.cn", 422, "您选择了匿名留言"),
        (b"body=ok&email=a%0D%0A@b.cn", 422, "请输入有效的电子邮箱"),
        (b"body=ok&notice_id=abc", 200, None),
        (b"body=ok&notice_id=-1", 200, None),
        (b"body=ok&notice_id=" + b"9" * 5000, 200, None),
        (b"body=ok&body=second", 200, None),
        (b"body&name", 422, "此项不能为空。"),
        (b"%ZZ=%ZZ&body=%", 200, None),
    ],
    ids=[
        "nul-body",
        "nul-name",
        "crlf-subject",
        "escape",
        "5001",
        "unknown-item",
        "sql-item",
        "nul-category",
        "anonymous-email",
        "crlf-email",
        "notice-id-text",
        "notice-id-negative",
        "notice-id-5000-digits",
        "repeated-field",
        "no-values",
        "bad-escapes",
    ],
)
def test_hostile_form_input_gets_an_answer_not_a_crash(
    db, demo, intake_client, tail, status, message
):
    """Odd bytes in a form post give a receipt or an explained 422, never a server error."""
    response = intake_client.post("/feedback", data=_raw(intake_client, tail), content_type=FORM)
    assert response.status_code == status
    html = response.get_data(as_text=True)
    if message:
        assert message in Page(html).text
    else:
        assert TRACKING.match(receipt_of(response)[0])


def test_percent_encoded_surrogate_and_non_utf8_bytes_are_stored_as_valid_text(
    db, demo, intake_client
):
    """%ED%A0%80 (a UTF-16 surrogate in UTF-8 dress) and GBK bytes never reach the database raw."""
    gbk = "".join(f"%{byte:02X}" for byte in "测试".encode("gbk")).encode()
    response = intake_client.post(
        "/feedback",
        data=_raw(intake_client, b"body=%ED%A0%80" + gbk + b"&name=%FF%FE"),
        content_type=FORM,
    )
    assert response.status_code in (200, 422)
    if response.status_code == 200:
        case = case_by_number(db, receipt_of(response)[0])
        case.body.encode("utf-8")  # valid text: raises on a lone surrogate
        (case.submitter_name or "").encode("utf-8")


def test_raw_non_utf8_bytes_do_not_crash_the_form(db, demo, intake_client):
    """Unencoded GBK and 0xFF bytes in the body get a form page back, never a server error."""
    raw = _raw(intake_client, b"body=" + "测试".encode("gbk") + b"&name=\xff\xfe")
    response = intake_client.post("/feedback", data=raw, content_type=FORM)
    assert response.status_code in (200, 400, 422)
    assert response.mimetype == "text/html"
    assert 'name="body"' in response.get_data(as_text=True)


def test_huge_field_values_are_refused_with_messages(db, demo, intake_client):
    """Values of 200,000 characters in every field give 422 with a message per field."""
    huge = "长" * 200_000
    response = post_form(
        intake_client,
        body=huge,
        subject=huge,
        name=huge,
        phone="1" * 200_000,
        email=huge + "@example.com",
        category=huge,
        notice_item=huge,
    )
    page = Page(response.get_data(as_text=True))
    assert response.status_code == 422
    for name in ("body", "subject", "name", "phone", "email", "category", "notice_item"):
        assert f"#field-{name}" in page.links, name
    assert count_cases(db) == 0


def test_file_upload_instead_of_text_is_refused(db, demo, intake_client):
    """A multipart post with the comment as a file is an empty comment (422), not a crash."""
    data = {
        "csrf_token": csrf_token(intake_client, "/"),
        "form_token": "f",
        "body": (io.BytesIO(b"hello"), "comment.txt"),
    }
    response = intake_client.post("/feedback", data=data, content_type="multipart/form-data")
    assert response.status_code == 422
    assert Page(response.get_data(as_text=True)).links["#field-body"] == "此项不能为空。"


def test_request_larger_than_the_limit_is_413(db, demo, settings):
    """A form post above MAX_CONTENT_LENGTH is refused with 413, nothing saved."""
    from intake import create_app

    client = create_app({**settings, "MAX_CONTENT_LENGTH": 1000}).test_client()
    data = {"csrf_token": csrf_token(client, "/"), "form_token": "f", "body": "x" * 2000}
    response = client.post("/feedback", data=data)
    assert response.status_code == 413
    assert count_cases(db) == 0
    small = client.post("/feedback", data={**data, "body": "x" * 100})
    assert small.status_code == 200


@pytest.mark.parametrize("notice_id", ["2147483648", "9223372036854775808", "9" * 30, "-1"])
def test_out_of_range_notice_id_is_ignored(db, demo, intake_client, notice_id):
    """A tampered hidden notice_id too big for the database is ignored like any bad id."""
    response = post_form(intake_client, body="意见", notice_id=notice_id)
    assert response.status_code == 200
    assert TRACKING.match(receipt_of(response)[0])
