"""The audit trail for admins: who did what to which case, newest first, with filters."""

from __future__ import annotations

from flask import Blueprint, render_template, request
from flask_babel import gettext
from marshmallow import ValidationError

from responder.views.access import admin_required
from shared.operations import audit_log
from shared.operations.audit_log import ACTOR_KINDS, AuditFilters, BadAuditFilter
from shared.schemas.audit_log import audit_filter_input
from shared.web import current_db, translated_errors

bp = Blueprint("audit", __name__, url_prefix="/admin/audit")


@bp.get("/")
@admin_required
def index():
    values = request.args.to_dict()
    try:
        filters = audit_filter_input.load(values)
    except ValidationError as error:
        return _render(None, AuditFilters(), values, translated_errors(error.messages)), 422
    with current_db().session() as session:
        try:
            page = audit_log.list_events(session, filters, cursor=request.args.get("cursor"))
        except BadAuditFilter as error:
            return _render(None, filters, values, {error.field: [gettext(error.message)]}), 422
        return _render(page, filters, values)


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
