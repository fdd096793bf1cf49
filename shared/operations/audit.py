"""The audit trail: one function every operation calls."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from shared.models import AuditEvent, Case, Message, MessageKind, StaffUser


def record(
    session: Session,
    action: str,
    *,
    case: Case | None = None,
    actor: StaffUser | None = None,
    actor_kind: str | None = None,
    **detail: Any,
) -> AuditEvent:
    """Write an audit event. ``detail`` holds facts, never the citizen's personal data."""
    event = AuditEvent(
        action=action,
        case_id=case.id if case is not None else None,
        actor_id=actor.id if actor is not None else None,
        actor_kind=actor_kind or ("staff" if actor is not None else "system"),
        detail=detail,
    )
    session.add(event)
    return event


def case_step(
    session: Session,
    case: Case,
    action: str,
    *,
    actor: StaffUser | None = None,
    actor_kind: str | None = None,
    reason: str = "",
    **facts: Any,
) -> Message:
    """A step on a case, told twice: on its thread, with the reason, for staff to read; and in
    the audit trail as ``case.<action>`` with the facts only (a reason may name people)."""
    step = Message(
        case=case,
        kind=MessageKind.EVENT,
        body=reason,
        author_id=actor.id if actor is not None else None,
        event={"action": action, **facts},
    )
    session.add(step)
    session.flush()
    record(session, f"case.{action}", case=case, actor=actor, actor_kind=actor_kind, **facts)
    return step
