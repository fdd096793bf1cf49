"""Which notices the public can comment on, and what admins do to notices.

Admins create a notice as a draft, publish it, change it, close its comment period early and
withdraw it. Items that cases (or routing rules) refer to are never deleted: taken off the
notice, they are *retired* (no longer offered, still shown on their cases); saving a notice's
item rows is :mod:`shared.operations.notice_items`.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, selectinload

from shared.db import utcnow
from shared.i18n import N_
from shared.models import Case, Notice, NoticeItem, NoticeStatus, StaffUser
from shared.operations import audit, notice_items, offices
from shared.operations.errors import StepRefused
from shared.operations.notice_items import ItemRow
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


# --- Administration: changes --------------------------------------------------------------


def create_notice(session: Session, fields: NoticeFields, actor: StaffUser) -> Notice:
    """A new notice, as a draft: the public sees it once it is published."""
    notice = Notice(slug=_new_slug(), status=NoticeStatus.DRAFT)
    _set_fields(notice, fields)
    session.add(notice)
    session.flush()
    audit.record(session, "notice.created", actor=actor, notice=notice.id, title=notice.title)
    notice_items.save_items(session, notice, fields.items, actor)
    return notice


def update_notice(
    session: Session, notice: Notice, fields: NoticeFields, actor: StaffUser
) -> Notice:
    """The notice's fields and items as given; the audit trail says what changed."""
    before = _described(notice)
    _set_fields(notice, fields)
    item_changes = notice_items.save_items(session, notice, fields.items, actor)
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


def _described(notice: Notice) -> dict[str, Any]:
    return {name: getattr(notice, name) for name in NOTICE_FIELDS}


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _new_slug() -> str:
    """An internal name for the notice; never shown, unique."""
    return f"notice-{utcnow():%Y%m%d}-{secrets.token_hex(4)}"
