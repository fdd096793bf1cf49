"""The items of a notice, as admins keep them: rows saved from the notice form, codes free
across all notices (and suggested for new rows), and items that cases or routing rules refer
to retired, never deleted."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from shared.db import utcnow
from shared.i18n import N_
from shared.models import Case, Notice, NoticeItem, RoutingRule, StaffUser
from shared.operations import audit, offices
from shared.operations.errors import StepRefused

#: The item's fields that an edit can change.
ITEM_FIELDS = ("code", "area", "title", "description", "default_office_id")
_CODE_PREFIX = re.compile(r"^(?P<prefix>.*?)(?P<number>\d+)$")


@dataclass
class ItemRow:
    """One item row, validated; ``id`` is None for a new item."""

    id: int | None
    code: str | None
    area: str
    title: str
    description: str
    office: str
    position: int | None
    #: Take the item off the notice: retired when cases refer to it, else deleted.
    remove: bool = False
    #: Its place among the rows of the form, so that equal positions keep the form's order.
    row: int = 0


def item_case_counts(session: Session, notice: Notice) -> dict[int, int]:
    """How many cases refer to each item of the notice (items without cases are left out)."""
    return dict(
        session.execute(
            select(Case.notice_item_id, func.count())
            .join(NoticeItem, Case.notice_item_id == NoticeItem.id)
            .where(NoticeItem.notice_id == notice.id)
            .group_by(Case.notice_item_id)
        ).all()
    )


def suggested_codes(session: Session, notice: Notice | None, count: int) -> list[str]:
    """Codes for new items, free across all notices: the prefix of the notice's own codes
    (XC21-07 → XC21-), else ``N`` and the two digits of the year it was issued (N27-)."""
    prefix = None
    if notice is not None:
        for item in sorted(notice.items, key=lambda item: item.position):
            match = _CODE_PREFIX.match(item.code)
            if match and match["prefix"]:
                prefix = match["prefix"]
    if prefix is None:
        issued = notice.issued_on if notice is not None and notice.issued_on else None
        year = issued.year if issued else utcnow().year
        prefix = f"N{year % 100:02d}-"
    used = set(session.scalars(select(NoticeItem.code).where(NoticeItem.code.startswith(prefix))))
    codes: list[str] = []
    number = 1
    while len(codes) < count:
        code = f"{prefix}{number:02d}"
        if code not in used:
            codes.append(code)
        number += 1
    return codes


def save_items(
    session: Session, notice: Notice, rows: list[ItemRow], actor: StaffUser
) -> list[str]:
    """Apply the item rows; return the codes of the items added, changed or taken off.

    Deletions and code changes are flushed before the rest, so that a code freed by one row
    can be taken by another in the same save without tripping the unique constraint.
    """
    existing = {item.id: item for item in notice.items}
    unknown = [row for row in rows if row.id is not None and row.id not in existing]
    if unknown:
        raise StepRefused(N_("The form is out of date: open the notice again."))
    _check_codes_free(session, notice, rows)
    found, _unknown = offices.offices_by_code(session, [row.office for row in rows if row.office])
    by_code = {office.code: office for office in found}  # an unknown one is refused below
    referenced = _referenced_item_ids(session, list(existing))
    with_cases = _item_ids_with_cases(session, list(existing))
    changes: list[str] = []
    events: list[tuple[str, dict[str, Any]]] = []

    # First: what leaves the notice, and codes that change (moved out of the way).
    for row in rows:
        if row.id is None:
            continue
        item = existing[row.id]
        if row.remove and not item.retired:
            if item.id in referenced:
                item.retired = True
                events.append(("notice.item_retired", {"item": item.id, "code": item.code}))
            else:
                notice.items.remove(item)
                session.delete(item)
                events.append(("notice.item_deleted", {"item": item.id, "code": item.code}))
            changes.append(item.code)
        elif not row.remove and row.code and row.code != item.code:
            if item.id in with_cases:
                raise StepRefused(
                    N_("Cases refer to this item by its code: it cannot change."),
                    ("items", row.row, "code"),
                )
            item.code = f"~{item.id}"  # out of the way until the new codes are set
    session.flush()

    # Then: the rows that stay, in their new order.
    kept = [row for row in rows if not row.remove]
    kept.sort(key=lambda row: (row.position if row.position is not None else 10_000, row.row))
    uncoded = sum(1 for row in kept if row.id is None and not row.code)
    suggestions = iter(suggested_codes(session, notice, uncoded))
    position = 0
    for row in kept:
        position += 1
        office = by_code.get(row.office)
        if office is None:
            raise StepRefused(N_("Choose one of the listed offices."), ("items", row.row, "office"))
        if row.id is None:
            item = NoticeItem(retired=False)
            notice.items.append(item)
            item.code = row.code or next(suggestions)
        else:
            item = existing[row.id]
            if row.code:
                item.code = row.code
            if item.retired and not row.remove:
                item.retired = False
                events.append(("notice.item_restored", {"item": item.id, "code": item.code}))
        before = {name: getattr(item, name) for name in ITEM_FIELDS}
        item.area = row.area
        item.title = row.title
        item.description = row.description
        item.default_office = office
        item.default_office_id = office.id  # compared below, before any flush
        item.position = position
        if row.id is None or any(before[name] != getattr(item, name) for name in ITEM_FIELDS):
            changes.append(item.code)
    # Retired items keep their place after the offered ones.
    for item in notice.items:
        if item.retired and item.id not in {row.id for row in kept}:
            position += 1
            item.position = position
    session.flush()
    for item in notice.items:
        if item.code in changes and item.id not in existing:
            events.append(("notice.item_added", {"item": item.id, "code": item.code}))
    for action, facts in events:
        audit.record(session, action, actor=actor, notice=notice.id, **facts)
    return sorted(set(changes))


def _check_codes_free(session: Session, notice: Notice, rows: list[ItemRow]) -> None:
    """No other notice uses a code of these rows (checked again here, in the transaction
    that saves them: the form's check was made when it was shown)."""
    codes = {row.code: row.row for row in rows if row.code}
    if not codes:
        return
    query = select(NoticeItem.code).where(NoticeItem.code.in_(codes))
    if notice.id is not None:
        query = query.where(NoticeItem.notice_id != notice.id)
    taken = set(session.scalars(query))
    # An item of this notice that the form does not list keeps its code.
    listed = {row.id for row in rows}
    taken |= {item.code for item in notice.items if item.id not in listed} & codes.keys()
    if taken:
        raise StepRefused(
            N_("Another notice already uses this code."),
            [("items", codes[code], "code") for code in taken],
        )


def _item_ids_with_cases(session: Session, item_ids: list[int]) -> set[int]:
    if not item_ids:
        return set()
    return set(
        session.scalars(
            select(Case.notice_item_id).where(Case.notice_item_id.in_(item_ids)).distinct()
        )
    )


def _referenced_item_ids(session: Session, item_ids: list[int]) -> set[int]:
    """Items that cases or routing rules refer to: these are retired, never deleted."""
    if not item_ids:
        return set()
    ruled = session.scalars(
        select(RoutingRule.notice_item_id).where(RoutingRule.notice_item_id.in_(item_ids))
    )
    return _item_ids_with_cases(session, item_ids) | set(ruled)
