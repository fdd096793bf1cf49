"""The case page and what staff do on it."""

from __future__ import annotations

from flask import Blueprint
from flask_login import login_required

bp = Blueprint("cases", __name__, url_prefix="/cases")


@bp.get("/new")
@login_required
def register():
    return "to do"


@bp.get("/<tracking_number>")
@login_required
def show(tracking_number: str):
    return "to do"
