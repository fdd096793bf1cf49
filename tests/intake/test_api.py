"""The public JSON API: ``POST /api/v1/feedback``, ``GET /api/v1/feedback/<n>``, notices."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from shared.models import Case
from shared.security import UNAMBIGUOUS
from tests.conftest import case_by_number

URL = "/api/v1/feedback"
JSON = "application/json"
TRACKING = re.compile(rf"^[{UNAMBIGUOUS}]{{4}}-[{UNAMBIGUOUS}]{{4}}$")
PASSCODE = re.compile(rf"^[{UNAMBIGUOUS}]{{8}}$")
RECEIPT_FIELDS = {"tracking_number", "passcode", "status", "received_at"}
CATEGORIES = ("suggestion", "complaint", "report", "inquiry", "praise")
ITEM_CODES = tuple(f"XC21-{n:02d}" for n in range(1, 13))


def post_raw(client, data: bytes | str, query: str = "", headers=None):
    return client.post(f"{URL}{query}", data=data, content_type=JSON, headers=headers or {})


def count_cases(db) -> int:
    with db.session() as session:
        return session.scalar(select(func.count()).select_from(Case))


def assert_json_error(response, status: int) -> None:
    """An error a program can read: JSON with a message, never an HTML page."""
    assert response.status_code == status
    assert response.mimetype == JSON
    body = response.get_json()
    assert isinstance(body, dict)
    assert isinstance(body.get("message"), str)
    assert body["message"]
    assert "<html" not in response.get_data(as_text=True).lower()


def assert_errors(response) -> dict[str, list[str]]:
    """A 422 of the contract's shape, ``{"errors": {field: [messages]}}``; returns the errors."""
    assert response.status_code == 422, response.get_data(as_text=True)
    assert response.mimetype == JSON
    body = response.get_json()
    assert set(body) == {"errors"}
    errors = body["errors"]
    assert isinstance(errors, dict)
    assert errors
    for messages in errors.values():
        assert isinstance(messages, list)
        assert messages
        assert all(isinstance(message, str) and message for message in messages)
    return errors


# --- Creating a comment ------------------------------------------------------------------------


def test_created_comment_returns_the_contract_receipt(db, demo, intake_client):
    """201 with tracking number, passcode, status and received_at in Shanghai time."""
    before = datetime.now(UTC)
    response = intake_client.post(
        URL, json={"body": "希望加强跟踪问效", "notice_item": "XC21-04", "category": "suggestion"}
    )
    assert response.status_code == 201
    assert response.mimetype == JSON
    receipt = response.get_json()
    assert set(receipt) >= RECEIPT_FIELDS
    assert TRACKING.match(receipt["tracking_number"])
    assert PASSCODE.match(receipt["passcode"])
    assert receipt["status"] == "assigned"
    assert receipt["received_at"].endswith("+08:00")
    received_at = datetime.fromisoformat(receipt["received_at"])
    assert before - timedelta(seconds=2) <= received_at <= datetime.now(UTC) + timedelta(seconds=2)

    case = case_by_number(db, receipt["tracking_number"])
    assert case.channel == "api"
    assert case.office.code == "cyber"
    assert case.category == "suggestion"
    assert receipt["passcode"] not in case.passcode_hash


def test_comment_with_all_contract_fields(db, demo, intake_client):
    """Every documented field is accepted and stored as sent."""
    response = intake_client.post(
        URL,
        json={
            "body": "审签单问题整改了吗？",
            "subject": "关于三审制度",
            "category": "inquiry",
            "notice_item": "XC21-06",
            "name": "赵六",
            "phone": "0932-5552740",
            "email": "zhao@example.com",
            "anonymous": False,
            "confidential": True,
        },
    )
    assert response.status_code == 201
    case = case_by_number(db, response.get_json()["tracking_number"])
    assert (case.subject, case.category, case.notice_item.code) == (
        "关于三审制度",
        "inquiry",
        "XC21-06",
    )
    assert (case.submitter_name, case.submitter_phone, case.submitter_email) == (
        "赵六",
        "0932-5552740",
        "zhao@example.com",
    )
    assert case.confidential is True
    assert case.anonymous is False


def test_unmatched_comment_is_received_for_triage(db, demo, intake_client):
    """A comment on no item that no rule matches waits with status received."""
    response = intake_client.post(URL, json={"body": "路灯坏了"})
    assert response.status_code == 201
    assert response.get_json()["status"] == "received"


# --- Idempotency-Key ---------------------------------------------------------------------------


def test_same_idempotency_key_and_body_returns_the_first_receipt(db, demo, intake_client):
    """A retried request gets the same tracking number and passcode; one case exists."""
    payload = {"body": "财务报销是否公开？", "notice_item": "XC21-08"}
    headers = {"Idempotency-Key": "retry-7f3a"}
    first = intake_client.post(URL, json=payload, headers=headers)
    second = intake_client.post(URL, json=payload, headers=headers)
    assert first.status_code == second.status_code == 201
    fields = ("tracking_number", "passcode", "status", "received_at")
    assert [first.get_json()[f] for f in fields] == [second.get_json()[f] for f in fields]
    assert count_cases(db) == 1
    passcode = second.get_json()["passcode"]
    tracked = intake_client.get(
        f"{URL}/{first.get_json()['tracking_number']}", headers={"X-Passcode": passcode}
    )
    assert tracked.status_code == 200  # the replayed passcode opens the case


def test_different_idempotency_keys_make_different_cases(db, demo, intake_client):
    """Two keys with the same body are two comments."""
    payload = {"body": "同样的意见"}
    first = intake_client.post(URL, json=payload, headers={"Idempotency-Key": "k-1"})
    second = intake_client.post(URL, json=payload, headers={"Idempotency-Key": "k-2"})
    assert first.get_json()["tracking_number"] != second.get_json()["tracking_number"]
    assert count_cases(db) == 2


def test_reused_idempotency_key_with_other_body_is_refused(db, demo, intake_client):
    """The same key with a different comment is a client error naming the header."""
    headers = {"Idempotency-Key": "reused-key"}
    assert intake_client.post(URL, json={"body": "第一条"}, headers=headers).status_code == 201
    response = intake_client.post(URL, json={"body": "第二条"}, headers=headers)
    errors = assert_errors(response)
    assert errors == {"Idempotency-Key": ["该 Idempotency-Key 已用于另一条不同的留言。"]}
    assert count_cases(db) == 1


@pytest.mark.parametrize(
    "key",
    ["键值", "café", "a" * 256, "two words", "tab\tkey"],
    ids=["chinese", "latin1", "256", "space", "tab"],
)
def test_invalid_idempotency_key_is_refused(db, demo, intake_client, key):
    """A key that is not 1-255 visible ASCII characters gives 422 and creates nothing."""
    response = intake_client.post(URL, json={"body": "留言"}, headers={"Idempotency-Key": key})
    errors = assert_errors(response)
    assert errors == {"Idempotency-Key": ["Idempotency-Key 须为1至255个可见ASCII字符。"]}
    assert count_cases(db) == 0


def test_idempotency_key_of_255_characters_is_accepted(db, demo, intake_client):
    """The longest allowed key works."""
    headers = {"Idempotency-Key": "~" * 255}
    assert intake_client.post(URL, json={"body": "留言"}, headers=headers).status_code == 201


# --- Invalid input -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "field", "message"),
    [
        ({}, "body", "此项为必填项。"),
        ({"subject": "只有标题"}, "body", "此项为必填项。"),
        ({"body": None}, "body", "此项为必填项。"),
        ({"body": ""}, "body", "此项不能为空。"),
        ({"body": " \n\t "}, "body", "此项不能为空。"),
        ({"body": "x" * 5001}, "body", "留言内容不能超过5000字。"),
        ({"body": 123}, "body", "请输入文字。"),
        ({"body": ["a"]}, "body", "请输入文字。"),
        ({"body": {"text": "a"}}, "body", "请输入文字。"),
        ({"body": "a\u0000b"}, "body", "请删除文字中的不可见控制字符。"),
        ({"body": "a\u001bb"}, "body", "请删除文字中的不可见控制字符。"),
        ({"body": "ok", "subject": "a\u0085b"}, "subject", "请删除文字中的不可见控制字符。"),
        ({"body": "ok", "subject": "题" * 201}, "subject", "标题不能超过200字。"),
        ({"body": "ok", "anonymous": "maybe"}, "anonymous", "请选择“是”或“否”。"),
        ({"body": "ok", "anonymous": 10**100}, "anonymous", "请选择“是”或“否”。"),
        ({"body": "ok", "anonymous": []}, "anonymous", "请选择“是”或“否”。"),
        ({"body": "ok", "confidential": 2}, "confidential", "请选择“是”或“否”。"),
        ({"body": "ok", "category": "spam"}, "category", "请从列出的留言类型中选择。"),
        ({"body": "ok", "category": 1}, "category", "请输入文字。"),
        ({"body": "ok", "color": "red"}, "color", "未知字段。"),
        ({"body": "ok", "notice_item": "XC21-99"}, "notice_item", "请从列出的事项中选择。"),
        ({"body": "ok", "notice_item": "x" * 33}, "notice_item", "请从列出的事项中选择。"),
        ({"body": "ok", "email": "bad"}, "email", "请输入有效的电子邮箱，例如 name@example.com。"),
        (
            {"body": "ok", "email": "a@b.cn\r\nBcc: c@d.cn"},
            "email",
            "请输入有效的电子邮箱，例如 name@example.com。",
        ),
        (
            {"body": "ok", "phone": "abc"},
            "phone",
            "请输入由数字组成的电话号码，例如 0932-5552740。",
        ),
        ({"body": "ok", "name": "名" * 101}, "name", "姓名不能超过100字。"),
        (
            {"body": "ok", "anonymous": True, "email": "a@b.cn"},
            "anonymous",
            "您选择了匿名留言：请清空姓名、电话和邮箱，或取消“匿名留言”。",
        ),
    ],
    ids=[
        "missing-body",
        "missing-body-with-subject",
        "null-body",
        "empty-body",
        "blank-body",
        "body-5001",
        "body-number",
        "body-list",
        "body-object",
        "body-nul",
        "body-escape",
        "subject-c1-control",
        "subject-201",
        "anonymous-maybe",
        "anonymous-huge-int",
        "anonymous-list",
        "confidential-2",
        "unknown-category",
        "category-number",
        "unknown-field",
        "unknown-item",
        "item-33",
        "email-bad",
        "email-header-injection",
        "phone-abc",
        "name-101",
        "anonymous-with-email",
    ],
)
def test_invalid_comment_gets_422_with_chinese_message(
    db, demo, intake_client, payload, field, message
):
    """Each mistake is named by field with a Chinese message, and nothing is saved."""
    errors = assert_errors(intake_client.post(URL, json=payload))
    assert message in errors[field]
    assert count_cases(db) == 0


def test_lone_surrogate_in_body_is_refused(db, demo, intake_client):
    """A lone UTF-16 surrogate (valid JSON escape, invalid text) in the body is a 422."""
    errors = assert_errors(post_raw(intake_client, b'{"body": "a\\ud800b"}'))
    assert errors == {"body": ["请删除文字中的不可见控制字符。"]}


def test_lone_surrogate_in_optional_field_is_refused(db, demo, intake_client):
    """A lone surrogate in a one-line field is refused too, not stored."""
    errors = assert_errors(post_raw(intake_client, b'{"body": "ok", "name": "\\udfff"}'))
    assert errors == {"name": ["请删除文字中的不可见控制字符。"]}
    assert count_cases(db) == 0


def test_lone_surrogate_in_unknown_field_name_is_refused(db, demo, intake_client):
    """A field name that is a lone surrogate gets a 422 that says so, not a crash."""
    errors = assert_errors(post_raw(intake_client, b'{"body": "ok", "\\ud800": 1}'))
    assert errors == {"_schema": ["字段名须为有效文字。"]}


@pytest.mark.parametrize("document", [b"[1]", b'"str"', b"null", b"42", b"true", b"[]"])
def test_json_that_is_not_an_object_is_refused(db, demo, intake_client, document):
    """Valid JSON that is not an object gets 422 asking for an object."""
    errors = assert_errors(post_raw(intake_client, document))
    assert errors == {"_schema": ["请求内容须为 JSON 对象。"]}


@pytest.mark.parametrize(
    ("query", "headers"),
    [("?lang=en", {}), ("", {"Accept-Language": "en-GB,en;q=0.8"})],
    ids=["lang-parameter", "accept-language"],
)
def test_errors_in_english_on_request(db, demo, intake_client, query, headers):
    """?lang=en or Accept-Language: en gives English messages."""
    response = intake_client.post(
        f"{URL}{query}", json={"body": "", "color": "red", "anonymous": "maybe"}, headers=headers
    )
    assert assert_errors(response) == {
        "body": ["This field cannot be empty."],
        "color": ["Unknown field."],
        "anonymous": ["Choose yes or no."],
    }


def test_errors_in_chinese_by_default(db, demo, intake_client):
    """Without a language preference (or preferring Chinese) the messages are Chinese."""
    for headers in ({}, {"Accept-Language": "zh-CN,zh;q=0.9"}):
        response = intake_client.post(URL, json={"body": ""}, headers=headers)
        assert assert_errors(response) == {"body": ["此项不能为空。"]}


# --- Not JSON at all ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        b'{"body": "unterminated',
        b"",
        b"body=form-encoded",
        b'{"body": "\xff\xfe\xc0"}',
        "测试".encode("gbk"),
        b"[" * 100_000,
        b'{"a":' * 100_000,
        b'{"body": ' + b"9" * 10_000 + b"}",
        b'{"body": "ok",}',
        b"\x00",
    ],
    ids=[
        "unterminated",
        "empty",
        "form-encoded",
        "invalid-utf8",
        "gbk",
        "deep-array",
        "deep-object",
        "10000-digits",
        "trailing-comma",
        "nul",
    ],
)
def test_malformed_json_is_a_json_400(db, demo, intake_client, data):
    """A body that is not JSON gets 400 with a JSON explanation, and nothing is saved."""
    response = post_raw(intake_client, data)
    assert_json_error(response, 400)
    assert response.get_json()["message"] == "请求内容不是有效的 JSON。"
    assert count_cases(db) == 0


def test_malformed_json_message_in_english(db, demo, intake_client):
    """The 400 message follows the requested language."""
    response = post_raw(intake_client, b"{", query="?lang=en")
    assert_json_error(response, 400)
    assert response.get_json()["message"] == "The request body is not valid JSON."


def test_unknown_api_path_is_a_json_404(db, demo, intake_client):
    """An unknown path under /api/ answers in JSON."""
    assert_json_error(intake_client.get("/api/v1/nothing-here"), 404)


def test_wrong_method_is_a_json_405(db, demo, intake_client):
    """GET on the create endpoint answers 405 in JSON."""
    for response in (intake_client.get(URL), intake_client.delete("/api/v1/notices")):
        assert_json_error(response, 405)


def test_too_large_request_is_a_json_413(db, demo, settings):
    """A body above MAX_CONTENT_LENGTH is refused with 413 in JSON, nothing saved."""
    from intake import create_app

    client = create_app({**settings, "MAX_CONTENT_LENGTH": 1000}).test_client()
    assert_json_error(client.post(URL, json={"body": "x" * 2000}), 413)
    assert count_cases(db) == 0
    assert client.post(URL, json={"body": "x" * 100}).status_code == 201


# --- Following a comment -----------------------------------------------------------------------


@pytest.fixture
def receipt(db, demo, intake_client) -> dict:
    response = intake_client.post(URL, json={"body": "网评员管理问题", "notice_item": "XC21-04"})
    assert response.status_code == 201
    return response.get_json()


def test_right_passcode_shows_the_case(intake_client, receipt):
    """With the passcode the citizen sees number, status, time received and (no) replies."""
    response = intake_client.get(
        f"{URL}/{receipt['tracking_number']}", headers={"X-Passcode": receipt["passcode"]}
    )
    assert response.status_code == 200
    case = response.get_json()
    assert case["tracking_number"] == receipt["tracking_number"]
    assert case["status"] == "assigned"
    assert case["received_at"] == receipt["received_at"]
    assert case["replies"] == []
    assert "body" not in case  # the tracking view does not repeat contact data or the text
    assert "passcode" not in case


@pytest.mark.parametrize(
    "number_of",
    [str.lower, lambda n: n.replace("-", ""), lambda n: n.lower().replace("-", " ")],
    ids=["lower-case", "no-dash", "lower-with-space"],
)
def test_tracking_number_as_citizens_type_it(intake_client, receipt, number_of):
    """Lower case, a missing dash or a space instead still find the case."""
    number = number_of(receipt["tracking_number"])
    response = intake_client.get(f"{URL}/{number}", headers={"X-Passcode": receipt["passcode"]})
    assert response.status_code == 200
    assert response.get_json()["tracking_number"] == receipt["tracking_number"]


def test_passcode_in_lower_case_works(intake_client, receipt):
    """The passcode is not case-sensitive for the citizen."""
    response = intake_client.get(
        f"{URL}/{receipt['tracking_number']}", headers={"X-Passcode": receipt["passcode"].lower()}
    )
    assert response.status_code == 200


def test_wrong_passcode_and_unknown_number_look_the_same(intake_client, receipt):
    """Wrong passcode, missing passcode and unknown number all give the same 404."""
    number = receipt["tracking_number"]
    wrong = "Z" * 8 if receipt["passcode"] != "Z" * 8 else "Y" * 8
    unknown = "2222-2222" if number != "2222-2222" else "3333-3333"
    answers = [
        intake_client.get(f"{URL}/{number}", headers={"X-Passcode": wrong}),
        intake_client.get(f"{URL}/{unknown}", headers={"X-Passcode": receipt["passcode"]}),
        intake_client.get(f"{URL}/{number}"),
        intake_client.get(f"{URL}/{number}", headers={"X-Passcode": ""}),
    ]
    for response in answers:
        assert_json_error(response, 404)
    assert len({response.get_data() for response in answers}) == 1
    assert answers[0].get_json()["message"] == "查询编号与查询码不匹配。"


@pytest.mark.parametrize(
    ("path", "passcode"),
    [
        ("%00", "x"),
        ("AAAA%00AAA", "x"),
        ("%ED%A0%80", "x"),
        ("A" * 10_000, "x"),
        ("2222-2222", "\x00"),
        ("2222-2222", "键"),
        ("2222-2222", "A" * 100_000),
    ],
    ids=[
        "nul",
        "nul-inside",
        "surrogate-bytes",
        "long-number",
        "nul-code",
        "chinese-code",
        "long-code",
    ],
)
def test_hostile_lookup_is_a_404(db, demo, intake_client, path, passcode):
    """Odd numbers or passcodes are just not found, never a server error."""
    assert_json_error(intake_client.get(f"{URL}/{path}", headers={"X-Passcode": passcode}), 404)


# --- Notices -----------------------------------------------------------------------------------


def test_notices_list_the_demo_notice_with_its_items(db, demo, intake_client):
    """The published notice with its 12 items, each with area, title and office code."""
    response = intake_client.get("/api/v1/notices")
    assert response.status_code == 200
    notices = response.get_json()
    assert isinstance(notices, list)
    assert len(notices) == 1
    notice = notices[0]
    assert {"id", "title", "items"} <= set(notice)
    assert isinstance(notice["id"], int)
    assert (
        notice["title"] == "中共通渭县委宣传部关于市委第七提级交叉巡察组巡察反馈意见整改情况的通报"
    )
    assert [item["code"] for item in notice["items"]] == list(ITEM_CODES)
    for item in notice["items"]:
        assert {"code", "title", "area", "office"} <= set(item)
        assert all(isinstance(item[key], str) and item[key] for key in ("title", "area", "office"))
    offices = {item["code"]: item["office"] for item in notice["items"]}
    assert offices["XC21-04"] == "cyber"
    assert offices["XC21-08"] == "finance"
    assert offices["XC21-02"] == "office"
    assert len({item["area"] for item in notice["items"]}) == 3


def test_no_notices_before_any_is_published(db, intake_client):
    """An empty installation lists no notices (an empty array, not an error)."""
    response = intake_client.get("/api/v1/notices")
    assert response.status_code == 200
    assert response.get_json() == []


# --- Anything a client can send ----------------------------------------------------------------

#: Any character, with the troublesome ones (NUL, surrogates, controls, BOM) made frequent.
ANY_CHARACTER = st.one_of(
    st.characters(exclude_categories=()),
    st.sampled_from(["\x00", "\ud800", "\udfff", "\r", "\n", "\x1b", "\x85", "\u202e", "\ufeff"]),
)
ANY_TEXT = st.text(ANY_CHARACTER, max_size=40)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | ANY_TEXT,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(ANY_TEXT, children, max_size=3)
    ),
    max_leaves=10,
)
#: Readable text: letters, marks, digits, punctuation, symbols and spaces.
READABLE = st.text(st.characters(categories=("L", "M", "N", "P", "S", "Zs")), max_size=60)
#: Plausible values for the contract's fields, so that valid comments are generated too.
PLAUSIBLE = {
    "subject": READABLE,
    "category": st.sampled_from(CATEGORIES),
    "notice_item": st.sampled_from(ITEM_CODES),
    "name": READABLE,
    "phone": st.from_regex(r"\+?[0-9][0-9 \-]{4,20}", fullmatch=True),
    "email": st.emails(),
    "anonymous": st.booleans(),
    "confidential": st.booleans(),
}
#: Mostly well-formed comments: a readable body and plausible (or absent) other fields.
WELL_FORMED = st.fixed_dictionaries(
    {"body": READABLE.filter(str.strip)},
    optional={name: plausible | st.none() for name, plausible in PLAUSIBLE.items()},
)
#: The contract's field names with plausible or arbitrary values, and random extra keys.
ARBITRARY = st.builds(
    lambda extra, fields: {**extra, **fields},
    st.dictionaries(st.text(max_size=12), JSON_VALUES, max_size=2),
    st.fixed_dictionaries(
        {},
        optional={
            name: plausible | JSON_VALUES
            for name, plausible in {"body": READABLE, **PLAUSIBLE}.items()
        },
    ),
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(document=WELL_FORMED | ARBITRARY)
def test_any_json_object_gets_201_or_422(db, demo, intake_client, document):
    """Whatever object a client sends, the answer is a receipt or a 422, never a 500."""
    response = post_raw(intake_client, json.dumps(document))
    event(f"status {response.status_code}")
    assert response.status_code in (201, 422), response.get_data(as_text=True)
    if response.status_code == 201:
        assert set(response.get_json()) >= RECEIPT_FIELDS
    else:
        assert_errors(response)


def test_api_sets_no_cookie_even_when_a_language_is_chosen(db, demo, intake_client):
    """The API answers in the chosen language without starting a session."""
    response = intake_client.post("/api/v1/feedback?lang=en", json={"body": ""})
    assert response.json["errors"]["body"] == ["This field cannot be empty."]
    assert "Set-Cookie" not in response.headers
