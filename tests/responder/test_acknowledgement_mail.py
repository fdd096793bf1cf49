"""The acknowledgement: written with the case, delivered by the worker, safe to read."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from shared.models import Case, OutboxEmail
from shared.operations import intake
from shared.schemas.submission import feedback_input
from tests.factories import SETTINGS, make_case

INJECTION = "=?UTF-8?Q?=0A?=Bcc: x@y"


def _outbox_count(db) -> int:
    with db.session() as session:
        return session.scalar(select(func.count()).select_from(OutboxEmail))


def test_api_comment_with_email_is_acknowledged_by_mail(
    db, demo, intake_client, smtp_sink, make_worker
):
    """The citizen gets number, passcode and tracking link, from the office, answerable per case."""
    response = intake_client.post(
        "/api/v1/feedback",
        json={
            "body": "建议公开整改台账",
            "name": "王小明",
            "email": "wxm@example.cn",
            "subject": "台账公开",
        },
    )
    assert response.status_code == 201
    receipt = response.json
    assert make_worker(smtp_sink.port).run_once().sent == 1

    [mail] = smtp_sink.received
    assert mail.rcpt_tos == ["wxm@example.cn"]
    message = mail.message
    number, passcode = receipt["tracking_number"], receipt["passcode"]
    assert message["Subject"] == f"已收到您的留言：台账公开（编号 {number}）"
    assert "=?utf-8?" in mail.data.split(b"\r\n\r\n")[0].decode().lower()  # encoded, not raw 8-bit
    assert message["To"].addresses[0].display_name == "王小明"
    assert message["From"].addresses[0].display_name == "通渭县委宣传部"
    assert message["Auto-Submitted"] == "auto-replied"
    with db.session() as session:
        case = session.scalar(select(Case).where(Case.tracking_number == number))
        row = session.scalar(select(OutboxEmail).where(OutboxEmail.case_id == case.id))
    assert message["Reply-To"] == f"reply+{case.reply_token}@minyi.localhost"
    assert message["Message-ID"] == row.message_id and row.message_id.endswith("@minyi.localhost>")
    body = message.get_content()
    assert number in body and passcode in body
    assert f"http://127.0.0.1:8000/track/{number}?passcode={passcode}" in body


def test_english_comment_gets_english_mail(db, demo, intake_client, smtp_sink, make_worker):
    """A comment made in English is acknowledged in English."""
    intake_client.post("/api/v1/feedback?lang=en", json={"body": "Hello", "email": "a@example.com"})
    make_worker(smtp_sink.port).run_once()
    message = smtp_sink.received[0].message
    assert message["Subject"].startswith("We received your comment")
    assert "Passcode:" in message.get_content()


def test_no_email_no_mail(db, demo):
    """A citizen who gave no address gets no mail, and nothing waits in the outbox."""
    make_case(db, body="没有邮箱")
    make_case(db, body="匿名", anonymous=True)
    assert _outbox_count(db) == 0


def test_mail_is_only_written_if_the_case_is(db, demo):
    """If the transaction fails after the case was received, neither case nor mail remains."""
    submission = intake.Submission(
        **feedback_input.load({"body": "会回滚", "email": "r@example.cn"})
    )
    with pytest.raises(RuntimeError), db.transaction() as session:
        intake.receive(session, submission, settings=SETTINGS)
        session.flush()
        raise RuntimeError("commit fails")
    assert _outbox_count(db) == 0
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(Case)) == 0


def test_encoded_newline_in_name_and_subject_cannot_add_headers(
    db, demo, intake_client, smtp_sink, make_worker
):
    """CVE-2024-6923: an encoded line break in name or subject never becomes a Bcc header."""
    response = intake_client.post(
        "/api/v1/feedback",
        json={"body": "x", "name": INJECTION, "subject": INJECTION, "email": "victim@example.cn"},
    )
    assert response.status_code == 201
    make_worker(smtp_sink.port).run_once()
    [mail] = smtp_sink.received
    headers = mail.data.split(b"\r\n\r\n")[0]
    lines = headers.split(b"\r\n")
    assert not any(line.lower().startswith(b"bcc") for line in lines)
    assert mail.rcpt_tos == ["victim@example.cn"]
    assert mail.message["Bcc"] is None
    assert "Bcc: x@y" in mail.message["Subject"]  # shown as the text it is


def test_form_comment_is_acknowledged_too(db, demo, intake_client, smtp_sink, make_worker):
    """The web form takes the same path: its receipt and the mail carry the same number."""
    from tests.conftest import csrf_token

    token = csrf_token(intake_client, "/")
    page = intake_client.post(
        "/feedback",
        data={"csrf_token": token, "form_token": "f", "body": "表单留言", "email": "f@example.cn"},
    ).get_data(as_text=True)
    make_worker(smtp_sink.port).run_once()
    number = smtp_sink.received[0].message["Subject"].split("编号 ")[1].rstrip("）")
    assert f'id="tracking-number">{number}<' in page
