"""The audit trail: one function every operation calls."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from shared.models import AuditEvent, Case, StaffUser


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
