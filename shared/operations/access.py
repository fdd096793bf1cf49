"""Who may see which case. Every query for cases on behalf of staff starts here."""

from __future__ import annotations

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from shared.models import Case, StaffUser
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
