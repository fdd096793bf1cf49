"""Reply templates (placeholder: being built)."""

from __future__ import annotations

from flask import Blueprint

from responder.views.access import admin_required

bp = Blueprint("reply_templates", __name__, url_prefix="/admin/templates")


@bp.get("/")
@admin_required
def index():
    return "Reply templates"
