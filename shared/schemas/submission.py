"""The channel-neutral submission every comment becomes, whatever way it arrived."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from marshmallow import (
    RAISE,
    Schema,
    ValidationError,
    fields,
    post_load,
    validate,
    validates,
    validates_schema,
)

from shared.db import SHANGHAI
from shared.i18n import N_
from shared.models import Category, Channel
from shared.schemas.fields import BlankIsAbsent, Line, Text, non_blank

BODY_MAX = 5000
SUBJECT_MAX = 200
#: A phone number as people write one (the OpenAPI document publishes it as the pattern).
PHONE_PATTERN = re.compile(r"^\+?[0-9][0-9 ()\-]{4,30}$")


# The messages of marshmallow's own checks, in words a citizen understands.
_REQUIRED = {"required": N_("This field is required."), "null": N_("This field is required.")}
_OPTIONAL = {"invalid": N_("Enter text.")}
_BOOLEAN = {"invalid": N_("Choose yes or no.")}


class FeedbackInputSchema(BlankIsAbsent, Schema):
    """A comment from the public: the web form and ``POST /api/v1/feedback``."""

    class Meta:
        unknown = RAISE

    body = Text(
        required=True,
        error_messages=_REQUIRED | {"invalid": N_("Enter text.")},
        validate=[
            non_blank,
            validate.Length(max=BODY_MAX, error=N_("Keep the text to 5000 characters or fewer.")),
        ],
    )
    subject = Line(
        load_default="",
        allow_none=True,
        error_messages=_OPTIONAL,
        validate=validate.Length(
            max=SUBJECT_MAX, error=N_("Keep the subject to 200 characters or fewer.")
        ),
    )
    category = fields.String(
        load_default=None,
        allow_none=True,
        error_messages=_OPTIONAL,
        validate=validate.OneOf(
            Category.ALL, error=N_("Choose one of the listed kinds of comment.")
        ),
    )
    notice_item = Line(
        load_default=None,
        allow_none=True,
        error_messages=_OPTIONAL,
        validate=validate.Length(max=32, error=N_("Choose one of the listed items.")),
    )
    name = Line(
        load_default=None,
        allow_none=True,
        error_messages=_OPTIONAL,
        validate=validate.Length(max=100, error=N_("Keep the name to 100 characters or fewer.")),
    )
    phone = Line(load_default=None, allow_none=True, error_messages=_OPTIONAL)
    email = fields.Email(
        load_default=None,
        allow_none=True,
        error_messages={"invalid": N_("Enter an email address like name@example.com.")},
        validate=validate.Length(
            max=254, error=N_("Enter an email address like name@example.com.")
        ),
    )
    address = Line(
        load_default=None,
        allow_none=True,
        error_messages=_OPTIONAL,
        validate=validate.Length(max=300, error=N_("Keep the address to 300 characters or fewer.")),
    )
    anonymous = fields.Boolean(load_default=False, error_messages=_BOOLEAN)
    confidential = fields.Boolean(load_default=False, error_messages=_BOOLEAN)
    publish_consent = fields.Boolean(load_default=False, error_messages=_BOOLEAN)

    @validates("phone")
    def _phone(self, value: str | None, **_kwargs) -> None:
        if value and not PHONE_PATTERN.match(value):
            raise ValidationError(N_("Enter a phone number of digits, e.g. 0932-5552740."))

    @validates("email")
    def _email_line(self, value: str | None, **_kwargs) -> None:
        # fields.Email lets some odd characters through; a header must get none of them.
        if value and any(ch in value for ch in "\r\n\0<>,;\"'"):
            raise ValidationError(N_("Enter an email address like name@example.com."))

    @validates_schema
    def _anonymous_gives_no_identity(self, data: dict, **_kwargs) -> None:
        if data.get("anonymous") and any(data.get(key) for key in ("name", "phone", "email")):
            raise ValidationError(
                N_(
                    "You chose to stay anonymous: leave name, phone and email empty, "
                    "or untick anonymous."
                ),
                "anonymous",
            )

    @post_load
    def _normalise(self, data: dict, **_kwargs) -> dict:
        """The fields of ``Submission``, which ``intake.receive`` takes."""
        data["subject"] = data.get("subject") or ""
        return data


class StaffCaseInputSchema(FeedbackInputSchema):
    """A phone call, letter or visit registered by staff: ``POST /api/v1/cases``."""

    channel = fields.String(
        required=True,
        error_messages=_REQUIRED,
        validate=validate.OneOf(Channel.STAFF, error=N_("Choose phone, letter or visit.")),
    )
    received_at = fields.DateTime(
        load_default=None,
        allow_none=True,
        error_messages={"invalid": N_("Enter a date and time like 2026-03-01T09:30.")},
    )

    @validates("received_at")
    def _not_in_future(self, value: datetime | None, **_kwargs) -> None:
        if value and as_utc(value) > datetime.now(UTC) + timedelta(minutes=5):
            raise ValidationError(N_("The date received cannot be in the future."))

    @post_load
    def _normalise(self, data: dict, **kwargs) -> dict:
        if data.get("received_at"):
            data["received_at"] = as_utc(data["received_at"])
        return super()._normalise(data, **kwargs)


def as_utc(value: datetime) -> datetime:
    """A time a person typed without an offset is Asia/Shanghai time."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=SHANGHAI)
    return value.astimezone(UTC)


feedback_input = FeedbackInputSchema()
staff_case_input = StaffCaseInputSchema()
