"""The audit trail as admins read it: newest first, keyset-paginated, filtered by action,
actor, case, Asia/Shanghai days and kind of actor.

The events' details are facts (ids, codes, counts), never a citizen's personal data
(:func:`shared.operations.audit.record`); this module shows them as stored.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from shared.db import SHANGHAI
from shared.i18n import N_
from shared.models import AuditEvent, Case, StaffUser
from shared.operations.errors import StepRefused

PAGE_SIZE = 50

#: Words for the actions, where there are any; others are shown as stored.
ACTION_LABELS: dict[str, str] = {
    "case.received": N_("Comment received"),
    "case.registered": N_("Call, letter or visit registered"),
    "case.citizen_added": N_("Citizen added to the comment"),
    "case.follow_up": N_("Follow-up mail joined the case"),
    "case.clustered": N_("Joined a group of repeated comments"),
    "case.noted": N_("Note added"),
    "case.rated": N_("Citizen rated the answer"),
    "case.submitter_viewed": N_("Confidential citizen’s identity viewed"),
    "case.assigned": N_("Case assigned"),
    "case.transferred": N_("Case transferred"),
    "case.returned": N_("Case returned to triage"),
    "case.closed": N_("Case closed"),
    "case.reopened": N_("Case reopened"),
    "case.spam": N_("Marked as spam"),
    "case.duplicate": N_("Marked as a duplicate"),
    "reply.drafted": N_("Reply drafted"),
    "reply.edited": N_("Reply edited"),
    "reply.submitted": N_("Reply submitted for review"),
    "reply.approved": N_("Reply approved"),
    "reply.returned": N_("Reply returned to its author"),
    "reply.sent": N_("Reply sent"),
    "rule.created": N_("Routing rule created"),
    "rule.updated": N_("Routing rule changed"),
    "rule.moved": N_("Routing rule moved"),
    "rule.deactivated": N_("Routing rule switched off"),
    "rule.reactivated": N_("Routing rule switched on"),
    "template.created": N_("Reply template created"),
    "template.updated": N_("Reply template changed"),
    "template.deactivated": N_("Reply template switched off"),
    "template.reactivated": N_("Reply template switched on"),
    "calendar.imported": N_("Official calendar imported"),
    "calendar.entered": N_("Calendar entered by hand"),
    "staff.created": N_("Staff account created"),
    "staff.logged_in": N_("Logged in"),
    "staff.locked_out": N_("Locked out after wrong passwords"),
    "staff.password_changed": N_("Password changed"),
    "staff.token_issued": N_("API token issued"),
    "staff.token_revoked": N_("API token revoked"),
    "outbox.retried": N_("Outgoing mail retried"),
}


@dataclass(frozen=True)
class AuditFilters:
    #: The start of the action, e.g. ``case.`` or ``staff.logged_in``.
    action: str | None = None
    #: A staff username.
    actor: str | None = None
    #: A tracking number.
    case: str | None = None
    #: Asia/Shanghai days, both included.
    date_from: date | None = None
    date_to: date | None = None
    actor_kind: str | None = None

    def as_args(self) -> dict[str, str]:
        """The filters as query parameters again, for links that keep them."""
        return {
            name: value.isoformat() if isinstance(value, date) else value
            for name, value in vars(self).items()
            if value
        }


@dataclass
class AuditRow:
    event: AuditEvent
    #: The member of staff who acted, if one did.
    actor: StaffUser | None
    tracking_number: str | None

    @property
    def label(self) -> str | None:
        return ACTION_LABELS.get(self.event.action)

    @property
    def facts(self) -> list[tuple[str, Any]]:
        return sorted((self.event.detail or {}).items())


@dataclass
class AuditPage:
    rows: list[AuditRow]
    next_cursor: str | None


def encode_cursor(event: AuditEvent) -> str:
    raw = f"{event.at.isoformat()}|{event.id}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        stamp, _, event_id = raw.partition("|")
        at = datetime.fromisoformat(stamp)
        if at.tzinfo is None:
            raise ValueError("naive time")
        return at, int(event_id)
    except (ValueError, binascii.Error, UnicodeDecodeError) as error:
        raise StepRefused(N_("This page link is broken: start again."), "cursor") from error


def _shanghai_midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), SHANGHAI)


def list_events(
    session: Session,
    filters: AuditFilters,
    cursor: str | None = None,
    *,
    limit: int = PAGE_SIZE,
) -> AuditPage:
    """One page of events, newest first; ``cursor`` continues after the previous page.
    Refused (:class:`StepRefused`) for an actor or case that does not exist."""
    statement = (
        select(AuditEvent, StaffUser, Case.tracking_number)
        .outerjoin(StaffUser, StaffUser.id == AuditEvent.actor_id)
        .outerjoin(Case, Case.id == AuditEvent.case_id)
    )
    if filters.action:
        statement = statement.where(AuditEvent.action.startswith(filters.action, autoescape=True))
    if filters.actor:
        actor_id = session.scalar(select(StaffUser.id).where(StaffUser.username == filters.actor))
        if actor_id is None:
            raise StepRefused(N_("No member of staff has this user name."), "actor")
        statement = statement.where(AuditEvent.actor_id == actor_id)
    if filters.case:
        case_id = session.scalar(select(Case.id).where(Case.tracking_number == filters.case))
        if case_id is None:
            raise StepRefused(N_("No case has this tracking number."), "case")
        statement = statement.where(AuditEvent.case_id == case_id)
    if filters.date_from:
        statement = statement.where(AuditEvent.at >= _shanghai_midnight(filters.date_from))
    if filters.date_to:
        next_day = filters.date_to + timedelta(days=1)
        statement = statement.where(AuditEvent.at < _shanghai_midnight(next_day))
    if filters.actor_kind:
        statement = statement.where(AuditEvent.actor_kind == filters.actor_kind)
    if cursor:
        # A row value, so the database seeks in the index on ``at`` to the cursor.
        statement = statement.where(tuple_(AuditEvent.at, AuditEvent.id) < decode_cursor(cursor))
    statement = statement.order_by(AuditEvent.at.desc(), AuditEvent.id.desc()).limit(limit + 1)
    rows = [AuditRow(event, actor, number) for event, actor, number in session.execute(statement)]
    next_cursor = encode_cursor(rows[limit - 1].event) if len(rows) > limit else None
    return AuditPage(rows[:limit], next_cursor)
