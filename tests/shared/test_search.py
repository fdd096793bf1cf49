"""Search in Chinese text: two-character words find their cases, on both databases."""

from __future__ import annotations

import pytest

from shared.operations.queue import QueueFilters, list_cases
from shared.search import query_terms, search_terms
from tests.factories import make_case, make_staff


def _found(db, user_name: str, query: str) -> set[str]:
    from sqlalchemy import select
    from sqlalchemy.orm import selectinload

    from shared.models import StaffUser

    with db.session() as session:
        user = session.scalar(
            select(StaffUser)
            .where(StaffUser.username == user_name)
            .options(selectinload(StaffUser.offices))
        )
        page = list_cases(session, user, QueueFilters(q=query))
        return {case.tracking_number for case in page.items}


def test_terms_are_characters_bigrams_and_words():
    """财务科 is indexed as its characters and bigrams; Latin words whole, case-folded."""
    terms = search_terms("县财务科 WiFi密码").split()
    assert {"财务", "务科", "财", "县财", "wifi", "密码"} <= set(terms)
    assert "财务科" not in terms


def test_query_terms_of_a_phrase_are_its_bigrams():
    """A three-character query needs both of its bigrams; one character is itself."""
    assert query_terms("财务科") == ["财务", "务科"]
    assert query_terms("财") == ["财"]
    assert query_terms("！？") == []


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("财务", {"finance"}),
        ("舆情", {"opinion"}),
        ("网络舆情", {"opinion"}),
        ("公开", {"finance", "opinion"}),
        ("ＷＩＦＩ", {"wifi"}),
        ("wifi", {"wifi"}),
        ("务舆", set()),
        ("路灯", set()),
    ],
)
def test_two_character_words_find_their_cases(db, demo, query, expected):
    """财务 and 舆情 find the cases that hold them, and only those; width and case are ignored."""
    cases = {
        "finance": make_case(db, body="县委宣传部的财务报销不公开，请核查。").case,
        "opinion": make_case(db, subject="网络舆情", body="对网络舆情的处置不够公开透明。").case,
        "wifi": make_case(db, body="会议室的WiFi总是断线。").case,
    }
    make_staff(db, "triage1", "triager")
    found = _found(db, "triage1", query)
    assert found == {cases[name].tracking_number for name in expected}


def test_search_by_tracking_number_in_any_spelling(db, demo):
    """The tracking number finds its case, typed in lower case or without the dash."""
    case = make_case(db, body="一条留言").case
    make_staff(db, "triage1", "triager")
    compact = case.tracking_number.replace("-", "").lower()
    assert _found(db, "triage1", compact) == {case.tracking_number}


def test_search_stays_inside_the_officers_offices(db, demo):
    """An officer's search never finds another office's case."""
    make_case(db, body="财务报销问题")  # routed to finance
    make_staff(db, "cyber1", "officer", ["cyber"])
    assert _found(db, "cyber1", "财务") == set()


def test_broad_and_narrow_searches_find_the_same(db, demo, monkeypatch):
    """Whether the index is read first (few matches) or the newest cases are walked (many),
    the same cases are found; a broad search leaves the tab counts out."""
    from shared import search
    from shared.operations.queue import counts

    numbers = {make_case(db, body=f"第{i}份财务报销材料").case.tracking_number for i in range(3)}
    make_case(db, body="路灯坏了")
    make_staff(db, "triage1", "triager")
    assert _found(db, "triage1", "财务") == numbers
    monkeypatch.setattr(search, "NARROW", 1)
    assert _found(db, "triage1", "财务") == numbers
    assert _found(db, "triage1", "报销材料") == numbers
    assert _found(db, "triage1", "皮影") == set()
    from sqlalchemy import select
    from sqlalchemy.orm import selectinload

    from shared.models import StaffUser

    with db.session() as session:
        user = session.scalar(select(StaffUser).options(selectinload(StaffUser.offices)))
        broad = counts(session, user, QueueFilters(q="财务"))
        narrow = counts(session, user, QueueFilters(q="路灯"))
    dialect = db.engine.dialect.name
    assert broad is None if dialect == "postgresql" else broad["assigned"] == 3
    assert narrow["received"] == 1
