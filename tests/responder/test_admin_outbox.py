"""Admins see mail that did not go out, with the reason, and can send it again."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from shared.models import AuditEvent, OutboxEmail
from tests.conftest import csrf_token
from tests.factories import make_staff


def _login(client, username):
    token = csrf_token(client, "/login")
    client.post(
        "/login", data={"username": username, "password": "correct horse 1", "csrf_token": token}
    )


def _failed_mail(db) -> int:
    with db.transaction() as session:
        row = OutboxEmail(
            to_addr="gone@example.cn",
            subject="已收到您的留言",
            body_text="…",
            message_id="<failed-1@minyi.test>",
            state="failed",
            attempts=1,
            last_error="recipient refused: 550 5.1.1 No such user here",
            next_attempt_at=datetime.now(UTC),
        )
        session.add(row)
        session.flush()
        return row.id


def test_admin_sees_failed_mail_with_its_error_and_retries_it(db, demo, responder_client):
    """The error text is shown; a retry makes the mail due again and is audited."""
    make_staff(db, "boss", "admin")
    row_id = _failed_mail(db)
    _login(responder_client, "boss")
    page = responder_client.get("/admin/outbox").get_data(as_text=True)
    assert "gone@example.cn" in page and "550 5.1.1 No such user here" in page
    token = csrf_token(responder_client, "/admin/outbox")
    response = responder_client.post(f"/admin/outbox/{row_id}/retry", data={"csrf_token": token})
    assert response.status_code == 302
    with db.session() as session:
        row = session.get(OutboxEmail, row_id)
        assert (row.state, row.attempts) == ("pending", 0)
        assert session.scalar(select(AuditEvent).where(AuditEvent.action == "outbox.retried"))


def test_retry_needs_the_csrf_token(db, demo, responder_client):
    """A forged retry (no token) changes nothing."""
    make_staff(db, "boss", "admin")
    row_id = _failed_mail(db)
    _login(responder_client, "boss")
    assert responder_client.post(f"/admin/outbox/{row_id}/retry").status_code == 400
    with db.session() as session:
        assert session.get(OutboxEmail, row_id).state == "failed"


def test_outbox_page_is_for_admins_only(db, demo, responder_client):
    """Other roles get 404; a visitor who is not logged in is sent to the login page."""
    assert responder_client.get("/admin/outbox").status_code == 302
    for role in ("triager", "officer", "reviewer"):
        make_staff(db, role, role)
        _login(responder_client, role)
        assert responder_client.get("/admin/outbox").status_code == 404
        token = csrf_token(responder_client, "/")
        responder_client.post("/logout", data={"csrf_token": token})


def test_an_id_too_large_for_the_database_is_not_found(db, demo, responder_client):
    """/admin/outbox/99999999999/retry is a 404, not an integer overflow in the database."""
    make_staff(db, "boss", "admin")
    _login(responder_client, "boss")
    token = csrf_token(responder_client, "/admin/outbox")
    response = responder_client.post("/admin/outbox/99999999999/retry", data={"csrf_token": token})
    assert response.status_code == 404
