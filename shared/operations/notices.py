"""Which notices the public can comment on."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, selectinload

from shared.db import utcnow
from shared.models import Notice, NoticeStatus


def published_notices(session: Session) -> list[Notice]:
    """Published notices, newest first, with their items loaded."""
    return list(
        session.scalars(
            select(Notice)
            .where(Notice.status == NoticeStatus.PUBLISHED)
            .options(selectinload(Notice.items))
            .order_by(Notice.created_at.desc(), Notice.id.desc())
        )
    )


def open_notices(session: Session, now: datetime | None = None) -> list[Notice]:
    now = now or utcnow()
    return [notice for notice in published_notices(session) if notice.is_open(now)]


def open_notice_ids(session: Session, now: datetime | None = None) -> list[int]:
    """Ids of the notices open for comments, without loading them (for mail, which needs no
    items)."""
    now = now or utcnow()
    return list(
        session.scalars(
            select(Notice.id).where(
                Notice.status == NoticeStatus.PUBLISHED,
                or_(Notice.opens_at.is_(None), Notice.opens_at <= now),
                or_(Notice.closes_at.is_(None), Notice.closes_at > now),
            )
        )
    )
