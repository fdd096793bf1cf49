"""Notices (placeholder: being built)."""

from __future__ import annotations

from flask import Blueprint

from responder.views.access import admin_required

bp = Blueprint("notices", __name__, url_prefix="/admin/notices")


@bp.get("/")
@admin_required
def index():
    return "Notices"
