"""Signing in: passwords and the lock-out after wrong ones, API tokens, and the one-time links
that let someone set their password. (Creating and changing accounts is
:mod:`shared.operations.staff`.)"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from shared.db import SHANGHAI, utcnow
from shared.i18n import N_
from shared.models import ApiToken, StaffInvitation, StaffUser
from shared.operations import audit
from shared.operations.errors import StepRefused
from shared.security import hash_secret, new_token, sha256_hex, verify_secret

MIN_PASSWORD_LENGTH = 10


MAX_FAILED_LOGINS = 5
LOCKOUT = timedelta(minutes=15)


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
        raise _locked(user)
    if not verify_secret(user.password_hash, password):
        _count_wrong_password(session, user, now)
        return None
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now
    audit.record(session, "staff.logged_in", actor=user)
    return user


def _locked(user: StaffUser) -> StepRefused:
    """Too many wrong passwords in a row: the account accepts none until ``locked_until``."""
    until = user.locked_until.astimezone(SHANGHAI)
    return StepRefused(
        N_("Too many wrong passwords. Try again after %(time)s."), time=f"{until:%Y-%m-%d %H:%M}"
    )


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
    session could guess it without limit. It is counted before the refusal is raised, so the
    caller commits even then: nothing else has changed.
    """
    now = now or utcnow()
    if user.locked_until and user.locked_until > now:
        raise _locked(user)
    if not verify_secret(user.password_hash, current):
        _count_wrong_password(session, user, now)
        session.flush()
        raise StepRefused(N_("The current password is wrong."))
    check_new_password(new, confirm)
    if new == current:
        raise StepRefused(N_("Choose a new password, not the current one."))
    user.password_hash = hash_secret(new)
    user.failed_logins = 0
    session.flush()
    audit.record(session, "staff.password_changed", actor=user)


def check_new_password(new: str, confirm: str) -> None:
    """The rules for a password someone chooses, on the account page or an invitation's."""
    if len(new) < MIN_PASSWORD_LENGTH:
        raise StepRefused(
            N_("The new password needs at least %(count)s characters."),
            count=MIN_PASSWORD_LENGTH,
        )
    if new != confirm:
        raise StepRefused(N_("The new password and its confirmation differ."))


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
        raise StepRefused(N_("Give the token a name, e.g. the program that will use it."))
    if len(name) > MAX_TOKEN_NAME:
        raise StepRefused(
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
    session: Session,
    user: StaffUser,
    token_id: int,
    *,
    now: datetime | None = None,
    actor: StaffUser | None = None,
) -> ApiToken | None:
    """Revoke one of the user's tokens (by the user, or by ``actor``, an admin); None if the
    user has no token with this id. Revoking a revoked token changes nothing, so it keeps the
    time it was first revoked."""
    token = session.scalar(
        select(ApiToken).where(ApiToken.id == token_id, ApiToken.staff_id == user.id)
    )
    if token is None or token.revoked_at is not None:
        return token
    token.revoked_at = now or utcnow()
    session.flush()
    facts: dict[str, Any] = {"token_id": token.id, "token_name": token.name}
    if actor is not None and actor.id != user.id:
        facts["staff"] = user.username  # whose token an admin revoked
    audit.record(session, "staff.token_revoked", actor=actor or user, **facts)
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


class InvitationState:
    """What a one-time link is, as the invitation page and an admin checking it see it."""

    VALID = "valid"
    USED = "used"
    EXPIRED = "expired"
    REPLACED = "replaced"  # a newer link was sent; this one stopped working then
    INACTIVE = "inactive"  # the account was deactivated
    UNKNOWN = "unknown"


def invitation_state(
    session: Session, token: str, *, now: datetime | None = None
) -> tuple[str, StaffUser | None]:
    """What the link with ``token`` is (an :class:`InvitationState`), and whose."""
    now = now or utcnow()
    invitation = session.scalar(
        select(StaffInvitation).where(StaffInvitation.token_hash == sha256_hex(token))
    )
    if invitation is None:
        return InvitationState.UNKNOWN, None
    user = session.get(StaffUser, invitation.staff_id)
    if invitation.used_at is not None:
        return InvitationState.USED, user
    newer = session.scalar(
        select(StaffInvitation.id).where(
            StaffInvitation.staff_id == invitation.staff_id, StaffInvitation.id > invitation.id
        )
    )
    if newer is not None:
        return InvitationState.REPLACED, user
    if invitation.expires_at <= now:
        return InvitationState.EXPIRED, user
    if user is None or not user.active:
        return InvitationState.INACTIVE, user
    return InvitationState.VALID, user


def accept_invitation(
    session: Session, token: str, password: str, confirm: str, *, now: datetime | None = None
) -> StaffUser:
    """Set the password through a one-time link and use the link up; returns the user, who
    may now log in. The link is claimed by a conditional update, so of two requests racing
    with the same link only one sets a password."""
    now = now or utcnow()
    state, user = invitation_state(session, token, now=now)
    if state != InvitationState.VALID or user is None:
        raise StepRefused(N_("This link no longer works"))
    check_new_password(password, confirm)
    claimed = session.execute(
        update(StaffInvitation)
        .where(
            StaffInvitation.token_hash == sha256_hex(token),
            StaffInvitation.used_at.is_(None),
            StaffInvitation.expires_at > now,
        )
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:
        raise StepRefused(N_("This link no longer works"))
    user.password_hash = hash_secret(password)
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now
    session.flush()
    audit.record(session, "staff.invitation_accepted", actor=user)
    return user
