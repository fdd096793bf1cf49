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
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, false, func, select
from sqlalchemy.orm import Session

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


#: Up to this many matches, a search is "narrow": the matching cases are found by the index
#: first, then ordered. Beyond it, the newest cases are read in order until a page is full.
NARROW = 1000


def matches(terms: list[str], dialect: str) -> ColumnElement[bool]:
    """The WHERE condition for cases holding every term, the way each database does it best."""
    if dialect == "postgresql":
        return _vector(Case.search_terms).op("@@")(_tsquery(terms))
    return _holds_all(terms)


def _holds_all(terms: list[str]) -> ColumnElement[bool]:
    """Each term as a whole word of the stored terms: no index, but cheap for each row."""
    return and_(*(Case.search_terms.contains(f" {term} ", autoescape=True) for term in terms))


@dataclass(frozen=True)
class Condition:
    where: ColumnElement[bool]
    #: At most NARROW cases match (always so on SQLite, which has no index to ask).
    narrow: bool


def condition(session: Session, terms: list[str]) -> Condition:
    """The search condition for the queue, chosen by how many cases the terms match; asked
    once per session and terms.

    PostgreSQL's planner cannot tell a word in nine cases from one in ninety thousand well
    enough: for a rare word it walks the newest cases looking for fifty matches and reads
    (and parses) the whole table, for half a minute at a million cases. So on PostgreSQL the
    index is asked first, for at most NARROW + 1 matches: a narrow search then reads just
    those; a broad one walks the newest cases."""
    if session.get_bind().dialect.name != "postgresql":
        return Condition(matches(terms, "sqlite"), narrow=True)
    asked = session.info.setdefault("minyi.search", {})
    key = tuple(terms)
    if key not in asked:
        asked[key] = _probe(session, terms)
    return asked[key]


def _probe(session: Session, terms: list[str]) -> Condition:
    with _index_only(session):
        found = session.scalars(
            select(Case.id).where(matches(terms, "postgresql")).limit(NARROW + 1)
        ).all()
    if len(found) <= NARROW:
        return Condition(Case.id.in_(found) if found else false(), narrow=True)
    # Many matches: walk the newest cases and test each with LIKE on the stored terms, which
    # costs a microsecond where parsing them into a tsvector again costs a hundred; a page
    # fills after a few hundred rows (at a million cases: 2-16 ms instead of 80-450).
    return Condition(_holds_all(terms), narrow=False)


def _vector(text):
    return func.to_tsvector(SEARCH_CONFIG, text)


def _tsquery(terms: list[str]):
    return func.plainto_tsquery(SEARCH_CONFIG, " ".join(terms))


#: Memory for the probe's bitmap: with PostgreSQL's default (4 MB) a common word's bitmap
#: goes lossy and every row of a lossy page is parsed again, ten times slower.
PROBE_WORK_MEM = "32MB"


@contextmanager
def _index_only(session: Session) -> Iterator[None]:
    """Within the transaction, only a bitmap scan of the search index, with memory enough."""
    settings = {"enable_seqscan": "off", "enable_indexscan": "off", "work_mem": PROBE_WORK_MEM}
    before = {name: session.scalar(select(func.current_setting(name))) for name in settings}
    for name, value in settings.items():
        session.execute(select(func.set_config(name, value, True)))
    try:
        yield
    finally:
        for name, value in before.items():
            session.execute(select(func.set_config(name, value, True)))
