"""Outgoing mail, for admins: what has not gone out (waiting, being sent or failed, with the
server's error), and retrying it now."""

from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, url_for
from flask_login import current_user

from responder.views.access import admin_required
from shared.operations import outbox
from shared.web import current_db

bp = Blueprint("outbox", __name__, url_prefix="/admin/outbox")


@bp.get("")
@admin_required
def index():
    with current_db().session() as session:
        return render_template("admin/outbox.html", rows=outbox.undelivered(session))


@bp.post("/<int:outbox_id>/retry")
@admin_required
def retry(outbox_id: int):
    with current_db().transaction() as session:
        if outbox.retry_now(session, outbox_id, current_user._get_current_object()) is None:
            abort(404)
    return redirect(url_for("outbox.index"))
