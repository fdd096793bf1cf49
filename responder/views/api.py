"""The staff JSON API, authenticated with ``Authorization: Bearer <token>``."""

from __future__ import annotations

from flask import Blueprint, current_app, g, jsonify, request
from flask_babel import gettext
from sqlalchemy import select

from shared.db import run_with_retry
from shared.extensions import csrf
from shared.models import Office
from shared.operations import access, intake, queue, staff
from shared.schemas.case import case_detail_output, case_output, receipt_output, submitter_output
from shared.schemas.submission import staff_case_input
from shared.web import current_db, json_error, json_object_body

bp = Blueprint("staff_api", __name__, url_prefix="/api/v1")
csrf.exempt(bp)  # bearer tokens, not cookies: nothing to forge


@bp.before_request
def authenticate():
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    user = None
    if scheme.lower() == "bearer" and token.strip():
        with current_db().transaction() as session:
            user = staff.user_for_token(session, token.strip())
            if user is not None:
                session.refresh(user, ["offices"])
    if user is None:
        response, status = json_error(401, gettext("A valid API token is required."))
        return response, status, {"WWW-Authenticate": "Bearer"}
    g.staff = user
    return None


@bp.get("/cases")
def list_cases():
    with current_db().session() as session:
        try:
            filters = queue.QueueFilters.from_args(request.args)
            page = queue.list_cases(session, g.staff, filters, cursor=request.args.get("cursor"))
        except queue.BadFilter as error:
            return json_error(400, gettext("The filter %(name)s is not valid.", name=str(error)))
        return {
            "items": [case_output.dump(case) for case in page.items],
            "next_cursor": page.next_cursor,
        }


@bp.get("/cases/<tracking_number>")
def show_case(tracking_number: str):
    with current_db().transaction() as session:
        case = access.case_for(session, g.staff, tracking_number)
        if case is None:
            return json_error(404, gettext("No such case."))
        body = case_detail_output.dump(case)
        submitter = access.submitter_for(session, g.staff, case)
        body["submitter"] = submitter_output.dump(submitter) if submitter is not None else None
        return body


@bp.post("/cases")
def register_case():
    """A phone call, letter or visit, through the same intake path as every other channel."""
    submission = staff_case_input.load(json_object_body())
    submission.registered_by_id = g.staff.id
    settings = current_app.config
    receipt = run_with_retry(
        current_db(), lambda session: intake.receive(session, submission, settings=settings)
    )
    return receipt_output.dump(receipt), 201


@bp.get("/offices")
def list_offices():
    with current_db().session() as session:
        offices = session.scalars(
            select(Office).where(Office.active.is_(True)).order_by(Office.code)
        )
        return jsonify([{"code": o.code, "name": o.name, "email": o.email} for o in offices])
