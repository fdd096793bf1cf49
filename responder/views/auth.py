"""Staff login and logout, and the one-time link that lets someone set their password."""

from __future__ import annotations

import hmac
from urllib.parse import urlsplit

from flask import Blueprint, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user, login_user, logout_user
from sqlalchemy.orm import selectinload

from shared.models import Role, StaffUser
from shared.operations import accounts, staff
from shared.web import REFUSED, current_db, refusal_text

bp = Blueprint("auth", __name__)


def load_user(session_id: str) -> StaffUser | None:
    """Flask-Login's loader: the user with offices loaded, detached from a short session;
    None when the account was deactivated or its password changed since this login."""
    user_id, _, tag = session_id.partition(":")
    if not user_id.isdigit():
        return None
    with current_db().session() as session:
        user = session.get(StaffUser, int(user_id), options=[selectinload(StaffUser.offices)])
        if user is None or not user.active or not hmac.compare_digest(tag, user.session_tag):
            return None
        return user


@bp.route("/login", methods=["GET", "POST"])
def login():
    error = None
    username = request.form.get("username", "")
    if request.method == "POST":
        try:
            with current_db().transaction() as session:
                user = accounts.authenticate_password(
                    session, username, request.form.get("password", "")
                )
        except REFUSED as refused:  # locked out after too many wrong passwords
            error = refusal_text(refused)
        else:
            if user is not None:
                login_user(user)
                return redirect(local_url(request.args.get("next")))
            error = gettext("Wrong username or password.")
    status = 401 if error else 200
    return render_template("login.html", error=error, username=username), status


#: No token we make is longer; a longer one is not looked up at all.
_TOKEN_MAX = 100
#: The invitation page must not be kept by a cache, nor name its address to anyone it links to.
_PRIVATE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


@bp.route("/invitation/<token>", methods=["GET", "POST"])
def invitation(token: str):
    """The page of an invitation or password-reset link: set a password, then work.

    A link that is unknown, used, expired, replaced by a newer one, or whose account was
    deactivated gets a polite "no longer valid" page (404). A logged-in administrator who
    opens a link (say, one a colleague forwarded) sees what it is instead, without using it.
    """
    if current_user.is_authenticated and current_user.role == Role.ADMIN:
        return _invitation_checked(token)
    if len(token) > _TOKEN_MAX:
        return _invitation_gone()
    if request.method == "GET":
        with current_db().session() as session:
            state, user = accounts.invitation_state(session, token)
            if state != accounts.InvitationState.VALID:
                return _invitation_gone()
            return _invitation_form(user)
    try:
        with current_db().transaction() as session:
            user = accounts.accept_invitation(
                session,
                token,
                request.form.get("new_password", ""),
                request.form.get("confirm_password", ""),
            )
    except REFUSED as refused:
        with current_db().session() as session:
            state, user = accounts.invitation_state(session, token)
            if state != accounts.InvitationState.VALID:  # used, expired, replaced... meanwhile
                return _invitation_gone()
            return _invitation_form(user, error=refusal_text(refused), status=422)
    login_user(user)
    return redirect(url_for("queue.index"), 303)


def _invitation_form(user: StaffUser, *, error: str | None = None, status: int = 200):
    page = render_template(
        "invitation.html",
        user=user,
        error=error,
        min_password_length=accounts.MIN_PASSWORD_LENGTH,
    )
    return page, status, _PRIVATE


def _invitation_gone():
    page = render_template("invitation.html", user=None, gone=True, days=staff.INVITATION_DAYS)
    return page, 404, _PRIVATE


def _invitation_checked(token: str):
    """An administrator's look at a link: whose it is and whether it still works. Using it
    would log them out of their own account, so the form is not shown (403 if posted)."""
    with current_db().session() as session:
        state, user = (
            accounts.invitation_state(session, token)
            if len(token) <= _TOKEN_MAX
            else (accounts.InvitationState.UNKNOWN, None)
        )
        page = render_template("invitation.html", user=user, checked_state=state)
    return page, 403 if request.method == "POST" else 200, _PRIVATE


@bp.post("/logout")
def logout():
    logout_user()
    return redirect(url_for("auth.login"))


def local_url(target: str | None) -> str:
    """Only a path on this site: an attacker's ``?next=https://evil`` (or ``/\\evil``, which
    browsers read as ``//evil``) goes to the queue instead."""
    if (
        target
        and target.startswith("/")
        and not target.startswith("//")
        and "\\" not in target
        and not urlsplit(target).netloc
    ):
        return target
    return url_for("queue.index")
