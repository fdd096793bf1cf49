"""Answered comments (留言选登) (placeholder: being built)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("answered", __name__, url_prefix="/answered")


@bp.get("/")
def index():
    return "answered"
