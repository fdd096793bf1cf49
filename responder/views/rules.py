"""Routing rules, edited by admins."""

from __future__ import annotations

from flask import Blueprint
from flask_login import login_required

bp = Blueprint("rules", __name__, url_prefix="/admin/rules")


@bp.get("/")
@login_required
def index():
    return "to do"
