"""Header values that user input reaches, made safe.

Python 3.11.7 can write a header line out of an RFC 2047 encoded word that decodes to a line
break (CVE-2024-6923): ``=?UTF-8?Q?=0A?=Bcc: x@y`` in a name or subject becomes a real ``Bcc``
header when the message is serialised. So every such value is decoded the way the email
package would decode it, control characters are removed from what it decodes to, and the
decoded text is what goes into the header (to be encoded again, safely, on output).
"""

from __future__ import annotations

import re
from email.errors import HeaderParseError
from email.header import decode_header, make_header

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")
#: Encoded words can nest (one decodes to another); a few rounds reach the plain text.
_MAX_ROUNDS = 5


def clean_header_value(value: str) -> str:
    """The text a reader would see, on one line, with no way to start a new header."""
    text = _CONTROL.sub(" ", value)
    for _ in range(_MAX_ROUNDS):
        if "=?" not in text:
            break
        try:
            decoded = str(make_header(decode_header(text)))
        except (HeaderParseError, LookupError, UnicodeError, ValueError):
            break  # not valid encoded words: the text stays literal, already one line
        decoded = _CONTROL.sub(" ", decoded)
        if decoded == text:
            break
        text = decoded
    if "=?" in text:
        # Still encoded-word syntax after the rounds (or undecodable): make it inert.
        text = text.replace("=?", "= ?")
    return " ".join(text.split())


def format_address(name: str | None, address: str) -> str:
    """``"Name" <address>`` with the name cleaned and quoted, not yet encoded: it is encoded
    once, when the message is built (encoding here too would hide it in quotes)."""
    address = clean_header_value(address).replace(" ", "")
    if not name:
        return address
    quoted = clean_header_value(name).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{quoted}" <{address}>'
