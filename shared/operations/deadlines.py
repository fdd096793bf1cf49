"""Time limits of a case.

Defaults follow the 2022 Regulations on Letters and Visits (信访工作条例): tell the citizen
within 15 days whether the matter is accepted, answer within 60 days of acceptance, and at most
one extension of at most 30 days, with a reason, approved by someone other than who asked for
it. A notice or category may set shorter limits in a :class:`~shared.models.DeadlinePolicy`,
counted in calendar or working days (the official calendar, see
:mod:`shared.operations.calendar`). Every deadline is the end of an Asia/Shanghai day.

An extension lives in the case's own columns: ``extension_days`` and ``extension_reason`` set
with ``extension_approved_by_id`` empty is a request waiting for approval; with it set, the
extension is granted and already counted in ``reply_due``. Who asked is in the audit trail
(``case.extension_requested``) and on the case's thread.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session, object_session

from shared.db import SHANGHAI, utcnow
from shared.i18n import N_
from shared.models import (
    AuditEvent,
    Case,
    CaseStatus,
    DeadlinePolicy,
    Role,
    StaffUser,
)
from shared.operations import audit
from shared.operations import calendar as working_calendar
from shared.operations.errors import NotAllowed, StepRefused, stated_reason

ACKNOWLEDGE_DAYS = 15
REPLY_DAYS = 60
#: The one extension a case may have is at most this long (in the unit of its policy).
MAX_EXTENSION_DAYS = 30
#: Re-handling (重办) after an unsatisfied rating is due this many working days after reopening.
REHANDLING_WORKING_DAYS = 15


@dataclass(frozen=True)
class Limits:
    acknowledge_days: int = ACKNOWLEDGE_DAYS
    reply_days: int = REPLY_DAYS
    working_days: bool = False


def limits_for(session: Session, notice_id: int | None, category: str | None) -> Limits:
    """The most specific policy: notice and category, then notice, then category, then law."""
    candidates = session.scalars(
        select(DeadlinePolicy).where(
            DeadlinePolicy.notice_id.in_([notice_id]) | DeadlinePolicy.notice_id.is_(None),
            DeadlinePolicy.category.in_([category]) | DeadlinePolicy.category.is_(None),
        )
    ).all()

    def specificity(policy: DeadlinePolicy) -> tuple[bool, bool]:
        return (policy.notice_id is not None, policy.category is not None)

    if not candidates:
        return Limits()
    best = max(candidates, key=specificity)
    return Limits(best.acknowledge_days, best.reply_days, best.working_days)


def add_days(session: Session, start: datetime, days: int, *, working: bool) -> datetime:
    """The end of the Asia/Shanghai day ``days`` calendar or working days after ``start``."""
    local_day = start.astimezone(SHANGHAI).date()
    if working:
        local_day = _add_working_days(session, local_day, days)
    else:
        local_day += timedelta(days=days)
    return _end_of_day(local_day)


def _end_of_day(day: date) -> datetime:
    return datetime.combine(day, time(23, 59, 59), SHANGHAI)


def _add_working_days(session: Session, start: date, days: int) -> date:
    horizon = start + timedelta(days=days * 2 + 60)  # enough for the longest holiday runs
    exceptions = working_calendar.exceptions(session, start, horizon)
    current, counted = start, 0
    while counted < days:
        current += timedelta(days=1)
        if exceptions.get(current, current.weekday() < 5):
            counted += 1
    return current


def initial_due_dates(
    session: Session, received_at: datetime, notice_id: int | None, category: str | None
) -> tuple[datetime, datetime]:
    """(acknowledge_by, reply_due) for a new case; the answer clock runs from receipt until
    the case is formally accepted."""
    limits = limits_for(session, notice_id, category)
    acknowledge_by = add_days(
        session, received_at, limits.acknowledge_days, working=limits.working_days
    )
    reply_due = add_days(session, received_at, limits.reply_days, working=limits.working_days)
    return acknowledge_by, reply_due


def _limits_of(session: Session, case: Case) -> Limits:
    return limits_for(session, case.notice_id, case.category)


def reply_due_after_acceptance(session: Session, case: Case, accepted_at: datetime) -> datetime:
    """The answer deadline once the case is accepted: the policy's answer limit (60 days by
    law) from the day of acceptance, plus an extension already granted. The caller sets it."""
    limits = _limits_of(session, case)
    days = limits.reply_days + (case.extension_days if _extension_granted(case) else 0)
    return add_days(session, accepted_at, days, working=limits.working_days)


def rehandling_due(session: Session, case: Case, reopened_at: datetime) -> datetime:
    """The new answer deadline of a case reopened for re-handling (重办) after an unsatisfied
    rating: REHANDLING_WORKING_DAYS working days. The caller sets it."""
    return add_days(session, reopened_at, REHANDLING_WORKING_DAYS, working=True)


# -- the one extension --------------------------------------------------------------------


def _extension_granted(case: Case) -> bool:
    return case.extension_approved_by_id is not None


def extension_pending(case: Case) -> bool:
    """An extension was asked for and waits for approval."""
    return bool(case.extension_days) and case.extension_approved_by_id is None


def _handles(user: StaffUser, case: Case, roles: set[str]) -> bool:
    """Admins always; the given roles only in the case's office."""
    if user.role == Role.ADMIN:
        return True
    return user.role in roles and case.office_id in {office.id for office in user.offices}


def may_request_extension(user: StaffUser, case: Case) -> bool:
    return _handles(user, case, {Role.OFFICER, Role.REVIEWER})


def may_approve_extension(user: StaffUser, case: Case, session: Session | None = None) -> bool:
    """Admins and reviewers of the case's office, never the member of staff who asked."""
    if not extension_pending(case) or not _handles(user, case, {Role.REVIEWER}):
        return False
    session = session or object_session(case)
    return session is not None and extension_requester_id(session, case) != user.id


def extension_requester_id(session: Session, case: Case) -> int | None:
    """Who asked for the case's extension, from the audit trail."""
    return session.scalar(
        select(AuditEvent.actor_id)
        .where(AuditEvent.case_id == case.id, AuditEvent.action == "case.extension_requested")
        .order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
        .limit(1)
    )


def request_extension(
    session: Session, user: StaffUser, case: Case, days: int, reason: str
) -> Case:
    """Ask to extend the answer deadline of an open case by ``days`` (1 to 30, in the unit of
    the case's policy), with a reason. Only one extension per case; it counts once approved."""
    if not may_request_extension(user, case):
        raise NotAllowed("request_extension")
    if case.status not in CaseStatus.OPEN:
        raise StepRefused(N_("Only an open case can be extended."))
    if _extension_granted(case):
        raise StepRefused(N_("This case has already been extended once."))
    if extension_pending(case):
        raise StepRefused(N_("An extension of this case already waits for approval."))
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_EXTENSION_DAYS:
        raise StepRefused(N_("An extension is 1 to 30 days."), "days")
    reason = stated_reason(reason, required=True)
    case.extension_days = days
    case.extension_reason = reason
    case.extension_approved_by_id = None
    _event(session, case, user, "extension_requested", reason, days=days)
    return case


def approve_extension(session: Session, approver: StaffUser, case: Case) -> Case:
    """Grant the extension asked for: the answer deadline moves by its days, counted as the
    case's policy counts (calendar or working days)."""
    if not extension_pending(case):
        raise StepRefused(N_("No extension of this case waits for approval."))
    if extension_requester_id(session, case) == approver.id:
        raise StepRefused(N_("Nobody approves their own extension."))
    if not may_approve_extension(approver, case, session):
        raise NotAllowed("approve_extension")
    if case.status not in CaseStatus.OPEN:
        raise StepRefused(N_("Only an open case can be extended."))
    limits = _limits_of(session, case)
    previous = case.reply_due
    # Never empty for a case received through intake; otherwise the statutory clock.
    base = previous or add_days(
        session,
        case.accepted_at or case.received_at,
        limits.reply_days,
        working=limits.working_days,
    )
    case.reply_due = add_days(session, base, case.extension_days, working=limits.working_days)
    case.extension_approved_by_id = approver.id
    _event(
        session,
        case,
        approver,
        "extension_approved",
        days=case.extension_days,
        working_days=limits.working_days,
        previous_due=previous.isoformat() if previous else None,
        reply_due=case.reply_due.isoformat(),
    )
    return case


def reject_extension(session: Session, approver: StaffUser, case: Case, reason: str) -> Case:
    """Refuse the extension asked for, saying why: the deadline stays, and the request is
    cleared (a new one, better founded, may be made). Same approvers as for approval."""
    if not extension_pending(case):
        raise StepRefused(N_("No extension of this case waits for approval."))
    if extension_requester_id(session, case) == approver.id:
        raise StepRefused(N_("Nobody approves their own extension."))
    if not may_approve_extension(approver, case, session):
        raise NotAllowed("reject_extension")
    reason = stated_reason(reason, required=True)
    days = case.extension_days
    case.extension_days = 0
    case.extension_reason = None
    _event(session, case, approver, "extension_rejected", reason, days=days)
    return case


def _event(
    session: Session, case: Case, user: StaffUser, action: str, body: str = "", **facts
) -> None:
    audit.case_step(session, case, action, actor=user, reason=body, **facts)


# -- the clock on the case page -----------------------------------------------------------


@dataclass(frozen=True)
class Clock:
    """The deadline a case must meet next, as the case page shows it."""

    #: "acknowledge" (tell the citizen whether it is accepted) or "answer".
    deadline: Literal["acknowledge", "answer"]
    due: datetime
    #: The case's policy counts working days (else calendar days).
    counts_working_days: bool
    #: Days from today (Asia/Shanghai) to the due day: 0 on the day, negative once overdue.
    calendar_days_left: int
    #: Working days after today up to the due day; once overdue, minus the working days
    #: since it (at least -1, even on a weekend).
    working_days_left: int
    overdue: bool
    #: The one extension was granted (and is counted in ``due``).
    extended: bool
    #: An extension was asked for and waits for approval.
    extension_pending: bool

    @property
    def days_left(self) -> int:
        """Days left in the unit the case's policy counts in."""
        return self.working_days_left if self.counts_working_days else self.calendar_days_left


def clock(
    case: Case, now: datetime | None = None, *, session: Session | None = None
) -> Clock | None:
    """The clock of an open case: the acknowledgement deadline until the case is accepted (or
    answered), then the answer deadline. None for a case that is no longer open or has no
    deadline. Reads the calendar through the case's session unless one is given."""
    if case.status not in CaseStatus.OPEN:
        return None
    session = session or object_session(case)
    if session is None:
        raise ValueError("clock() needs the session of the case to read the calendar")
    now = now or utcnow()
    deadline: Literal["acknowledge", "answer"]
    if case.accepted_at is None and case.first_replied_at is None and case.acknowledge_by:
        deadline, due = "acknowledge", case.acknowledge_by
    elif case.reply_due is not None:
        deadline, due = "answer", case.reply_due
    else:
        return None
    today = now.astimezone(SHANGHAI).date()
    due_day = due.astimezone(SHANGHAI).date()
    overdue = now > due
    if overdue:
        working_left = -max(1, working_calendar.working_days_between(session, due_day, today))
    else:
        working_left = working_calendar.working_days_between(session, today, due_day)
    return Clock(
        deadline=deadline,
        due=due,
        counts_working_days=_limits_of(session, case).working_days,
        calendar_days_left=(due_day - today).days,
        working_days_left=working_left,
        overdue=overdue,
        extended=_extension_granted(case),
        extension_pending=extension_pending(case),
    )
