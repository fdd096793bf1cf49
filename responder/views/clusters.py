"""Clusters of near-duplicate cases and campaigns."""

from __future__ import annotations

from flask import Blueprint
from flask_login import login_required

bp = Blueprint("clusters", __name__, url_prefix="/clusters")


@bp.get("/")
@login_required
def index():
    return "to do"
