"""Staff accounts, administered: list, invite, role and offices, deactivate, reset the
password, re-send the invitation, revoke API tokens."""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext
from flask_login import current_user
from sqlalchemy.orm import Session

from responder.views.access import admin_required
from shared.models import Role, StaffUser
from shared.operations import accounts, offices, staff
from shared.schemas.staff import InvitationSchema, StaffAccessSchema, form_values
from shared.web import REFUSED, current_db, refusal_messages, refusal_text

bp = Blueprint("staff", __name__, url_prefix="/admin/staff")

#: The largest id an ``integer`` column holds: a larger one in the address is not found,
#: rather than an error from PostgreSQL.
_MAX_ID = 2**31 - 1
_STAFF = f"/<int(max={_MAX_ID}):staff_id>"


@bp.get("/")
@admin_required
def index():
    with current_db().session() as session:
        return render_template("admin/staff.html", users=staff.staff_list(session))


@bp.route("/invite", methods=["GET", "POST"])
@admin_required
def invite():
    if request.method == "GET":
        return _invite_form({"role": Role.OFFICER, "offices": []})
    values = form_values(request.form)
    try:
        with current_db().transaction() as session:
            schema = InvitationSchema(_office_codes(session))
            invitation = staff.Invitation(**schema.load(values))
            user = staff.invite(session, invitation, _actor(), current_app.config)
            staff_id, username = user.id, user.username
    except REFUSED as refused:
        return _invite_form(values, refusal_messages(refused)), 422
    flash(
        gettext(
            "%(username)s is invited: the link to set a password is on its way by mail.",
            username=username,
        ),
        "done",
    )
    return redirect(url_for("staff.show", staff_id=staff_id), 303)


@bp.get(_STAFF)
@admin_required
def show(staff_id: int):
    return _page(staff_id)


@bp.post(f"{_STAFF}/access")
@admin_required
def access(staff_id: int):
    values = form_values(request.form)
    try:
        with current_db().transaction() as session:
            user = _user_or_404(session, staff_id)
            schema = StaffAccessSchema(_office_codes(session))
            staff.set_access(session, user, staff.StaffAccess(**schema.load(values)), _actor())
    except REFUSED as refused:
        errors = refusal_messages(refused)
        return _page(staff_id, access_errors=errors, access_values=values, status=422)
    flash(gettext("The role and offices are saved."), "done")
    return redirect(url_for("staff.show", staff_id=staff_id), 303)


@bp.post(f"{_STAFF}/active")
@admin_required
def active(staff_id: int):
    wanted = request.form.get("active", "")
    if wanted not in ("0", "1"):
        abort(400)

    def step(session: Session, user: StaffUser) -> None:
        staff.set_active(session, user, wanted == "1", _actor())

    if wanted == "1":
        done = gettext("The account is active again.")
    else:
        done = gettext("The account is deactivated: its sessions and API tokens no longer work.")
    return _step(staff_id, step, done)


@bp.post(f"{_STAFF}/reset")
@admin_required
def reset(staff_id: int):
    def step(session: Session, user: StaffUser) -> None:
        staff.reset_password(session, user, _actor(), current_app.config)

    done = gettext(
        "The password is reset: the old one no longer works, and a link to set a new one "
        "is on its way by mail."
    )
    return _step(staff_id, step, done)


@bp.post(f"{_STAFF}/resend")
@admin_required
def resend(staff_id: int):
    def step(session: Session, user: StaffUser) -> None:
        staff.resend_invitation(session, user, _actor(), current_app.config)

    done = gettext("A new link is on its way by mail; the old link no longer works.")
    return _step(staff_id, step, done)


@bp.post(f"{_STAFF}/tokens/revoke")
@admin_required
def revoke_token(staff_id: int):
    token_id = request.form.get("token", "")
    if not token_id.isdigit() or int(token_id) > _MAX_ID:
        message = gettext("Choose the token to revoke.")
        return _page(staff_id, error=message, status=422)
    with current_db().transaction() as session:
        user = _user_or_404(session, staff_id)
        if accounts.revoke_token(session, user, int(token_id), actor=_actor()) is None:
            abort(404)
    flash(gettext("The token was revoked; it no longer works."), "done")
    return redirect(url_for("staff.show", staff_id=staff_id), 303)


def _step(staff_id: int, step, done: str):
    """One button on the account's page: done and back to the page, or the page again with
    why it was refused."""
    try:
        with current_db().transaction() as session:
            step(session, _user_or_404(session, staff_id))
    except REFUSED as refused:
        return _page(staff_id, error=refusal_text(refused), status=422)
    flash(done, "done")
    return redirect(url_for("staff.show", staff_id=staff_id), 303)


def _page(
    staff_id: int,
    *,
    status: int = 200,
    error: str | None = None,
    access_errors: dict | None = None,
    access_values: dict | None = None,
):
    with current_db().session() as session:
        user = _user_or_404(session, staff_id)
        values = access_values or {
            "role": user.role,
            "offices": [office.code for office in user.offices],
        }
        page = render_template(
            "admin/staff_user.html",
            user=user,
            tokens=accounts.tokens_of(session, user),
            office_choices=offices.active_offices(session),
            roles=Role.ALL,
            values=values,
            errors=access_errors or {},
            error=error,
            is_me=user.id == current_user.id,
        )
        return page, status


def _invite_form(values: dict, errors: dict | None = None) -> str:
    with current_db().session() as session:
        return render_template(
            "admin/staff_invite.html",
            values=values,
            errors=errors or {},
            office_choices=offices.active_offices(session),
            roles=Role.ALL,
            days=staff.INVITATION_DAYS,
        )


def _office_codes(session: Session) -> set[str]:
    return {office.code for office in offices.active_offices(session)}


def _user_or_404(session: Session, staff_id: int) -> StaffUser:
    user = staff.get_staff(session, staff_id)
    if user is None:
        abort(404)
    return user


def _actor() -> StaffUser:
    return current_user._get_current_object()
