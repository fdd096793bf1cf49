"""The public page's filters, and what staff send to publish a case."""

from __future__ import annotations

from marshmallow import EXCLUDE, Schema, fields, validate

from shared.i18n import N_
from shared.schemas.fields import Line, Text

#: The longest public version of a comment (the same limit as the comment itself).
COMMENT_MAX = 5000
QUERY_MAX = 100
#: Row ids fit PostgreSQL's integer: a forged 10^30 must not reach SQL.
_ID = validate.Range(min=1, max=2**31 - 1, error=N_("Choose one of the listed notices."))


class AnsweredFiltersSchema(Schema):
    """``?notice=&q=&page=`` of the page of answered comments (blank ones left out first)."""

    class Meta:
        unknown = EXCLUDE  # lang and whatever else a link carries

    notice = fields.Integer(
        load_default=None,
        strict=False,
        validate=_ID,
        error_messages={"invalid": N_("Choose one of the listed notices.")},
    )
    q = Line(
        load_default="",
        validate=validate.Length(
            max=QUERY_MAX, error=N_("Keep the search to 100 characters or fewer.")
        ),
    )
    page = fields.Integer(
        load_default=1,
        strict=False,
        validate=validate.Range(min=1, max=100_000, error=N_("There is no such page.")),
        error_messages={"invalid": N_("There is no such page.")},
    )


class PublishInputSchema(Schema):
    """The public versions of the comment and of the answer, as staff edited them."""

    class Meta:
        unknown = EXCLUDE  # a form also sends its CSRF token

    comment = Text(
        required=True,
        validate=validate.Length(
            max=COMMENT_MAX, error=N_("Keep the public version to 5000 characters or fewer.")
        ),
        error_messages={"required": N_("Write the public version of the comment.")},
    )
    #: Left out: the answer as the tracking page shows it, with the automatic redaction.
    answer = Text(
        load_default=None,
        validate=validate.Length(
            max=COMMENT_MAX, error=N_("Keep the public version to 5000 characters or fewer.")
        ),
    )


answered_filters_input = AnsweredFiltersSchema()
publish_input = PublishInputSchema()
