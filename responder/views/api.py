"""The staff JSON API, authenticated with ``Authorization: Bearer <token>``."""

from __future__ import annotations

from flask import Blueprint, current_app, g, jsonify, request
from flask_babel import gettext

from shared.db import run_with_retry
from shared.extensions import csrf
from shared.models import Reply
from shared.operations import (
    access,
    accounts,
    cases,
    deadlines,
    intake,
    offices,
    publication,
    queue,
    replies,
)
from shared.reports import archive
from shared.reports.months import requested_month
from shared.reports.scope import scope_for
from shared.schemas.case import case_detail_output, case_output, receipt_output, submitter_output
from shared.schemas.case_step import case_step_input
from shared.schemas.publication import publish_input
from shared.schemas.reply import reply_input, reply_output, review_input
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
            user = accounts.user_for_token(session, token.strip())
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
        filters = queue.QueueFilters.from_args(request.args)
        page = queue.list_cases(session, g.staff, filters, cursor=request.args.get("cursor"))
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
    submission = intake.Submission(**staff_case_input.load(json_object_body()))
    submission.registered_by_id = g.staff.id
    settings = current_app.config
    receipt = run_with_retry(
        current_db(), lambda session: intake.receive(session, submission, settings=settings)
    )
    return receipt_output.dump(receipt), 201


def _case_step(tracking_number: str, step, status: int = 200):
    """Do one staff step to a case the token's user may see; answer with the case."""
    with current_db().transaction() as session:
        case = access.case_for(session, g.staff, tracking_number)
        if case is None:
            return json_error(404, gettext("No such case."))
        step(session, case)
        return case_output.dump(case), status


@bp.post("/cases/<tracking_number>/assign")
def assign_case(tracking_number: str):
    step = case_step_input.load(json_object_body())
    return _case_step(
        tracking_number,
        lambda session, case: cases.assign(session, g.staff, case, step.office, step.reason),
    )


@bp.post("/cases/<tracking_number>/return")
def return_case(tracking_number: str):
    """ "Not ours": back to triage with ``{"reason"}``."""
    step = case_step_input.load(json_object_body())
    return _case_step(
        tracking_number,
        lambda session, case: cases.return_to_triage(session, g.staff, case, step.reason),
    )


@bp.post("/cases/<tracking_number>/notes")
def add_note(tracking_number: str):
    step = case_step_input.load(json_object_body())
    return _case_step(
        tracking_number,
        lambda session, case: cases.add_note(session, g.staff, case, step.body),
        status=201,
    )


@bp.post("/cases/<tracking_number>/spam")
def mark_spam(tracking_number: str):
    """``{"spam": true|false, "reason"}``: mark as spam, or take it back."""
    step = case_step_input.load(json_object_body(optional=True))
    if not step.spam:
        return _case_step(
            tracking_number, lambda session, case: cases.unmark_spam(session, g.staff, case)
        )
    return _case_step(
        tracking_number,
        lambda session, case: cases.mark_spam(session, g.staff, case, step.reason),
    )


@bp.post("/cases/<tracking_number>/duplicate")
def mark_duplicate(tracking_number: str):
    """``{"duplicate_of": TRACKING_NUMBER, "reason"}``."""
    step = case_step_input.load(json_object_body())
    return _case_step(
        tracking_number,
        lambda session, case: cases.mark_duplicate(
            session, g.staff, case, step.duplicate_of, step.reason
        ),
    )


@bp.post("/cases/<tracking_number>/close")
def close_case(tracking_number: str):
    """Close, with an optional ``{"reason"}`` (a body is not required)."""
    step = case_step_input.load(json_object_body(optional=True))
    return _case_step(
        tracking_number, lambda session, case: cases.close(session, g.staff, case, step.reason)
    )


@bp.post("/cases/<tracking_number>/publish")
def publish_case(tracking_number: str):
    """``{"comment", "answer"}``: publish the case on the page of answered comments with these
    public versions of the comment and the answer (``answer`` left out: the tracking page's,
    with the automatic redaction); admins and the reviewers of the case's office."""
    with current_db().transaction() as session:
        case = access.case_for(session, g.staff, tracking_number)
        if case is None:  # looked up first: a stranger learns nothing from the body's errors
            return json_error(404, gettext("No such case."))
        given = publish_input.load(json_object_body())
        publication.publish(session, g.staff, case, given["comment"], given["answer"])
        return {"tracking_number": case.tracking_number, "published": case.published}


@bp.post("/cases/<tracking_number>/unpublish")
def unpublish_case(tracking_number: str):
    """Take the case off the page of answered comments."""
    with current_db().transaction() as session:
        case = access.case_for(session, g.staff, tracking_number)
        if case is None:
            return json_error(404, gettext("No such case."))
        publication.unpublish(session, g.staff, case)
        return {"tracking_number": case.tracking_number, "published": case.published}


def _reply_step(reply_id: int, step, status: int = 200):
    """A step on a reply of a case the token's user may see; answers with the reply."""
    with current_db().transaction() as session:
        reply = session.get(Reply, reply_id)
        case = access.case_for_id(session, g.staff, reply.case_id) if reply else None
        if case is None:
            return json_error(404, gettext("No such reply."))
        step(session, reply, case)
        return reply_output.dump(reply), status


@bp.post("/cases/<tracking_number>/replies")
def create_reply(tracking_number: str):
    """A reply ``{"body", "public", "public_body", "kind", "whole_cluster", "submit"}``. It goes
    to review at once (``"submit": false`` keeps it a draft); with no review levels it is sent."""
    data = reply_input.load(json_object_body())
    settings = current_app.config
    with current_db().transaction() as session:
        case = access.case_for(session, g.staff, tracking_number)
        if case is None:
            return json_error(404, gettext("No such case."))
        reply = replies.draft(
            session,
            g.staff,
            case,
            data["body"],
            kind=data["kind"],
            public=data["public"],
            public_body=data["public_body"],
            whole_cluster=data["whole_cluster"],
        )
        if data["submit"]:
            replies.submit(session, g.staff, reply, settings)
        return reply_output.dump(reply), 201


@bp.post("/replies/<int:reply_id>/submit")
def submit_reply(reply_id: int):
    settings = current_app.config
    return _reply_step(
        reply_id, lambda session, reply, case: replies.submit(session, g.staff, reply, settings)
    )


@bp.post("/replies/<int:reply_id>/approve")
def approve_reply(reply_id: int):
    """One level of sign-off (``{"comment"}`` optional); the last level sends the reply."""
    comment = review_input.load(json_object_body(optional=True))["comment"]
    settings = current_app.config
    return _reply_step(
        reply_id,
        lambda session, reply, case: replies.approve(session, g.staff, reply, settings, comment),
    )


@bp.post("/replies/<int:reply_id>/return")
def return_reply(reply_id: int):
    """Back to the author with ``{"comment"}`` saying what to change."""
    comment = review_input.load(json_object_body())["comment"]
    return _reply_step(
        reply_id,
        lambda session, reply, case: replies.return_to_author(session, g.staff, reply, comment),
    )


@bp.post("/cases/<tracking_number>/extension")
def request_extension(tracking_number: str):
    """Ask for the one extension: ``{"days": 1..30, "reason"}``; it waits for approval."""
    step = case_step_input.load(json_object_body())
    return _case_step(
        tracking_number,
        lambda session, case: deadlines.request_extension(
            session, g.staff, case, step.days, step.reason
        ),
    )


@bp.post("/cases/<tracking_number>/extension/approve")
def approve_extension(tracking_number: str):
    return _case_step(
        tracking_number,
        lambda session, case: deadlines.approve_extension(session, g.staff, case),
    )


@bp.post("/cases/<tracking_number>/extension/reject")
def reject_extension(tracking_number: str):
    """Refuse the extension asked for, with ``{"reason"}``."""
    step = case_step_input.load(json_object_body())
    return _case_step(
        tracking_number,
        lambda session, case: deadlines.reject_extension(session, g.staff, case, step.reason),
    )


@bp.get("/offices")
def list_offices():
    with current_db().session() as session:
        active = offices.active_offices(session)
        return jsonify([{"code": o.code, "name": o.name, "email": o.email} for o in active])


@bp.get("/reports/monthly")
def monthly_report():
    """The monthly report as JSON: ``?month=YYYY-MM`` (default: the last completed month),
    ``&office=CODE`` for one office. Officers and reviewers get their own offices' figures
    only. A completed month answers from the archive (the same figures every time)."""
    month = requested_month(request.args.get("month"))

    def load(session):
        scope = scope_for(session, g.staff, request.args.get("office") or None)
        if scope == []:
            return None
        return archive.report(session, month, scope).data

    data = run_with_retry(current_db(), load)
    if data is None:
        return json_error(404, gettext("You belong to no office, so there is no report for you."))
    return jsonify(data)
