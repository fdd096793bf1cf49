"""Staff accounts and API tokens."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from shared.db import SHANGHAI, utcnow
from shared.i18n import N_
from shared.mail import staff as staff_mail
from shared.mail.outbox import enqueue
from shared.models import ApiToken, Office, Role, StaffInvitation, StaffUser
from shared.operations import audit
from shared.operations.errors import StepRefused
from shared.schemas.staff import ROLES_WITH_OFFICES
from shared.security import hash_secret, new_token, sha256_hex, verify_secret

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
        raise StepRefused("the username is empty")
    if role not in Role.ALL:
        raise StepRefused(f"unknown role {role!r}; one of {', '.join(Role.ALL)}")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise StepRefused(f"the password needs at least {MIN_PASSWORD_LENGTH} characters")
    if session.scalar(select(StaffUser.id).where(StaffUser.username == username)):
        raise StepRefused(f"the username {username!r} is taken")
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
        raise StepRefused(f"unknown office {', '.join(sorted(missing))}")
    return list(offices)


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


# --- What admins do to staff accounts ---------------------------------------------------------


@dataclass
class StaffAccess:
    """What a member of staff may do: a role and, for officers and reviewers, offices."""

    role: str
    offices: list[str] = field(default_factory=list)


@dataclass
class Invitation(StaffAccess):
    """A new member of staff: who they are, where the invitation goes, what they may do."""

    username: str = ""
    display_name: str = ""
    email: str = ""


#: How long an invitation or password-reset link works.
INVITATION_DAYS = 7


class InvitationState:
    """What a one-time link is, as the invitation page and an admin checking it see it."""

    VALID = "valid"
    USED = "used"
    EXPIRED = "expired"
    REPLACED = "replaced"  # a newer link was sent; this one stopped working then
    INACTIVE = "inactive"  # the account was deactivated
    UNKNOWN = "unknown"


def staff_list(session: Session) -> list[StaffUser]:
    """Every account, active ones first, with their offices."""
    return list(
        session.scalars(
            select(StaffUser)
            .options(selectinload(StaffUser.offices))
            .order_by(StaffUser.active.desc(), StaffUser.username)
        )
    )


def get_staff(session: Session, staff_id: int) -> StaffUser | None:
    return session.get(StaffUser, staff_id, options=[selectinload(StaffUser.offices)])


def invite(
    session: Session,
    invitation: Invitation,
    actor: StaffUser,
    settings: Mapping[str, Any],
    *,
    now: datetime | None = None,
) -> StaffUser:
    """A new account without a password, and a one-time link to set one, mailed through the
    outbox to the invitee."""
    if session.scalar(select(StaffUser.id).where(StaffUser.username == invitation.username)):
        raise StepRefused(N_("This username is taken; choose another."), "username") from None
    _check_role_offices(invitation.role, invitation.offices)
    user = StaffUser(
        username=invitation.username,
        display_name=invitation.display_name,
        email=invitation.email,
        role=invitation.role,
        password_hash=None,
        active=True,
        offices=_active_offices(session, invitation.offices),
    )
    session.add(user)
    try:
        session.flush()
    except IntegrityError:  # the same name added at the same moment: all is rolled back
        raise StepRefused(N_("This username is taken; choose another."), "username") from None
    _mail_link(session, user, settings, reset=False, now=now)
    audit.record(
        session,
        "staff.invited",
        actor=actor,
        staff=user.username,
        role=user.role,
        offices=[office.code for office in user.offices],
    )
    return user


def resend_invitation(
    session: Session,
    user: StaffUser,
    actor: StaffUser,
    settings: Mapping[str, Any],
    *,
    now: datetime | None = None,
) -> None:
    """A new link for someone who has not set their password yet; the old link stops working."""
    if not user.active:
        raise StepRefused(N_("The account is deactivated: reactivate it first."))
    if user.password_hash is not None:
        raise StepRefused(
            N_("%(username)s has set a password already; reset it to send a new link."),
            username=user.username,
        )
    _require_email(user)
    _mail_link(session, user, settings, reset=user.last_login_at is not None, now=now)
    audit.record(session, "staff.invitation_resent", actor=actor, staff=user.username)


def reset_password(
    session: Session,
    user: StaffUser,
    actor: StaffUser,
    settings: Mapping[str, Any],
    *,
    now: datetime | None = None,
) -> None:
    """The user's password stops working at once, and with it every session they have (a
    session holds a tag of the password hash); a one-time link to set a new one is mailed.
    API tokens stay: revoke them separately if they may be compromised too."""
    if user.id == actor.id:
        raise StepRefused(N_("Change your own password on your account page."))
    if not user.active:
        raise StepRefused(N_("The account is deactivated: reactivate it first."))
    _require_email(user)
    user.password_hash = None
    user.failed_logins = 0
    user.locked_until = None
    session.flush()
    _mail_link(session, user, settings, reset=True, now=now)
    audit.record(session, "staff.password_reset", actor=actor, staff=user.username)


def set_access(session: Session, user: StaffUser, access: StaffAccess, actor: StaffUser) -> None:
    """The user's role and offices as given. An admin cannot demote themself, nor the last
    active admin; officers and reviewers need an office."""
    _check_role_offices(access.role, access.offices)
    if user.role == Role.ADMIN and access.role != Role.ADMIN:
        _keep_an_admin(session, user, actor, demote=True)
    old_role, old_offices = user.role, [office.code for office in user.offices]
    user.role = access.role
    user.offices = _active_offices(session, access.offices)
    # Offices merged away are not offered, so the user keeps none of them.
    new_offices = [office.code for office in user.offices]
    session.flush()
    if old_role != user.role:
        audit.record(
            session,
            "staff.role_changed",
            actor=actor,
            staff=user.username,
            old_role=old_role,
            role=user.role,
        )
    if sorted(old_offices) != sorted(new_offices):
        audit.record(
            session,
            "staff.offices_changed",
            actor=actor,
            staff=user.username,
            old_offices=old_offices,
            offices=new_offices,
        )


def set_active(session: Session, user: StaffUser, active: bool, actor: StaffUser) -> None:
    """Deactivate an account (it is never deleted: the audit trail keeps the name), or
    reactivate it. A deactivated user cannot log in, and their open sessions and API tokens
    stop working at once, since both are checked against ``active`` on every request."""
    if user.active == active:
        return
    if not active and user.role == Role.ADMIN:
        _keep_an_admin(session, user, actor, demote=False)
    elif not active and user.id == actor.id:
        raise StepRefused(N_("You cannot deactivate your own account."))
    user.active = active
    session.flush()
    action = "staff.reactivated" if active else "staff.deactivated"
    audit.record(session, action, actor=actor, staff=user.username)


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


def _mail_link(
    session: Session,
    user: StaffUser,
    settings: Mapping[str, Any],
    *,
    reset: bool,
    now: datetime | None,
) -> StaffInvitation:
    """A new one-time link for the user, in the outbox; every older link stops working. Only
    the token's SHA-256 is kept: the link exists in the mail alone."""
    now = now or utcnow()
    session.execute(
        update(StaffInvitation)
        .where(
            StaffInvitation.staff_id == user.id,
            StaffInvitation.used_at.is_(None),
            StaffInvitation.expires_at > now,
        )
        .values(expires_at=now)
        .execution_options(synchronize_session=False)
    )
    token = new_token()
    invitation = StaffInvitation(
        staff_id=user.id,
        token_hash=sha256_hex(token),
        expires_at=now + timedelta(days=INVITATION_DAYS),
    )
    session.add(invitation)
    enqueue(
        session,
        staff_mail.invitation(user, token, invitation.expires_at, settings, reset=reset),
        settings,
    )
    session.flush()
    return invitation


def _require_email(user: StaffUser) -> None:
    if not user.email:
        raise StepRefused(
            N_("%(username)s has no mail address to send the link to."), username=user.username
        )


def _check_role_offices(role: str, offices: Iterable[str]) -> None:
    if role not in Role.ALL:
        raise StepRefused(N_("Choose a role."))
    if role in ROLES_WITH_OFFICES and not list(offices):
        raise StepRefused(N_("Officers and reviewers need at least one office."), "offices")


def _active_offices(session: Session, codes: Iterable[str]) -> list[Office]:
    codes = list(dict.fromkeys(codes))
    if not codes:
        return []
    offices = list(
        session.scalars(
            select(Office)
            .where(Office.code.in_(codes), Office.active.is_(True))
            .order_by(Office.code)
        )
    )
    if len(offices) != len(codes):  # one was merged away since the form was shown
        raise StepRefused(N_("Choose offices from the list."), "offices")
    return offices


def _keep_an_admin(session: Session, user: StaffUser, actor: StaffUser, *, demote: bool) -> None:
    """Refuse to take the admin role from the actor themself or from the last active admin.
    The active admins are locked while counted, so two admins demoting each other at once
    cannot leave none."""
    if user.id == actor.id:
        if demote:
            raise StepRefused(N_("You cannot take the administrator role from yourself."))
        raise StepRefused(N_("You cannot deactivate your own account."))
    admins = session.scalars(
        select(StaffUser.id)
        .where(StaffUser.role == Role.ADMIN, StaffUser.active.is_(True))
        .with_for_update()
    ).all()
    if user.active and len(admins) <= 1:
        raise StepRefused(
            N_("%(username)s is the last active administrator."), username=user.username
        )
