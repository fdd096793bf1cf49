"""Reports (placeholder: being built)."""

from __future__ import annotations

from flask import Blueprint
from flask_login import login_required

bp = Blueprint("reports", __name__, url_prefix="/reports")


@bp.get("/")
@login_required
def index():
    return "Reports"
