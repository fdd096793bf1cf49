"""The notice page with its comment form, and the receipt."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, abort, current_app, render_template, request
from flask_wtf.csrf import CSRFError
from marshmallow import ValidationError
from sqlalchemy.exc import DBAPIError
from werkzeug.exceptions import RequestEntityTooLarge, TooManyRequests

from intake import abuse
from shared import uploads
from shared.db import run_with_retry, utcnow
from shared.extensions import limiter
from shared.models import Category, Channel
from shared.operations import intake, notices
from shared.schemas.submission import BODY_MAX, feedback_input
from shared.security import new_token, sha256_hex
from shared.web import (
    REFUSED,
    current_db,
    current_language,
    json_http_error,
    refusal_messages,
    translated_errors,
    wants_json,
)

bp = Blueprint("web", __name__)

TEXT_FIELDS = ("body", "subject", "category", "notice_item", "name", "phone", "email")
CHECKBOXES = ("anonymous", "confidential", "publish_consent")


@bp.get("/")
def index():
    return render_form({}, {})


@bp.get("/notices/<int:notice_id>")
def notice_page(notice_id: int):
    """One notice: its text and the form while it takes comments; when it does not (yet, or
    any more), a note saying so and how else to reach the office."""
    return render_form({}, {}, page=Page(notice_id=notice_id))


@bp.get("/feedback")
def general_form():
    """The form for a comment on no notice: the office hears the public at any time."""
    return render_form({}, {}, page=Page(general=True))


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
        submission = intake.Submission(**feedback_input.load(_without_notice_choice(values)))
    except ValidationError as error:
        errors = error.normalized_messages() | errors
    if errors:
        return render_form(values, translated_errors(errors), kept=files.kept()), 422
    submission.attachments = files.uploads
    submission.channel = Channel.WEB
    submission.language = current_language()
    submission.notice_id = _notice_id(values)
    # The same form sent twice (a double tap, a reload) is one comment, not two.
    submission.idempotency_key = _form_idempotency_key(values)
    settings = current_app.config
    try:
        receipt = run_with_retry(
            current_db(), lambda session: intake.receive(session, submission, settings=settings)
        )
    except REFUSED as refused:
        return render_form(values, refusal_messages(refused), kept=files.kept()), 422
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


@dataclass(frozen=True)
class Page:
    """Which page the form is on: the front page, one notice's page, or the general form.
    A form sent back with a mistake is shown again on the same page."""

    notice_id: int | None = None
    general: bool = False

    @classmethod
    def of_form(cls) -> Page:
        return cls(
            notice_id=_plausible_id(request.form.get("page_notice")),
            general=request.form.get("page") == "general",
        )

    def fields(self) -> dict[str, str]:
        """The hidden fields that bring a sent form back to this page."""
        if self.general:
            return {"page": "general"}
        if self.notice_id is not None:
            return {"page_notice": str(self.notice_id)}
        return {}


def render_form(values: dict, errors: dict, page: Page | None = None, **notes) -> str:
    page = page or Page.of_form()
    with current_db().session() as session:
        now = utcnow()
        if page.general:
            shown = []
        elif page.notice_id is not None:
            notice = notices.public_notice(session, page.notice_id)
            if notice is None and request.method == "GET":
                abort(404)
            shown = [notice] if notice is not None else notices.notice_board(session, now).shown
        else:
            shown = notices.notice_board(session, now).shown
        states = {notice.id: notices.state(notice, now) for notice in shown}
        # The form offers the items of the notices open now that invite comments online.
        form_notices = [
            notice
            for notice in shown
            if states[notice.id] == notices.NoticeState.OPEN and notice.invites_web
        ]
        item_groups = {notice.id: _items_by_area(notice) for notice in shown}
        choices = [(notice, item_groups[notice.id]) for notice in form_notices]
        return render_template(
            "index.html",
            notices=shown,
            states=states,
            form_notices=form_notices,
            choices=choices,
            item_groups=item_groups,
            item_counts={
                notice_id: sum(len(items) for _area, items in groups)
                for notice_id, groups in item_groups.items()
            },
            show_form=bool(form_notices) or not shown,
            page=page,
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


#: The form's choice "this notice as a whole" when several notices are open: ``notice:<id>``.
NOTICE_CHOICE = "notice:"


def _without_notice_choice(values: dict) -> dict:
    """The values as the schema takes them: a whole-notice choice is no item."""
    if str(values.get("notice_item") or "").startswith(NOTICE_CHOICE):
        return values | {"notice_item": None}
    return values


def _notice_id(values: dict) -> int | None:
    """The notice a comment without an item is about: the whole-notice choice, else the
    hidden field of a page with one notice."""
    choice = str(values.get("notice_item") or "")
    if choice.startswith(NOTICE_CHOICE):
        return _plausible_id(choice.removeprefix(NOTICE_CHOICE))
    return _plausible_id(request.form.get("notice_id"))


def _plausible_id(value: str | None) -> int | None:
    """A row id, if the value is a plausible one: a forged 10^30 must not reach SQL."""
    if value is None or not value.isdigit() or len(value) > 10:
        return None
    number = int(value)
    return number if 0 < number < 2**31 else None


def _form_idempotency_key(values: dict) -> str:
    token = request.form.get("form_token", "")
    content = repr(sorted(values.items()))
    return "form:" + sha256_hex(f"{token}\0{content}")


def _items_by_area(notice) -> list[tuple[str, list]]:
    """The notice's offered items (not the retired ones), grouped by area in their order."""
    areas: dict[str, list] = {}
    for item in notice.items:
        if not item.retired:
            areas.setdefault(item.area, []).append(item)
    return list(areas.items())
