"""An office as an admin types it: its code (once), name, mailbox and review levels; and the
office another is merged into."""

from __future__ import annotations

import re

from marshmallow import EXCLUDE, Schema, fields, post_load, validate

from shared.i18n import N_
from shared.schemas.fields import BlankIsAbsent, Line, non_blank

CODE_MAX = 32
NAME_MAX = 200
EMAIL_MAX = 320
MAX_REVIEW_LEVELS = 3
#: Lower-case letters, digits, ``_`` and ``-``: the code is the office's public identifier in
#: the API, the reports and the routing rules, so it is typed once and never changes.
CODE_PATTERN = re.compile(r"^[a-z0-9_-]*$")  # blank: non_blank says so

_REQUIRED = {
    "required": N_("This field is required."),
    "null": N_("This field is required."),
    "invalid": N_("Enter text."),
}


class OfficeEditSchema(BlankIsAbsent, Schema):
    """The office form of an existing office: the code is not among its fields."""

    class Meta:
        unknown = EXCLUDE  # the form also carries its CSRF token

    name = Line(
        required=True,
        error_messages=_REQUIRED,
        validate=[
            non_blank,
            validate.Length(max=NAME_MAX, error=N_("Keep the name to 200 characters or fewer.")),
        ],
    )
    email = Line(
        load_default=None,
        allow_none=True,
        error_messages=_REQUIRED,
        validate=[
            validate.Length(
                max=EMAIL_MAX, error=N_("Enter a mail address such as office@example.cn.")
            ),
            validate.Email(error=N_("Enter a mail address such as office@example.cn.")),
        ],
    )
    review_levels = fields.Integer(
        required=True,
        strict=False,
        error_messages={
            "required": N_("Choose 0 to 3 review levels."),
            "null": N_("Choose 0 to 3 review levels."),
            "invalid": N_("Choose 0 to 3 review levels."),
        },
        validate=validate.Range(
            min=0, max=MAX_REVIEW_LEVELS, error=N_("Choose 0 to 3 review levels.")
        ),
    )

    @post_load
    def _normalise(self, data: dict, **_kwargs) -> dict:
        """The fields of ``OfficeFields``, which the office operations take."""
        email = data.get("email")
        data["email"] = email.lower() if email else None
        return data


class OfficeCreateSchema(OfficeEditSchema):
    """The form of a new office: its code too."""

    code = Line(
        required=True,
        error_messages=_REQUIRED,
        validate=[
            non_blank,
            validate.Length(max=CODE_MAX, error=N_("Keep the code to 32 characters or fewer.")),
            validate.Regexp(
                CODE_PATTERN,
                error=N_("Use lower-case letters a-z, digits, “_” and “-” only, e.g. finance."),
            ),
        ],
    )


_CONFIRM = N_("Tick that you know a merge cannot be undone.")


class MergeSchema(Schema):
    """Which office takes over everything of the merged one."""

    class Meta:
        unknown = EXCLUDE

    into = Line(
        required=True,
        error_messages={
            "required": N_("Choose the office to merge into."),
            "null": N_("Choose the office to merge into."),
            "invalid": N_("Choose the office to merge into."),
        },
        validate=validate.Length(min=1, max=CODE_MAX, error=N_("Choose the office to merge into.")),
    )
    #: A merge cannot be undone: the admin ticks that they know.
    confirm = fields.Boolean(
        required=True,
        validate=validate.Equal(True, error=_CONFIRM),
        error_messages={"required": _CONFIRM, "null": _CONFIRM, "invalid": _CONFIRM},
    )


office_edit_input = OfficeEditSchema()
office_create_input = OfficeCreateSchema()
merge_input = MergeSchema()
