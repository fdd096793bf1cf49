"""The case list staff start their day with."""

from __future__ import annotations

from flask import Blueprint, abort, render_template, request
from flask_login import current_user, login_required

from shared.models import CaseStatus, Channel
from shared.operations import queue
from shared.web import current_db

bp = Blueprint("queue", __name__)


@bp.get("/")
@login_required
def index():
    with current_db().session() as session:
        try:
            filters = queue.QueueFilters.from_args(request.args)
            page = queue.list_cases(
                session, current_user, filters, cursor=request.args.get("cursor")
            )
        except queue.BadFilter:
            abort(400)
        return render_template(
            "queue.html",
            page=page,
            filters=filters.as_args(),
            statuses=CaseStatus.ALL,
            channels=Channel.ALL,
        )
