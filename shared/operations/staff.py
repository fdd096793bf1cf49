"""Staff accounts and API tokens."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from shared.db import utcnow
from shared.i18n import N_
from shared.models import ApiToken, Office, Role, StaffUser
from shared.operations import audit
from shared.security import hash_secret, new_token, sha256_hex, verify_secret


class StaffError(ValueError):
    """A staff account cannot be created or changed as asked; the message says why.

    ``message`` is the English text before its ``%(name)s`` placeholders are filled from
    ``params``; where it is marked with ``N_``, a view shows it translated with
    ``gettext(error.message, **error.params)``.
    """

    def __init__(self, message: str, **params: Any) -> None:
        super().__init__(message % params if params else message)
        self.message = message
        self.params = params


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
        _count_wrong_password(session, user, now)
        return None
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now
    audit.record(session, "staff.logged_in", actor=user)
    return user


def _count_wrong_password(session: Session, user: StaffUser, now: datetime) -> None:
    user.failed_logins += 1
    if user.failed_logins >= MAX_FAILED_LOGINS:
        user.locked_until = now + LOCKOUT
        user.failed_logins = 0
        audit.record(session, "staff.locked_out", actor=user)


_NO_USER_HASH = hash_secret(new_token())


def change_password(
    session: Session,
    user: StaffUser,
    current: str,
    new: str,
    confirm: str,
    *,
    now: datetime | None = None,
) -> None:
    """Replace the user's password with ``new``, given the ``current`` one.

    A wrong current password counts towards the lock-out as a wrong login does, or a stolen
    session could guess it without limit. It is counted before StaffError is raised, so the
    caller commits even then: nothing else has changed.
    """
    now = now or utcnow()
    if user.locked_until and user.locked_until > now:
        raise AccountLocked(user.locked_until)
    if not verify_secret(user.password_hash, current):
        _count_wrong_password(session, user, now)
        session.flush()
        raise StaffError(N_("The current password is wrong."))
    if len(new) < MIN_PASSWORD_LENGTH:
        raise StaffError(
            N_("The new password needs at least %(count)s characters."),
            count=MIN_PASSWORD_LENGTH,
        )
    if new != confirm:
        raise StaffError(N_("The new password and its confirmation differ."))
    if new == current:
        raise StaffError(N_("Choose a new password, not the current one."))
    user.password_hash = hash_secret(new)
    user.failed_logins = 0
    session.flush()
    audit.record(session, "staff.password_changed", actor=user)


def issue_token(session: Session, user: StaffUser, name: str = "") -> str:
    """Create an API token and return it; only its hash is kept, so it is shown once."""
    token = new_token()
    session.add(ApiToken(staff_id=user.id, token_hash=sha256_hex(token), name=name))
    session.flush()
    audit.record(session, "staff.token_issued", actor=user, token_name=name)
    return token


#: The length of ``api_token.name``.
MAX_TOKEN_NAME = 100


def create_token(session: Session, user: StaffUser, name: str) -> str:
    """A token a member of staff asks for on their account page; it needs a name, so that the
    list of tokens says which one to revoke. Returned once, as :func:`issue_token` does."""
    name = name.strip()
    if not name:
        raise StaffError(N_("Give the token a name, e.g. the program that will use it."))
    if len(name) > MAX_TOKEN_NAME:
        raise StaffError(
            N_("Keep the token name to %(count)s characters or fewer."), count=MAX_TOKEN_NAME
        )
    return issue_token(session, user, name)


def tokens_of(session: Session, user: StaffUser) -> list[ApiToken]:
    """The user's own API tokens, revoked ones included, newest first."""
    return list(
        session.scalars(
            select(ApiToken)
            .where(ApiToken.staff_id == user.id)
            .order_by(ApiToken.created_at.desc(), ApiToken.id.desc())
        )
    )


def revoke_token(
    session: Session, user: StaffUser, token_id: int, *, now: datetime | None = None
) -> ApiToken | None:
    """Revoke one of the user's own tokens; None if the user has no token with this id.
    Revoking a revoked token changes nothing, so it keeps the time it was first revoked."""
    token = session.scalar(
        select(ApiToken).where(ApiToken.id == token_id, ApiToken.staff_id == user.id)
    )
    if token is None or token.revoked_at is not None:
        return token
    token.revoked_at = now or utcnow()
    session.flush()
    audit.record(
        session, "staff.token_revoked", actor=user, token_id=token.id, token_name=token.name
    )
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
