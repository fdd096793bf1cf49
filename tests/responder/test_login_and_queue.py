"""Staff log in and see the cases they may see."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from shared.models import AuditEvent, StaffUser
from tests.conftest import csrf_token
from tests.factories import make_case, make_staff


def _login(client, username, password="correct horse 1", next_url=""):
    token = csrf_token(client, "/login")
    return client.post(
        "/login" + next_url, data={"username": username, "password": password, "csrf_token": token}
    )


def test_queue_needs_login(responder_client):
    """An anonymous visitor is sent to the login page."""
    response = responder_client.get("/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


def test_login_page_is_chinese(responder_client):
    """The login form speaks Chinese by default."""
    html = responder_client.get("/login").get_data(as_text=True)
    assert "登录" in html and "用户名" in html and "密码" in html


def test_wrong_password_is_refused(db, demo, responder_client):
    """A wrong password answers 401 with a message and no session."""
    make_staff(db, "triage1", "triager")
    response = _login(responder_client, "triage1", "wrong password")
    assert response.status_code == 401
    assert "用户名或密码错误" in response.get_data(as_text=True)
    assert responder_client.get("/").status_code == 302


def test_login_without_csrf_token_is_refused(db, demo, responder_client):
    """A login form posted from elsewhere (no CSRF token) does not log in."""
    make_staff(db, "triage1", "triager")
    response = responder_client.post(
        "/login", data={"username": "triage1", "password": "correct horse 1"}
    )
    assert response.status_code == 400
    assert responder_client.get("/").status_code == 302


def test_five_wrong_passwords_lock_the_account(db, demo, responder_client):
    """After five failures even the right password is refused for a while, and it is audited."""
    make_staff(db, "triage1", "triager")
    for _ in range(5):
        assert _login(responder_client, "triage1", "guess").status_code == 401
    response = _login(responder_client, "triage1")
    assert response.status_code == 401
    assert "密码错误次数过多" in response.get_data(as_text=True)
    with db.session() as session:
        user = session.scalar(select(StaffUser).where(StaffUser.username == "triage1"))
        assert user.locked_until > datetime.now(UTC) + timedelta(minutes=10)
        actions = session.scalars(select(AuditEvent.action).where(AuditEvent.actor_id == user.id))
        assert "staff.locked_out" in list(actions)


def test_triager_sees_every_case_with_number_and_office(db, demo, responder_client):
    """The list shows each case's tracking number and the office it was routed to."""
    make_staff(db, "triage1", "triager")
    routed = make_case(db, notice_item="XC21-04", body="舆情处置").case
    waiting = make_case(db, body="路灯坏了").case
    assert _login(responder_client, "triage1").status_code == 302
    html = responder_client.get("/").get_data(as_text=True)
    assert routed.tracking_number in html and "县委网信办" in html
    assert waiting.tracking_number in html and "待分办" in html


def test_officer_sees_only_own_office(db, demo, responder_client):
    """An officer of the finance office does not see a cyber case, even by searching for it."""
    make_staff(db, "fin1", "officer", ["finance"])
    mine = make_case(db, notice_item="XC21-08", body="差旅费").case
    other = make_case(db, notice_item="XC21-04", body="网络舆情").case
    _login(responder_client, "fin1")
    html = responder_client.get("/").get_data(as_text=True)
    assert mine.tracking_number in html
    assert other.tracking_number not in html
    html = responder_client.get("/?q=" + other.tracking_number).get_data(as_text=True)
    table = html[html.index("<table") :]
    assert other.tracking_number not in table
    assert "暂无案件" in table


def test_queue_pages_newest_first(db, demo, responder_client):
    """Fifty cases a page, newest first; the next page continues where the first stopped."""
    make_staff(db, "triage1", "triager")
    start = datetime(2026, 1, 1, tzinfo=UTC)
    numbers = [
        make_case(
            db, body=f"第{i}条", received_at=start + timedelta(minutes=i)
        ).case.tracking_number
        for i in range(55)
    ]
    _login(responder_client, "triage1")
    first = responder_client.get("/").get_data(as_text=True)
    assert numbers[-1] in first and numbers[5] in first and numbers[4] not in first
    assert first.index(numbers[-1]) < first.index(numbers[-2])
    import re

    next_link = re.search(r'href="(/\?cursor=[^"]+)"', first).group(1).replace("&amp;", "&")
    second = responder_client.get(next_link).get_data(as_text=True)
    assert all(number in second for number in numbers[:5])
    assert numbers[5] not in second


def test_login_never_redirects_off_site(db, demo, responder_client):
    """``?next=`` pointing to another site is ignored."""
    make_staff(db, "triage1", "triager")
    response = _login(responder_client, "triage1", next_url="?next=//evil.example/")
    assert response.headers["Location"] == "/"


def test_logout_ends_the_session(db, demo, responder_client):
    """After logging out, the queue asks for a login again."""
    make_staff(db, "triage1", "triager")
    _login(responder_client, "triage1")
    token = csrf_token(responder_client, "/")
    assert responder_client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert responder_client.get("/").status_code == 302
