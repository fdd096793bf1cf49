"""The case list staff start their day with: filters, search, counts, bulk assignment."""

from __future__ import annotations

import csv
import io
from datetime import datetime

from flask import (
    Blueprint,
    Response,
    flash,
    redirect,
    render_template,
    request,
    stream_with_context,
)
from flask_babel import gettext
from flask_login import current_user, login_required
from sqlalchemy import select

from responder.views.auth import local_url
from shared.db import SHANGHAI
from shared.i18n import N_
from shared.models import Case, CaseStatus, Category, Channel, NoticeItem
from shared.operations import access, cases, offices, queue
from shared.operations import calendar as working_calendar
from shared.operations.access import Action
from shared.web import REFUSED, current_db, flash_refusal, shanghai_time

bp = Blueprint("queue", __name__)

#: Most cases one bulk assignment takes: a page of the queue.
BULK_MAX = queue.PAGE_SIZE


@bp.get("/")
@login_required
def index():
    user = current_user._get_current_object()
    with current_db().session() as session:
        filters = queue.QueueFilters.from_args(request.args)
        page = queue.list_cases(session, user, filters, cursor=request.args.get("cursor"))
        active = offices.active_offices(session)
        items = session.scalars(
            select(NoticeItem).where(NoticeItem.retired.is_(False)).order_by(NoticeItem.code)
        ).all()
        return render_template(
            "queue.html",
            page=page,
            filters=filters,
            counts=queue.counts(session, user, filters),
            statuses=CaseStatus.ALL,
            channels=Channel.ALL,
            categories=Category.ALL,
            offices=active if user.sees_all_offices else user.offices,
            assign_offices=active,
            items=items,
            triage=queue.TRIAGE,
            may_assign=access.may(user, Action.ASSIGN),
            # December and next year's working days still unknown: deadlines would be wrong.
            calendar_missing=working_calendar.missing_calendar_year(session),
        )


@bp.post("/cases/assign")
@login_required
def bulk_assign():
    """Assign the ticked cases of a queue page to one office."""
    user = current_user._get_current_object()
    numbers = request.form.getlist("case")[:BULK_MAX]
    office, reason = request.form.get("office", ""), request.form.get("reason", "")
    try:
        with current_db().transaction() as session:
            chosen = session.scalars(
                access.visible_cases(user).where(Case.tracking_number.in_(numbers))
            ).all()
            assigned, skipped = cases.assign_many(session, user, chosen, office, reason)
    except REFUSED as refused:
        flash_refusal(refused)
    else:
        flash(
            gettext(
                "%(assigned)d assigned, %(skipped)d skipped.", assigned=assigned, skipped=skipped
            ),
            "done",
        )
    return redirect(local_url(request.form.get("back")), 303)


EXPORT_COLUMNS = (
    N_("Tracking number"),
    N_("Received at"),
    N_("Channel"),
    N_("Item"),
    N_("Kind"),
    N_("Subject"),
    N_("Office"),
    N_("Status"),
    N_("Reply due"),
    N_("First reply"),
    N_("Closed"),
)


@bp.get("/cases.csv")
@login_required
def export():
    """The filtered queue as CSV (UTF-8 with BOM, so Excel opens Chinese right). Only what the
    user may see, and no submitter's personal data."""
    user = current_user._get_current_object()
    filters = queue.QueueFilters.from_args(request.args)
    database = current_db()

    def rows():
        yield "\ufeff" + _csv_line([gettext(title) for title in EXPORT_COLUMNS])
        with database.session() as session:
            for case in queue.export_rows(session, user, filters):
                yield _csv_line(
                    [
                        case.tracking_number,
                        shanghai_time(case.received_at),
                        case.channel,
                        case.notice_item.code if case.notice_item else "",
                        case.category or "",
                        case.subject,
                        case.office.code if case.office else "",
                        case.status,
                        shanghai_time(case.reply_due),
                        shanghai_time(case.first_replied_at),
                        shanghai_time(case.closed_at),
                    ]
                )

    filename = f"cases-{datetime.now(SHANGHAI):%Y%m%d-%H%M}.csv"
    return Response(
        stream_with_context(rows()),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def _csv_line(values: list[str]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer).writerow([_no_formula(value) for value in values])
    return buffer.getvalue()


def _no_formula(value: str) -> str:
    """A cell a spreadsheet would run as a formula (=, +, -, @) is quoted as text."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value
