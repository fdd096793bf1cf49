"""What staff send with a step on a case (assign, return, note, spam, repeat, close)."""

from __future__ import annotations

from dataclasses import dataclass

from marshmallow import EXCLUDE, Schema, fields, post_load, validate

from shared.i18n import N_
from shared.schemas.fields import Line, Text

#: The longest reason staff may give for a step (a transfer, a refusal, an extension...).
REASON_MAX = 1000
#: The longest internal note.
NOTE_MAX = 5000


@dataclass
class CaseStep:
    office: str = ""
    reason: str = ""
    body: str = ""
    duplicate_of: str = ""
    spam: bool = True
    days: int = 0


class CaseStepInputSchema(Schema):
    """Every field is optional here; the operation says which one the step needs."""

    class Meta:
        unknown = EXCLUDE  # a form also sends its CSRF token and buttons

    office = Line(load_default="", validate=validate.Length(max=32))
    reason = Text(
        load_default="",
        validate=validate.Length(
            max=REASON_MAX, error=N_("Keep the reason to 1000 characters or fewer.")
        ),
    )
    body = Text(
        load_default="",
        validate=validate.Length(
            max=NOTE_MAX, error=N_("Keep the note to 5000 characters or fewer.")
        ),
    )
    duplicate_of = Line(load_default="", validate=validate.Length(max=32))
    spam = fields.Boolean(load_default=True, error_messages={"invalid": N_("Choose yes or no.")})
    #: Days of an extension (the operation checks 1 to 30).
    days = fields.Integer(
        load_default=0,
        strict=False,
        error_messages={"invalid": N_("Enter a number of days.")},
        validate=validate.Range(min=0, max=366, error=N_("An extension is 1 to 30 days.")),
    )

    @post_load
    def _make_step(self, data: dict, **_kwargs) -> CaseStep:
        return CaseStep(**{key: value if value is not None else "" for key, value in data.items()})


case_step_input = CaseStepInputSchema()
