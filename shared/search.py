"""Search in Chinese text without a word segmenter.

Chinese has no spaces between words, and a segmenter's idea of a word is not the searcher's:
财务 must find 财务科 and 县财务局 alike. So every run of Han characters is indexed as its
single characters and its character bigrams (财务科 → 财 务 科 财务 务科), and other text as
its words. A query matches a case that holds all of the query's terms: the bigrams of each
Han run (a lone character as itself) and its other words. The terms are stored space
separated on the case (``Case.search_terms``); PostgreSQL indexes them with GIN over
``to_tsvector('simple', …)``, SQLite scans them with LIKE.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator

from sqlalchemy import ColumnElement, and_, func

from shared.models.case import SEARCH_CONFIG, Case

_HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
#: A run of Han characters, or a run of other letters and digits.
_RUNS = re.compile(rf"([{_HAN}]+)|((?:(?![{_HAN}])[^\W_])+)")
#: Long mails are indexed by their beginning; nobody searches for page 40 of an attachment.
MAX_INDEXED_CHARS = 20_000
MAX_WORD = 40


def normalise(text: str) -> str:
    """Full-width and half-width forms compare equal, and case does not matter."""
    return unicodedata.normalize("NFKC", text).casefold()


def _runs(text: str) -> Iterator[tuple[str, str]]:
    for han, word in _RUNS.findall(normalise(text)):
        yield (han, "") if han else ("", word[:MAX_WORD])


def search_terms(text: str) -> str:
    """The terms stored for a case: characters, bigrams and words, each once, space
    separated and with a space at either end (so ``LIKE '% 财务 %'`` finds a whole term)."""
    terms: dict[str, None] = {}
    for han, word in _runs(text[:MAX_INDEXED_CHARS]):
        if han:
            terms.update(dict.fromkeys(han))
            terms.update(dict.fromkeys(han[i : i + 2] for i in range(len(han) - 1)))
        else:
            terms[word] = None
    return f" {' '.join(terms)} " if terms else ""


def query_terms(query: str) -> list[str]:
    """What a case must hold to match the query; empty when the query has no letters."""
    terms: dict[str, None] = {}
    for han, word in _runs(query):
        if len(han) == 1:
            terms[han] = None
        elif han:
            terms.update(dict.fromkeys(han[i : i + 2] for i in range(len(han) - 1)))
        else:
            terms[word] = None
    return list(terms)


def matches(terms: list[str], dialect: str) -> ColumnElement[bool]:
    """The WHERE condition for cases holding every term, the way each database does it best."""
    if dialect == "postgresql":
        vector = func.to_tsvector(SEARCH_CONFIG, Case.search_terms)
        return vector.op("@@")(func.plainto_tsquery(SEARCH_CONFIG, " ".join(terms)))
    return and_(*(Case.search_terms.contains(f" {term} ", autoescape=True) for term in terms))
