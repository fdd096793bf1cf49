"""What admins do to offices: create them, rename them, set their mailbox and review levels,
and merge one into another.

An office is never deleted: cases, reports and the audit trail name it. Its ``code`` is typed
once and never changes, since it is the office's identifier in the API, the reports and the
routing rules; its name may change at any time. A merged office stays, inactive: it is
offered nowhere any more, and everything it had went to the office it was merged into.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from shared.i18n import N_
from shared.models import (
    Case,
    CaseStatus,
    NoticeItem,
    Office,
    Reply,
    ReplyState,
    RoutingRule,
    StaffUser,
    staff_office,
)
from shared.operations import audit
from shared.operations.errors import StepRefused


@dataclass
class OfficeFields:
    """What an admin may change of an office; ``code`` only when it is created."""

    name: str
    email: str | None = None
    review_levels: int = 1
    code: str | None = None


@dataclass(frozen=True)
class OfficeRow:
    """An office as the list shows it."""

    office: Office
    open_cases: int
    staff: int


def offices_with_counts(session: Session) -> list[OfficeRow]:
    """Every office, active ones first, with its open cases and its active staff."""
    open_cases = dict(
        session.execute(
            select(Case.office_id, func.count())
            .where(Case.status.in_(CaseStatus.OPEN), Case.office_id.is_not(None))
            .group_by(Case.office_id)
        ).all()
    )
    staff = dict(
        session.execute(
            select(staff_office.c.office_id, func.count())
            .join(StaffUser, StaffUser.id == staff_office.c.staff_id)
            .where(StaffUser.active.is_(True))
            .group_by(staff_office.c.office_id)
        ).all()
    )
    return [
        OfficeRow(office, open_cases.get(office.id, 0), staff.get(office.id, 0))
        for office in all_offices(session)
    ]


# --- Looking offices up (every other module asks here) ---------------------------------------


def all_offices(session: Session) -> list[Office]:
    """Every office, merged ones too: active ones first, then by code."""
    return list(session.scalars(select(Office).order_by(Office.active.desc(), Office.code)))


def active_offices(session: Session) -> list[Office]:
    """The offices that may be chosen anywhere: not merged away; by code."""
    return list(
        session.scalars(select(Office).where(Office.active.is_(True)).order_by(Office.code))
    )


def office_by_code(session: Session, code: str, *, active_only: bool = True) -> Office | None:
    """The office with this code; None when there is none (or, ``active_only``, when it was
    merged away)."""
    statement = select(Office).where(Office.code == code)
    if active_only:
        statement = statement.where(Office.active.is_(True))
    return session.scalar(statement)


def offices_by_code(
    session: Session, codes: Iterable[str], *, active_only: bool = True
) -> tuple[list[Office], list[str]]:
    """The offices with these codes, each once, in the order given; and the codes that name
    no office (or, ``active_only``, one merged away), for the caller to refuse in its own
    words."""
    codes = list(dict.fromkeys(codes))
    if not codes:
        return [], []
    statement = select(Office).where(Office.code.in_(codes))
    if active_only:
        statement = statement.where(Office.active.is_(True))
    found = {office.code: office for office in session.scalars(statement)}
    return [found[code] for code in codes if code in found], [c for c in codes if c not in found]


def get_office(session: Session, office_id: int) -> Office | None:
    return session.get(Office, office_id)


def create_office(session: Session, fields: OfficeFields, actor: StaffUser) -> Office:
    """A new, active office; its code must be new (merged offices keep theirs)."""
    if fields.code is None:
        raise ValueError("a new office needs its code")
    if session.scalar(select(Office.id).where(Office.code == fields.code)):
        raise StepRefused(N_("Another office has this code; choose another."), "code") from None
    office = Office(
        code=fields.code,
        name=fields.name,
        email=fields.email,
        review_levels=fields.review_levels,
        active=True,
    )
    session.add(office)
    try:
        session.flush()
    except IntegrityError:  # the same code added at the same moment: all is rolled back
        raise StepRefused(N_("Another office has this code; choose another."), "code") from None
    audit.record(
        session,
        "office.created",
        actor=actor,
        office=office.code,
        name=office.name,
        review_levels=office.review_levels,
    )
    return office


def update_office(
    session: Session, office: Office, fields: OfficeFields, actor: StaffUser
) -> list[str]:
    """The office's name, mailbox and review levels as given (its code stays); one audit event
    for each that changed. Returns the actions recorded."""
    recorded = []
    if fields.name != office.name:
        before, office.name = office.name, fields.name
        recorded.append(
            _record(session, "office.renamed", actor, office, old_name=before, name=office.name)
        )
    if fields.email != office.email:
        office.email = fields.email
        recorded.append(
            _record(
                session, "office.mailbox_changed", actor, office, has_mailbox=bool(office.email)
            )
        )
    if fields.review_levels != office.review_levels:
        before_levels, office.review_levels = office.review_levels, fields.review_levels
        recorded.append(
            _record(
                session,
                "office.review_levels_changed",
                actor,
                office,
                old_levels=before_levels,
                levels=office.review_levels,
            )
        )
    session.flush()
    return recorded


def _record(session: Session, action: str, actor: StaffUser, office: Office, **facts) -> str:
    audit.record(session, action, actor=actor, office=office.code, **facts)
    return action


@dataclass(frozen=True)
class Merged:
    """How much moved from the merged office to the one it went into."""

    cases: int
    open_cases: int
    rules: int
    items: int
    staff: int
    replies_in_review: int


def merge_offices(session: Session, source: Office, target_code: str, actor: StaffUser) -> Merged:
    """Merge ``source`` into the office ``target_code``: its cases, routing rules, notice items
    (as their default office), staff and the replies waiting for review (their cases' office
    decides who reviews them) go to the target; ``source`` stays, inactive.

    Both offices are locked first, so two admins merging at once cannot cross (A into B while
    B goes into A). Replies keep the number of review levels they were written with.
    """
    if target_code == source.code:
        raise StepRefused(N_("An office cannot be merged into itself."), "into")
    locked = {
        office.code: office
        for office in session.scalars(
            select(Office)
            .where(Office.code.in_([source.code, target_code]))
            .order_by(Office.id)
            .with_for_update()
        )
    }
    session.refresh(source)
    target = locked.get(target_code)
    if not source.active:
        raise StepRefused(N_("This office was merged already; it has nothing left to merge."))
    if target is None:
        raise StepRefused(N_("Choose the office to merge into."), "into")
    if not target.active:
        raise StepRefused(
            N_("%(office)s is inactive: merge into an active office."),
            "into",
            office=target.name,
        )

    in_review = session.scalar(
        select(func.count())
        .select_from(Reply)
        .join(Case, Case.id == Reply.case_id)
        .where(Case.office_id == source.id, Reply.state == ReplyState.IN_REVIEW)
    )
    open_cases = session.scalar(
        select(func.count())
        .select_from(Case)
        .where(Case.office_id == source.id, Case.status.in_(CaseStatus.OPEN))
    )
    cases = _move(session, Case, Case.office_id, source, target)
    rules = _move(session, RoutingRule, RoutingRule.office_id, source, target)
    items = _move(session, NoticeItem, NoticeItem.default_office_id, source, target)
    staff = _move_staff(session, source, target)
    source.active = False
    session.flush()
    session.expire_all()  # objects loaded before the bulk updates name the old office
    merged = Merged(
        cases=cases,
        open_cases=open_cases or 0,
        rules=rules,
        items=items,
        staff=staff,
        replies_in_review=in_review or 0,
    )
    audit.record(
        session,
        "office.merged",
        actor=actor,
        office=source.code,
        into=target.code,
        cases=merged.cases,
        open_cases=merged.open_cases,
        rules=merged.rules,
        items=merged.items,
        staff=merged.staff,
        replies_in_review=merged.replies_in_review,
    )
    session.flush()
    return merged


def _move(session: Session, model, column, source: Office, target: Office) -> int:
    result = session.execute(
        update(model)
        .where(column == source.id)
        .values({column.key: target.id})
        .execution_options(synchronize_session=False)
    )
    return result.rowcount


def _move_staff(session: Session, source: Office, target: Office) -> int:
    """Members of the source become members of the target (once); returns how many."""
    members = set(
        session.scalars(
            select(staff_office.c.staff_id).where(staff_office.c.office_id == source.id)
        )
    )
    already = set(
        session.scalars(
            select(staff_office.c.staff_id).where(staff_office.c.office_id == target.id)
        )
    )
    new = sorted(members - already)
    if new:
        session.execute(
            insert(staff_office), [{"staff_id": sid, "office_id": target.id} for sid in new]
        )
    session.execute(delete(staff_office).where(staff_office.c.office_id == source.id))
    return len(members)
