"""The audit trail's filters as they come in the address (all optional, blank = no filter)."""

from __future__ import annotations

from marshmallow import (
    EXCLUDE,
    Schema,
    ValidationError,
    fields,
    post_load,
    validate,
    validates_schema,
)

from shared.i18n import N_
from shared.models.audit import ACTOR_KINDS
from shared.schemas.fields import BlankIsAbsent, Line
from shared.security import normalise_tracking_number

_DATE = {"invalid": N_("Enter a date as 2026-12-31.")}


class AuditFilterSchema(BlankIsAbsent, Schema):
    class Meta:
        # ``cursor`` and ``lang`` travel in the same address.
        unknown = EXCLUDE

    action = Line(
        load_default=None,
        allow_none=True,
        validate=validate.Regexp(
            r"^[a-z_]+(\.[a-z_]*)?$",
            error=N_("Enter the start of an action, such as case. or staff.logged_in."),
        ),
    )
    actor = Line(
        load_default=None,
        allow_none=True,
        validate=validate.Length(max=100, error=N_("No member of staff has this user name.")),
    )
    case = Line(
        load_default=None,
        allow_none=True,
        validate=validate.Length(max=40, error=N_("No case has this tracking number.")),
    )
    date_from = fields.Date(load_default=None, allow_none=True, error_messages=_DATE)
    date_to = fields.Date(load_default=None, allow_none=True, error_messages=_DATE)
    actor_kind = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.OneOf(ACTOR_KINDS, error=N_("Choose one of the listed kinds of actor.")),
    )

    @validates_schema
    def _range(self, data: dict, **_kwargs) -> None:
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and end < start:
            raise ValidationError(N_("The last day comes before the first."), "date_to")

    @post_load
    def _normalise(self, data: dict, **_kwargs) -> dict:
        """The fields of ``AuditFilters``, which the audit trail's list takes."""
        if data.get("case"):
            data["case"] = normalise_tracking_number(data["case"])
        return data


audit_filter_input = AuditFilterSchema()
