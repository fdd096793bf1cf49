"""The tracking page: a citizen with the number and passcode sees the state and the replies."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for

from shared.operations import intake, tracking
from shared.security import normalise_tracking_number
from shared.web import current_db

bp = Blueprint("track", __name__)


@bp.get("/track")
def lookup():
    number = request.args.get("tracking_number", "").strip()
    passcode = request.args.get("passcode", "").strip()
    if number and passcode:
        return redirect(
            url_for(
                "track.case", tracking_number=normalise_tracking_number(number), passcode=passcode
            )
        )
    return render_template("track_lookup.html", number=number, missing=bool(number or passcode))


@bp.get("/track/<tracking_number>")
def case(tracking_number: str):
    passcode = request.args.get("passcode", "")
    with current_db().session() as session:
        found = intake.find_case(session, tracking_number, passcode) if passcode else None
        if found is None:
            return render_template("track_lookup.html", number=tracking_number, not_found=True), 404
        return render_template("track.html", case=found, replies=tracking.public_replies(found))
