"""Field types that refuse what a database or a mail header would choke on."""

from __future__ import annotations

import re
import unicodedata
from typing import ClassVar

from marshmallow import ValidationError, fields, pre_load

from shared.i18n import N_

#: C0 controls but tab and newline, DEL, C1 controls. NUL breaks PostgreSQL text; the rest
#: are invisible, and CR/LF in a header value lets an attacker add headers.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")


class Text(fields.String):
    """Multi-line text: CRLF normalised, control characters and lone surrogates refused."""

    default_error_messages: ClassVar[dict[str, str]] = {
        "invalid": N_("Enter text."),
        "control": N_("Remove the invisible control characters from the text."),
    }

    #: Collapse the value to one line? Set by :class:`Line`.
    single_line = False

    def _deserialize(self, value, attr, data, **kwargs) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        text = text.replace("\r\n", "\n").replace("\r", "\n")
        if _SURROGATE.search(text):
            raise self.make_error("control")
        if self.single_line:
            text = " ".join(text.split("\n"))
        if _CONTROL.search(text):
            raise self.make_error("control")
        return unicodedata.normalize("NFC", text).strip()


class Line(Text):
    """One line of text, e.g. a name or subject: line breaks become spaces."""

    single_line = True


def non_blank(value: str) -> None:
    if not value.strip():
        raise ValidationError(N_("This field cannot be empty."))


class BlankIsAbsent:
    """Schema mixin: an empty optional field (a form sends every field) means "not given"."""

    @pre_load
    def _blank_is_absent(self, data, **_kwargs):
        if not isinstance(data, dict):
            return data
        optional = {name for name, field in self.fields.items() if not field.required}
        return {
            key: None if key in optional and isinstance(value, str) and not value.strip() else value
            for key, value in data.items()
        }
