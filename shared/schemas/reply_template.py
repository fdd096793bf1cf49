"""A reply template as an admin types it, and the tracking number of the case to preview it on."""

from __future__ import annotations

from dataclasses import dataclass

from marshmallow import EXCLUDE, Schema, ValidationError, fields, post_load, validate, validates

from shared.i18n import LANGUAGES, N_
from shared.models import ReplyKind
from shared.operations.errors import StepRefused
from shared.operations.replies import BODY_MAX
from shared.operations.reply_templates import KINDS, check_text
from shared.schemas.fields import Line, Text, non_blank

NAME_MAX = 200

_REQUIRED = {
    "required": N_("This field is required."),
    "null": N_("This field is required."),
    "invalid": N_("Enter text."),
}


@dataclass
class TemplateFields:
    name: str
    kind: str
    language: str
    body: str


class TemplateInputSchema(Schema):
    """The template form."""

    class Meta:
        # The form also carries its CSRF token, the button pressed and the preview's case.
        unknown = EXCLUDE

    name = Line(
        required=True,
        error_messages=_REQUIRED,
        validate=[
            non_blank,
            validate.Length(max=NAME_MAX, error=N_("Keep the name to 200 characters or fewer.")),
        ],
    )
    kind = fields.String(
        load_default=ReplyKind.OTHER,
        error_messages={"invalid": N_("Choose one of the listed kinds of reply.")},
        validate=validate.OneOf(KINDS, error=N_("Choose one of the listed kinds of reply.")),
    )
    language = fields.String(
        load_default="zh",
        error_messages={"invalid": N_("Choose one of the listed languages.")},
        validate=validate.OneOf(LANGUAGES, error=N_("Choose one of the listed languages.")),
    )
    body = Text(
        required=True,
        error_messages=_REQUIRED,
        validate=[
            non_blank,
            validate.Length(max=BODY_MAX, error=N_("Keep the text to 20000 characters or fewer.")),
        ],
    )

    @validates("body")
    def _known_variables(self, value: str, **_kwargs) -> None:
        try:
            check_text(value)
        except StepRefused as refused:
            raise ValidationError(refused.text) from None

    @post_load
    def _make_fields(self, data: dict, **_kwargs) -> TemplateFields:
        return TemplateFields(**data)


class PreviewInputSchema(Schema):
    """Which case a template is tried on."""

    class Meta:
        unknown = EXCLUDE

    tracking_number = Line(
        required=True,
        error_messages={
            "required": N_("Enter the tracking number of a case to fill the template in on."),
            "null": N_("Enter the tracking number of a case to fill the template in on."),
            "invalid": N_("Enter text."),
        },
        validate=validate.Length(
            min=1,
            max=40,
            error=N_("Enter the tracking number of a case to fill the template in on."),
        ),
    )


class TemplateFormSchema(Schema):
    """A stored template as the form's fields, for editing it."""

    name = fields.String()
    kind = fields.String()
    language = fields.String()
    body = fields.String()


template_input = TemplateInputSchema()
preview_input = PreviewInputSchema()
template_form_output = TemplateFormSchema()
