"""The public JSON API: ``/api/v1/feedback`` and ``/api/v1/notices``."""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, current_app, jsonify, request
from flask_babel import gettext
from marshmallow import ValidationError

from intake import abuse
from shared.db import run_with_retry
from shared.extensions import csrf, limiter
from shared.i18n import N_
from shared.models import Channel
from shared.operations import intake, notices, tracking
from shared.schemas.case import (
    follow_up_output,
    notices_output,
    public_case_output,
    rating_output,
    receipt_output,
)
from shared.schemas.submission import feedback_input
from shared.schemas.tracking import follow_up_input, rating_input
from shared.web import current_db, current_language, json_error, json_object_body

bp = Blueprint("api", __name__, url_prefix="/api/v1")
csrf.exempt(bp)  # no cookies are used here, so there is nothing to forge

_IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")


@bp.post("/feedback")
@limiter.limit(abuse.SUBMIT_LIMIT)
def create_feedback():
    payload = json_object_body()
    key = request.headers.get("Idempotency-Key")
    if key is not None and not _IDEMPOTENCY_KEY.match(key):
        raise ValidationError(
            {"Idempotency-Key": [N_("Use 1 to 255 visible ASCII characters as the key.")]}
        )
    submission = intake.Submission(**feedback_input.load(payload))
    submission.channel = Channel.API
    submission.language = current_language()
    submission.idempotency_key = key
    settings = current_app.config
    receipt = run_with_retry(
        current_db(), lambda session: intake.receive(session, submission, settings=settings)
    )
    headers = {"Idempotent-Replayed": "true"} if receipt.replayed else {}
    return receipt_output.dump(receipt), 201, headers


@bp.get("/feedback/<tracking_number>")
@limiter.limit(abuse.LOOKUP_LIMIT)
def show_feedback(tracking_number: str):
    with current_db().session() as session:
        case = _case_for_passcode(session, tracking_number)
        if case is None:
            return json_error(404, gettext("No case with this number and passcode."))
        return public_case_output.dump(
            {**_attributes(case), "replies": tracking.public_replies(case)}
        )


@bp.post("/feedback/<tracking_number>/rating")
@limiter.limit(abuse.LOOKUP_LIMIT)
def rate_feedback(tracking_number: str):
    """The citizen's satisfaction with the answer."""
    data = rating_input.load(json_object_body())
    with current_db().transaction() as session:
        case = _case_for_passcode(session, tracking_number)
        if case is None:
            return json_error(404, gettext("No case with this number and passcode."))
        rating = tracking.rate(
            session, case, data["rating"], data["comment"], settings=current_app.config
        )
        return rating_output.dump(rating), 201


@bp.post("/feedback/<tracking_number>/messages")
@limiter.limit(abuse.LOOKUP_LIMIT)
def add_to_feedback(tracking_number: str):
    """More information from the citizen, added to their own case."""
    data = follow_up_input.load(json_object_body())
    with current_db().transaction() as session:
        case = _case_for_passcode(session, tracking_number)
        if case is None:
            return json_error(404, gettext("No case with this number and passcode."))
        message = tracking.add_information(session, case, data["body"])
        return follow_up_output.dump(message), 201


def _case_for_passcode(session, tracking_number: str):
    passcode = request.headers.get("X-Passcode", "")
    return intake.find_case(session, tracking_number, passcode) if passcode else None


@bp.get("/notices")
def list_notices():
    """Published notices, open or not (``opens_at`` and ``closes_at`` say when they take
    comments); withdrawn notices and drafts are not listed."""
    with current_db().session() as session:
        return jsonify(notices_output.dump(notices.published_notices(session)))


def _attributes(case) -> dict[str, Any]:
    names = (
        "tracking_number",
        "status",
        "subject",
        "received_at",
        "acknowledge_by",
        "reply_due",
        "closed_at",
    )
    return {name: getattr(case, name) for name in names}
