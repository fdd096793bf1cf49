"""The notice page with its comment form, and the receipt."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template, request
from flask_wtf.csrf import CSRFError
from marshmallow import ValidationError
from sqlalchemy.exc import DBAPIError
from werkzeug.exceptions import RequestEntityTooLarge, TooManyRequests

from intake import abuse
from shared import uploads
from shared.db import run_with_retry
from shared.extensions import limiter
from shared.models import Category, Channel
from shared.operations import intake, notices
from shared.schemas.submission import BODY_MAX, feedback_input
from shared.security import new_token, sha256_hex
from shared.web import (
    current_db,
    current_language,
    json_http_error,
    translated_errors,
    wants_json,
)

bp = Blueprint("web", __name__)

TEXT_FIELDS = ("body", "subject", "category", "notice_item", "name", "phone", "email")
CHECKBOXES = ("anonymous", "confidential", "publish_consent")


@bp.get("/")
def index():
    return render_form({}, {})


@bp.post("/feedback")
@limiter.limit(abuse.SUBMIT_LIMIT)
def submit():
    values = _form_values()
    files = uploads.form_files()
    errors = abuse.form_problems(request.form)
    if abuse.captcha_required():
        errors |= abuse.captcha_problems(request.form)
    if files.errors:
        errors["attachments"] = files.errors
    try:
        submission = feedback_input.load(values)
    except ValidationError as error:
        errors = error.normalized_messages() | errors
    if errors:
        return render_form(values, translated_errors(errors), kept=files.kept()), 422
    submission.attachments = files.uploads
    submission.channel = Channel.WEB
    submission.language = current_language()
    submission.notice_id = _notice_id()
    # The same form sent twice (a double tap, a reload) is one comment, not two.
    submission.idempotency_key = _form_idempotency_key(values)
    settings = current_app.config
    try:
        receipt = run_with_retry(
            current_db(), lambda session: intake.receive(session, submission, settings=settings)
        )
    except ValidationError as error:
        errors = translated_errors(error.normalized_messages())
        return render_form(values, errors, kept=files.kept()), 422
    except DBAPIError:
        current_app.logger.exception("comment form: database unavailable")
        return render_form(values, {}, unavailable=True), 503
    if not receipt.replayed:
        abuse.count_comment()
    return render_template("receipt.html", receipt=receipt)


@bp.app_errorhandler(CSRFError)
def expired_form(error: CSRFError):
    """An expired or missing form token: show the form again with everything typed kept."""
    if request.endpoint == "web.submit":
        return render_form(_form_values(), {}, expired=True), 400
    return error


@bp.app_errorhandler(413)
def too_large(error: RequestEntityTooLarge):
    """An upload over the limit: a page that says what the limits are, not a broken connection."""
    if wants_json():
        return json_http_error(error)
    config = current_app.config
    return render_template(
        "too_large.html",
        total_mb=config["MAX_CONTENT_LENGTH"] // 2**20,
        each_mb=config["MAX_ATTACHMENT_BYTES"] // 2**20,
    ), 413


@bp.app_errorhandler(429)
def too_many(error: TooManyRequests):
    """Too many comments from one address: the form again, everything typed kept."""
    if request.endpoint == "web.submit":
        return render_form(_form_values(), {}, rate_limited=True), 429
    return json_http_error(error) if wants_json() else error


def render_form(values: dict, errors: dict, **notes) -> str:
    with current_db().session() as session:
        open_notices = notices.open_notices(session)
        notice = open_notices[0] if open_notices else None
        areas = _items_by_area(notice)
        return render_template(
            "index.html",
            notice=notice,
            areas=areas,
            item_count=sum(len(items) for _area, items in areas),
            categories=Category.ALL,
            values=values,
            errors=errors,
            body_max=BODY_MAX,
            form_token=request.form.get("form_token") or new_token(16),
            form_shown=abuse.form_stamp(),
            honeypot=abuse.HONEYPOT,
            captcha=abuse.new_captcha() if abuse.captcha_required() else None,
            max_attachments=current_app.config["MAX_ATTACHMENTS"],
            max_attachment_mb=current_app.config["MAX_ATTACHMENT_BYTES"] // 2**20,
            **notes,
        )


def _form_values() -> dict:
    values = {name: request.form.get(name, "") for name in TEXT_FIELDS}
    for name in CHECKBOXES:
        values[name] = name in request.form
    return values


def _notice_id() -> int | None:
    """The hidden notice id, if it is a plausible row id: a forged 10^30 must not reach SQL."""
    value = request.form.get("notice_id", type=int)
    return value if value is not None and 0 < value < 2**31 else None


def _form_idempotency_key(values: dict) -> str:
    token = request.form.get("form_token", "")
    content = repr(sorted(values.items()))
    return "form:" + sha256_hex(f"{token}\0{content}")


def _items_by_area(notice) -> list[tuple[str, list]]:
    areas: dict[str, list] = {}
    if notice is not None:
        for item in notice.items:
            if not item.retired:
                areas.setdefault(item.area, []).append(item)
    return list(areas.items())
