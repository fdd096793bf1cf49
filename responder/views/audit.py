"""Audit trail (placeholder: being built)."""

from __future__ import annotations

from flask import Blueprint

from responder.views.access import admin_required

bp = Blueprint("audit", __name__, url_prefix="/admin/audit")


@bp.get("/")
@admin_required
def index():
    return "Audit trail"
