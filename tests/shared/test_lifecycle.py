"""The case's life cycle: every step from every status is either taken, as the life cycle
says, or refused with the one refusal type; and only the roles that may take a step do."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from shared.models import AuditEvent, Case, CaseStatus, Office, Role, StaffUser
from shared.operations import lifecycle
from shared.operations.errors import NotAllowed, Refusal, StepRefused
from shared.operations.lifecycle import Step
from tests.factories import make_case, make_staff

RECEIVED, ASSIGNED, REPLIED = CaseStatus.RECEIVED, CaseStatus.ASSIGNED, CaseStatus.REPLIED
CLOSED, REJECTED, SPAM = CaseStatus.CLOSED, CaseStatus.REJECTED, CaseStatus.SPAM

#: The life cycle written out by hand: from which statuses each step may be taken, and the
#: status it leads to (the case in these tests has an office, so "back to open" is assigned).
EXPECTED = {
    Step.ASSIGN: ({RECEIVED, ASSIGNED}, ASSIGNED),
    Step.TRANSFER: ({RECEIVED, ASSIGNED}, ASSIGNED),
    Step.RETURN: ({RECEIVED, ASSIGNED}, RECEIVED),
    Step.MARK_SPAM: ({RECEIVED, ASSIGNED}, SPAM),
    Step.UNMARK_SPAM: ({SPAM}, ASSIGNED),
    Step.ANSWER: ({RECEIVED, ASSIGNED, REPLIED}, REPLIED),
    Step.REFUSE: ({RECEIVED, ASSIGNED, REPLIED}, REJECTED),
    Step.REOPEN: ({REPLIED}, ASSIGNED),
    Step.CLOSE: ({RECEIVED, ASSIGNED, REPLIED}, CLOSED),
}
#: Steps no member of staff takes by hand, and who takes them instead.
NOT_BY_STAFF = {Step.ANSWER: None, Step.REFUSE: None, Step.REOPEN: "citizen"}
#: The roles that take the other steps by hand (the README's table of roles).
TRIAGE = {Role.ADMIN, Role.TRIAGER}
ROLES = {
    Step.ASSIGN: TRIAGE,
    Step.TRANSFER: TRIAGE,
    Step.MARK_SPAM: TRIAGE,
    Step.UNMARK_SPAM: TRIAGE,
    Step.RETURN: TRIAGE | {Role.OFFICER},
    Step.CLOSE: TRIAGE | {Role.OFFICER},
}


@pytest.fixture
def case_id(db, demo) -> int:
    """A case with an office (so that every staff step may be asked for), and a member of
    staff of that office in each role."""
    for role in Role.ALL:
        make_staff(db, f"the-{role}", role, offices=["news"])
    number = make_case(db).case.tracking_number
    with db.transaction() as session:
        case = session.scalar(select(Case).where(Case.tracking_number == number))
        case.office = session.scalar(select(Office).where(Office.code == "news"))
        return case.id


def _staff(session, role: str) -> StaffUser:
    return session.scalar(select(StaffUser).where(StaffUser.username == f"the-{role}"))


def test_the_table_is_the_life_cycle():
    """Every step has its rule, and the rules are those written out above."""
    assert set(lifecycle.TRANSITIONS) == set(Step.ALL) == set(EXPECTED)
    for step, (sources, _target) in EXPECTED.items():
        assert set(lifecycle.TRANSITIONS[step].sources) == sources, step


@pytest.mark.parametrize("step", Step.ALL)
def test_each_step_from_each_status_is_taken_or_refused(db, case_id, step):
    """From every status: allowed, the case moves to the step's status, and a step recorded
    here is on the thread and in the audit trail; not allowed, StepRefused and the status
    stays."""
    sources, target = EXPECTED[step]
    for status in CaseStatus.ALL:
        with db.session() as session:  # never committed: each status starts from the same case
            case = session.get(Case, case_id)
            case.status = status
            actor = None if step in NOT_BY_STAFF else _staff(session, Role.ADMIN)
            kind = NOT_BY_STAFF.get(step, "system")
            if status not in sources:
                with pytest.raises(StepRefused):
                    lifecycle.take(session, case, step, actor=actor, actor_kind=kind)
                assert case.status == status
                continue
            lifecycle.take(session, case, step, actor=actor, actor_kind=kind, reason="因为")
            assert case.status == target, status
            assert (case.closed_at is not None) == (target in (CLOSED, REJECTED)), status
            recorded = session.scalars(
                select(AuditEvent.action).where(AuditEvent.case_id == case_id)
            ).all()
            assert (f"case.{step}" in recorded) == lifecycle.TRANSITIONS[step].recorded


@pytest.mark.parametrize("step", Step.ALL)
def test_only_the_roles_that_may_take_a_step_take_it(db, case_id, step):
    """A member of staff takes a step by hand only if their role may (and never one that the
    citizen, the worker or a sent reply takes); anyone else is refused with NotAllowed, one
    of the refusals."""
    sources, target = EXPECTED[step]
    start = sorted(sources)[0]
    for role in Role.ALL:
        with db.session() as session:
            case = session.get(Case, case_id)
            case.status = start
            user = _staff(session, role)
            if role in ROLES.get(step, ()):
                lifecycle.take(session, case, step, actor=user)
                assert case.status == target, role
                continue
            with pytest.raises(NotAllowed) as refused:
                lifecycle.take(session, case, step, actor=user)
            assert isinstance(refused.value, Refusal)
            assert case.status == start, role
