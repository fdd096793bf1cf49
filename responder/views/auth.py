"""Staff login and logout."""

from __future__ import annotations

import hmac
from urllib.parse import urlsplit

from flask import Blueprint, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import login_user, logout_user
from sqlalchemy.orm import selectinload

from shared.models import StaffUser
from shared.operations import staff
from shared.web import current_db, shanghai_time

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
                user = staff.authenticate_password(
                    session, username, request.form.get("password", "")
                )
        except staff.AccountLocked as locked:
            error = gettext(
                "Too many wrong passwords. Try again after %(time)s.",
                time=shanghai_time(locked.until),
            )
        else:
            if user is not None:
                login_user(user)
                return redirect(local_url(request.args.get("next")))
            error = gettext("Wrong username or password.")
    status = 401 if error else 200
    return render_template("login.html", error=error, username=username), status


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
