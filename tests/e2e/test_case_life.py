"""The whole life of a comment through the real interfaces: the web form, the staff pages,
review, the worker delivering to an SMTP server, the tracking page, ratings, re-handling, and
the citizen's email reply joining the case through the LMTP receiver."""

from __future__ import annotations

from email.message import EmailMessage

from sqlalchemy import select, update

from shared.models import Case, Message, Office
from tests.conftest import case_by_number, csrf_token
from tests.factories import log_in, make_staff
from tests.intake.test_form import post_form, receipt_of
from tests.intake.test_lmtp import start_receiver  # noqa: F401  (fixture)


def _deliver(make_worker, smtp_sink) -> list[EmailMessage]:
    before = len(smtp_sink.received)
    make_worker(smtp_sink.port).run_once()
    return [item.message for item in smtp_sink.received[before:]]


def _answer(client, db, number: str, text: str) -> None:
    """The officer writes the answer and submits it for review."""
    log_in(client, "cyber1")
    token = csrf_token(client, f"/cases/{number}")
    response = client.post(
        f"/cases/{number}/replies",
        data={
            "csrf_token": token,
            "kind": "answer",
            "body": text,
            "public_body": text.replace("张三", "**"),
            "public": "on",
            "action": "submit",
        },
    )
    assert response.status_code == 303


def _approve(client, db, number: str) -> None:
    log_in(client, "rev1")
    page = client.get(f"/cases/{number}").get_data(as_text=True)
    reply_id = page.split('id="reply-')[1].split('"')[0]
    token = csrf_token(client, f"/cases/{number}")
    response = client.post(
        f"/cases/{number}/replies/{reply_id}/review",
        data={"csrf_token": token, "decision": "approve", "comment": "同意"},
    )
    assert response.status_code == 303


def _rate(intake_client, number: str, passcode: str, rating: str) -> None:
    token = csrf_token(intake_client, f"/track/{number}?passcode={passcode}")
    response = intake_client.post(
        f"/track/{number}/rating",
        data={"csrf_token": token, "passcode": passcode, "rating": rating, "comment": "意见"},
    )
    assert response.status_code == 303


def test_a_comment_lives_from_the_form_to_closing(
    db,
    demo,
    intake_client,
    responder_client,
    make_worker,
    smtp_sink,
    start_receiver,  # noqa: F811
):
    """web comment → routed → drafted → reviewed → mailed with the number and In-Reply-To →
    on the tracking page → unsatisfied → reopened → answered again → rated → closed; and the
    citizen's mail reply to the answer joins the case."""
    with db.transaction() as session:
        session.execute(
            update(Office)
            .where(Office.code == "cyber")
            .values(review_levels=1, email="cyber@gov.test")
        )
    make_staff(db, "cyber1", "officer", ["cyber"])
    make_staff(db, "rev1", "reviewer", ["cyber"])

    # The citizen comments on the web form.
    response = post_form(
        intake_client,
        body="网络舆情处置不透明，网评员管理混乱。",
        name="张三",
        email="zhangsan@example.cn",
    )
    number, passcode = receipt_of(response)
    case = case_by_number(db, number)
    assert case.office.code == "cyber" and case.status == "assigned"
    [acknowledgement] = _deliver(make_worker, smtp_sink)
    assert number in acknowledgement["Subject"]

    # The office answers, a reviewer signs it off, the worker mails it.
    _answer(responder_client, db, number, "张三：经核查，已整改网评员管理。")
    assert _deliver(make_worker, smtp_sink) == []  # nothing leaves before the review
    _approve(responder_client, db, number)
    [answer] = _deliver(make_worker, smtp_sink)
    assert number in answer["Subject"]
    assert answer["In-Reply-To"] == acknowledgement["Message-ID"]
    assert answer["To"].addresses[0].addr_spec == "zhangsan@example.cn"
    assert "/rate/" in answer.get_content()

    # The tracking page shows the public version.
    page = intake_client.get(f"/track/{number}?passcode={passcode}").get_data(as_text=True)
    assert "已整改网评员管理" in page and "张三：" not in page

    # The citizen writes back by mail: it joins the case, through the LMTP receiver.
    receiver = start_receiver(REPLY_DOMAIN=responder_client.application.config["REPLY_DOMAIN"])
    reply_mail = EmailMessage()
    reply_mail["From"] = "张三 <zhangsan@example.cn>"
    reply_mail["To"] = answer["Reply-To"]
    reply_mail["Subject"] = "Re: " + answer["Subject"]
    reply_mail["Message-ID"] = "<reply-1@example.cn>"
    reply_mail["In-Reply-To"] = answer["Message-ID"]
    reply_mail.set_content("整改情况我还要补充一点。")
    with receiver.client() as client:
        client.send_message(reply_mail)
    with db.session() as session:
        joined = session.scalars(
            select(Message.body).where(Message.case_id == case.id, Message.kind == "inbound")
        ).all()
        assert any("还要补充" in body for body in joined)
        assert session.scalar(select(Case.id).where(Case.id != case.id)) is None

    # Unsatisfied: reopened for re-handling, the office is told.
    _rate(intake_client, number, passcode, "unsatisfied")
    reopened = case_by_number(db, number)
    assert reopened.status == "assigned" and reopened.reopened_count == 1
    notices = _deliver(make_worker, smtp_sink)
    assert any(
        mail["To"].addresses[0].addr_spec == "cyber@gov.test" and number in mail["Subject"]
        for mail in notices
    )

    # Answered again, rated satisfied: closed.
    _answer(responder_client, db, number, "张三：补充情况已核实并处理。")
    _approve(responder_client, db, number)
    [second] = _deliver(make_worker, smtp_sink)
    assert second["In-Reply-To"] == "<reply-1@example.cn>"
    _rate(intake_client, number, passcode, "satisfied")
    closed = case_by_number(db, number)
    assert closed.status == "closed" and closed.closed_at is not None
    page = intake_client.get(f"/track/{number}?passcode={passcode}").get_data(as_text=True)
    assert "补充情况已核实并处理" in page
