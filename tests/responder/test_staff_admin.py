"""Admins manage staff accounts: invitations by mail, role and offices, deactivation, password
resets, API tokens; and the one-time link's page, which the invitee opens without logging in."""

from __future__ import annotations

import logging
import re
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from responder import create_app
from shared import security
from shared.db import utcnow
from shared.models import ApiToken, AuditEvent, OutboxEmail, StaffInvitation, StaffUser
from shared.operations import staff as staff_ops
from shared.operations.errors import StepRefused
from tests.conftest import csrf_token
from tests.factories import log_in, make_staff, make_token

PASSWORD = "correct horse 1"
NEW_PASSWORD = "battery staple 2"
LINK = re.compile(r"http://responder\.test/invitation/([A-Za-z0-9_-]+)")


@pytest.fixture
def app(settings):
    return create_app({**settings, "RESPONDER_BASE_URL": "http://responder.test"})


@pytest.fixture
def admin(db, demo, app):
    """A client logged in as the admin ``boss``, reading the pages in English."""
    make_staff(db, "boss", "admin")
    client = app.test_client()
    assert log_in(client, "boss").status_code == 302
    client.get("/admin/staff/?lang=en")
    return client


def _client(app, lang: str = "en"):
    client = app.test_client()
    client.get(f"/login?lang={lang}")
    return client


def _post(client, path: str, **data):
    return client.post(path, data={"csrf_token": csrf_token(client, "/admin/staff/"), **data})


def _user(db, username: str) -> StaffUser:
    with db.session() as session:
        return session.scalar(select(StaffUser).where(StaffUser.username == username))


def _invite(admin, username="wangli", role="officer", offices=("finance",), **extra):
    form = {
        "username": username,
        "display_name": "王丽",
        "email": f"{username}@example.cn",
        "role": role,
        "offices": list(offices),
        **extra,
    }
    return _post(admin, "/admin/staff/invite", **form)


def _mails_to(db, address: str) -> list[OutboxEmail]:
    with db.session() as session:
        return list(
            session.scalars(
                select(OutboxEmail)
                .where(OutboxEmail.to_addr.contains(address))
                .order_by(OutboxEmail.id)
            )
        )


def _link_token(db, address: str) -> str:
    """The token of the newest link mailed to ``address``."""
    mails = _mails_to(db, address)
    assert mails, f"no mail to {address}"
    match = LINK.search(mails[-1].body_text)
    assert match, mails[-1].body_text
    return match.group(1)


def _set_password(client, token: str, password=NEW_PASSWORD, confirm=None):
    path = f"/invitation/{token}"
    form_page = client.get(path)
    match = re.search(r'name="csrf_token" value="([^"]+)"', form_page.get_data(as_text=True))
    csrf = match.group(1) if match else csrf_token(client, "/login")
    return client.post(
        path,
        data={
            "new_password": password,
            "confirm_password": password if confirm is None else confirm,
            "csrf_token": csrf,
        },
    )


def _events(db, action: str) -> list[dict]:
    with db.session() as session:
        return [
            event.detail
            for event in session.scalars(
                select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
            )
        ]


# -- invitations ---------------------------------------------------------------------------


def test_invitation_mail_has_a_link_that_sets_the_password_and_logs_in(db, admin, app):
    """The invitee gets a mail with a link; there they choose a password, are logged in, and
    can log in with it later."""
    response = _invite(admin)
    assert response.status_code == 303
    user = _user(db, "wangli")
    assert user.password_hash is None and user.role == "officer"
    assert [office.code for office in _offices_of(db, "wangli")] == ["finance"]
    mail = _mails_to(db, "wangli@example.cn")[0]
    assert "wangli" in mail.subject and "wangli" in mail.body_text
    token = _link_token(db, "wangli@example.cn")
    with db.session() as session:
        stored = session.scalar(select(StaffInvitation).where(StaffInvitation.staff_id == user.id))
        assert stored.token_hash == security.sha256_hex(token)
        assert timedelta(days=6, hours=23) < stored.expires_at - utcnow() <= timedelta(days=7)

    invitee = _client(app)
    page = invitee.get(f"/invitation/{token}")
    assert page.status_code == 200 and 'value="wangli"' in page.get_data(as_text=True)
    assert page.headers["Cache-Control"] == "no-store"
    done = _set_password(invitee, token)
    assert done.status_code == 303 and done.location.endswith("/")
    assert invitee.get("/").status_code == 200  # logged in

    later = _client(app)
    assert log_in(later, "wangli", NEW_PASSWORD).status_code == 302
    assert _events(db, "staff.invited") == [
        {"staff": "wangli", "role": "officer", "offices": ["finance"]}
    ]


def test_the_link_works_once(db, admin, app):
    """Used once, the link answers a polite 404 page, and sets no second password."""
    _invite(admin)
    token = _link_token(db, "wangli@example.cn")
    assert _set_password(_client(app), token).status_code == 303
    second = _client(app)
    page = second.get(f"/invitation/{token}")
    assert page.status_code == 404
    assert "This link no longer works" in page.get_data(as_text=True)
    assert _set_password(second, token, "someone else 99").status_code == 404
    assert log_in(_client(app), "wangli", "someone else 99").status_code == 401
    assert log_in(_client(app), "wangli", NEW_PASSWORD).status_code == 302


def test_an_expired_link_does_not_work(db, admin, app):
    """Seven days on, the link is no longer valid."""
    _invite(admin)
    token = _link_token(db, "wangli@example.cn")
    with db.transaction() as session:
        session.execute(update(StaffInvitation).values(expires_at=utcnow() - timedelta(seconds=1)))
    client = _client(app)
    assert client.get(f"/invitation/{token}").status_code == 404
    assert _set_password(client, token).status_code == 404
    assert _user(db, "wangli").password_hash is None


def test_a_resent_link_replaces_the_old_one(db, admin, app):
    """The admin re-sends the invitation: the first link stops working, the new one works."""
    _invite(admin)
    old = _link_token(db, "wangli@example.cn")
    user = _user(db, "wangli")
    response = _post(admin, f"/admin/staff/{user.id}/resend")
    assert response.status_code == 303
    new = _link_token(db, "wangli@example.cn")
    assert new != old and len(_mails_to(db, "wangli@example.cn")) == 2
    client = _client(app)
    assert client.get(f"/invitation/{old}").status_code == 404
    assert _set_password(client, new).status_code == 303
    assert _events(db, "staff.invitation_resent") == [{"staff": "wangli"}]


def test_a_weak_or_mistyped_password_is_refused_on_the_link_page(db, admin, app):
    """The account page's rules: long enough, typed twice the same; the link still works."""
    _invite(admin)
    token = _link_token(db, "wangli@example.cn")
    client = _client(app)
    short = _set_password(client, token, "short")
    assert short.status_code == 422
    assert "at least 10 characters" in short.get_data(as_text=True)
    differ = _set_password(client, token, NEW_PASSWORD, "battery staple 3")
    assert differ.status_code == 422
    assert "confirmation differ" in differ.get_data(as_text=True)
    assert _set_password(client, token).status_code == 303


def test_an_admin_opening_a_link_sees_what_it_is_without_using_it(db, admin, app):
    """A logged-in admin is shown whose link it is; the invitee can still use it."""
    _invite(admin)
    token = _link_token(db, "wangli@example.cn")
    page = admin.get(f"/invitation/{token}")
    assert page.status_code == 200
    assert 'data-state="valid"' in page.get_data(as_text=True)
    assert 'name="new_password"' not in page.get_data(as_text=True)
    assert 'data-state="unknown"' in admin.get("/invitation/nonsense").get_data(as_text=True)
    assert _set_password(_client(app), token).status_code == 303


def test_invitation_form_says_what_is_wrong(db, admin):
    """Bad username or address, an officer without an office, a taken username: the form
    again with the reason on its field, and no account."""
    bad = _invite(admin, username="wang li!", email="not-an-address")
    page = bad.get_data(as_text=True)
    assert bad.status_code == 422
    assert "Use letters a-z, digits" in page and "Enter a mail address" in page
    assert 'value="wang li!"' in page
    no_office = _invite(admin, offices=())
    assert no_office.status_code == 422
    assert "Officers and reviewers need at least one office." in no_office.get_data(as_text=True)
    taken = _invite(admin, username="boss")
    assert taken.status_code == 422
    assert "This username is taken" in taken.get_data(as_text=True)
    with db.session() as session:
        assert session.scalar(select(StaffUser).where(StaffUser.username == "wangli")) is None
        assert session.scalars(select(OutboxEmail)).all() == []


def test_no_token_or_password_reaches_the_audit_trail_or_the_logs(db, admin, app, caplog):
    """Invitation, acceptance and reset leave facts only: never the link, token or password."""
    caplog.set_level(logging.DEBUG)
    _invite(admin)
    first = _link_token(db, "wangli@example.cn")
    _set_password(_client(app), first)
    _post(admin, f"/admin/staff/{_user(db, 'wangli').id}/reset")
    second = _link_token(db, "wangli@example.cn")
    with db.session() as session:
        details = repr([event.detail for event in session.scalars(select(AuditEvent))])
    for secret in (first, second, NEW_PASSWORD, "/invitation/"):
        assert secret not in details
        assert secret not in caplog.text


# -- deactivation ----------------------------------------------------------------------------


def test_a_deactivated_user_is_shut_out_at_once(db, admin, app):
    """Login refused, the open session ends on its next request, the API token answers 401;
    reactivated, all of it works again."""
    token = make_token(db, "fin1", "officer", ["finance"])
    session_client = _client(app)
    assert log_in(session_client, "fin1").status_code == 302
    assert session_client.get("/").status_code == 200
    bearer = {"Authorization": f"Bearer {token}"}
    assert app.test_client().get("/api/v1/offices", headers=bearer).status_code == 200

    fin1 = _user(db, "fin1")
    assert _post(admin, f"/admin/staff/{fin1.id}/active", active="0").status_code == 303
    assert _user(db, "fin1").active is False
    next_request = session_client.get("/")
    assert next_request.status_code == 302 and "/login" in next_request.location
    assert app.test_client().get("/api/v1/offices", headers=bearer).status_code == 401
    assert log_in(_client(app), "fin1").status_code == 401
    assert _events(db, "staff.deactivated") == [{"staff": "fin1"}]
    listed = admin.get("/admin/staff/").get_data(as_text=True)
    assert re.search(r'data-username="fin1">.*?data-state="inactive"', listed, re.S)

    assert _post(admin, f"/admin/staff/{fin1.id}/active", active="1").status_code == 303
    assert log_in(_client(app), "fin1").status_code == 302
    assert app.test_client().get("/api/v1/offices", headers=bearer).status_code == 200


def test_an_admin_cannot_deactivate_or_demote_themself(db, admin):
    """Refused with the reason; the account is unchanged."""
    me = _user(db, "boss")
    off = _post(admin, f"/admin/staff/{me.id}/active", active="0")
    assert off.status_code == 422
    assert "You cannot deactivate your own account." in off.get_data(as_text=True)
    demoted = _post(admin, f"/admin/staff/{me.id}/access", role="triager")
    assert demoted.status_code == 422
    assert "administrator role from yourself" in demoted.get_data(as_text=True)
    after = _user(db, "boss")
    assert after.active and after.role == "admin"


def test_the_last_active_admin_is_kept(db, demo):
    """Nobody can deactivate or demote the only active admin, however they got the step."""
    make_staff(db, "boss", "admin")
    make_staff(db, "triage1", "triager")
    with db.transaction() as session:  # the demo's own admin account is gone
        session.execute(update(StaffUser).where(StaffUser.username == "admin").values(active=False))
    with db.transaction() as session:
        boss = session.scalar(select(StaffUser).where(StaffUser.username == "boss"))
        other = session.scalar(select(StaffUser).where(StaffUser.username == "triage1"))
        with pytest.raises(StepRefused, match="last active administrator"):
            staff_ops.set_active(session, boss, False, other)
        with pytest.raises(StepRefused, match="last active administrator"):
            staff_ops.set_access(session, boss, staff_ops.StaffAccess("officer", ["news"]), other)
    assert _user(db, "boss").active and _user(db, "boss").role == "admin"


def test_one_admin_may_deactivate_another(db, admin, app):
    """With two admins, one may deactivate the other, who can then no longer log in."""
    make_staff(db, "boss2", "admin")
    other = _user(db, "boss2")
    assert _post(admin, f"/admin/staff/{other.id}/active", active="0").status_code == 303
    assert log_in(_client(app), "boss2").status_code == 401


# -- password reset ----------------------------------------------------------------------------


def test_reset_ends_the_old_password_and_sessions_and_mails_a_link(db, admin, app):
    """The old password is refused at once, the user's open session ends, the link mailed to
    them sets a new one that works."""
    make_staff(db, "fin1", "officer", ["finance"])
    with db.transaction() as session:
        session.execute(
            update(StaffUser).where(StaffUser.username == "fin1").values(email="fin1@example.cn")
        )
    user_client = _client(app)
    assert log_in(user_client, "fin1").status_code == 302
    fin1 = _user(db, "fin1")
    assert _post(admin, f"/admin/staff/{fin1.id}/reset").status_code == 303

    assert user_client.get("/").status_code == 302  # logged out
    assert log_in(_client(app), "fin1", PASSWORD).status_code == 401
    token = _link_token(db, "fin1@example.cn")
    assert "已重置您" in _mails_to(db, "fin1@example.cn")[0].body_text  # a reset, not an invitation
    assert _set_password(_client(app), token).status_code == 303
    assert log_in(_client(app), "fin1", NEW_PASSWORD).status_code == 302
    assert log_in(_client(app), "fin1", PASSWORD).status_code == 401
    assert _events(db, "staff.password_reset") == [{"staff": "fin1"}]


def test_reset_needs_a_mail_address(db, admin):
    """Without an address the link could reach no one: refused, the password still works."""
    make_staff(db, "fin1", "officer", ["finance"])
    fin1 = _user(db, "fin1")
    response = _post(admin, f"/admin/staff/{fin1.id}/reset")
    assert response.status_code == 422
    assert "has no mail address" in response.get_data(as_text=True)
    assert _user(db, "fin1").password_hash is not None


# -- role, offices, tokens --------------------------------------------------------------------


def test_role_and_offices_are_set_and_audited(db, admin):
    """An officer becomes a reviewer of two offices; the audit trail says what changed."""
    make_staff(db, "fin1", "officer", ["finance"])
    fin1 = _user(db, "fin1")
    response = _post(
        admin, f"/admin/staff/{fin1.id}/access", role="reviewer", offices=["finance", "news"]
    )
    assert response.status_code == 303
    assert _user(db, "fin1").role == "reviewer"
    assert [office.code for office in _offices_of(db, "fin1")] == ["finance", "news"]
    assert _events(db, "staff.role_changed") == [
        {"staff": "fin1", "old_role": "officer", "role": "reviewer"}
    ]
    assert _events(db, "staff.offices_changed") == [
        {"staff": "fin1", "old_offices": ["finance"], "offices": ["finance", "news"]}
    ]
    none = _post(admin, f"/admin/staff/{fin1.id}/access", role="officer")
    assert none.status_code == 422
    assert "need at least one office" in none.get_data(as_text=True)
    unknown = _post(admin, f"/admin/staff/{fin1.id}/access", role="officer", offices=["nowhere"])
    assert unknown.status_code == 422
    assert _user(db, "fin1").role == "reviewer"


def test_admin_sees_and_revokes_a_users_tokens_but_never_the_token(db, admin, app):
    """The token's name is listed, never the token; revoked, it answers 401."""
    token = make_token(db, "fin1", "officer", ["finance"])
    with db.transaction() as session:
        session.execute(update(ApiToken).values(name="nightly export"))
        token_id = session.scalar(select(ApiToken.id))
    fin1 = _user(db, "fin1")
    page = admin.get(f"/admin/staff/{fin1.id}").get_data(as_text=True)
    assert "nightly export" in page and token not in page
    response = _post(admin, f"/admin/staff/{fin1.id}/tokens/revoke", token=str(token_id))
    assert response.status_code == 303
    bearer = {"Authorization": f"Bearer {token}"}
    assert app.test_client().get("/api/v1/offices", headers=bearer).status_code == 401
    assert _events(db, "staff.token_revoked") == [
        {"token_id": token_id, "token_name": "nightly export", "staff": "fin1"}
    ]
    # Another user's token is not found through this user's page.
    make_staff(db, "news1", "officer", ["news"])
    news1 = _user(db, "news1")
    other = _post(admin, f"/admin/staff/{news1.id}/tokens/revoke", token=str(token_id))
    assert other.status_code == 404


def test_staff_list_shows_role_offices_state_and_last_login(db, admin):
    """Each account with its role, offices, state and last login; invitees are marked."""
    make_staff(db, "fin1", "officer", ["finance"])
    _invite(admin)
    page = admin.get("/admin/staff/").get_data(as_text=True)
    row = re.search(r'data-username="fin1">(.*?)</tr>', page, re.S).group(1)
    assert "Officer" in row and "财务室" in row and "Never" in row
    invited = re.search(r'data-username="wangli">(.*?)</tr>', page, re.S).group(1)
    assert "Invited: no password yet" in invited
    boss = re.search(r'data-username="boss">(.*?)</tr>', page, re.S).group(1)
    assert "Administrator" in boss and "Never" not in boss


# -- access ----------------------------------------------------------------------------------


def _staff_routes(app, blueprints=("staff", "offices")):
    return [
        (method, rule.rule)
        for rule in app.url_map.iter_rules()
        if rule.endpoint.split(".")[0] in blueprints
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"})
    ]


@pytest.mark.parametrize("role", ["triager", "officer", "reviewer"])
def test_other_roles_get_404_on_every_admin_staff_and_office_page(db, demo, app, role):
    """Every page and button of staff and office administration does not exist for them."""
    make_staff(db, "someone", role, ["finance"])
    target = _user(db, "someone")
    client = _client(app)
    assert log_in(client, "someone").status_code == 302
    csrf = csrf_token(client, "/")
    routes = _staff_routes(app)
    assert len(routes) >= 10
    for method, rule in routes:
        path = re.sub(r"<[^>]*staff_id>", str(target.id), rule)
        path = re.sub(r"<[^>]*office_id>", "1", path)
        data = {"csrf_token": csrf, "active": "0", "role": "admin", "name": "x", "into": "news"}
        response = client.open(path, method=method, data=data if method == "POST" else None)
        assert response.status_code == 404, f"{role}: {method} {path} {response.status_code}"
    assert _user(db, "someone").active and _user(db, "someone").role == role


def _offices_of(db, username: str):
    from sqlalchemy.orm import selectinload

    with db.session() as session:
        user = session.scalar(
            select(StaffUser)
            .where(StaffUser.username == username)
            .options(selectinload(StaffUser.offices))
        )
        return list(user.offices)
