"""The list of cases for staff: filters and keyset pagination, newest first."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, or_
from sqlalchemy.orm import Session, selectinload

from shared.models import Case, Office, StaffUser
from shared.operations.access import visible_cases

PAGE_SIZE = 50


@dataclass
class Page:
    items: list[Case]
    next_cursor: str | None


class BadCursor(ValueError):
    pass


def encode_cursor(case: Case) -> str:
    raw = f"{case.received_at.isoformat()}|{case.id}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        stamp, _, case_id = raw.partition("|")
        return datetime.fromisoformat(stamp), int(case_id)
    except (ValueError, binascii.Error, UnicodeDecodeError) as error:
        raise BadCursor(cursor) from error


def list_cases(
    session: Session,
    user: StaffUser,
    *,
    status: str | None = None,
    office: str | None = None,
    channel: str | None = None,
    q: str | None = None,
    cursor: str | None = None,
    limit: int = PAGE_SIZE,
) -> Page:
    statement = visible_cases(user).options(
        selectinload(Case.office), selectinload(Case.notice_item)
    )
    if status:
        statement = statement.where(Case.status == status)
    if office:
        statement = statement.join(Office, Case.office_id == Office.id).where(Office.code == office)
    if channel:
        statement = statement.where(Case.channel == channel)
    if q:
        pattern = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        statement = statement.where(
            or_(
                Case.tracking_number == q.strip().upper(),
                Case.subject.like(pattern, escape="\\"),
                Case.body.like(pattern, escape="\\"),
            )
        )
    if cursor:
        received_at, case_id = decode_cursor(cursor)
        statement = statement.where(
            or_(
                Case.received_at < received_at,
                and_(Case.received_at == received_at, Case.id < case_id),
            )
        )
    rows = list(
        session.scalars(
            statement.order_by(Case.received_at.desc(), Case.id.desc()).limit(limit + 1)
        )
    )
    next_cursor = encode_cursor(rows[limit - 1]) if len(rows) > limit else None
    return Page(rows[:limit], next_cursor)
