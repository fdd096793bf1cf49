"""What a citizen sends about their own case: a rating, more information."""

from __future__ import annotations

from marshmallow import RAISE, Schema, fields, validate

from shared.i18n import N_
from shared.models import RatingValue
from shared.schemas.fields import Text, non_blank
from shared.schemas.submission import BODY_MAX

_REQUIRED = {"required": N_("This field is required."), "null": N_("This field is required.")}


class RatingInputSchema(Schema):
    class Meta:
        unknown = RAISE

    rating = fields.String(
        required=True,
        error_messages=_REQUIRED | {"invalid": N_("Choose how satisfied you are.")},
        validate=validate.OneOf(RatingValue.ALL, error=N_("Choose how satisfied you are.")),
    )
    comment = Text(
        load_default="",
        allow_none=True,
        validate=validate.Length(
            max=1000, error=N_("Keep the comment to 1000 characters or fewer.")
        ),
    )


class FollowUpInputSchema(Schema):
    """More information from the citizen on their own case."""

    class Meta:
        unknown = RAISE

    body = Text(
        required=True,
        error_messages=_REQUIRED,
        validate=[
            non_blank,
            validate.Length(max=BODY_MAX, error=N_("Keep the text to 5000 characters or fewer.")),
        ],
    )


rating_input = RatingInputSchema()
follow_up_input = FollowUpInputSchema()
