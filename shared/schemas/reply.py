"""Replies through the staff API: what is sent in, and what comes back."""

from __future__ import annotations

from marshmallow import RAISE, Schema, fields, validate

from shared.i18n import N_
from shared.models import ReplyKind, ReplyState
from shared.schemas.case import ShanghaiDateTime
from shared.schemas.fields import Text, non_blank

#: The longest reply (and reply template).
BODY_MAX = 20_000
_LENGTH = validate.Length(max=BODY_MAX, error=N_("Keep the text to 20000 characters or fewer."))
_BOOLEAN = {"invalid": N_("Choose yes or no.")}


class ReplyInputSchema(Schema):
    class Meta:
        unknown = RAISE

    body = Text(
        required=True,
        error_messages={"required": N_("This field is required.")},
        validate=[non_blank, _LENGTH],
    )
    public_body = Text(load_default=None, allow_none=True, validate=_LENGTH)
    public = fields.Boolean(load_default=True, error_messages=_BOOLEAN)
    kind = fields.String(
        load_default=ReplyKind.ANSWER,
        validate=validate.OneOf(
            ReplyKind.ALL, error=N_("Choose one of the listed kinds of reply.")
        ),
    )
    whole_cluster = fields.Boolean(load_default=False, error_messages=_BOOLEAN)
    submit = fields.Boolean(load_default=True, error_messages=_BOOLEAN)


class ReviewInputSchema(Schema):
    class Meta:
        unknown = RAISE

    comment = Text(load_default="", validate=validate.Length(max=2000))


class ReplyOutputSchema(Schema):
    id = fields.Integer()
    state = fields.String(metadata={"enum": list(ReplyState.ALL)})
    kind = fields.String()
    body = fields.String()
    public_body = fields.String()
    public = fields.Boolean()
    levels_required = fields.Integer()
    levels_approved = fields.Integer()
    created_at = ShanghaiDateTime()
    sent_at = ShanghaiDateTime()


reply_input = ReplyInputSchema()
review_input = ReviewInputSchema()
reply_output = ReplyOutputSchema()
