"""Rendering mail text from per-language templates (``templates/NAME.LANG.txt``).

Each template has a ``subject`` and a ``body`` block. Mail is written outside any request
(by operations, for the worker), so this is plain Jinja, not Flask's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cache

from jinja2 import Environment, PackageLoader, StrictUndefined

from shared.db import SHANGHAI
from shared.i18n import DEFAULT_LANGUAGE, LANGUAGES


@dataclass(frozen=True)
class RenderedMail:
    subject: str
    body: str


def _date(value: datetime | None, fmt: str = "%Y-%m-%d") -> str:
    return value.astimezone(SHANGHAI).strftime(fmt) if value else ""


@cache
def _environment() -> Environment:
    environment = Environment(
        loader=PackageLoader("shared.mail", "templates"),
        autoescape=False,  # noqa: S701  (plain-text mail, never HTML)
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["date"] = _date
    return environment


def render(name: str, language: str, **context) -> RenderedMail:
    language = language if language in LANGUAGES else DEFAULT_LANGUAGE
    template = _environment().get_template(f"{name}.{language}.txt")
    variables = template.new_context(context)
    subject = "".join(template.blocks["subject"](variables)).strip()
    body = "".join(template.blocks["body"](template.new_context(context))).strip() + "\n"
    return RenderedMail(subject=" ".join(subject.split()), body=body)
