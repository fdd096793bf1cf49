"""The case page and the steps staff take on it: assign, transfer, not ours, notes, spam,
repeats, close, attachments, registering a call or letter."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from shared.attachments import store_blob
from shared.models import Attachment, AuditEvent, Case, Message
from tests.conftest import case_by_number, csrf_token
from tests.factories import log_in, make_case, make_staff

PNG = bytes.fromhex("89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489")


def _page(client, case: Case) -> str:
    response = client.get(f"/cases/{case.tracking_number}")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def _post(client, case: Case, step: str, **data):
    token = csrf_token(client, f"/cases/{case.tracking_number}")
    return client.post(
        f"/cases/{case.tracking_number}/{step}",
        data={"csrf_token": token, **data},
        follow_redirects=True,
    )


def test_triager_assigns_a_waiting_case_and_the_thread_tells_it(db, demo, responder_client):
    """A case in triage is sent to an office; the page and the thread say so."""
    case = make_case(db, body="路灯坏了很久").case
    make_staff(db, "triage1", "triager")
    log_in(responder_client, "triage1")
    assert "待分办" in _page(responder_client, case)
    html = _post(responder_client, case, "assign", office="civil").get_data(as_text=True)
    assert "已交办至县文明办" in html
    stored = case_by_number(db, case.tracking_number)
    assert (stored.status, stored.office.code) == ("assigned", "civil")


def test_transfer_needs_a_reason(db, demo, responder_client):
    """Moving a case away from an office needs the reason; without it nothing moves."""
    case = make_case(db, body="财务报销不公开").case  # routed to finance
    make_staff(db, "triage1", "triager")
    log_in(responder_client, "triage1")
    html = _post(responder_client, case, "assign", office="cyber").get_data(as_text=True)
    assert "请填写理由" in html
    assert case_by_number(db, case.tracking_number).office.code == "finance"
    html = _post(
        responder_client, case, "assign", office="cyber", reason="涉及网评员经费"
    ).get_data(as_text=True)
    assert "涉及网评员经费" in html and "由财务室转至县委网信办" in html
    assert case_by_number(db, case.tracking_number).office.code == "cyber"


def test_office_sends_a_case_that_is_not_theirs_back_to_triage(db, demo, responder_client):
    """ "Not ours": the case goes back to triage with the reason, never to a dead end."""
    case = make_case(db, body="财务报销不公开").case
    make_staff(db, "fin1", "officer", ["finance"])
    log_in(responder_client, "fin1")
    page = _page(responder_client, case)
    assert "退回分办" in page and 'id="assign-form"' not in page
    response = _post(responder_client, case, "return", reason="属于县财政局职责")
    assert response.status_code == 200 and "案件已退回分办" in response.get_data(as_text=True)
    assert case.tracking_number not in response.get_data(as_text=True)  # back in their queue
    stored = case_by_number(db, case.tracking_number)
    assert (stored.status, stored.office) == ("received", None)
    make_staff(db, "triage1", "triager")
    log_in(responder_client, "triage1")
    queue = responder_client.get("/?office=triage").get_data(as_text=True)
    assert case.tracking_number in queue
    assert "属于县财政局职责" in _page(responder_client, case)


def test_officer_may_not_assign(db, demo, responder_client):
    """An officer's assign request is refused and changes nothing."""
    case = make_case(db, body="财务报销不公开").case
    make_staff(db, "fin1", "officer", ["finance"])
    log_in(responder_client, "fin1")
    token = csrf_token(responder_client, f"/cases/{case.tracking_number}")
    response = responder_client.post(
        f"/cases/{case.tracking_number}/assign",
        data={"csrf_token": token, "office": "cyber", "reason": "x"},
    )
    assert response.status_code == 403
    assert case_by_number(db, case.tracking_number).office.code == "finance"


def test_note_is_on_the_thread_and_never_public(db, demo, responder_client, intake_client):
    """An internal note shows on the case page and not on the citizen's tracking page."""
    receipt = make_case(db, body="财务报销不公开")
    make_staff(db, "fin1", "officer", ["finance"])
    log_in(responder_client, "fin1")
    html = _post(responder_client, receipt.case, "notes", body="已电话联系来信人").get_data(
        as_text=True
    )
    assert "已电话联系来信人" in html and "内部备注" in html
    public = intake_client.get(
        f"/api/v1/feedback/{receipt.case.tracking_number}",
        headers={"X-Passcode": receipt.passcode},
    ).get_data(as_text=True)
    assert "已电话联系来信人" not in public


def test_empty_or_hostile_note_is_refused_with_a_message(db, demo, responder_client):
    """An empty note or one with NUL characters gives a message, not an error page."""
    case = make_case(db, body="财务报销不公开").case
    make_staff(db, "fin1", "officer", ["finance"])
    log_in(responder_client, "fin1")
    assert "请先写备注" in _post(responder_client, case, "notes", body="  ").get_data(as_text=True)
    response = _post(responder_client, case, "notes", body="a\x00b")
    assert response.status_code == 200 and "控制字符" in response.get_data(as_text=True)
    with db.session() as session:
        assert session.scalar(select(Message).where(Message.kind == "note")) is None


def test_spam_leaves_the_working_queue_and_can_be_taken_back(db, demo, responder_client):
    """Spam is marked by triage, drops out of the open tabs, and can be restored."""
    case = make_case(db, body="加微信领红包 http://spam.example").case
    make_staff(db, "triage1", "triager")
    log_in(responder_client, "triage1")
    _post(responder_client, case, "spam", reason="广告")
    assert case_by_number(db, case.tracking_number).status == "spam"
    assert case.tracking_number not in responder_client.get("/?status=received").get_data(
        as_text=True
    )
    _post(responder_client, case, "spam", undo="1")
    assert case_by_number(db, case.tracking_number).status == "received"


def test_repeat_points_to_the_first_case_of_the_chain(db, demo, responder_client):
    """Marking C a repeat of B, where B repeats A, links C to A; a case cannot repeat itself."""
    first, second, third = (make_case(db, body=f"第{n}封：路灯坏了").case for n in range(3))
    make_staff(db, "triage1", "triager")
    log_in(responder_client, "triage1")
    _post(responder_client, second, "duplicate", duplicate_of=first.tracking_number)
    _post(responder_client, third, "duplicate", duplicate_of=second.tracking_number.lower())
    assert case_by_number(db, third.tracking_number).duplicate_of_id == first.id
    html = _post(responder_client, first, "duplicate", duplicate_of=first.tracking_number)
    assert "不能重复它自己" in html.get_data(as_text=True)
    page = _page(responder_client, first)
    assert second.tracking_number in page and third.tracking_number in page
    unknown = _post(responder_client, first, "duplicate", duplicate_of="ZZZZ-ZZZZ")
    assert "没有这个查询编号的案件" in unknown.get_data(as_text=True)


def test_attachment_downloads_as_attachment_only_through_its_own_case(db, demo, responder_client):
    """A file is sent as a download with nosniff, and not through another case's address."""
    case = make_case(db, body="财务报销不公开").case
    other = make_case(db, body="另一封财务来信").case
    with db.transaction() as session:
        message = session.scalar(select(Message).where(Message.case_id == case.id))
        sha = store_blob(session, b"<html><script>alert(1)</script></html>")
        session.add(
            Attachment(
                message_id=message.id,
                filename="证据.html",
                content_type="text/plain",
                size=38,
                blob_sha256=sha,
            )
        )
        session.flush()
        attachment_id = session.scalar(select(Attachment.id))
    make_staff(db, "fin1", "officer", ["finance"])
    log_in(responder_client, "fin1")
    assert "证据.html" in _page(responder_client, case)
    response = responder_client.get(f"/cases/{case.tracking_number}/attachments/{attachment_id}")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"].startswith("attachment")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.data == b"<html><script>alert(1)</script></html>"
    wrong = responder_client.get(f"/cases/{other.tracking_number}/attachments/{attachment_id}")
    assert wrong.status_code == 404


def test_html_mail_is_shown_sanitised(db, demo, responder_client):
    """Scripts, handlers and remote images of an HTML mail never reach the staff page."""
    case = make_case(db, body="财务报销不公开").case
    with db.transaction() as session:
        message = session.scalar(select(Message).where(Message.case_id == case.id))
        message.body_html = (
            '<p onclick="steal()">见<b>附件</b></p><script>steal()</script>'
            '<img src="https://tracker.example/pixel.gif">'
        )
    make_staff(db, "fin1", "officer", ["finance"])
    log_in(responder_client, "fin1")
    html = _page(responder_client, case)
    assert "<b>附件</b>" in html
    assert "steal()" not in html and "tracker.example" not in html


def test_confidential_submitter_is_hidden_from_officers_and_audited_for_triage(
    db, demo, responder_client
):
    """Officers see no name; triage sees it, and that view is in the audit trail."""
    case = make_case(
        db, body="财务报销不公开", name="王五", phone="13800000000", confidential=True
    ).case
    make_staff(db, "fin1", "officer", ["finance"])
    make_staff(db, "triage1", "triager")
    log_in(responder_client, "fin1")
    page = _page(responder_client, case)
    assert "王五" not in page and "13800000000" not in page and "保密" in page
    log_in(responder_client, "triage1")
    assert "王五" in _page(responder_client, case)
    with db.session() as session:
        views = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "case.submitter_viewed")
        ).all()
        assert [view.case_id for view in views] == [case.id]


def test_staff_register_a_letter_received_last_week_with_its_scan(db, demo, responder_client):
    """A letter with a past date and a scanned page becomes a case through the intake path."""
    make_staff(db, "triage1", "triager")
    log_in(responder_client, "triage1")
    token = csrf_token(responder_client, "/cases/new")
    received = (datetime.now(UTC) - timedelta(days=7)).astimezone().strftime("%Y-%m-%dT%H:%M")
    response = responder_client.post(
        "/cases/new",
        data={
            "csrf_token": token,
            "channel": "letter",
            "received_at": received,
            "body": "来信反映网络舆情处置问题。",
            "name": "赵六",
            "address": "通渭县平襄镇",
            "attachments": [(__import__("io").BytesIO(PNG), "scan.png")],
        },
        content_type="multipart/form-data",
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200, html
    number = re.search(r'id="tracking-number">([^<]+)<', html)[1]
    stored = case_by_number(db, number)
    assert stored.channel == "letter" and stored.office.code == "cyber"
    assert stored.received_at < datetime.now(UTC) - timedelta(days=6)
    with db.session() as session:
        [file] = session.scalars(select(Attachment)).all()
        assert (file.filename, file.content_type) == ("scan.png", "image/png")
        assert session.get(Case, stored.id).registered_by_id is not None


def test_register_refuses_a_future_date_and_keeps_what_was_typed(db, demo, responder_client):
    """A received date in the future is refused with a message; the typed text stays."""
    make_staff(db, "triage1", "triager")
    log_in(responder_client, "triage1")
    token = csrf_token(responder_client, "/cases/new")
    response = responder_client.post(
        "/cases/new",
        data={
            "csrf_token": token,
            "channel": "phone",
            "received_at": "2099-01-01T10:00",
            "body": "来电反映问题",
        },
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "来电反映问题" in html and "不能晚于当前时间" in html


def test_reviewer_may_not_register(db, demo, responder_client):
    """Registering calls is for triage and offices; a reviewer does not see the form."""
    make_staff(db, "rev1", "reviewer", ["finance"])
    log_in(responder_client, "rev1")
    assert responder_client.get("/cases/new").status_code == 404


def test_extension_on_the_case_page(db, demo, responder_client):
    """The officer asks on the page; the reviewer sees the request and grants it."""
    case = make_case(db, body="财务报销不公开").case
    make_staff(db, "fin1", "officer", ["finance"])
    make_staff(db, "rev1", "reviewer", ["finance"])
    log_in(responder_client, "fin1")
    html = _post(responder_client, case, "extension", days="7", reason="等待审计结果").get_data(
        as_text=True
    )
    assert "延期申请已提交" in html and "等待审计结果" in html
    log_in(responder_client, "rev1")
    assert 'id="extension-decision"' in _page(responder_client, case)
    token = csrf_token(responder_client, f"/cases/{case.tracking_number}")
    responder_client.post(
        f"/cases/{case.tracking_number}/extension/decision",
        data={"csrf_token": token, "decision": "approve"},
    )
    stored = case_by_number(db, case.tracking_number)
    assert stored.extension_days == 7 and stored.extension_approved_by_id is not None
    assert "已延期" in _page(responder_client, case)
