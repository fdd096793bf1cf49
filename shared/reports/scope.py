"""Whose report: the offices a member of staff's report covers (the whole department, one
office, or their own offices), the offices they may pick, and which archived files they may
download."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from shared.i18n import N_
from shared.models import Office, ReportArchive, StaffUser
from shared.operations.errors import StepRefused
from shared.operations.offices import all_offices, office_by_code, offices_by_code

#: What a person reads on a page or in the API about an office that names no report.
NO_SUCH_OFFICE = N_("There is no such office.")


def scope_for(session: Session, user: StaffUser, office_code: str | None) -> list[Office] | None:
    """The offices a member of staff's report covers (None: the whole department). Admins and
    triagers see the department or the one office they pick; officers and reviewers only
    their own offices, whatever they ask for (one of them if they pick it)."""
    if user.sees_all_offices:
        if not office_code:
            return None
        office = office_by_code(session, office_code, active_only=False)
        if office is None:
            raise StepRefused(
                NO_SUCH_OFFICE, "office", detail=f"There is no office {office_code!r}."
            )
        return [office]
    own = list(
        session.scalars(
            select(Office)
            .where(Office.id.in_([office.id for office in user.offices]))
            .order_by(Office.code)
        )
    )
    picked = [office for office in own if office.code == office_code]
    return picked or own


def office_choices(session: Session, user: StaffUser) -> list[Office]:
    """The offices a member of staff may pick a report of."""
    if user.sees_all_offices:
        return all_offices(session)
    return scope_for(session, user, None) or []


def scope_by_codes(session: Session, codes: Sequence[str]) -> list[Office] | None:
    """The offices named on the command line (None for none: the whole department)."""
    if not codes:
        return None
    found, unknown = offices_by_code(session, codes, active_only=False)
    if unknown:
        raise StepRefused(NO_SUCH_OFFICE, "office", detail=f"There is no office {unknown[0]!r}.")
    return found


def may_see(user: StaffUser, row: ReportArchive) -> bool:
    if user.sees_all_offices:
        return True
    return row.office_id is not None and row.office_id in {office.id for office in user.offices}
