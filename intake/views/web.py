"""The notice page with its comment form, and the receipt."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template, request
from flask_wtf.csrf import CSRFError
from marshmallow import ValidationError
from sqlalchemy.exc import DBAPIError

from shared.db import run_with_retry
from shared.models import Category, Channel
from shared.operations import intake, notices
from shared.schemas.submission import BODY_MAX, feedback_input
from shared.security import new_token, sha256_hex
from shared.web import current_db, current_language, translated_errors

bp = Blueprint("web", __name__)

TEXT_FIELDS = ("body", "subject", "category", "notice_item", "name", "phone", "email")
CHECKBOXES = ("anonymous", "confidential", "publish_consent")


@bp.get("/")
def index():
    return render_form({}, {})


@bp.post("/feedback")
def submit():
    values = _form_values()
    try:
        submission = feedback_input.load(values)
        submission.channel = Channel.WEB
        submission.language = current_language()
        submission.notice_id = _notice_id()
        # The same form sent twice (a double tap, a reload) is one comment, not two.
        submission.idempotency_key = _form_idempotency_key(values)
        settings = current_app.config
        receipt = run_with_retry(
            current_db(), lambda session: intake.receive(session, submission, settings=settings)
        )
    except ValidationError as error:
        return render_form(values, translated_errors(error.messages)), 422
    except DBAPIError:
        current_app.logger.exception("comment form: database unavailable")
        return render_form(values, {}, unavailable=True), 503
    return render_template("receipt.html", receipt=receipt)


@bp.app_errorhandler(CSRFError)
def expired_form(error: CSRFError):
    """An expired or missing form token: show the form again with everything typed kept."""
    if request.endpoint == "web.submit":
        return render_form(_form_values(), {}, expired=True), 400
    return error


def render_form(values: dict, errors: dict, **notes) -> str:
    with current_db().session() as session:
        open_notices = notices.open_notices(session)
        notice = open_notices[0] if open_notices else None
        return render_template(
            "index.html",
            notice=notice,
            areas=_items_by_area(notice),
            categories=Category.ALL,
            values=values,
            errors=errors,
            body_max=BODY_MAX,
            form_token=request.form.get("form_token") or new_token(16),
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
