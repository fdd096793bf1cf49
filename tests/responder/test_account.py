"""A member of staff's own account page: password change and API tokens."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from shared.models import ApiToken, AuditEvent, StaffUser
from tests.conftest import csrf_token
from tests.factories import make_staff

PASSWORD = "correct horse 1"
NEW_PASSWORD = "battery staple 2"


def _login(client, username, password=PASSWORD):
    token = csrf_token(client, "/login")
    return client.post(
        "/login", data={"username": username, "password": password, "csrf_token": token}
    )


def _logged_in(db, client, username="fin1", role="officer", offices=("finance",)):
    """A client logged in as a new member of staff, reading the pages in English."""
    make_staff(db, username, role, offices)
    assert _login(client, username).status_code == 302
    client.get("/account/?lang=en")
    return client


def _change_password(client, current, new, confirm=None):
    return client.post(
        "/account/password",
        data={
            "current_password": current,
            "new_password": new,
            "confirm_password": new if confirm is None else confirm,
            "csrf_token": csrf_token(client, "/account/"),
        },
    )


def _create_token(client, name="nightly report"):
    return client.post(
        "/account/tokens", data={"name": name, "csrf_token": csrf_token(client, "/account/")}
    )


def _token_in(response) -> str:
    match = re.search(r'<code class="mono">([^<]+)</code>', response.get_data(as_text=True))
    assert match, "no new token on the page"
    return match.group(1)


def _revoke(client, token_id):
    return client.post(
        f"/account/tokens/{token_id}/revoke", data={"csrf_token": csrf_token(client, "/account/")}
    )


def _offices(client, token):
    return client.get("/api/v1/offices", headers={"Authorization": f"Bearer {token}"})


def _token_ids(db, username) -> list[int]:
    with db.session() as session:
        return list(
            session.scalars(
                select(ApiToken.id)
                .join(StaffUser, ApiToken.staff_id == StaffUser.id)
                .where(StaffUser.username == username)
            )
        )


def test_page_shows_who_i_am(db, demo, responder_client):
    """The page names the user, their role and their offices."""
    client = _logged_in(db, responder_client)
    html = client.get("/account/").get_data(as_text=True)
    assert "fin1" in html and "Officer" in html and "财务室" in html


def test_changed_password_replaces_the_old_one(db, demo, responder_client):
    """After a change the old password no longer logs in and the new one does."""
    client = _logged_in(db, responder_client)
    response = _change_password(client, PASSWORD, NEW_PASSWORD)
    assert response.status_code == 302
    assert response.headers["Location"] == "/account/?done=password"
    assert "Your password was changed." in client.get("/account/?done=password").get_data(
        as_text=True
    )
    client.post("/logout", data={"csrf_token": csrf_token(client, "/account/")})
    assert _login(client, "fin1", PASSWORD).status_code == 401
    assert _login(client, "fin1", NEW_PASSWORD).status_code == 302


def test_password_change_is_audited_without_the_password(db, demo, responder_client):
    """The audit trail records who changed their password, and no password."""
    client = _logged_in(db, responder_client)
    _change_password(client, PASSWORD, NEW_PASSWORD)
    with db.session() as session:
        [event] = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "staff.password_changed")
        ).all()
        assert session.get(StaffUser, event.actor_id).username == "fin1"
        assert PASSWORD not in str(event.detail) and NEW_PASSWORD not in str(event.detail)


def test_wrong_current_password_changes_nothing(db, demo, responder_client):
    """A wrong current password is refused with a message; the old password still works."""
    client = _logged_in(db, responder_client)
    response = _change_password(client, "not my password", NEW_PASSWORD)
    assert response.status_code == 422
    assert "The current password is wrong." in response.get_data(as_text=True)
    client.post("/logout", data={"csrf_token": csrf_token(client, "/account/")})
    assert _login(client, "fin1", NEW_PASSWORD).status_code == 401
    assert _login(client, "fin1", PASSWORD).status_code == 302


@pytest.mark.parametrize(
    ("new", "confirm", "message"),
    [
        ("short 1", "short 1", "The new password needs at least 10 characters."),
        (NEW_PASSWORD, NEW_PASSWORD + "x", "The new password and its confirmation differ."),
        (PASSWORD, PASSWORD, "Choose a new password, not the current one."),
    ],
)
def test_unusable_new_password_is_refused(db, demo, responder_client, new, confirm, message):
    """A new password too short, mistyped in the confirmation, or unchanged: a message, 422."""
    client = _logged_in(db, responder_client)
    response = _change_password(client, PASSWORD, new, confirm)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    with db.session() as session:
        assert not session.scalars(
            select(AuditEvent).where(AuditEvent.action == "staff.password_changed")
        ).all()


def test_wrong_current_passwords_count_towards_the_lockout(db, demo, responder_client):
    """Guessing the current password on the account page locks the account as at the login."""
    client = _logged_in(db, responder_client)
    for _ in range(5):
        assert _change_password(client, "guess", NEW_PASSWORD).status_code == 422
    response = _change_password(client, PASSWORD, NEW_PASSWORD)
    assert response.status_code == 422
    assert "Too many wrong passwords." in response.get_data(as_text=True)
    with db.session() as session:
        assert session.scalar(select(AuditEvent).where(AuditEvent.action == "staff.locked_out"))
    client.post("/logout", data={"csrf_token": csrf_token(client, "/account/")})
    assert _login(client, "fin1", PASSWORD).status_code == 401


@pytest.mark.parametrize(
    ("path", "data"),
    [
        ("/account/password", {"current_password": PASSWORD, "new_password": NEW_PASSWORD}),
        ("/account/tokens", {"name": "forged"}),
        ("/account/tokens/{token_id}/revoke", {}),
    ],
)
def test_forms_without_csrf_token_are_refused(db, demo, responder_client, path, data):
    """A form posted from another site (no CSRF token) is refused and changes nothing."""
    client = _logged_in(db, responder_client)
    token = _token_in(_create_token(client))
    [token_id] = _token_ids(db, "fin1")
    data = {**data, "confirm_password": NEW_PASSWORD} if "new_password" in data else data
    assert client.post(path.format(token_id=token_id), data=data).status_code == 400
    assert _token_ids(db, "fin1") == [token_id]
    assert _offices(client, token).status_code == 200
    client.post("/logout", data={"csrf_token": csrf_token(client, "/account/")})
    assert _login(client, "fin1", PASSWORD).status_code == 302


def test_token_from_the_page_works_until_revoked(db, demo, responder_client):
    """A token created on the page opens the API; once revoked there, the API answers 401."""
    client = _logged_in(db, responder_client)
    token = _token_in(_create_token(client, "nightly report"))
    assert _offices(client, token).status_code == 200
    html = client.get("/account/").get_data(as_text=True)
    assert "nightly report" in html and "Never" not in html  # its last use is shown
    [token_id] = _token_ids(db, "fin1")
    response = _revoke(client, token_id)
    assert response.status_code == 302
    assert response.headers["Location"] == "/account/?done=revoked"
    assert _offices(client, token).status_code == 401
    with db.session() as session:
        row = session.get(ApiToken, token_id)
        assert row.revoked_at is not None
        event = session.scalar(select(AuditEvent).where(AuditEvent.action == "staff.token_revoked"))
        assert event.detail == {"token_id": token_id, "token_name": "nightly report"}


def test_token_is_shown_once(db, demo, responder_client):
    """The new token is in the answer to the form only, which no cache may keep."""
    client = _logged_in(db, responder_client)
    response = _create_token(client, "<b>sync</b>")
    assert response.status_code == 201
    assert response.headers["Cache-Control"] == "no-store"
    token = _token_in(response)
    html = response.get_data(as_text=True)
    assert "&lt;b&gt;sync&lt;/b&gt;" in html and "<b>sync" not in html
    again = client.get("/account/").get_data(as_text=True)
    assert token not in again and "&lt;b&gt;sync&lt;/b&gt;" in again
    with db.session() as session:
        assert token not in session.scalar(select(ApiToken.token_hash))


def test_token_needs_a_name(db, demo, responder_client):
    """A token without a name, or with one too long, is refused and none is made."""
    client = _logged_in(db, responder_client)
    response = _create_token(client, "   ")
    assert response.status_code == 422
    assert "Give the token a name" in response.get_data(as_text=True)
    response = _create_token(client, "x" * 101)
    assert response.status_code == 422
    assert "Keep the token name to 100 characters or fewer." in response.get_data(as_text=True)
    assert _token_ids(db, "fin1") == []


def test_cannot_revoke_another_users_token(db, demo, responder_client, responder_app):
    """Someone else's token is not found (404) and keeps working."""
    owner = _logged_in(db, responder_app.test_client(), "tri1", "triager", ())
    token = _token_in(_create_token(owner))
    [token_id] = _token_ids(db, "tri1")
    intruder = _logged_in(db, responder_client, "fin1")
    assert _revoke(intruder, token_id).status_code == 404
    assert _revoke(intruder, 2**40).status_code == 404  # beyond any id: not found, not an error
    assert _offices(intruder, token).status_code == 200
    assert token_id not in _token_ids(db, "fin1")
    assert "You have no API tokens." in intruder.get("/account/").get_data(as_text=True)


def test_anonymous_visitor_is_sent_to_login(db, demo, responder_client):
    """Without a login the page and its forms send the visitor to the login page."""
    assert responder_client.get("/account/").headers["Location"].startswith("/login")
    token = csrf_token(responder_client, "/login")
    for path in ("/account/password", "/account/tokens", "/account/tokens/1/revoke"):
        response = responder_client.post(path, data={"csrf_token": token})
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/login")


def test_session_cookie_is_httponly_and_samesite(db, demo, responder_client):
    """The login's session cookie is out of reach of scripts and of other sites' forms."""
    make_staff(db, "fin1", "officer", ["finance"])
    response = _login(responder_client, "fin1")
    [cookie] = [c for c in response.headers.getlist("Set-Cookie") if c.startswith("session=")]
    attributes = [part.strip().lower() for part in cookie.split(";")]
    assert "httponly" in attributes
    assert "samesite=lax" in attributes


def test_session_cookie_is_secure_outside_development(db, demo, settings):
    """In production the session cookie travels over HTTPS only."""
    from responder import create_app

    client = create_app({**settings, "MINYI_ENV": "production"}).test_client()
    make_staff(db, "fin1", "officer", ["finance"])
    response = _login(client, "fin1")
    assert response.status_code == 302
    [cookie] = [c for c in response.headers.getlist("Set-Cookie") if c.startswith("session=")]
    assert "secure" in [part.strip().lower() for part in cookie.split(";")]


def test_password_change_ends_other_sessions_but_not_this_one(db, demo, responder_app):
    """After a password change, a session opened elsewhere with the old password is logged out."""
    from tests.factories import log_in

    make_staff(db, "fin9", "officer", ["finance"])
    here, elsewhere = responder_app.test_client(), responder_app.test_client()
    log_in(here, "fin9")
    log_in(elsewhere, "fin9")
    assert elsewhere.get("/").status_code == 200
    token = csrf_token(here, "/account/")
    response = here.post(
        "/account/password",
        data={
            "csrf_token": token,
            "current_password": "correct horse 1",
            "new_password": "a new horse 22",
            "confirm_password": "a new horse 22",
        },
    )
    assert response.status_code == 302
    assert here.get("/").status_code == 200
    assert elsewhere.get("/").status_code == 302
