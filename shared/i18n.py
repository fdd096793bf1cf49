"""Languages: Simplified Chinese first, English available.

Messages are written in English in the code and translated through the catalogues in
``shared/translations``. Validation messages and refusals are marked with :func:`N_` where
they are defined and translated when they are shown (:func:`localize_errors`), because
marshmallow formats its messages before any request exists, and operations run without one.
A message that needs values is a :class:`Formatted`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

LANGUAGES = ("zh", "en")
DEFAULT_LANGUAGE = "zh"
TRANSLATIONS_DIR = Path(__file__).parent / "translations"


def N_(message: str) -> str:
    """Mark a message for the catalogue without translating it here."""
    return message


#: marshmallow's own messages that can reach a user, so the catalogue translates them too.
MARSHMALLOW_MESSAGES = (
    N_("Unknown field."),
    N_("Invalid input type."),
    N_("Not a valid string."),
    N_("Field may not be null."),
    N_("Missing data for required field."),
)


def negotiate(requested: str | None, accept_languages: Any = None) -> str:
    """The page language: an explicit ``lang``, else the browser's preference, else Chinese."""
    if requested:
        requested = requested.strip().lower().replace("_", "-")
        for language in LANGUAGES:
            if requested == language or requested.startswith(language + "-"):
                return language
    if accept_languages is not None:
        best = accept_languages.best_match(LANGUAGES)
        if best:
            return best
    return DEFAULT_LANGUAGE


class Formatted(str):
    """A msgid with its ``%(name)s`` values: a ``str`` (its msgid, so it still works wherever a
    message is expected) that carries the values, filled in after translation."""

    params: dict[str, Any]

    def __new__(cls, msgid: str, **params: Any) -> Formatted:
        message = super().__new__(cls, msgid)
        message.params = params
        return message

    def __str__(self) -> str:
        return str.__str__(self) % self.params


def localize_errors(errors: Any, translate: Callable[..., str]) -> Any:
    """Every message of a marshmallow error structure in the reader's language, values in."""
    if isinstance(errors, dict):
        return {key: localize_errors(value, translate) for key, value in errors.items()}
    if isinstance(errors, list):
        return [localize_errors(value, translate) for value in errors]
    if isinstance(errors, Formatted):
        return translate(str.__str__(errors), **errors.params)
    if isinstance(errors, str):
        return translate(errors)
    return errors


def compile_catalogues() -> None:
    """Compile the ``.po`` catalogues to ``.mo`` where a catalogue is newer than its build."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    for po_path in TRANSLATIONS_DIR.glob("*/LC_MESSAGES/*.po"):
        mo_path = po_path.with_suffix(".mo")
        if mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
            continue
        with po_path.open("rb") as handle:
            catalogue = read_po(handle)
        with mo_path.open("wb") as handle:
            write_mo(handle, catalogue)
