"""The monthly report for staff: figures and charts of a month, its files, and the archive.

Admins and triagers see the whole department (or one office they pick); officers and
reviewers only their own offices. A download is the same address with ``format=``, so every
role reaches its own files and nobody another office's.
"""

from __future__ import annotations

import io

from flask import Blueprint, abort, current_app, render_template, request, send_file
from flask_babel import gettext
from flask_login import current_user, login_required

from shared.db import run_with_retry
from shared.reports import FORMATS, archive
from shared.reports.archive import ReportUnavailable
from shared.reports.months import (
    current_month,
    last_completed_month,
    requested_month,
    shift_month,
)
from shared.reports.scope import office_choices, scope_for
from shared.web import REFUSED, current_db, current_language, refusal_text

bp = Blueprint("reports", __name__, url_prefix="/reports")

#: Earlier months linked from the page.
MONTHS_LISTED = 12


@bp.get("/")
@login_required
def index():
    """The month's report (default: the last completed month); ``format=`` downloads it."""
    user = current_user._get_current_object()
    language = current_language()
    office_code = request.args.get("office") or None
    fmt = request.args.get("format") or None
    errors: dict[str, str] = {}
    try:
        month = requested_month(request.args.get("month"))
    except REFUSED as refused:
        errors["month"] = refusal_text(refused)
        month = last_completed_month()
    if fmt is not None:
        try:
            archive.parse_format(fmt)
        except REFUSED as refused:
            errors["format"] = refusal_text(refused)

    def load(session):
        try:
            scope = scope_for(session, user, office_code)
        except REFUSED as refused:
            errors["office"] = refusal_text(refused)
            scope = None
        if scope == []:  # an officer of no office yet: nothing to count
            return None, None, scope, office_choices(session, user), []
        if fmt is not None and not errors:
            try:
                file = archive.report_file(session, month, fmt, scope, language=language)
            except ReportUnavailable as error:
                current_app.logger.warning("report file not made: %s", error)
                errors["file"] = str(error)
            else:
                return file, None, scope, [], []
        figures = None
        if not errors or "file" in errors:
            figures = archive.report(session, month, scope, language=language)
        return (
            None,
            figures,
            scope,
            office_choices(session, user),
            archive.archived_reports(session, user),
        )

    file, figures, scope, offices, archived = run_with_retry(current_db(), load)
    if file is not None:
        return send_file(
            io.BytesIO(file.data),
            mimetype=file.content_type,
            as_attachment=True,
            download_name=file.filename,
        )
    fragment = archive.fragment(figures, language) if figures is not None else None
    current = current_month()
    months = [current]
    for _ in range(MONTHS_LISTED):
        months.append(shift_month(months[-1], -1))
    return render_template(
        "reports.html",
        month=month,
        current=current,
        months=months,
        figures=figures,
        fragment=fragment,
        formats=FORMATS,
        scope=scope,
        office_code=office_code if scope and len(scope) == 1 else None,
        offices=offices,
        may_pick_department=user.sees_all_offices,
        no_office=scope == [],
        archived=archived,
        errors=errors,
    ), (503 if "file" in errors else 400 if errors else 200)


@bp.get("/archive/<int:archive_id>")
@login_required
def archived(archive_id: int):
    """An archived file, exactly as it was stored; another office's does not exist here."""
    user = current_user._get_current_object()
    with current_db().session() as session:
        file = archive.archive_file(session, user, archive_id)
    if file is None:
        abort(404)
    return send_file(
        io.BytesIO(file.data),
        mimetype=file.content_type,
        as_attachment=True,
        download_name=file.filename,
    )


def format_label(fmt: str) -> str:
    return {
        "json": gettext("JSON (data)"),
        "csv": gettext("CSV (tables)"),
        "xlsx": gettext("Excel workbook"),
        "html": gettext("Web page"),
        "pdf": gettext("PDF"),
    }.get(fmt, fmt)


@bp.app_template_global("report_format_label")
def _report_format_label(fmt: str) -> str:
    return format_label(fmt)
