"""Administration: for now, the mail that has not gone out."""

from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, url_for
from flask_login import current_user

from responder.views.access import admin_required
from shared.operations import outbox
from shared.web import current_db

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.get("/outbox")
@admin_required
def outbox_list():
    with current_db().session() as session:
        return render_template("admin_outbox.html", rows=outbox.undelivered(session))


@bp.post("/outbox/<int:outbox_id>/retry")
@admin_required
def outbox_retry(outbox_id: int):
    with current_db().transaction() as session:
        if outbox.retry_now(session, outbox_id, current_user._get_current_object()) is None:
            abort(404)
    return redirect(url_for("admin.outbox_list"))
