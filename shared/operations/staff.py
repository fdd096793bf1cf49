"""Staff accounts and API tokens."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from shared.db import utcnow
from shared.models import ApiToken, Office, Role, StaffUser
from shared.operations import audit
from shared.security import hash_secret, new_token, sha256_hex, verify_secret


class StaffError(ValueError):
    """A staff account cannot be created or changed as asked; the message says why."""


MIN_PASSWORD_LENGTH = 10


def create_staff(
    session: Session,
    username: str,
    role: str,
    password: str,
    office_codes: Iterable[str] = (),
    *,
    display_name: str = "",
    email: str | None = None,
) -> StaffUser:
    username = username.strip()
    if not username:
        raise StaffError("the username is empty")
    if role not in Role.ALL:
        raise StaffError(f"unknown role {role!r}; one of {', '.join(Role.ALL)}")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise StaffError(f"the password needs at least {MIN_PASSWORD_LENGTH} characters")
    if session.scalar(select(StaffUser.id).where(StaffUser.username == username)):
        raise StaffError(f"the username {username!r} is taken")
    offices = offices_by_code(session, office_codes)
    user = StaffUser(
        username=username,
        role=role,
        password_hash=hash_secret(password),
        display_name=display_name or username,
        email=email,
        offices=offices,
    )
    session.add(user)
    session.flush()
    audit.record(session, "staff.created", username=username, role=role)
    return user


def offices_by_code(session: Session, codes: Iterable[str]) -> list[Office]:
    codes = list(dict.fromkeys(codes))
    if not codes:
        return []
    offices = session.scalars(select(Office).where(Office.code.in_(codes))).all()
    missing = set(codes) - {office.code for office in offices}
    if missing:
        raise StaffError(f"unknown office {', '.join(sorted(missing))}")
    return list(offices)


MAX_FAILED_LOGINS = 5
LOCKOUT = timedelta(minutes=15)


class AccountLocked(Exception):
    """Too many wrong passwords in a row; the account accepts none until ``until``."""

    def __init__(self, until: datetime) -> None:
        super().__init__(until)
        self.until = until


def authenticate_password(
    session: Session, username: str, password: str, *, now: datetime | None = None
) -> StaffUser | None:
    """The user if the password is right. Wrong passwords are counted; after
    MAX_FAILED_LOGINS in a row the account is locked for LOCKOUT, right password or not."""
    now = now or utcnow()
    user = session.scalar(select(StaffUser).where(StaffUser.username == username.strip()))
    if user is None or not user.active:
        verify_secret(_NO_USER_HASH, password)  # the same time as for a real account
        return None
    if user.locked_until and user.locked_until > now:
        raise AccountLocked(user.locked_until)
    if not verify_secret(user.password_hash, password):
        user.failed_logins += 1
        if user.failed_logins >= MAX_FAILED_LOGINS:
            user.locked_until = now + LOCKOUT
            user.failed_logins = 0
            audit.record(session, "staff.locked_out", actor=user)
        return None
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now
    audit.record(session, "staff.logged_in", actor=user)
    return user


_NO_USER_HASH = hash_secret(new_token())


def issue_token(session: Session, user: StaffUser, name: str = "") -> str:
    """Create an API token and return it; only its hash is kept, so it is shown once."""
    token = new_token()
    session.add(ApiToken(staff_id=user.id, token_hash=sha256_hex(token), name=name))
    session.flush()
    audit.record(session, "staff.token_issued", actor=user, token_name=name)
    return token


def user_for_token(session: Session, token: str) -> StaffUser | None:
    row = session.scalar(
        select(ApiToken).where(
            ApiToken.token_hash == sha256_hex(token), ApiToken.revoked_at.is_(None)
        )
    )
    if row is None or not row.staff.active:
        return None
    row.last_used_at = utcnow()
    return row.staff
