"""The working-day calendar, kept by admins: each year's state, the official import, a year
entered by hand, and the year as a month grid."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user

from responder.views.access import admin_required
from shared.models import StaffUser
from shared.operations import calendar as working_calendar
from shared.operations.calendar import CalendarState
from shared.schemas.calendar import CalendarInputSchema, as_lines
from shared.web import REFUSED, current_db, flash_refusal, refusal_messages

bp = Blueprint("calendar", __name__, url_prefix="/admin/calendar")

#: The years an admin may keep: the package's first year to well beyond any deadline.
FIRST_YEAR, LAST_YEAR = 2004, 2100


@bp.get("/")
@admin_required
def index():
    with current_db().session() as session:
        return render_template(
            "admin/calendar.html",
            years=working_calendar.calendar_years(session),
            states=CalendarState,
        )


@bp.route("/<int:year>", methods=["GET", "POST"])
@admin_required
def year(year: int):
    _require_year(year)
    if request.method == "GET":
        with current_db().session() as session:
            lines = as_lines(working_calendar.days_of(session, year))
            return _render(session, year, {"days": lines})

    values = request.form.to_dict()
    with current_db().transaction() as session:
        try:
            days = CalendarInputSchema(year).load(values)
            stored = working_calendar.enter_calendar(session, year, days, actor=_actor())
        except REFUSED as refused:  # the operation checks again what the schema checked
            return _render(session, year, values, refusal_messages(refused)), 422
    flash(
        gettext(
            "The calendar of %(year)s is saved: %(count)s days. Deadlines computed from now on "
            "use it.",
            year=year,
            count=stored,
        ),
        "done",
    )
    return redirect(url_for("calendar.year", year=year), 303)


@bp.post("/<int:year>/import")
@admin_required
def import_official(year: int):
    _require_year(year)
    try:
        with current_db().transaction() as session:
            stored = working_calendar.import_official_calendar(session, year, actor=_actor())
    except REFUSED as refused:
        flash_refusal(refused)
    else:
        flash(
            gettext(
                "The official calendar of %(year)s is imported: %(count)s days.",
                year=year,
                count=stored,
            ),
            "done",
        )
    return redirect(url_for("calendar.year", year=year), 303)


def _render(session, year: int, values: dict, errors: dict | None = None) -> str:
    return render_template(
        "admin/calendar_year.html",
        year=year,
        values=values,
        errors=errors or {},
        state=working_calendar.year_state(session, year),
        states=CalendarState,
        importable=year in working_calendar.official_years(),
        months=working_calendar.month_grid(session, year),
    )


def _require_year(year: int) -> None:
    if not FIRST_YEAR <= year <= LAST_YEAR:
        abort(404)


def _actor() -> StaffUser:
    return current_user._get_current_object()
