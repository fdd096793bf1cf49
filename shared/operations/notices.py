"""Which notices the public can comment on, and what admins do to notices.

Admins create a notice as a draft, publish it, change it, close its comment period early and
withdraw it. Items that cases (or routing rules) refer to are never deleted: taken off the
notice, they are *retired* (no longer offered, still shown on their cases).
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, selectinload

from shared.db import utcnow
from shared.i18n import N_
from shared.models import Case, Notice, NoticeItem, NoticeStatus, RoutingRule, StaffUser
from shared.operations import audit, offices
from shared.operations.errors import StepRefused
from shared.schemas.notice import NoticeChoices

#: A closed notice stays on the public front page this long, saying it is closed.
RECENTLY_CLOSED = timedelta(days=90)
#: The notice's own fields, as the audit trail names them when they change.
NOTICE_FIELDS = (
    "title",
    "issuer",
    "issued_on",
    "summary",
    "body",
    "invites_web",
    "contact_phone",
    "contact_email",
    "postal_address",
    "postcode",
    "opens_at",
    "closes_at",
)
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


@dataclass
class NoticeFields:
    """A notice as typed, validated; offices and existing items not yet looked up."""

    title: str
    issuer: str
    issued_on: date | None = None
    summary: str = ""
    body: str = ""
    invites_web: bool = False
    contact_phone: str | None = None
    contact_email: str | None = None
    postal_address: str | None = None
    postcode: str | None = None
    #: UTC; typed in Asia/Shanghai time.
    opens_at: datetime | None = None
    closes_at: datetime | None = None
    items: list[ItemRow] = field(default_factory=list)

    def __post_init__(self) -> None:
        # The rows as ``shared.schemas.notice`` loads them from the form.
        self.items = [row if isinstance(row, ItemRow) else ItemRow(**row) for row in self.items]


class NoticeState:
    """Where a notice is, for its readers: one word, worked out from status and period."""

    DRAFT = "draft"
    UPCOMING = "upcoming"  # published, its period not begun
    OPEN = "open"
    CLOSED = "closed"  # published, its period over
    WITHDRAWN = "withdrawn"


def state(notice: Notice, now: datetime | None = None) -> str:
    now = now or utcnow()
    if notice.status == NoticeStatus.DRAFT:
        return NoticeState.DRAFT
    if notice.status == NoticeStatus.WITHDRAWN:
        return NoticeState.WITHDRAWN
    if notice.opens_at and now < notice.opens_at:
        return NoticeState.UPCOMING
    if notice.closes_at and now >= notice.closes_at:
        return NoticeState.CLOSED
    return NoticeState.OPEN


# --- The public side ----------------------------------------------------------------------


def published_notices(session: Session) -> list[Notice]:
    """Published notices, newest first, with their items loaded."""
    return list(
        session.scalars(
            select(Notice)
            .where(Notice.status == NoticeStatus.PUBLISHED)
            .options(selectinload(Notice.items).selectinload(NoticeItem.default_office))
            .order_by(Notice.created_at.desc(), Notice.id.desc())
        )
    )


def open_notices(session: Session, now: datetime | None = None) -> list[Notice]:
    now = now or utcnow()
    return [notice for notice in published_notices(session) if notice.is_open(now)]


def open_notice_ids(session: Session, now: datetime | None = None) -> list[int]:
    """Ids of the notices open for comments, without loading them (for mail, which needs no
    items)."""
    now = now or utcnow()
    return list(
        session.scalars(
            select(Notice.id).where(
                Notice.status == NoticeStatus.PUBLISHED,
                or_(Notice.opens_at.is_(None), Notice.opens_at <= now),
                or_(Notice.closes_at.is_(None), Notice.closes_at > now),
            )
        )
    )


@dataclass(frozen=True)
class NoticeBoard:
    """What the public front page shows: the open notices, those about to open, and those
    closed lately (which say so, and how else to reach the office)."""

    open: list[Notice]
    upcoming: list[Notice]
    closed: list[Notice]

    @property
    def shown(self) -> list[Notice]:
        return [*self.open, *self.upcoming, *self.closed]


def notice_board(session: Session, now: datetime | None = None) -> NoticeBoard:
    now = now or utcnow()
    published = published_notices(session)
    by_state: dict[str, list[Notice]] = {}
    for notice in published:
        by_state.setdefault(state(notice, now), []).append(notice)
    closed = [
        notice
        for notice in by_state.get(NoticeState.CLOSED, [])
        if notice.closes_at and notice.closes_at > now - RECENTLY_CLOSED
    ]
    closed.sort(key=lambda notice: notice.closes_at, reverse=True)
    upcoming = sorted(by_state.get(NoticeState.UPCOMING, []), key=lambda notice: notice.opens_at)
    return NoticeBoard(open=by_state.get(NoticeState.OPEN, []), upcoming=upcoming, closed=closed)


def public_notice(session: Session, notice_id: int) -> Notice | None:
    """A notice as the public may see it (published or withdrawn; a draft does not exist)."""
    notice = session.get(
        Notice,
        notice_id,
        options=[selectinload(Notice.items).selectinload(NoticeItem.default_office)],
    )
    if notice is None or notice.status == NoticeStatus.DRAFT:
        return None
    return notice


# --- Administration: reading --------------------------------------------------------------


@dataclass(frozen=True)
class NoticeRow:
    """A line of the admin's list of notices."""

    notice: Notice
    state: str
    items: int
    retired: int
    cases: int


def notices_for_admin(session: Session, now: datetime | None = None) -> list[NoticeRow]:
    """Every notice, newest first, with its counts of items and cases."""
    now = now or utcnow()
    notices = session.scalars(
        select(Notice)
        .options(selectinload(Notice.items))
        .order_by(Notice.created_at.desc(), Notice.id.desc())
    ).all()
    cases = dict(
        session.execute(
            select(Case.notice_id, func.count())
            .where(Case.notice_id.is_not(None))
            .group_by(Case.notice_id)
        ).all()
    )
    return [
        NoticeRow(
            notice=notice,
            state=state(notice, now),
            items=sum(1 for item in notice.items if not item.retired),
            retired=sum(1 for item in notice.items if item.retired),
            cases=cases.get(notice.id, 0),
        )
        for notice in notices
    ]


def get_notice(session: Session, notice_id: int) -> Notice | None:
    return session.get(
        Notice,
        notice_id,
        options=[selectinload(Notice.items).selectinload(NoticeItem.default_office)],
    )


def notice_choices(session: Session, notice: Notice | None) -> NoticeChoices:
    """The active offices an item may name, and the codes of other notices' items."""
    active = offices.active_offices(session)
    taken = select(NoticeItem.code)
    if notice is not None and notice.id is not None:
        taken = taken.where(NoticeItem.notice_id != notice.id)
    return NoticeChoices(
        offices={office.code: office.name for office in active},
        taken_codes=frozenset(session.scalars(taken)),
    )


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


# --- Administration: changes --------------------------------------------------------------


def create_notice(session: Session, fields: NoticeFields, actor: StaffUser) -> Notice:
    """A new notice, as a draft: the public sees it once it is published."""
    notice = Notice(slug=_new_slug(), status=NoticeStatus.DRAFT)
    _set_fields(notice, fields)
    session.add(notice)
    session.flush()
    audit.record(session, "notice.created", actor=actor, notice=notice.id, title=notice.title)
    _save_items(session, notice, fields.items, actor)
    return notice


def update_notice(
    session: Session, notice: Notice, fields: NoticeFields, actor: StaffUser
) -> Notice:
    """The notice's fields and items as given; the audit trail says what changed."""
    before = _described(notice)
    _set_fields(notice, fields)
    item_changes = _save_items(session, notice, fields.items, actor)
    after = _described(notice)
    changed = sorted(name for name in NOTICE_FIELDS if before[name] != after[name])
    if changed or item_changes:
        audit.record(
            session,
            "notice.updated",
            actor=actor,
            notice=notice.id,
            changed=changed,
            items_changed=item_changes,
        )
    return notice


def publish(
    session: Session, notice: Notice, actor: StaffUser, now: datetime | None = None
) -> Notice:
    """Show the notice to the public (a draft, or a withdrawn notice again)."""
    now = now or utcnow()
    if notice.status == NoticeStatus.PUBLISHED:
        return notice
    if notice.closes_at and notice.closes_at <= now:
        raise StepRefused(
            N_("The comment period is already over: set a later closing time first."), "closes_at"
        )
    notice.status = NoticeStatus.PUBLISHED
    session.flush()
    audit.record(
        session,
        "notice.published",
        actor=actor,
        notice=notice.id,
        opens_at=_iso(notice.opens_at),
        closes_at=_iso(notice.closes_at),
    )
    return notice


def withdraw(session: Session, notice: Notice, actor: StaffUser) -> Notice:
    """Take the notice down: it stops taking comments; its cases carry on as before."""
    if notice.status != NoticeStatus.PUBLISHED:
        return notice
    notice.status = NoticeStatus.WITHDRAWN
    session.flush()
    audit.record(session, "notice.withdrawn", actor=actor, notice=notice.id)
    return notice


def close_now(
    session: Session, notice: Notice, actor: StaffUser, now: datetime | None = None
) -> Notice:
    """End the comment period now (the notice stays published, saying it is closed)."""
    now = now or utcnow()
    if state(notice, now) not in (NoticeState.OPEN, NoticeState.UPCOMING):
        return notice
    previous = notice.closes_at
    if notice.opens_at and notice.opens_at > now:
        notice.opens_at = now
    notice.closes_at = now
    session.flush()
    audit.record(
        session,
        "notice.closed",
        actor=actor,
        notice=notice.id,
        closes_at=_iso(now),
        was=_iso(previous),
    )
    return notice


def _set_fields(notice: Notice, fields: NoticeFields) -> None:
    for name in NOTICE_FIELDS:
        setattr(notice, name, getattr(fields, name))


def _save_items(
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


def _described(notice: Notice) -> dict[str, Any]:
    return {name: getattr(notice, name) for name in NOTICE_FIELDS}


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _new_slug() -> str:
    """An internal name for the notice; never shown, unique."""
    return f"notice-{utcnow():%Y%m%d}-{secrets.token_hex(4)}"
