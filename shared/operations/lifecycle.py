"""The case's life cycle: the steps between its statuses, who may take each, and the one
function that takes a step and records it (:func:`take`). Every change of a case's status is
made here; the other operations call :func:`take` (and :func:`start` for a new case).

The statuses are :class:`shared.models.CaseStatus` (the values the API and the schemas show)::

    (new) ─start─▶ received, or assigned when routing found an office
    received ──assigned──▶ assigned ──transferred──▶ assigned ──returned──▶ received
    received | assigned ──marked_spam──▶ spam ──unmarked_spam──▶ received | assigned
    received | assigned | replied ──answered──▶ replied ──reopened──▶ received | assigned
    received | assigned | replied ──refused──▶ rejected
    received | assigned | replied ──closed──▶ closed

"received | assigned" after a step means: assigned if the case has an office, else received.
Closed, rejected and spam are finished (``CaseStatus.FINISHED``); only spam can be undone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from shared.db import utcnow
from shared.i18n import N_
from shared.models import Case, CaseStatus, StaffUser
from shared.operations import access, audit
from shared.operations.access import Action
from shared.operations.errors import NotAllowed, StepRefused

#: Not finished: a reply may still be written and the case closed.
UNFINISHED = tuple(status for status in CaseStatus.ALL if status not in CaseStatus.FINISHED)


class Step:
    """The steps of the life cycle, named as the event each records (``case.<step>``)."""

    ASSIGN = "assigned"  # triage sends the case to an office
    TRANSFER = "transferred"  # from one office to another
    RETURN = "returned"  # "not ours": the office gives it back to triage
    MARK_SPAM = "marked_spam"
    UNMARK_SPAM = "unmarked_spam"
    ANSWER = "answered"  # an answer reply was sent
    REFUSE = "refused"  # a refusal notice (不予受理告知) was sent
    REOPEN = "reopened"  # the citizen was not satisfied: handled again (重办)
    CLOSE = "closed"  # by staff, by a satisfied rating, or with no rating in time

    ALL = (ASSIGN, TRANSFER, RETURN, MARK_SPAM, UNMARK_SPAM, ANSWER, REFUSE, REOPEN, CLOSE)


@dataclass(frozen=True)
class Transition:
    #: The statuses the step may be taken from.
    sources: tuple[str, ...]
    #: The status it leads to; None: assigned if the case has an office, else received.
    target: str | None
    #: What it is refused with from any other status (a msgid).
    refusal: str
    #: Staff may take it by hand if their role may do this :class:`access.Action` (None: no
    #: member of staff takes it directly; see ``by``).
    action: str | None
    #: Who else takes it: the citizen (a rating), the system (the worker), or a reply being
    #: sent (whose review decided who may).
    by: tuple[str, ...] = ()
    #: Recorded here as ``case.<step>`` on the thread and in the audit trail; False: the
    #: caller's own event records it (``reply.sent``).
    recorded: bool = True


_OPEN_ONLY = N_("Only open cases can be assigned, returned or marked as spam.")

TRANSITIONS: dict[str, Transition] = {
    Step.ASSIGN: Transition(CaseStatus.OPEN, CaseStatus.ASSIGNED, _OPEN_ONLY, Action.ASSIGN),
    Step.TRANSFER: Transition(CaseStatus.OPEN, CaseStatus.ASSIGNED, _OPEN_ONLY, Action.ASSIGN),
    Step.RETURN: Transition(CaseStatus.OPEN, CaseStatus.RECEIVED, _OPEN_ONLY, Action.RETURN),
    Step.MARK_SPAM: Transition(CaseStatus.OPEN, CaseStatus.SPAM, _OPEN_ONLY, Action.SPAM),
    Step.UNMARK_SPAM: Transition(
        (CaseStatus.SPAM,), None, N_("The case is not marked as spam."), Action.SPAM
    ),
    Step.ANSWER: Transition(
        UNFINISHED,
        CaseStatus.REPLIED,
        N_("A closed case takes no more replies."),
        None,
        by=("reply",),
        recorded=False,
    ),
    Step.REFUSE: Transition(
        UNFINISHED,
        CaseStatus.REJECTED,
        N_("A closed case takes no more replies."),
        None,
        by=("reply",),
        recorded=False,
    ),
    Step.REOPEN: Transition(
        (CaseStatus.REPLIED,),
        None,
        N_("You can rate the answer once it has been sent, once."),
        None,
        by=("citizen",),
    ),
    Step.CLOSE: Transition(
        UNFINISHED,
        CaseStatus.CLOSED,
        N_("The case is already closed."),
        Action.CLOSE,
        by=("system",),
    ),
}


def open_status(case: Case) -> str:
    """Where an open case stands: assigned if it has an office, else received (waiting for
    triage)."""
    has_office = case.office_id is not None or case.office is not None
    return CaseStatus.ASSIGNED if has_office else CaseStatus.RECEIVED


def start(case: Case) -> None:
    """The status of a new case, once routing has (or has not) found its office. The case's
    first event, ``case.received``, is recorded by intake with the facts of its arrival."""
    case.status = open_status(case)


def check(case: Case, step: str, actor: StaffUser | None = None) -> None:
    """Refuse the step unless it may be taken now: :class:`NotAllowed` when ``actor``'s role
    may not take it (checked first: a case they may see, a step not theirs), then
    :class:`StepRefused` when the case's status does not allow it. No ``actor``: the citizen,
    the system or a reply takes it, whose callers decided who may."""
    transition = TRANSITIONS[step]
    if actor is not None and (
        transition.action is None or not access.may(actor, transition.action, case)
    ):
        raise NotAllowed(transition.action or step)
    if case.status not in transition.sources:
        raise StepRefused(transition.refusal)


def take(
    session: Session,
    case: Case,
    step: str,
    *,
    actor: StaffUser | None = None,
    actor_kind: str | None = None,
    reason: str = "",
    now: datetime | None = None,
    **facts: Any,
) -> None:
    """Take the step: checked (:func:`check`), the case's new status set (and its
    ``closed_at`` when it ends the case's handling), and the event recorded, with ``reason`` on
    the thread and ``facts`` in the audit trail, unless the caller's own event records it.
    Flushes when it records."""
    check(case, step, actor)
    transition = TRANSITIONS[step]
    case.status = transition.target or open_status(case)
    if case.status in (CaseStatus.CLOSED, CaseStatus.REJECTED):
        case.closed_at = now or utcnow()
    if transition.recorded:
        audit.case_step(
            session, case, step, actor=actor, actor_kind=actor_kind, reason=reason, **facts
        )
