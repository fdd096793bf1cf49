"""Offices, administered: list, create, rename, mailbox, review levels, merge."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user
from sqlalchemy.orm import Session

from responder.views.access import admin_required
from shared.models import Office, StaffUser
from shared.operations import offices
from shared.schemas.office import (
    MAX_REVIEW_LEVELS,
    merge_input,
    office_create_input,
    office_edit_input,
)
from shared.web import REFUSED, current_db, refusal_messages

bp = Blueprint("offices", __name__, url_prefix="/admin/offices")

#: The largest id an ``integer`` column holds: a larger one in the address is not found,
#: rather than an error from PostgreSQL.
_MAX_ID = 2**31 - 1


@bp.get("/")
@admin_required
def index():
    with current_db().session() as session:
        return render_template("admin/offices.html", rows=offices.offices_with_counts(session))


@bp.route("/new", methods=["GET", "POST"])
@admin_required
def new():
    if request.method == "GET":
        return _render_form(None, {"review_levels": "1"})
    values = request.form.to_dict()
    try:
        with current_db().transaction() as session:
            fields = offices.OfficeFields(**office_create_input.load(values))
            office = offices.create_office(session, fields, _actor())
            code = office.code
    except REFUSED as refused:
        return _render_form(None, values, errors=refusal_messages(refused)), 422
    flash(gettext("The office %(code)s is created.", code=code), "done")
    return redirect(url_for("offices.index"), 303)


@bp.route(f"/<int(max={_MAX_ID}):office_id>", methods=["GET", "POST"])
@admin_required
def edit(office_id: int):
    if request.method == "GET":
        with current_db().session() as session:
            office = _office_or_404(session, office_id)
            values = {
                "name": office.name,
                "email": office.email or "",
                "review_levels": str(office.review_levels),
            }
            return _render_form(office, values, session=session)
    values = request.form.to_dict()
    try:
        with current_db().transaction() as session:
            office = _office_or_404(session, office_id)
            fields = offices.OfficeFields(**office_edit_input.load(values))
            changed = offices.update_office(session, office, fields, _actor())
    except REFUSED as refused:
        with current_db().session() as session:
            office = _office_or_404(session, office_id)
            errors = refusal_messages(refused)
            return _render_form(office, values, errors=errors, session=session), 422
    if changed:
        flash(gettext("The office is saved."), "done")
    else:
        flash(gettext("Nothing was changed."), "done")
    return redirect(url_for("offices.index"), 303)


@bp.post(f"/<int(max={_MAX_ID}):office_id>/merge")
@admin_required
def merge(office_id: int):
    values = request.form.to_dict()
    try:
        with current_db().transaction() as session:
            source = _office_or_404(session, office_id)
            into = merge_input.load(values)["into"]
            merged = offices.merge_offices(session, source, into, _actor())
            source_name = source.name
    except REFUSED as refused:
        return _merge_refused(office_id, values, refusal_messages(refused))
    flash(
        gettext(
            "%(office)s is merged into %(into)s: %(cases)s cases, %(rules)s routing rules, "
            "%(items)s notice items, %(staff)s staff and %(replies)s replies in review moved.",
            office=source_name,
            into=into,
            cases=merged.cases,
            rules=merged.rules,
            items=merged.items,
            staff=merged.staff,
            replies=merged.replies_in_review,
        ),
        "done",
    )
    return redirect(url_for("offices.index"), 303)


def _merge_refused(office_id: int, values: dict, merge_errors: dict):
    with current_db().session() as session:
        office = _office_or_404(session, office_id)
        form = {
            "name": office.name,
            "email": office.email or "",
            "review_levels": str(office.review_levels),
        }
        return (
            _render_form(
                office,
                form,
                merge_errors=merge_errors,
                merge_into=values.get("into", ""),
                session=session,
            ),
            422,
        )


def _render_form(
    office: Office | None,
    values: dict,
    *,
    errors: dict | None = None,
    merge_errors: dict | None = None,
    merge_into: str = "",
    session: Session | None = None,
) -> str:
    targets = []
    if office is not None and session is not None:
        targets = [o for o in offices.active_offices(session) if o.id != office.id]
    return render_template(
        "admin/office_form.html",
        office=office,
        values=values,
        errors=errors or {},
        merge_errors=merge_errors or {},
        merge_into=merge_into,
        targets=targets,
        max_levels=MAX_REVIEW_LEVELS,
    )


def _office_or_404(session: Session, office_id: int) -> Office:
    office = offices.get_office(session, office_id)
    if office is None:
        abort(404)
    return office


def _actor() -> StaffUser:
    return current_user._get_current_object()
