"""The audit trail for admins: who did what to which case, newest first, with filters."""

from __future__ import annotations

from flask import Blueprint, render_template, request

from responder.views.access import admin_required
from shared.models.audit import ACTOR_KINDS
from shared.operations import audit_log
from shared.operations.audit_log import AuditFilters
from shared.schemas.audit_log import audit_filter_input
from shared.web import REFUSED, current_db, refusal_messages

bp = Blueprint("audit", __name__, url_prefix="/admin/audit")


@bp.get("/")
@admin_required
def index():
    values = request.args.to_dict()
    filters = AuditFilters()
    try:
        filters = AuditFilters(**audit_filter_input.load(values))
        with current_db().session() as session:
            page = audit_log.list_events(session, filters, cursor=request.args.get("cursor"))
            return _render(page, filters, values)
    except REFUSED as refused:
        return _render(None, filters, values, refusal_messages(refused)), 422


def _render(
    page: audit_log.AuditPage | None, filters: AuditFilters, values: dict, errors=None
) -> str:
    return render_template(
        "admin/audit.html",
        page=page,
        filters=filters,
        values=values,
        errors=errors or {},
        actor_kinds=ACTOR_KINDS,
    )
