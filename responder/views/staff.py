"""Staff (placeholder: being built)."""

from __future__ import annotations

from flask import Blueprint

from responder.views.access import admin_required

bp = Blueprint("staff", __name__, url_prefix="/admin/staff")


@bp.get("/")
@admin_required
def index():
    return "Staff"
