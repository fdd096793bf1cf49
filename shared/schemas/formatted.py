"""Validation messages with values in them (a line number, the variables allowed).

marshmallow formats its messages before any request, so messages are msgids translated when
shown (:func:`shared.i18n.localize_errors`). A message that needs values is a
:class:`Formatted`: a ``str`` (its msgid, so it still works wherever a message is expected)
that carries its values, and :func:`localize` translates it and then fills them in.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class Formatted(str):
    """A msgid with its ``%(name)s`` values."""

    params: dict[str, Any]

    def __new__(cls, msgid: str, **params: Any) -> Formatted:
        message = super().__new__(cls, msgid)
        message.params = params
        return message

    def __str__(self) -> str:
        return str.__str__(self) % self.params


def localize(errors: Any, gettext: Callable[..., str]) -> Any:
    """Every message of a marshmallow error structure in the reader's language, values in."""
    if isinstance(errors, dict):
        return {key: localize(value, gettext) for key, value in errors.items()}
    if isinstance(errors, list):
        return [localize(value, gettext) for value in errors]
    if isinstance(errors, Formatted):
        return gettext(str.__str__(errors), **errors.params)
    if isinstance(errors, str):
        return gettext(errors)
    return errors
