"""A routing rule as an admin types it, and as the form shows it again."""

from __future__ import annotations

import re
from dataclasses import dataclass
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
from shared.models import Category, Channel
from shared.schemas.fields import BlankIsAbsent, Line, Text, non_blank

NAME_MAX = 200
KEYWORDS_MAX = 200
KEYWORD_MAX_CHARS = 100
#: Letters, digits and hyphens in dot-separated labels; a leading dot is allowed and dropped.
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_DOMAIN = re.compile(rf"^\.?(?=.{{1,253}}$){_LABEL}(?:\.{_LABEL})*$")
#: The fields that are conditions; a rule must set at least one of them.
CONDITIONS = ("notice_item", "category", "channel", "keywords", "sender_domain")

_REQUIRED = {"required": N_("This field is required."), "null": N_("This field is required.")}
_OPTIONAL = {"invalid": N_("Enter text.")}


@dataclass(frozen=True)
class RuleChoices:
    """What a rule may name, as the form offers it: code → label."""

    offices: dict[str, str]
    notice_items: dict[str, str]


class RuleInputSchema(BlankIsAbsent, Schema):
    """The rule form. Which offices and items exist is given when the schema is made."""

    class Meta:
        # The form also carries its CSRF token and which button was pressed.
        unknown = EXCLUDE

    name = Line(
        required=True,
        error_messages=_REQUIRED | _OPTIONAL,
        validate=[
            non_blank,
            validate.Length(max=NAME_MAX, error=N_("Keep the name to 200 characters or fewer.")),
        ],
    )
    office = fields.String(
        required=True,
        error_messages={
            "required": N_("Choose the office that answers."),
            "null": N_("Choose the office that answers."),
            "invalid": N_("Choose the office that answers."),
        },
    )
    notice_item = fields.String(
        load_default=None,
        allow_none=True,
        error_messages={"invalid": N_("Choose one of the listed items.")},
    )
    category = fields.String(
        load_default=None,
        allow_none=True,
        error_messages=_OPTIONAL,
        validate=validate.OneOf(
            Category.ALL, error=N_("Choose one of the listed kinds of comment.")
        ),
    )
    channel = fields.String(
        load_default=None,
        allow_none=True,
        error_messages=_OPTIONAL,
        validate=validate.OneOf(Channel.ALL, error=N_("Choose one of the listed channels.")),
    )
    keywords = Text(load_default="", allow_none=True, error_messages=_OPTIONAL)
    sender_domain = Line(
        load_default=None,
        allow_none=True,
        error_messages=_OPTIONAL,
        validate=validate.Length(max=253, error=N_("Enter a mail domain such as gov.cn.")),
    )

    def __init__(self, choices: RuleChoices, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.choices = choices

    @validates("office")
    def _active_office(self, value: str, **_kwargs) -> None:
        if value not in self.choices.offices:
            raise ValidationError(N_("Choose the office that answers."))

    @validates("notice_item")
    def _known_item(self, value: str | None, **_kwargs) -> None:
        if value is not None and value not in self.choices.notice_items:
            raise ValidationError(N_("Choose one of the listed items."))

    @validates("keywords")
    def _keyword_lines(self, value: str | None, **_kwargs) -> None:
        lines = keyword_lines(value or "")
        if len(lines) > KEYWORDS_MAX:
            raise ValidationError(N_("Give at most 200 keywords."))
        if any(len(line) > KEYWORD_MAX_CHARS for line in lines):
            raise ValidationError(N_("Keep each keyword to 100 characters or fewer."))

    @validates("sender_domain")
    def _plausible_domain(self, value: str | None, **_kwargs) -> None:
        if value is not None and not _DOMAIN.match(value.lower()):
            raise ValidationError(N_("Enter a mail domain such as gov.cn."))

    @validates_schema
    def _some_condition(self, data: dict, **_kwargs) -> None:
        if not any(data.get(name) for name in CONDITIONS):
            raise ValidationError(
                N_("Set at least one condition: a rule without conditions matches nothing.")
            )

    @post_load
    def _normalise(self, data: dict, **_kwargs) -> dict:
        """The fields of ``RuleFields``, which the routing rules' operations take."""
        domain = data.get("sender_domain")
        data["sender_domain"] = domain.lower().lstrip(".") if domain else None
        data["keywords"] = "\n".join(keyword_lines(data.get("keywords") or ""))
        return data


def keyword_lines(text: str) -> list[str]:
    """The keywords of a text area: one a line, stripped, blank lines and repeats dropped."""
    return list(dict.fromkeys(line.strip() for line in text.splitlines() if line.strip()))


class RuleFormSchema(Schema):
    """A stored rule as the form's fields, for editing it."""

    name = fields.String()
    office = fields.Function(lambda rule: rule.office.code)
    notice_item = fields.Function(lambda rule: rule.notice_item.code if rule.notice_item else "")
    category = fields.Function(lambda rule: rule.category or "")
    channel = fields.Function(lambda rule: rule.channel or "")
    keywords = fields.String()
    sender_domain = fields.Function(lambda rule: rule.sender_domain or "")


rule_form_output = RuleFormSchema()
