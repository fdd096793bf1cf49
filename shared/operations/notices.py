"""Which notices the public can comment on."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
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
