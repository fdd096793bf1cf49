"""Answered comments (留言选登): the comments whose citizens agreed to publication, with the
answers, as staff published them; and each notice's count of comments received and answered."""

from __future__ import annotations

import time
from collections.abc import Callable

from flask import Blueprint, current_app, g, render_template, request
from marshmallow import ValidationError

from intake import abuse
from shared.extensions import limiter
from shared.operations import publication
from shared.schemas.publication import answered_filters_input
from shared.web import current_db, translated_errors

bp = Blueprint("answered", __name__, url_prefix="/answered")

#: Seconds the notices' counts are reused: the notice page is the intake's busiest, and the
#: counts are a GROUP BY over every case.
COUNTS_SECONDS = 60


@bp.get("/")
@limiter.limit(abuse.LOOKUP_LIMIT, exempt_when=lambda: not request.args.get("q"))
def index():
    given = {name: value for name, value in request.args.items() if value.strip()}
    errors: dict = {}
    try:
        filters = answered_filters_input.load(given)
    except ValidationError as error:
        errors = translated_errors(error.normalized_messages())
        filters = {"notice": None, "q": "", "page": 1}
    with current_db().session() as session:
        notices = publication.public_notices(session)
        result = None
        if not errors:
            result = publication.published(
                session, notice_id=filters["notice"], query=filters["q"], page=filters["page"]
            )
        return render_template(
            "answered.html",
            result=result,
            notices=notices,
            notice_titles=dict(notices),
            filters=filters,
            values=given,
            errors=errors,
        ), (422 if errors else 200)


@bp.app_context_processor
def _notice_counts() -> dict[str, Callable[[], dict[int, tuple[int, int]]]]:
    """``notice_counts()`` for every intake template (``_notice_counts.html``): asked only by
    a page that shows them, once per request, and reused for COUNTS_SECONDS."""
    return {"notice_counts": notice_counts}


def notice_counts() -> dict[int, tuple[int, int]]:
    if "notice_counts" not in g:
        g.notice_counts = _cached_counts()
    return g.notice_counts


def _cached_counts() -> dict[int, tuple[int, int]]:
    seconds = current_app.config.get("NOTICE_COUNTS_SECONDS", COUNTS_SECONDS)
    cached = current_app.extensions.get("minyi.notice_counts")
    now = time.monotonic()
    if cached is not None and now - cached[0] < seconds:
        return cached[1]
    with current_db().session() as session:
        counts = publication.notice_counts(session)
    current_app.extensions["minyi.notice_counts"] = (now, counts)
    return counts
