"""A reply template as an admin types it, and the tracking number of the case to preview it on."""

from __future__ import annotations

import string
from collections.abc import Collection
from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate, validates

from shared.i18n import LANGUAGES, N_, Formatted
from shared.models import ReplyKind
from shared.schemas.fields import Line, Text, non_blank
from shared.schemas.reply import BODY_MAX

NAME_MAX = 200

_REQUIRED = {
    "required": N_("This field is required."),
    "null": N_("This field is required."),
    "invalid": N_("Enter text."),
}


class TemplateInputSchema(Schema):
    """The template form: the fields of ``TemplateFields``. The variables a text may name are
    given when the schema is made."""

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
        validate=validate.OneOf(
            ReplyKind.ALL, error=N_("Choose one of the listed kinds of reply.")
        ),
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

    def __init__(self, variables: Collection[str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.variables = variables

    @validates("body")
    def _known_variables(self, value: str, **_kwargs) -> None:
        problem = text_problem(value, self.variables)
        if problem is not None:
            raise ValidationError(problem)


def text_problem(body: str, variables: Collection[str]) -> Formatted | None:
    """What is wrong with a template's text, or None: every ``{...}`` must be one of
    ``variables``, written plainly (no ``!r``, ``:>10``, ``.attribute`` or ``[index]``);
    ``{{`` and ``}}`` stand for a brace itself."""
    allowed = ", ".join("{" + name + "}" for name in variables)
    try:
        parsed = list(string.Formatter().parse(body))
    except ValueError:
        return Formatted(
            N_(
                "The braces do not match: every { needs its }, and a brace meant as text "
                "is written twice ({{ or }}). The variables allowed are: %(allowed)s."
            ),
            allowed=allowed,
        )
    unknown = []
    for _literal, field, spec, conversion in parsed:
        if field is None:
            continue
        written = "{" + field + (f"!{conversion}" if conversion else "")
        written += (f":{spec}" if spec else "") + "}"
        if field not in variables or spec or conversion:
            unknown.append(written)
    if unknown:
        return Formatted(
            N_("Unknown variable: %(unknown)s. The variables allowed are: %(allowed)s."),
            unknown=", ".join(dict.fromkeys(unknown)),
            allowed=allowed,
        )
    return None


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


preview_input = PreviewInputSchema()
template_form_output = TemplateFormSchema()
