"""Replies: templates, review on the office's levels, sending only when finally approved,
the public version on the tracking page, formal notices, answers to a whole campaign."""

from __future__ import annotations

import re

from sqlalchemy import select, update

from shared.models import Case, Office, OutboxEmail, Reply, ReplyTemplate
from tests.conftest import case_by_number, csrf_token
from tests.factories import SETTINGS, log_in, make_case, make_staff, make_token


def _auth(token):
    return {"Authorization": f"Bearer {token}"}


def _levels(db, code: str, levels: int, email: str | None = None) -> None:
    with db.transaction() as session:
        session.execute(
            update(Office).where(Office.code == code).values(review_levels=levels, email=email)
        )


def _mails(db, number: str) -> list[OutboxEmail]:
    with db.session() as session:
        case = session.scalar(select(Case).where(Case.tracking_number == number))
        mails = select(OutboxEmail).where(OutboxEmail.case_id == case.id)
        # In the order they were written: without ORDER BY, PostgreSQL returns rows in the
        # order they sit on disk, which is not that once earlier tests have deleted rows.
        return list(session.scalars(mails.order_by(OutboxEmail.id)))


def test_two_levels_of_review_then_the_reply_is_sent(db, demo, responder_client):
    """A reply of an office with two review levels goes out only after two different reviewers
    approved it; its author cannot approve it, nor one reviewer sign both levels."""
    _levels(db, "cyber", 2)
    writer = make_token(db, "cyber1", "officer", ["cyber"])
    first = make_token(db, "rev1", "reviewer", ["cyber"])
    second = make_token(db, "rev2", "reviewer", ["cyber"])
    number = make_case(
        db, body="网络舆情处置不透明", email="citizen@example.cn", name="张三"
    ).case.tracking_number
    created = responder_client.post(
        f"/api/v1/cases/{number}/replies",
        json={"body": "张三：经核查，答复如下。", "public_body": "经核查，答复如下。"},
        headers=_auth(writer),
    )
    assert created.status_code == 201 and created.json["state"] == "in_review"
    reply_id = created.json["id"]
    own = responder_client.post(f"/api/v1/replies/{reply_id}/approve", headers=_auth(writer))
    assert own.status_code == 422
    step = responder_client.post(f"/api/v1/replies/{reply_id}/approve", headers=_auth(first))
    assert step.json["state"] == "in_review" and step.json["levels_approved"] == 1
    assert len(_mails(db, number)) == 1  # only the acknowledgement so far
    again = responder_client.post(f"/api/v1/replies/{reply_id}/approve", headers=_auth(first))
    assert again.status_code == 403
    done = responder_client.post(f"/api/v1/replies/{reply_id}/approve", headers=_auth(second))
    assert done.json["state"] == "sent"
    answer = _mails(db, number)[-1]
    assert number in answer.subject and "张三：经核查" in answer.body_text
    assert answer.headers["In-Reply-To"] == _mails(db, number)[0].message_id
    stored = case_by_number(db, number)
    assert stored.status == "replied" and stored.first_replied_at is not None


def test_returned_reply_is_changed_and_reviewed_again(db, demo, responder_client):
    """A reviewer returns the reply with a comment; the author changes it; review restarts."""
    writer = make_token(db, "fin1", "officer", ["finance"])
    reviewer = make_token(db, "rev1", "reviewer", ["finance"])
    _levels(db, "finance", 1)
    number = make_case(db, body="财务报销不公开").case.tracking_number
    reply_id = responder_client.post(
        f"/api/v1/cases/{number}/replies", json={"body": "初稿"}, headers=_auth(writer)
    ).json["id"]
    no_comment = responder_client.post(
        f"/api/v1/replies/{reply_id}/return", json={}, headers=_auth(reviewer)
    )
    assert no_comment.status_code == 422
    returned = responder_client.post(
        f"/api/v1/replies/{reply_id}/return",
        json={"comment": "请补充依据"},
        headers=_auth(reviewer),
    )
    assert returned.json["state"] == "returned"
    make_staff(db, "fin1web", "officer", ["finance"])
    with db.transaction() as session:
        reply = session.get(Reply, reply_id)
        page_author = reply.author_id
    assert page_author is not None
    resubmitted = responder_client.post(f"/api/v1/replies/{reply_id}/submit", headers=_auth(writer))
    assert resubmitted.json["state"] == "in_review" and resubmitted.json["levels_approved"] == 0
    sent = responder_client.post(f"/api/v1/replies/{reply_id}/approve", headers=_auth(reviewer))
    assert sent.json["state"] == "sent"


def test_no_review_levels_sends_at_once(db, demo, responder_client):
    """An office that set 0 review levels sends a submitted reply straight away."""
    _levels(db, "civil", 0)
    writer = make_token(db, "civil1", "officer", ["civil"])
    number = make_case(db, body="文明创建志愿服务").case.tracking_number
    created = responder_client.post(
        f"/api/v1/cases/{number}/replies", json={"body": "已答复"}, headers=_auth(writer)
    )
    assert created.json["state"] == "sent"


def test_a_draft_is_never_sent(db, demo, responder_client):
    """Saving a draft puts nothing in the outbox."""
    writer = make_token(db, "fin1", "officer", ["finance"])
    number = make_case(db, body="财务报销不公开", email="c@example.cn").case.tracking_number
    created = responder_client.post(
        f"/api/v1/cases/{number}/replies",
        json={"body": "草稿", "submit": False},
        headers=_auth(writer),
    )
    assert created.json["state"] == "draft"
    assert len(_mails(db, number)) == 1


def test_reviewer_of_another_office_cannot_reach_the_reply(db, demo, responder_client):
    """A reviewer of another office gets 404 for the reply, as for the case."""
    writer = make_token(db, "fin1", "officer", ["finance"])
    stranger = make_token(db, "rev9", "reviewer", ["cyber"])
    number = make_case(db, body="财务报销不公开").case.tracking_number
    reply_id = responder_client.post(
        f"/api/v1/cases/{number}/replies", json={"body": "答复"}, headers=_auth(writer)
    ).json["id"]
    response = responder_client.post(f"/api/v1/replies/{reply_id}/approve", headers=_auth(stranger))
    assert response.status_code == 404


def test_tracking_page_shows_the_redacted_version(db, demo, responder_client, intake_client):
    """The citizen's mail holds the full reply; the tracking page the version without names."""
    _levels(db, "civil", 0)
    writer = make_token(db, "civil1", "officer", ["civil"])
    receipt = make_case(db, body="文明创建志愿服务", email="c@example.cn")
    number = receipt.case.tracking_number
    responder_client.post(
        f"/api/v1/cases/{number}/replies",
        json={"body": "王五同志（电话13800000000）：已处理。", "public_body": "已处理。"},
        headers=_auth(writer),
    )
    tracked = intake_client.get(
        f"/api/v1/feedback/{number}", headers={"X-Passcode": receipt.passcode}
    ).json
    assert [r["body"] for r in tracked["replies"]] == ["已处理。"]
    page = intake_client.get(f"/track/{number}?passcode={receipt.passcode}")
    assert "13800000000" not in page.get_data(as_text=True)
    assert "13800000000" in _mails(db, number)[-1].body_text


def test_templates_fill_in_the_case(db, demo, responder_client):
    """The demo's formal notices exist; choosing one fills in the citizen's name and number."""
    make_staff(db, "fin1", "officer", ["finance"])
    number = make_case(db, body="财务报销不公开", name="李四").case.tracking_number
    with db.session() as session:
        names = set(session.scalars(select(ReplyTemplate.name)))
        answer_id = session.scalar(select(ReplyTemplate.id).where(ReplyTemplate.name == "答复意见"))
    assert {"受理告知", "不予受理告知", "延期告知", "答复意见"} <= names
    log_in(responder_client, "fin1")
    html = responder_client.get(f"/cases/{number}?template={answer_id}").get_data(as_text=True)
    composer = re.search(r'<textarea id="reply-body"[^>]*>(.*?)</textarea>', html, re.S)[1]
    assert composer.startswith("李四：") and number in composer and "30日内" in composer


def test_write_review_and_send_on_the_case_page(db, demo, responder_client):
    """The HTML composer saves to review; a reviewer approves on the page; it is sent."""
    _levels(db, "finance", 1)
    make_staff(db, "fin1", "officer", ["finance"])
    make_staff(db, "rev1", "reviewer", ["finance"])
    number = make_case(db, body="财务报销不公开", email="c@example.cn").case.tracking_number
    log_in(responder_client, "fin1")
    token = csrf_token(responder_client, f"/cases/{number}")
    responder_client.post(
        f"/cases/{number}/replies",
        data={
            "csrf_token": token,
            "kind": "answer",
            "body": "经核查，答复如下。",
            "public_body": "经核查，答复如下。",
            "public": "on",
            "action": "submit",
        },
    )
    page = responder_client.get(f"/cases/{number}").get_data(as_text=True)
    assert "等待审核" in page and 'name="decision"' not in page  # the author cannot review
    log_in(responder_client, "rev1")
    assert number in responder_client.get("/replies/review").get_data(as_text=True)
    with db.session() as session:
        reply_id = session.scalar(select(Reply.id))
    token = csrf_token(responder_client, f"/cases/{number}")
    responder_client.post(
        f"/cases/{number}/replies/{reply_id}/review",
        data={"csrf_token": token, "decision": "approve"},
    )
    assert case_by_number(db, number).status == "replied"
    assert "经核查，答复如下。" in _mails(db, number)[-1].body_text


def test_acceptance_and_refusal_notices_change_the_case(db, demo, responder_client):
    """Acceptance starts the answer clock; refusal ends the case as not accepted."""
    _levels(db, "finance", 0)
    writer = make_token(db, "fin1", "officer", ["finance"])
    accepted = make_case(db, body="财务报销不公开").case.tracking_number
    refused = make_case(db, body="财务问题与本部门无关").case.tracking_number
    responder_client.post(
        f"/api/v1/cases/{accepted}/replies",
        json={"body": "予以受理", "kind": "acceptance"},
        headers=_auth(writer),
    )
    responder_client.post(
        f"/api/v1/cases/{refused}/replies",
        json={"body": "不予受理，理由如下", "kind": "refusal"},
        headers=_auth(writer),
    )
    stored = case_by_number(db, accepted)
    assert stored.accepted_at is not None and stored.status == "assigned"
    assert case_by_number(db, refused).status == "rejected"


def test_one_answer_to_a_whole_campaign(db, demo, responder_client):
    """An answer marked for the whole cluster reaches every open case of the campaign."""
    _levels(db, "finance", 0)
    writer = make_token(db, "fin1", "officer", ["finance"])
    text = "我们反映县委宣传部财务室报销管理混乱，差旅费报销不按规定执行，请求彻底核查并公开结果。"
    numbers = [
        make_case(
            db, body=f"{text}（第{n}位来信人）", email=f"c{n}@example.cn"
        ).case.tracking_number
        for n in range(3)
    ]
    assert case_by_number(db, numbers[0]).cluster_id == case_by_number(db, numbers[2]).cluster_id
    created = responder_client.post(
        f"/api/v1/cases/{numbers[0]}/replies",
        json={"body": "关于财务报销问题的统一答复", "whole_cluster": True},
        headers=_auth(writer),
    )
    assert created.json["state"] == "sent"
    for number in numbers:
        assert case_by_number(db, number).status == "replied"
        assert "统一答复" in _mails(db, number)[-1].body_text


def test_reply_mail_threads_on_the_citizens_own_mail(db, demo):
    """With a citizen's mail on the case, the answer's In-Reply-To names it."""
    from shared.models import Message
    from shared.operations import replies

    case = make_case(db, body="财务报销不公开", email="c@example.cn").case
    with db.transaction() as session:
        session.add(
            Message(case_id=case.id, kind="inbound", body="补充", message_id="<citizen-2@mail.cn>")
        )
    user = make_staff(db, "fin1", "officer", ["finance"])
    _levels(db, "finance", 0)
    with db.transaction() as session:
        from sqlalchemy.orm import selectinload

        from shared.models import StaffUser

        user = session.scalar(
            select(StaffUser)
            .where(StaffUser.username == "fin1")
            .options(selectinload(StaffUser.offices))
        )
        stored = session.get(Case, case.id)
        reply = replies.draft(session, user, stored, "答复")
        replies.submit(session, user, reply, SETTINGS)
    mail = _mails(db, case.tracking_number)[-1]
    assert mail.headers["In-Reply-To"] == "<citizen-2@mail.cn>"
    assert "<citizen-2@mail.cn>" in mail.headers["References"]


def test_template_does_not_reveal_a_confidential_name_to_an_officer(db, demo, responder_client):
    """{name} stays empty for an officer when the citizen asked for confidentiality."""
    make_staff(db, "fin1", "officer", ["finance"])
    number = make_case(
        db, body="财务报销不公开", name="王秘密", confidential=True
    ).case.tracking_number
    with db.session() as session:
        answer_id = session.scalar(select(ReplyTemplate.id).where(ReplyTemplate.name == "答复意见"))
    log_in(responder_client, "fin1")
    html = responder_client.get(f"/cases/{number}?template={answer_id}").get_data(as_text=True)
    assert "王秘密" not in html and number in html
