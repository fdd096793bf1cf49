"""A notice as an admin types it (with its items as repeated rows), and as the form shows it
again."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
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

from shared.db import SHANGHAI
from shared.i18n import N_
from shared.schemas.fields import BlankIsAbsent, Line, Text, non_blank

#: Item codes: capital letters, digits and hyphens, 2 to 32 characters, starting with a
#: letter or digit. They are printed, typed into the API and named by routing rules.
CODE = re.compile(r"^[A-Z0-9][A-Z0-9-]{1,31}$")
#: Blank rows the form offers below the items, and how many more "Add more rows" brings.
BLANK_ROWS = 3
#: A form never has more rows than this (a forged one is refused, not looped over).
MAX_ROWS = 300
#: The fields of one item row, as ``items-<n>-<field>`` in the form.
ROW_FIELDS = ("id", "code", "area", "title", "description", "office", "position", "remove")
#: What an admin types in the period fields (``<input type="datetime-local">`` sends the
#: first form; people type the second).
PERIOD_EXAMPLE = "2027-03-01 09:00"

_REQUIRED = {"required": N_("This field is required."), "null": N_("This field is required.")}
_OPTIONAL = {"invalid": N_("Enter text.")}
_ROW_KEY = re.compile(r"^items-(\d{1,3})-(\w+)$")


@dataclass(frozen=True)
class NoticeChoices:
    """What a notice's items may name: active offices (code → name), and the item codes
    other notices already use."""

    offices: dict[str, str]
    taken_codes: frozenset[str] = frozenset()


class ShanghaiLocalDateTime(fields.Field):
    """A date and time typed in Asia/Shanghai (``2027-03-01T09:00`` or ``2027-03-01 09:00``),
    loaded as an aware UTC datetime."""

    default_error_messages = {  # noqa: RUF012 (marshmallow's own class attribute)
        "invalid": N_("Enter a date and time like 2027-03-01 09:00."),
    }

    def _deserialize(self, value, attr, data, **kwargs) -> datetime:
        if not isinstance(value, str) or len(value) > 40:
            raise self.make_error("invalid")
        try:
            parsed = datetime.fromisoformat(value.strip().replace(" ", "T", 1))
        except ValueError as error:
            raise self.make_error("invalid") from error
        if not 2000 <= parsed.year <= 2100:
            raise self.make_error("invalid")
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=SHANGHAI)
        return parsed.astimezone(UTC)


class ItemRowSchema(BlankIsAbsent, Schema):
    """One row of the items table. A new row left blank is no item (see ``_blank``)."""

    class Meta:
        unknown = EXCLUDE

    id = fields.Integer(
        load_default=None,
        allow_none=True,
        strict=False,
        validate=validate.Range(min=1, max=2**31 - 1),
        error_messages={"invalid": N_("The form is out of date: open the notice again.")},
    )
    code = Line(load_default=None, allow_none=True, error_messages=_OPTIONAL)
    area = Line(
        load_default=None,
        allow_none=True,
        error_messages=_OPTIONAL,
        validate=validate.Length(max=300, error=N_("Keep the area to 300 characters or fewer.")),
    )
    title = Text(
        load_default=None,
        allow_none=True,
        error_messages=_OPTIONAL,
        validate=validate.Length(max=2000, error=N_("Keep the title to 2000 characters or fewer.")),
    )
    description = Text(load_default="", allow_none=True, error_messages=_OPTIONAL)
    office = fields.String(
        load_default=None,
        allow_none=True,
        error_messages={"invalid": N_("Choose one of the listed offices.")},
    )
    position = fields.Integer(
        load_default=None,
        allow_none=True,
        strict=False,
        validate=validate.Range(min=0, max=9999, error=N_("Enter a whole number from 0 to 9999.")),
        error_messages={"invalid": N_("Enter a whole number from 0 to 9999.")},
    )
    remove = fields.Boolean(load_default=False, error_messages={"invalid": N_("Choose yes or no.")})

    def __init__(self, choices: NoticeChoices, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.choices = choices

    @validates("code")
    def _code_pattern(self, value: str | None, **_kwargs) -> None:
        if value is not None and not CODE.match(value.upper()):
            raise ValidationError(
                N_("Use 2 to 32 capital letters, digits and hyphens, e.g. XC27-01.")
            )

    @validates_schema
    def _complete_unless_removed(self, data: dict, **_kwargs) -> None:
        if _blank(data) or data.get("remove"):
            return
        errors: dict[str, list[str]] = {}
        for name in ("area", "title"):
            if not data.get(name):
                errors[name] = [N_("This field is required.")]
        office = data.get("office")
        if not office:
            errors["office"] = [N_("Choose the office that answers comments on this item.")]
        elif office not in self.choices.offices:
            errors["office"] = [N_("Choose one of the listed offices.")]
        if errors:
            raise ValidationError(errors)

    @post_load
    def _make_row(self, data: dict, **_kwargs) -> dict[str, Any] | None:
        """The fields of an ``ItemRow`` (None: a blank new row)."""
        if _blank(data):
            return None
        code = data.get("code")
        return {
            "id": data.get("id"),
            "code": code.upper() if code else None,
            "area": data.get("area") or "",
            "title": data.get("title") or "",
            "description": data.get("description") or "",
            "office": data.get("office") or "",
            "position": data.get("position"),
            "remove": bool(data.get("remove")),
        }


def _blank(row: Mapping[str, Any]) -> bool:
    """A new row with nothing typed in it (its suggested code and position do not count)."""
    return row.get("id") is None and not any(
        row.get(name) for name in ("area", "title", "description")
    )


class ItemRows(fields.Field):
    """The item rows (a list of dicts, see :func:`form_data`), each through
    :class:`ItemRowSchema`, errors by row number; then the codes: each at most once in the
    form, and none that another notice uses. Blank new rows are dropped."""

    def _deserialize(self, value, attr, data, **kwargs) -> list[dict[str, Any]]:
        if not isinstance(value, list) or len(value) > MAX_ROWS:
            raise ValidationError(N_("The form is out of date: open the notice again."))
        choices: NoticeChoices = self.parent.choices
        row_schema = ItemRowSchema(choices)
        rows: list[dict[str, Any]] = []
        errors: dict[int, Any] = {}
        for number, raw in enumerate(value):
            try:
                row = row_schema.load(raw if isinstance(raw, dict) else {})
            except ValidationError as error:
                errors[number] = error.normalized_messages()
                continue
            if row is not None:
                row["row"] = number
                rows.append(row)
        seen: set[str] = set()
        for row in rows:
            if row["code"] is None:
                continue
            if row["code"] in choices.taken_codes:
                errors.setdefault(row["row"], {})["code"] = [
                    N_("Another notice already uses this code.")
                ]
            elif row["code"] in seen:
                errors.setdefault(row["row"], {})["code"] = [
                    N_("Two items of this notice have this code.")
                ]
            seen.add(row["code"])
        if errors:
            raise ValidationError(errors)
        return rows


class NoticeInputSchema(BlankIsAbsent, Schema):
    """The notice form. Which offices exist and which codes are taken is given when the schema
    is made; ``items`` is the list of rows :func:`form_data` builds from the flat form."""

    class Meta:
        unknown = EXCLUDE  # the CSRF token, which button was pressed, the row count

    title = Line(
        required=True,
        error_messages=_REQUIRED | _OPTIONAL,
        validate=[
            non_blank,
            validate.Length(max=300, error=N_("Keep the title to 300 characters or fewer.")),
        ],
    )
    issuer = Line(
        required=True,
        error_messages=_REQUIRED | _OPTIONAL,
        validate=[
            non_blank,
            validate.Length(max=200, error=N_("Keep the issuing body to 200 characters or fewer.")),
        ],
    )
    issued_on = fields.Date(
        load_default=None,
        allow_none=True,
        error_messages={"invalid": N_("Enter a date like 2027-03-01.")},
    )
    summary = Text(load_default="", allow_none=True, error_messages=_OPTIONAL)
    body = Text(load_default="", allow_none=True, error_messages=_OPTIONAL)
    invites_web = fields.Boolean(
        load_default=False, error_messages={"invalid": N_("Choose yes or no.")}
    )
    contact_phone = Line(
        load_default=None,
        allow_none=True,
        error_messages=_OPTIONAL,
        validate=validate.Length(max=64, error=N_("Keep the phone to 64 characters or fewer.")),
    )
    contact_email = fields.Email(
        load_default=None,
        allow_none=True,
        error_messages={"invalid": N_("Enter an email address like name@example.com.")},
        validate=validate.Length(
            max=254, error=N_("Enter an email address like name@example.com.")
        ),
    )
    postal_address = Line(
        load_default=None,
        allow_none=True,
        error_messages=_OPTIONAL,
        validate=validate.Length(max=300, error=N_("Keep the address to 300 characters or fewer.")),
    )
    postcode = Line(
        load_default=None,
        allow_none=True,
        error_messages=_OPTIONAL,
        validate=validate.Regexp(r"^[0-9]{6}$", error=N_("Enter the 6-digit postcode.")),
    )
    opens_at = ShanghaiLocalDateTime(load_default=None, allow_none=True)
    closes_at = ShanghaiLocalDateTime(load_default=None, allow_none=True)
    items = ItemRows(load_default=list)

    def __init__(self, choices: NoticeChoices, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.choices = choices

    @validates_schema
    def _closes_after_opens(self, data: dict, **_kwargs) -> None:
        opens, closes = data.get("opens_at"), data.get("closes_at")
        if opens and closes and closes <= opens:
            raise ValidationError(N_("The comment period must close after it opens."), "closes_at")

    @post_load
    def _normalise(self, data: dict, **_kwargs) -> dict[str, Any]:
        """The fields of ``NoticeFields``, which the notice operations take."""
        for name in ("summary", "body"):
            data[name] = data.get(name) or ""
        return data


def form_data(form: Mapping[str, Any]) -> dict[str, Any]:
    """The flat form (``items-3-title``...) as the schema's input: the notice's fields, and
    ``items`` as a list of row dicts in the form's order, with no gaps."""
    data: dict[str, Any] = {}
    rows: dict[int, dict[str, Any]] = {}
    for key, value in form.items():
        match = _ROW_KEY.match(key)
        if match is None:
            data[key] = value
        elif match[2] in ROW_FIELDS and int(match[1]) < MAX_ROWS:
            rows.setdefault(int(match[1]), {})[match[2]] = value
    data["items"] = [rows[number] for number in sorted(rows)]
    return data


def item_errors(errors: Mapping[str, Any]) -> dict[int, dict[str, list[str]]]:
    """The errors of the item rows by row number (marshmallow may give the keys as strings)."""
    found = errors.get("items")
    if not isinstance(found, dict):
        return {}
    return {int(number): messages for number, messages in found.items() if str(number).isdigit()}


def _local(value: datetime | None) -> str:
    return value.astimezone(SHANGHAI).strftime("%Y-%m-%dT%H:%M") if value else ""


def notice_form_values(notice: Any) -> dict[str, Any]:
    """A stored notice as the form's fields (its items come separately, as rows)."""
    return {
        "title": notice.title,
        "issuer": notice.issuer,
        "issued_on": notice.issued_on.isoformat() if notice.issued_on else "",
        "summary": notice.summary or "",
        "body": notice.body or "",
        "invites_web": notice.invites_web,
        "contact_phone": notice.contact_phone or "",
        "contact_email": notice.contact_email or "",
        "postal_address": notice.postal_address or "",
        "postcode": notice.postcode or "",
        "opens_at": _local(notice.opens_at),
        "closes_at": _local(notice.closes_at),
    }


def item_form_row(item: Any) -> dict[str, Any]:
    """A stored item as a row of the form."""
    return {
        "id": str(item.id),
        "code": item.code,
        "area": item.area,
        "title": item.title,
        "description": item.description or "",
        "office": item.default_office.code if item.default_office else "",
        "position": str(item.position),
        "remove": item.retired,
    }
