"""Who may see which case. Every query for cases on behalf of staff starts here."""

from __future__ import annotations

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from shared.models import Case, Role, StaffUser
from shared.operations import audit


def visible_cases(user: StaffUser) -> Select[tuple[Case]]:
    """Cases the user may see: all for admins and triagers, their offices' for the others."""
    statement = select(Case)
    if not user.sees_all_offices:
        statement = statement.where(Case.office_id.in_([office.id for office in user.offices]))
    return statement


def case_for(session: Session, user: StaffUser, tracking_number: str) -> Case | None:
    """The case if it exists and the user may see it; None alike otherwise (answered as 404)."""
    return session.scalar(visible_cases(user).where(Case.tracking_number == tracking_number))


def case_for_id(session: Session, user: StaffUser, case_id: int) -> Case | None:
    return session.scalar(visible_cases(user).where(Case.id == case_id))


def may_see_submitter(user: StaffUser, case: Case) -> bool:
    """A confidential submitter's identity is for admins and triagers only."""
    return not case.confidential or user.sees_all_offices


def submitter_for(session: Session, user: StaffUser, case: Case) -> Case | None:
    """The case as the source of submitter fields, or None if hidden; viewing a confidential
    submitter's identity is written to the audit trail."""
    if not may_see_submitter(user, case):
        return None
    if case.confidential:
        audit.record(session, "case.submitter_viewed", case=case, actor=user)
    return case


class Action:
    """What staff do to a case, each allowed to some roles (see :func:`may`)."""

    ASSIGN = "assign"  # send to an office, or transfer to another: triage work
    RETURN = "return"  # "not ours": back to triage with a reason
    NOTE = "note"
    SPAM = "spam"
    DUPLICATE = "duplicate"
    CLOSE = "close"
    REGISTER = "register"  # a phone call, letter or visit
    REPLY = "reply"  # draft a reply (review is decided per reply, see operations.replies)


_ROLES_FOR = {
    Action.ASSIGN: {Role.ADMIN, Role.TRIAGER},
    Action.SPAM: {Role.ADMIN, Role.TRIAGER},
    Action.RETURN: {Role.ADMIN, Role.TRIAGER, Role.OFFICER},
    Action.DUPLICATE: {Role.ADMIN, Role.TRIAGER, Role.OFFICER},
    Action.CLOSE: {Role.ADMIN, Role.TRIAGER, Role.OFFICER},
    Action.REGISTER: {Role.ADMIN, Role.TRIAGER, Role.OFFICER},
    Action.REPLY: {Role.ADMIN, Role.TRIAGER, Role.OFFICER},
    Action.NOTE: set(Role.ALL),
}


def may(user: StaffUser, action: str, case: Case | None = None) -> bool:
    """Whether the user may do this (to this case, which they can already see)."""
    if user.role not in _ROLES_FOR[action]:
        return False
    if action == Action.RETURN:
        return case is not None and case.office_id is not None
    return True
