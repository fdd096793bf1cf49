"""Working-day calendar (placeholder: being built)."""

from __future__ import annotations

from flask import Blueprint

from responder.views.access import admin_required

bp = Blueprint("calendar", __name__, url_prefix="/admin/calendar")


@bp.get("/")
@admin_required
def index():
    return "Working-day calendar"
