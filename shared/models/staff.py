from __future__ import annotations

import hashlib
from datetime import datetime

from sqlalchemy import Boolean, Column, ForeignKey, Integer, String, Table
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shared.db import Base, UTCDateTime, utcnow
from shared.models.office import Office


class Role:
    ADMIN = "admin"
    TRIAGER = "triager"
    OFFICER = "officer"
    REVIEWER = "reviewer"
    ALL = (ADMIN, TRIAGER, OFFICER, REVIEWER)


staff_office = Table(
    "staff_office",
    Base.metadata,
    Column("staff_id", ForeignKey("staff_user.id", ondelete="CASCADE"), primary_key=True),
    Column("office_id", ForeignKey("office.id", ondelete="CASCADE"), primary_key=True),
)


class StaffUser(Base):
    __tablename__ = "staff_user"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(100), default="")
    email: Mapped[str | None] = mapped_column(String(320))
    role: Mapped[str] = mapped_column(String(16))
    #: argon2id hash; null until the invitation is accepted.
    password_hash: Mapped[str | None] = mapped_column(String(200))
    #: Deactivated accounts stay, so the audit trail keeps their names.
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    offices: Mapped[list[Office]] = relationship(secondary=staff_office, order_by=Office.code)

    # Flask-Login's user protocol, so no Flask import is needed here.
    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        """What a login session holds: the id and a tag of the password hash, so changing the
        password ends every other session (see :func:`session_id_matches`)."""
        return f"{self.id}:{self.session_tag}"

    @property
    def session_tag(self) -> str:
        return hashlib.sha256((self.password_hash or "").encode()).hexdigest()[:16]

    @property
    def sees_all_offices(self) -> bool:
        """Admins and triagers work across offices; officers and reviewers only in theirs."""
        return self.role in (Role.ADMIN, Role.TRIAGER)


class ApiToken(Base):
    """A bearer token for the staff API; only its hash is stored."""

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(
        ForeignKey("staff_user.id", ondelete="CASCADE"), index=True
    )
    #: SHA-256 of the token; tokens are long and random, so a slow hash adds nothing.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    staff: Mapped[StaffUser] = relationship()


class StaffInvitation(Base):
    """A one-time link that lets a new member of staff set a password."""

    __tablename__ = "staff_invitation"

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(
        ForeignKey("staff_user.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
