"""A member of staff's own account: password and API tokens."""

from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user
from sqlalchemy.orm import Session, selectinload

from shared.models import StaffUser
from shared.operations import accounts
from shared.web import REFUSED, current_db, refusal_text

bp = Blueprint("account", __name__, url_prefix="/account")

#: The largest id an ``integer`` column holds: a larger one in the address is not found,
#: rather than an error from PostgreSQL.
_MAX_ID = 2**31 - 1


@bp.get("/")
@login_required
def index():
    return _page(done=request.args.get("done"))


@bp.post("/password")
@login_required
def change_password():
    form = request.form
    error = None
    with current_db().transaction() as session:
        # Committed even when refused: a wrong current password counts towards the lock-out.
        me = _me(session)
        try:
            accounts.change_password(
                session,
                me,
                form.get("current_password", ""),
                form.get("new_password", ""),
                form.get("confirm_password", ""),
            )
        except REFUSED as refused:
            error = refusal_text(refused)
        else:
            login_user(me)  # this session stays; every other one ends with the old password
    if error:
        return _page(password_error=error), 422
    return redirect(url_for("account.index", done="password"))


@bp.post("/tokens")
@login_required
def create_token():
    name = request.form.get("name", "")
    try:
        with current_db().transaction() as session:
            token = accounts.create_token(session, _me(session), name)
    except REFUSED as refused:
        return _page(token_error=refusal_text(refused), token_name=name), 422
    # Shown in this answer only; a browser must not keep it to show again from its cache.
    return _page(new_token=token, new_token_name=name.strip()), 201, {"Cache-Control": "no-store"}


@bp.post(f"/tokens/<int(max={_MAX_ID}):token_id>/revoke")
@login_required
def revoke_token(token_id: int):
    with current_db().transaction() as session:
        if accounts.revoke_token(session, _me(session), token_id) is None:
            abort(404)
    return redirect(url_for("account.index", done="revoked"))


def _me(session: Session) -> StaffUser:
    """The logged-in user in this session (Flask-Login's copy belongs to no session)."""
    return session.get(StaffUser, current_user.id, options=[selectinload(StaffUser.offices)])


def _page(**shown) -> str:
    with current_db().session() as session:
        me = _me(session)
        return render_template(
            "account.html",
            me=me,
            tokens=accounts.tokens_of(session, me),
            min_password_length=accounts.MIN_PASSWORD_LENGTH,
            max_token_name=accounts.MAX_TOKEN_NAME,
            **shown,
        )
