"""What staff do to a case: assign and transfer, send back to triage, notes, spam, duplicates,
close. Each step is an event on the case's thread and in the audit trail; the steps that
change the case's status are taken through :mod:`shared.operations.lifecycle`.

Callers find the case through :func:`shared.operations.access.case_for` (so it is one the user
may see); these functions check that the user's role may do the step, flush, never commit.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy.orm import Session

from shared.i18n import N_
from shared.models import Case, CaseStatus, Message, MessageKind, StaffUser
from shared.operations import access, audit, duplicates, lifecycle, offices
from shared.operations.access import Action
from shared.operations.errors import NotAllowed, StepRefused, stated_reason
from shared.operations.lifecycle import Step
from shared.schemas.case_step import NOTE_MAX


def assign(
    session: Session, user: StaffUser, case: Case, office_code: str, reason: str = ""
) -> Case:
    """Send a case to an office, or transfer it from one office to another (with a reason)."""
    previous = case.office
    step = Step.TRANSFER if previous else Step.ASSIGN
    lifecycle.check(case, step, user)
    office = offices.office_by_code(session, office_code)
    if office is None:
        raise StepRefused(N_("Choose one of the listed offices."), "office")
    if case.office_id == office.id:
        raise StepRefused(N_("The case is already with this office."), "office")
    reason = _reason(reason, required=previous is not None)
    case.office = office
    lifecycle.take(
        session,
        case,
        step,
        actor=user,
        reason=reason,
        office=office.code,
        from_office=previous.code if previous else None,
    )
    return case


def assign_many(
    session: Session, user: StaffUser, cases: Iterable[Case], office_code: str, reason: str = ""
) -> tuple[int, int]:
    """Bulk assignment from the queue: (assigned, skipped). Cases already with the office or
    no longer open are skipped; moving a case from another office needs the reason."""
    assigned = skipped = 0
    for case in cases:
        if case.status not in CaseStatus.OPEN or (case.office and case.office.code == office_code):
            skipped += 1
            continue
        assign(session, user, case, office_code, reason)
        assigned += 1
    return assigned, skipped


def return_to_triage(session: Session, user: StaffUser, case: Case, reason: str) -> Case:
    """ "Not ours": the office gives the case back to triage, saying why. Never a dead end."""
    lifecycle.check(case, Step.RETURN, user)
    reason = _reason(reason, required=True)
    previous = case.office
    # Taken while the case still has its office: only the office's staff may give it back.
    lifecycle.take(session, case, Step.RETURN, actor=user, reason=reason, from_office=previous.code)
    case.office = None
    return case


def add_note(session: Session, user: StaffUser, case: Case, body: str) -> Message:
    """An internal note on the thread: staff only, never sent, never public."""
    _require(user, Action.NOTE, case)
    body = (body or "").strip()
    if not body:
        raise StepRefused(N_("Write the note first."), "body")
    if len(body) > NOTE_MAX:
        raise StepRefused(N_("Keep the note to 5000 characters or fewer."), "body")
    note = Message(case=case, kind=MessageKind.NOTE, body=body, author_id=user.id)
    session.add(note)
    session.flush()
    audit.record(session, "case.noted", case=case, actor=user, message_id=note.id)
    return note


def mark_spam(session: Session, user: StaffUser, case: Case, reason: str = "") -> Case:
    """Spam leaves the queue and the report; it stays stored, and can be taken back."""
    lifecycle.check(case, Step.MARK_SPAM, user)
    lifecycle.take(session, case, Step.MARK_SPAM, actor=user, reason=_reason(reason))
    return case


def unmark_spam(session: Session, user: StaffUser, case: Case) -> Case:
    lifecycle.take(session, case, Step.UNMARK_SPAM, actor=user)
    return case


def mark_duplicate(
    session: Session, user: StaffUser, case: Case, original_number: str, reason: str = ""
) -> Case:
    """The case repeats an earlier one (which the user must be able to see): it points to the
    first of the chain and joins its cluster, to be answered with it."""
    _require(user, Action.DUPLICATE, case)
    original = access.case_for(session, user, (original_number or "").strip().upper())
    if original is None:
        raise StepRefused(N_("No case has this tracking number."), "duplicate_of")
    while original.duplicate_of is not None:
        original = original.duplicate_of
    if original.id == case.id:
        raise StepRefused(N_("A case cannot repeat itself."), "duplicate_of")
    case.duplicate_of = original
    duplicates.join_cluster(session, case, original, "duplicate")
    audit.case_step(
        session,
        case,
        "marked_duplicate",
        actor=user,
        reason=_reason(reason),
        original=original.tracking_number,
    )
    return case


def close(
    session: Session, user: StaffUser, case: Case, reason: str = "", *, now: datetime | None = None
) -> Case:
    lifecycle.check(case, Step.CLOSE, user)
    case.close_reason = _reason(reason)
    lifecycle.take(session, case, Step.CLOSE, actor=user, reason=case.close_reason, now=now)
    return case


def _require(user: StaffUser, action: str, case: Case) -> None:
    if not access.may(user, action, case):
        raise NotAllowed(action)


def _reason(reason: str | None, *, required: bool = False) -> str:
    return stated_reason(reason, required=required)
