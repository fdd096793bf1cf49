"""The list of cases for staff: filters, search, counts and keyset pagination, newest first."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, fields, replace
from datetime import date, datetime, time, timedelta

from sqlalchemy import Select, func, select, tuple_
from sqlalchemy.orm import Session, defer, selectinload

from shared import search
from shared.db import SHANGHAI, utcnow
from shared.models import Case, CaseStatus, NoticeItem, Office, StaffUser
from shared.operations.access import visible_cases
from shared.operations.errors import BadFilter
from shared.search import query_terms
from shared.security import UNAMBIGUOUS, normalise_tracking_number

PAGE_SIZE = 50
#: The office filter's value for cases no office has: the triage queue.
TRIAGE = "triage"
_TRACKING_NUMBER = re.compile(rf"[{UNAMBIGUOUS}]{{4}}-[{UNAMBIGUOUS}]{{4}}")


@dataclass(frozen=True)
class QueueFilters:
    status: str | None = None
    #: An office code, or TRIAGE for cases waiting for one.
    office: str | None = None
    channel: str | None = None
    #: A notice item code.
    item: str | None = None
    category: str | None = None
    #: Open and past the reply deadline.
    overdue: bool = False
    #: Received on or after / on or before these Asia/Shanghai dates.
    received_from: date | None = None
    received_to: date | None = None
    #: A tracking number, or words and characters the subject or text must contain.
    q: str | None = None

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> QueueFilters:
        """From query parameters; empty ones are no filter. Raises BadFilter."""
        values: dict = {}
        for field in fields(cls):
            raw = (args.get(field.name) or "").strip()
            if not raw:
                continue
            if field.name == "overdue":
                values["overdue"] = raw not in ("0", "false", "no")
            elif field.name.startswith("received_"):
                try:
                    values[field.name] = date.fromisoformat(raw)
                except ValueError as error:
                    raise BadFilter(field.name) from error
            else:
                values[field.name] = raw
        return cls(**values)

    def as_args(self) -> dict[str, str]:
        """The filters as query parameters again, for links that keep them."""
        args = {}
        for field in fields(self):
            value = getattr(self, field.name)
            if value:
                args[field.name] = "1" if value is True else str(value)
        return args

    def without(self, name: str) -> QueueFilters:
        return replace(self, **{name: False if name == "overdue" else None})


@dataclass
class Page:
    items: list[Case]
    next_cursor: str | None


def encode_cursor(case: Case) -> str:
    raw = f"{case.received_at.isoformat()}|{case.id}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        stamp, _, case_id = raw.partition("|")
        received_at = datetime.fromisoformat(stamp)
        if received_at.tzinfo is None:
            raise ValueError("naive time")
        return received_at, int(case_id)
    except (ValueError, binascii.Error, UnicodeDecodeError) as error:
        raise BadFilter("cursor") from error


def filtered(
    session: Session, user: StaffUser, filters: QueueFilters, *, now: datetime | None = None
) -> Select[tuple[Case]]:
    """The cases the user may see that pass the filters (not yet ordered)."""
    statement = visible_cases(user)
    if filters.status:
        statement = statement.where(Case.status == filters.status)
    if filters.office == TRIAGE:
        statement = statement.where(Case.office_id.is_(None))
    elif filters.office:
        office_id = select(Office.id).where(Office.code == filters.office).scalar_subquery()
        statement = statement.where(Case.office_id == office_id)
    if filters.channel:
        statement = statement.where(Case.channel == filters.channel)
    if filters.item:
        item_id = select(NoticeItem.id).where(NoticeItem.code == filters.item).scalar_subquery()
        statement = statement.where(Case.notice_item_id == item_id)
    if filters.category:
        statement = statement.where(Case.category == filters.category)
    if filters.overdue:
        statement = statement.where(
            Case.status.in_(CaseStatus.OPEN), Case.reply_due < (now or utcnow())
        )
    if filters.received_from:
        statement = statement.where(Case.received_at >= _shanghai_midnight(filters.received_from))
    if filters.received_to:
        statement = statement.where(
            Case.received_at < _shanghai_midnight(filters.received_to + timedelta(days=1))
        )
    if filters.q:
        statement = statement.where(_search(session, filters.q))
    return statement


def _search(session: Session, query: str):
    number = normalise_tracking_number(query)
    if _TRACKING_NUMBER.fullmatch(number):
        return Case.tracking_number == number
    terms = query_terms(query)
    if not terms:
        return Case.id.is_(None)  # nothing searchable: nothing found
    return search.condition(session, terms).where


def _narrow_search(session: Session, query: str) -> bool:
    terms = query_terms(query)
    if not terms or _TRACKING_NUMBER.fullmatch(normalise_tracking_number(query)):
        return True
    return search.condition(session, terms).narrow


def _shanghai_midnight(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=SHANGHAI)


def list_cases(
    session: Session,
    user: StaffUser,
    filters: QueueFilters = QueueFilters(),
    *,
    cursor: str | None = None,
    limit: int = PAGE_SIZE,
    now: datetime | None = None,
) -> Page:
    """One page of cases, newest first; ``cursor`` continues after the previous page."""
    statement = filtered(session, user, filters, now=now).options(
        selectinload(Case.office),
        selectinload(Case.notice_item),
        selectinload(Case.cluster),
        defer(Case.search_terms),  # a kilobyte a case that no list shows
    )
    if cursor:
        # A row value, so the database seeks in the (received_at, id) index to the cursor.
        statement = statement.where(tuple_(Case.received_at, Case.id) < decode_cursor(cursor))
    rows = list(
        session.scalars(
            statement.order_by(Case.received_at.desc(), Case.id.desc()).limit(limit + 1)
        )
    )
    next_cursor = encode_cursor(rows[limit - 1]) if len(rows) > limit else None
    return Page(rows[:limit], next_cursor)


def export_rows(
    session: Session, user: StaffUser, filters: QueueFilters, *, batch: int = 1000
) -> Iterator[Case]:
    """Every case of the filtered queue, newest first, fetched in batches by keyset."""
    cursor = None
    while True:
        page = list_cases(session, user, filters, cursor=cursor, limit=batch)
        yield from page.items
        session.expunge_all()  # a long export must not keep every case in memory
        if page.next_cursor is None:
            return
        cursor = page.next_cursor


#: Statuses counted on the queue's tabs: the work still to do, and what was just answered.
COUNTED_STATUSES = (CaseStatus.RECEIVED, CaseStatus.ASSIGNED, CaseStatus.REPLIED)


def counts(
    session: Session, user: StaffUser, filters: QueueFilters, *, now: datetime | None = None
) -> dict[str, int] | None:
    """How many cases each status tab and the overdue tab would show with the other filters.

    Only the working statuses are counted: closed cases pile up by the hundred thousand and
    counting them on every page view would cost more than the number is worth. A search
    that matches many thousands of cases is not counted either (None)."""
    if filters.q and not _narrow_search(session, filters.q):
        return None
    others = filters.without("status").without("overdue")
    by_status = filtered(session, user, others, now=now).where(Case.status.in_(COUNTED_STATUSES))
    rows = session.execute(
        by_status.with_only_columns(Case.status, func.count()).group_by(Case.status)
    ).all()
    result = dict.fromkeys(COUNTED_STATUSES, 0) | {status: count for status, count in rows}
    overdue = filtered(session, user, replace(others, overdue=True), now=now)
    result["overdue"] = session.scalar(overdue.with_only_columns(func.count())) or 0
    return result
