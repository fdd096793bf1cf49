"""The tracking page: a citizen with the number and passcode sees the case's story, rates the
answer, and adds information."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, redirect, render_template, request, url_for

from intake import abuse
from shared.extensions import limiter
from shared.operations import intake, tracking
from shared.schemas.tracking import follow_up_input, rating_input
from shared.security import normalise_tracking_number, tracking_number_of_rating_token
from shared.web import REFUSED, current_db, current_language, refusal_messages

bp = Blueprint("track", __name__)


@bp.get("/track")
def lookup():
    number = request.args.get("tracking_number", "").strip()
    passcode = request.args.get("passcode", "").strip()
    if number and passcode:
        number = normalise_tracking_number(number)
        return redirect(_case_url(number, passcode))
    return render_template("track_lookup.html", number=number, missing=bool(number or passcode))


@bp.get("/track/<tracking_number>")
@limiter.limit(abuse.LOOKUP_LIMIT)
def case(tracking_number: str):
    return _show(tracking_number, request.args.get("passcode", ""))


@bp.post("/track/<tracking_number>/rating")
@limiter.limit(abuse.LOOKUP_LIMIT)
def rate(tracking_number: str):
    def apply(session, found, data):
        tracking.rate(session, found, data["rating"], data["comment"], settings=current_app.config)

    return _act(tracking_number, rating_input, "rated", apply)


@bp.route("/rate/<token>", methods=["GET", "POST"])
@limiter.limit(abuse.LOOKUP_LIMIT)
def rate_by_link(token: str):
    """The rating link of an answer mail: rate without the passcode, which we do not keep."""
    number = tracking_number_of_rating_token(current_app.config["SECRET_KEY"], token)
    if number is None:
        abort(404)
    errors, values = {}, {}
    with current_db().transaction() as session:
        found = intake.case_by_number(session, number)
        if found is None:
            abort(404)
        if request.method == "POST":
            values = {name: request.form.get(name, "") for name in rating_input.fields}
            try:
                data = rating_input.load(values)
                tracking.rate(
                    session, found, data["rating"], data["comment"], settings=current_app.config
                )
            except REFUSED as refused:
                errors = refusal_messages(refused)
            else:
                return render_template("rate_by_link.html", case=found, done=True)
        return render_template(
            "rate_by_link.html",
            case=found,
            can_rate=tracking.can_rate(session, found),
            errors=errors,
            values=values,
        ), (422 if errors else 200)


@bp.post("/track/<tracking_number>/messages")
@limiter.limit(abuse.LOOKUP_LIMIT)
def add(tracking_number: str):
    def apply(session, found, data):
        tracking.add_information(session, found, data["body"])

    return _act(tracking_number, follow_up_input, "added", apply)


def _act(tracking_number: str, schema, done: str, operation):
    """Validate, apply to the citizen's own case, back to its page; or the page with errors."""
    passcode = request.form.get("passcode", "")
    fields = {name: request.form.get(name, "") for name in schema.fields}
    try:
        data = schema.load(fields)
        with current_db().transaction() as session:
            found = intake.find_case(session, tracking_number, passcode)
            if found is None:
                return _not_found(tracking_number)
            operation(session, found, data)
    except REFUSED as refused:
        return _show(
            tracking_number, passcode, errors=refusal_messages(refused), values=fields
        ), 422
    return redirect(_case_url(tracking_number, passcode, done=done), code=303)


def _show(tracking_number: str, passcode: str, **extra):
    with current_db().session() as session:
        found = intake.find_case(session, tracking_number, passcode) if passcode else None
        if found is None:
            return _not_found(tracking_number)
        return render_template(
            "track.html",
            case=found,
            passcode=passcode,
            timeline=tracking.timeline(session, found),
            can_rate=tracking.can_rate(session, found),
            done=request.args.get("done"),
            errors=extra.get("errors", {}),
            values=extra.get("values", {}),
        )


def _not_found(tracking_number: str):
    return render_template("track_lookup.html", number=tracking_number, not_found=True), 404


def _case_url(tracking_number: str, passcode: str, **params) -> str:
    lang = None if current_language() == "zh" else current_language()
    return url_for(
        "track.case", tracking_number=tracking_number, passcode=passcode, lang=lang, **params
    )
