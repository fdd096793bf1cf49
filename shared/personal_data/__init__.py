"""Finding and removing personal data in a text meant for a public page.

    find_personal_data(text, known=..., public=...) -> [Finding(kind, start, end, text)]
    redact(text, known=..., public=...) -> text with ［姓名］, ［电话］… in their place

What it finds, and how well, is measured on ``tests/privacy/corpus.txt`` (the README's
"Personal data on public pages" shows the table). It is a first pass for the person who
publishes, not a replacement for reading the text.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from .folding import fold
from .kinds import PLACEHOLDERS, Kind
from .names import PUBLIC_FIGURES, find_names
from .patterns import Span, find_shaped

__all__ = [
    "PLACEHOLDERS",
    "PUBLIC_FIGURES",
    "Finding",
    "Kind",
    "Known",
    "find_personal_data",
    "redact",
]

#: Which kind a span found twice over is called: the more certain shape wins (an e-mail
#: holding digits is an e-mail, a phone number after 地址 is a phone number).
_PRECEDENCE = (
    Kind.EMAIL,
    Kind.TRACKING,
    Kind.ID,
    Kind.BANK,
    Kind.PHONE,
    Kind.QQ,
    Kind.WECHAT,
    Kind.PLATE,
    Kind.NAME,
    Kind.ADDRESS,
)


@dataclass(frozen=True)
class Finding:
    kind: Kind
    start: int
    end: int
    text: str
    #: It holds a value the caller passed as ``known`` (a name the system knows is certain;
    #: what the detector found by itself may be a staff member's judgement call).
    known: bool = False


@dataclass(frozen=True)
class Known:
    """A value the system knows to be personal: the submitter's name, phone, e-mail or
    address, a staff member's name, an office contact's. Always removed, wherever it is."""

    kind: Kind
    value: str


def find_personal_data(
    text: str, *, known: Iterable[Known] = (), public: Iterable[str] = ()
) -> list[Finding]:
    """The personal data in ``text``, in order, overlapping spans joined.

    ``known`` values are always found. Nothing inside a ``public`` string is (the notice's
    own phone number, e-mail and postal address: an office's published contacts are no
    personal data), nor are the names in :data:`PUBLIC_FIGURES`."""
    folded = fold(text)
    spans: list[Span] = list(find_shaped(folded))
    spans.extend(find_names(text))
    allowed = _occurrences(folded, public)
    spans = [span for span in spans if not _inside(span, allowed)]
    known_spans = [
        (item.kind, start, end)
        for item in known
        for start, end in _occurrences(folded, [item.value])
    ]
    return [
        Finding(
            kind,
            start,
            end,
            text[start:end],
            known=any(low < end and start < high for _kind, low, high in known_spans),
        )
        for kind, start, end in _joined(spans + known_spans)
    ]


def redact(text: str, *, known: Iterable[Known] = (), public: Iterable[str] = ()) -> str:
    """``text`` with each finding of :func:`find_personal_data` replaced by its kind's
    placeholder (［姓名］, ［电话］, ［地址］ …)."""
    pieces = []
    last = 0
    for finding in find_personal_data(text, known=known, public=public):
        pieces.append(text[last : finding.start])
        pieces.append(PLACEHOLDERS[finding.kind])
        last = finding.end
    pieces.append(text[last:])
    return "".join(pieces)


def _occurrences(folded: str, values: Iterable[str]) -> list[tuple[int, int]]:
    """(start, end) of every occurrence of each value (folded alike) in ``folded``."""
    found = []
    for value in values:
        needle = fold(unicodedata.normalize("NFC", value or "").strip())
        if len(needle) < 2:  # a single character would take every word that holds it
            continue
        start = folded.find(needle)
        while start != -1:
            found.append((start, start + len(needle)))
            start = folded.find(needle, start + len(needle))
    return found


def _inside(span: Span, ranges: list[tuple[int, int]]) -> bool:
    _kind, start, end = span
    return any(low <= start and end <= high for low, high in ranges)


def _joined(spans: list[Span]) -> list[Span]:
    """Overlapping spans joined into one, named after the kind that takes precedence; spans
    of one kind that touch are joined too (an address found in two pieces)."""
    result: list[Span] = []
    for kind, start, end in sorted(spans, key=lambda span: (span[1], -span[2])):
        if result:
            last_kind, last_start, last_end = result[-1]
            if start < last_end or (start == last_end and kind == last_kind):
                winner = min(last_kind, kind, key=_PRECEDENCE.index)
                result[-1] = (winner, last_start, max(end, last_end))
                continue
        result.append((kind, start, end))
    return result
