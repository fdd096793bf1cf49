"""A member of staff as an admin invites them, and the role and offices an admin gives them."""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import Any

from marshmallow import (
    EXCLUDE,
    Schema,
    ValidationError,
    fields,
    post_load,
    validate,
    validates,
    validates_schema,
)

from shared.i18n import N_
from shared.models import Role
from shared.schemas.fields import Line, non_blank

USERNAME_MAX = 64
DISPLAY_NAME_MAX = 100
EMAIL_MAX = 320
#: Letters, digits, ``.``, ``_`` and ``-``, starting with a letter or digit: a username is typed
#: at every login and appears in the audit trail, so it is kept plain.
USERNAME_PATTERN = re.compile(r"^(?:[A-Za-z0-9][A-Za-z0-9._-]*)?$")
#: The roles that work only in their offices, so they need at least one.
ROLES_WITH_OFFICES = (Role.OFFICER, Role.REVIEWER)

_REQUIRED = {
    "required": N_("This field is required."),
    "null": N_("This field is required."),
    "invalid": N_("Enter text."),
}
_ROLE = {
    "required": N_("Choose a role."),
    "null": N_("Choose a role."),
    "invalid": N_("Choose a role."),
}
_OFFICES = {"invalid": N_("Choose offices from the list.")}


class StaffAccessSchema(Schema):
    """Role and offices. Which offices may be chosen (the active ones) is given when the
    schema is made."""

    class Meta:
        unknown = EXCLUDE  # the form also carries its CSRF token

    role = fields.String(
        required=True,
        error_messages=_ROLE,
        validate=validate.OneOf(Role.ALL, error=N_("Choose a role.")),
    )
    offices = fields.List(
        fields.String(error_messages=_OFFICES), load_default=list, error_messages=_OFFICES
    )

    def __init__(self, office_codes: Collection[str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.office_codes = office_codes

    @validates("offices")
    def _known_offices(self, value: list[str], **_kwargs) -> None:
        if any(code not in self.office_codes for code in value):
            raise ValidationError(N_("Choose offices from the list."))

    @validates_schema
    def _offices_for_role(self, data: dict, **_kwargs) -> None:
        if data.get("role") in ROLES_WITH_OFFICES and not data.get("offices"):
            raise ValidationError(N_("Officers and reviewers need at least one office."), "offices")

    @post_load
    def _normalise(self, data: dict, **_kwargs) -> dict[str, Any]:
        """The fields of ``StaffAccess`` (of ``Invitation`` for the invitation form), each
        office once."""
        return {**data, "offices": list(dict.fromkeys(data["offices"]))}


class InvitationSchema(StaffAccessSchema):
    """The invitation form: the account's name, display name and mail address too."""

    username = Line(
        required=True,
        error_messages=_REQUIRED,
        validate=[
            non_blank,
            validate.Length(
                max=USERNAME_MAX, error=N_("Keep the username to 64 characters or fewer.")
            ),
            validate.Regexp(
                USERNAME_PATTERN,
                error=N_("Use letters a-z, digits, “.”, “_” and “-” only, e.g. wang.li."),
            ),
        ],
    )
    display_name = Line(
        required=True,
        error_messages=_REQUIRED,
        validate=[
            non_blank,
            validate.Length(
                max=DISPLAY_NAME_MAX, error=N_("Keep the name to 100 characters or fewer.")
            ),
        ],
    )
    email = Line(
        required=True,
        error_messages=_REQUIRED,
        validate=[
            non_blank,
            validate.Length(
                max=EMAIL_MAX, error=N_("Enter a mail address such as wang.li@example.cn.")
            ),
            validate.Email(error=N_("Enter a mail address such as wang.li@example.cn.")),
        ],
    )


def form_values(form: Any) -> dict[str, Any]:
    """A posted staff form as the schemas read it: ``offices`` is a list (one box a code)."""
    values = {key: value for key, value in form.items() if key != "offices"}
    values["offices"] = form.getlist("offices")
    return values
