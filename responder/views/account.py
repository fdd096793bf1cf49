"""A member of staff's own account: password and API tokens."""

from __future__ import annotations

from flask import Blueprint
from flask_login import login_required

bp = Blueprint("account", __name__, url_prefix="/account")


@bp.get("/")
@login_required
def index():
    return "to do"
