"""The public page of answered comments (留言选登) and each notice's counts."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select, update

from shared.models import Case, CaseStatus, Message, Notice, NoticeStatus, StaffUser
from shared.operations import publication
from tests.factories import make_case, make_staff

ANSWER = "经核查，整改台账已在县政府网站公开。"
T0 = datetime(2026, 10, 1, 2, 0, tzinfo=UTC)


def _answer(db, case, body: str = ANSWER, at: datetime = T0) -> None:
    """A public answer sent at ``at``, as the replies workflow leaves it."""
    with db.transaction() as session:
        row = session.get_one(Case, case.id)
        session.add(Message(case_id=row.id, kind="reply", body=body, public=True, created_at=at))
        row.status, row.first_replied_at = CaseStatus.REPLIED, row.first_replied_at or at


def _publish(db, case, comment: str | None = None) -> None:
    """Published by an admin; the comment as given, else the automatic redaction."""
    with db.session() as session:
        exists = session.scalar(select(StaffUser.id).where(StaffUser.username == "pubadmin"))
    if exists is None:
        make_staff(db, "pubadmin", "admin")
    with db.transaction() as session:
        admin = session.scalar(select(StaffUser).where(StaffUser.username == "pubadmin"))
        row = session.get_one(Case, case.id)
        text = comment if comment is not None else publication.draft_comment(session, row)
        publication.publish(session, admin, row, text)


def _published_case(db, body: str, *, at: datetime = T0, answer: str = ANSWER, **fields):
    case = make_case(db, body=body, publish_consent=True, **fields).case
    _answer(db, case, answer, at)
    _publish(db, case)
    return case


def _page(client, query: str = "") -> tuple[int, str]:
    response = client.get(f"/answered/{query}")
    return response.status_code, response.get_data(as_text=True)


def _comments(html: str) -> list[str]:
    return re.findall(r'<div class="reply answered-comment" lang="zh-CN">([^<]*)</div>', html)


def test_only_consented_published_answered_cases_appear(db, demo, intake_client):
    """Consent, an answer and staff's publishing are all needed; spam never shows."""
    shown = _published_case(db, "甲：请公开整改台账")
    not_published = make_case(db, body="乙：未选登的留言", publish_consent=True).case
    _answer(db, not_published)
    no_answer = make_case(db, body="丙：还没有答复的留言", publish_consent=True).case
    no_consent = make_case(db, body="丁：不同意公开的留言").case
    _answer(db, no_consent)
    spam = _published_case(db, "戊：后来标为垃圾的留言")
    with db.transaction() as session:
        # Flags set behind the operations' back: the page checks again on every read.
        session.execute(
            update(Case).where(Case.id.in_([no_answer.id, no_consent.id])).values(published=True)
        )
        session.execute(update(Case).where(Case.id == spam.id).values(status=CaseStatus.SPAM))
    status, html = _page(intake_client)
    assert status == 200
    assert _comments(html) == ["甲：请公开整改台账"]
    assert ANSWER in html and shown.tracking_number not in html
    for hidden in ("乙", "丙", "丁", "戊"):
        assert f"{hidden}：" not in html


def test_personal_data_in_the_comment_does_not_reach_the_page(db, demo, intake_client):
    """Name, phone, email, ID number and address written in the comment are redacted before
    staff publish; the submitter's own fields, tracking number and passcode never show."""
    body = (
        "我是张三丰，手机13912345678，邮箱zhang.sanfeng@example.cn，"
        "身份证号62052319800101123X，住在平襄镇东大街12号3单元501室。"
        "反映：整改台账没有公开。"
    )
    receipt = make_case(
        db,
        body=body,
        name="张三丰",
        phone="0931-5123456",
        email="zsf@example.cn",
        publish_consent=True,
    )
    _answer(db, receipt.case)
    _publish(db, receipt.case)
    status, html = _page(intake_client)
    assert status == 200 and "反映：整改台账没有公开。" in html
    for personal in (
        "张三丰",
        "13912345678",
        "zhang.sanfeng",
        "example.cn",
        "62052319800101123X",
        "东大街12号",
        "501室",
        "5123456",
        receipt.case.tracking_number,
        receipt.passcode,
    ):
        assert personal not in html, personal
    assert "＊＊" in html


def test_staff_edit_is_what_the_public_reads(db, demo, intake_client):
    """The redaction is a first draft: the version staff publish is the one shown."""
    case = make_case(db, body="原文：请公开台账", publish_consent=True).case
    _answer(db, case)
    _publish(db, case, "编辑后的公开版本")
    html = _page(intake_client)[1]
    assert _comments(html) == ["编辑后的公开版本"] and "原文" not in html


def test_unpublish_takes_it_off_the_page(db, demo, intake_client):
    case = _published_case(db, "将被撤下的留言")
    assert "将被撤下的留言" in _page(intake_client)[1]
    with db.transaction() as session:
        admin = session.scalar(select(StaffUser).where(StaffUser.username == "pubadmin"))
        publication.unpublish(session, admin, session.get_one(Case, case.id))
    status, html = _page(intake_client)
    assert status == 200 and "将被撤下的留言" not in html
    assert 'id="answered-none"' in html


def test_search_reads_the_published_texts_only(db, demo, intake_client):
    """Words of the public comment or the public answer find it; a name staff removed does
    not; several words must all be there."""
    _published_case(db, "路灯坏了，张三丰反映", name="张三丰", answer="已安排维修路灯。")
    _published_case(db, "网评员经费不透明", answer="经费明细已公开。")
    assert _comments(_page(intake_client, "?q=路灯")[1]) == ["路灯坏了，＊＊反映"]
    assert _comments(_page(intake_client, "?q=明细")[1]) == ["网评员经费不透明"]
    assert _comments(_page(intake_client, "?q=经费+公开")[1]) == ["网评员经费不透明"]
    status, html = _page(intake_client, "?q=张三丰")
    assert status == 200 and _comments(html) == [] and 'id="answered-none"' in html
    assert _comments(_page(intake_client, "?q=100%25")[1]) == []  # LIKE wildcards are text


def test_notice_filter(db, demo, intake_client):
    """Each notice's comments on their own; the filter lists the notices with their counts."""
    with db.transaction() as session:
        other = Notice(
            slug="other", title="另一份通告", issuer="县委", status=NoticeStatus.PUBLISHED
        )
        session.add(other)
        session.flush()
        other_id = other.id
        demo_id = session.scalar(select(Notice.id).where(Notice.id != other_id))
    _published_case(db, "演示通告的留言", notice_item="XC21-04")
    _published_case(db, "另一份通告的留言")
    with db.transaction() as session:
        session.execute(
            update(Case).where(Case.body == "另一份通告的留言").values(notice_id=other_id)
        )
    assert _comments(_page(intake_client, f"?notice={other_id}")[1]) == ["另一份通告的留言"]
    assert _comments(_page(intake_client, f"?notice={demo_id}")[1]) == ["演示通告的留言"]
    html = _page(intake_client)[1]
    assert len(_comments(html)) == 2 and "另一份通告" in html
    assert f'<option value="{other_id}"' in html


def test_pagination_newest_answer_first_without_javascript(db, demo, intake_client):
    """Twenty to a page, newest answer first; plain links to the other pages keep the
    filters and the language."""
    for number in range(23):
        _published_case(db, f"第{number:02d}条留言", at=T0 + timedelta(hours=number))
    first = _page(intake_client, "?lang=en&q=留言")[1]
    assert _comments(first)[:2] == ["第22条留言", "第21条留言"] and len(_comments(first)) == 20
    assert "Page 1 of 2" in first
    link = re.search(r'href="([^"]+)" rel="next"', first)[1].replace("&amp;", "&")
    assert "page=2" in link and "lang=en" in link and "q=" in link
    second = intake_client.get(link).get_data(as_text=True)
    assert _comments(second) == ["第02条留言", "第01条留言", "第00条留言"]
    assert 'rel="prev"' in second and 'rel="next"' not in second
    assert _comments(_page(intake_client, "?page=99")[1]) == _comments(second)  # the last


def test_empty_page_says_so_in_both_languages(db, demo, intake_client):
    status, html = _page(intake_client)
    assert status == 200 and 'id="answered-none"' in html and "<article" not in html
    html = _page(intake_client, "?lang=en")[1]
    assert "No answered comments have been published yet." in html
    html = _page(intake_client, "?lang=en&q=nothing")[1]
    assert "No answered comment matches your search." in html


def test_hostile_text_is_escaped(db, demo, intake_client):
    _published_case(db, "<script>alert('x')</script><img src=x onerror=alert(1)>")
    html = _page(intake_client, "?q=<script>")[1]
    assert "<script>alert" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert" in html


@pytest.mark.parametrize(
    "query", ["?page=abc", "?page=0", "?notice=1000000000000000000000000000000", "?q=%00x"]
)
def test_bad_filters_get_a_message_not_an_error(db, demo, intake_client, query):
    status, html = _page(intake_client, query + "&lang=en")
    assert status == 422 and 'class="error-summary"' in html and "<article" not in html


def test_counts_per_notice_leave_spam_out(db, demo, intake_client):
    """Received and answered per notice, spam left out; on the notice page and this one."""
    with db.session() as session:
        notice_id = session.scalar(select(Notice.id))
    answered = make_case(db, body="已答复的", notice_item="XC21-04").case
    _answer(db, answered)
    make_case(db, body="未答复的", notice_item="XC21-04")
    spam = make_case(db, body="垃圾留言", notice_item="XC21-04").case
    _answer(db, spam)
    make_case(db, body="不属于通告的")  # no notice
    with db.transaction() as session:
        session.execute(update(Case).where(Case.id == spam.id).values(status=CaseStatus.SPAM))
    with db.session() as session:
        assert publication.notice_counts(session) == {notice_id: (2, 1)}
    html = intake_client.get("/?lang=en").get_data(as_text=True)
    assert "2 comments received, 1 answered" in html
    assert f"/answered/?notice={notice_id}" in html
    html = _page(intake_client, "?lang=en")[1]
    assert "2 comments received, 1 answered" in html


def test_the_page_is_linked_from_every_intake_page(db, demo, intake_client):
    html = intake_client.get("/track?lang=en").get_data(as_text=True)
    assert 'href="/answered/?lang=en"' in html


def test_searches_are_rate_limited_browsing_is_not(db, demo, settings):
    """A search costs a scan of the published texts: limited per address like the look-ups.
    Reading the pages without a search is not."""
    from intake import create_app

    client = create_app({**settings, "RATELIMIT_ENABLED": True}).test_client()
    browsing = {client.get(f"/answered/?page={i % 3 + 1}").status_code for i in range(35)}
    assert browsing == {200}
    searches = [client.get(f"/answered/?q=台账{i}").status_code for i in range(31)]
    assert searches == [200] * 30 + [429]


@pytest.mark.parametrize(
    ("written", "published"),
    [
        ("电话：139 1234 5678，座机(0931)5123456", "电话：＊＊，座机(＊＊"),
        ("邮箱 li.si+x@mail.example.com。", "邮箱 ＊＊。"),
        ("身份证62052319800101123x", "身份证＊＊"),
        ("家住幸福小区5栋2单元301室", "家住＊＊"),
        ("我叫王小明，住李家村三组", "我叫＊＊，住＊＊"),
        # Not personal: dates, lines, amounts and years stay as written.
        ("2024年3月1号坐2号线，花了1200元", "2024年3月1号坐2号线，花了1200元"),
    ],
)
def test_redaction_examples(written, published):
    assert publication.redact(written) == published


_HAN_TEXT = st.text(alphabet=st.sampled_from("整改台账公开网评员经费问题反映，。、 "), max_size=30)


@given(
    before=_HAN_TEXT,
    after=_HAN_TEXT,
    mobile=st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True),
    id_card=st.from_regex(r"[1-6][0-9]{16}[0-9X]", fullmatch=True),
    email=st.from_regex(r"[a-z][a-z0-9._]{0,10}@[a-z0-9]{1,10}\.(cn|com)", fullmatch=True),
)
def test_redaction_removes_numbers_and_addresses_anywhere(before, after, mobile, id_card, email):
    """Whatever surrounds them, phone and ID numbers and email addresses do not survive."""
    text = f"{before}{mobile}{after}{id_card}{before}{email}{after}"
    redacted = publication.redact(text)
    assert mobile not in redacted and id_card not in redacted and email not in redacted
    assert not re.search(r"\d{7}", redacted)


def test_an_answer_that_greets_the_citizen_by_name_is_published_without_it(db, demo, intake_client):
    """Replies start "{name}：" from the templates; the tracking page may greet the citizen,
    the public page must not, nor may a search for the name find the comment."""
    greeting = "王建华：\n\n您反映的问题已收悉，请拨打13912345678联系经办人。" + ANSWER
    _published_case(db, "请公开整改台账的进展", answer=greeting, name="王建华")
    status, html = _page(intake_client)
    assert status == 200 and ANSWER in html
    assert "王建华" not in html and "13912345678" not in html
    assert "请公开整改台账的进展" not in _page(intake_client, "?q=王建华")[1]
