"""What admins do to staff accounts: create (the command line) and invite, role and offices,
deactivate, reset a password, send the link again. A member of staff's own signing in,
password and tokens are :mod:`shared.operations.accounts`."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from shared.db import utcnow
from shared.i18n import N_
from shared.mail import staff as staff_mail
from shared.mail.outbox import enqueue
from shared.models import Office, Role, StaffInvitation, StaffUser
from shared.operations import audit
from shared.operations.accounts import MIN_PASSWORD_LENGTH
from shared.operations.errors import StepRefused
from shared.operations.offices import offices_by_code
from shared.schemas.staff import ROLES_WITH_OFFICES
from shared.security import hash_secret, new_token, sha256_hex


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
    offices, unknown = offices_by_code(session, office_codes, active_only=False)
    if unknown:
        raise StepRefused(f"unknown office {', '.join(sorted(unknown))}")
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


def staff_list(session: Session) -> list[StaffUser]:
    """Every account, active ones first, with their offices."""
    return list(
        session.scalars(
            select(StaffUser)
            .options(selectinload(StaffUser.offices))
            .order_by(StaffUser.active.desc(), StaffUser.username)
        )
    )


def admins_with_mail(session: Session) -> list[StaffUser]:
    """The active admins who have a mail address, oldest account first: whom the worker
    tells when nobody else is named (the digest of overdue cases, the monthly report)."""
    return list(
        session.scalars(
            select(StaffUser)
            .where(
                StaffUser.role == Role.ADMIN,
                StaffUser.active,
                StaffUser.email.is_not(None),
                StaffUser.email != "",
            )
            .order_by(StaffUser.id)
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
    found, unknown = offices_by_code(session, codes)
    if unknown:  # one was merged away since the form was shown
        raise StepRefused(N_("Choose offices from the list."), "offices")
    return sorted(found, key=lambda office: office.code)


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
