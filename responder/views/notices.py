"""Notices, administered by admins: write one with its items, publish it, change it, close
its comment period, withdraw it."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user
from sqlalchemy.orm import Session

from responder.views.access import admin_required
from shared.models import Notice, StaffUser
from shared.operations import notice_items, notices
from shared.schemas.notice import (
    BLANK_ROWS,
    NoticeInputSchema,
    form_data,
    item_errors,
    item_form_row,
    notice_form_values,
)
from shared.web import REFUSED, current_db, flash_refusal, refusal_messages

bp = Blueprint("notices", __name__, url_prefix="/admin/notices")


@bp.get("/")
@admin_required
def index():
    with current_db().session() as session:
        return render_template("admin/notices.html", rows=notices.notices_for_admin(session))


@bp.route("/new", methods=["GET", "POST"])
@admin_required
def new():
    return _form(None)


@bp.route("/<int:notice_id>", methods=["GET", "POST"])
@admin_required
def edit(notice_id: int):
    return _form(notice_id)


@bp.post("/<int:notice_id>/publish")
@admin_required
def publish(notice_id: int):
    try:
        with current_db().transaction() as session:
            notices.publish(session, _notice_or_404(session, notice_id), _actor())
    except REFUSED as refused:
        flash_refusal(refused)
    else:
        flash(gettext("The notice is published."), "done")
    return redirect(url_for("notices.edit", notice_id=notice_id), 303)


@bp.post("/<int:notice_id>/withdraw")
@admin_required
def withdraw(notice_id: int):
    with current_db().transaction() as session:
        notices.withdraw(session, _notice_or_404(session, notice_id), _actor())
    flash(
        gettext(
            "The notice is withdrawn: it takes no more comments. Its cases carry on, and "
            "citizens can still track and rate them."
        ),
        "done",
    )
    return redirect(url_for("notices.edit", notice_id=notice_id), 303)


@bp.post("/<int:notice_id>/close")
@admin_required
def close(notice_id: int):
    with current_db().transaction() as session:
        notices.close_now(session, _notice_or_404(session, notice_id), _actor())
    flash(gettext("The comment period is closed as of now."), "done")
    return redirect(url_for("notices.edit", notice_id=notice_id), 303)


def _form(notice_id: int | None):
    """The notice form: shown (GET), given more blank rows, or saved (POST)."""
    if request.method == "GET":
        with current_db().session() as session:
            notice = _notice_or_404(session, notice_id) if notice_id is not None else None
            values = notice_form_values(notice) if notice is not None else {"invites_web": True}
            rows = [item_form_row(item) for item in notice.items] if notice is not None else []
            return _render(session, notice, values, rows, more=BLANK_ROWS)

    data = form_data(request.form)
    values = {key: value for key, value in data.items() if key != "items"}
    values["invites_web"] = "invites_web" in request.form
    if request.form.get("action") == "more_rows":
        with current_db().session() as session:
            notice = _notice_or_404(session, notice_id) if notice_id is not None else None
            return _render(session, notice, values, data["items"], more=BLANK_ROWS)
    try:
        with current_db().transaction() as session:
            notice = _notice_or_404(session, notice_id) if notice_id is not None else None
            schema = NoticeInputSchema(notices.notice_choices(session, notice))
            fields = notices.NoticeFields(**schema.load(data))
            if notice is None:
                notice = notices.create_notice(session, fields, _actor())
            else:
                notices.update_notice(session, notice, fields, _actor())
            saved_id = notice.id
    except REFUSED as refused:
        # The transaction is rolled back: nothing of a refused form is kept.
        errors = refusal_messages(refused)
        with current_db().session() as session:
            notice = _notice_or_404(session, notice_id) if notice_id is not None else None
            return _render(session, notice, values, data["items"], errors=errors), 422
    if notice_id is None:
        flash(gettext("The notice is saved as a draft. Publish it when it is ready."), "done")
    else:
        flash(gettext("The notice is saved."), "done")
    return redirect(url_for("notices.edit", notice_id=saved_id), 303)


def _render(
    session: Session,
    notice: Notice | None,
    values: dict[str, Any],
    rows: list[dict[str, Any]],
    *,
    errors: dict | None = None,
    more: int = 0,
) -> str:
    """The form with its item rows, then ``more`` blank rows with suggested codes."""
    errors = errors or {}
    rows = list(rows)
    if more:
        typed = {str(row.get("code") or "").upper() for row in rows}
        suggestions = [
            code
            for code in notice_items.suggested_codes(session, notice, more + len(rows))
            if code not in typed
        ][:more]
        last = max((_int(row.get("position")) for row in rows), default=0)
        rows += [
            {"code": code, "position": str(last + number)}
            for number, code in enumerate(suggestions, start=1)
        ]
    items = {item.id: item for item in notice.items} if notice is not None else {}
    cases = notice_items.item_case_counts(session, notice) if notice is not None else {}
    details = []
    for row in rows:
        item = items.get(_int(row.get("id")))
        details.append(
            {
                "retired": bool(item and item.retired),
                "cases": cases.get(item.id, 0) if item else 0,
                "saved_code": item.code if item else None,
            }
        )
    choices = notices.notice_choices(session, notice)
    areas = sorted({row.get("area") for row in rows if row.get("area")})
    return render_template(
        "admin/notice_form.html",
        notice=notice,
        state=notices.state(notice) if notice is not None else None,
        values=values,
        rows=list(zip(rows, details, strict=True)),
        errors=errors,
        row_errors=item_errors(errors),
        items_messages=errors["items"] if isinstance(errors.get("items"), list) else [],
        offices=choices.offices,
        areas=areas,
    )


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _notice_or_404(session: Session, notice_id: int) -> Notice:
    notice = notices.get_notice(session, notice_id)
    if notice is None:
        abort(404)
    return notice


def _actor() -> StaffUser:
    return current_user._get_current_object()
