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
    filters = {
        name: request.args.get(name) or None for name in ("status", "office", "channel", "q")
    }
    with current_db().session() as session:
        try:
            page = queue.list_cases(
                session, current_user, cursor=request.args.get("cursor"), **filters
            )
        except queue.BadCursor:
            abort(400)
        return render_template(
            "queue.html", page=page, filters=filters, statuses=CaseStatus.ALL, channels=Channel.ALL
        )
