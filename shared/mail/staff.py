"""Mail to members of staff about their accounts: the invitation and the password-reset link.
Builders build; they never send (the worker does)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from shared.i18n import DEFAULT_LANGUAGE
from shared.mail.outbox import OutgoingMail
from shared.mail.render import render
from shared.models import StaffUser


def invitation_url(token: str, settings: Mapping[str, Any]) -> str:
    """The one-time link to the page where the invitee sets a password."""
    return f"{settings['RESPONDER_BASE_URL'].rstrip('/')}/invitation/{token}"


def invitation(
    user: StaffUser,
    token: str,
    expires_at: datetime,
    settings: Mapping[str, Any],
    *,
    reset: bool = False,
    language: str = DEFAULT_LANGUAGE,
) -> OutgoingMail:
    """The invitation of a new account, or (``reset``) the link that replaces a password an
    administrator reset: either way, a link to set a password, which works once until
    ``expires_at``."""
    base = settings["RESPONDER_BASE_URL"].rstrip("/")
    rendered = render(
        "staff_invitation",
        language,
        user=user,
        link=invitation_url(token, settings),
        login_url=f"{base}/login",
        expires_at=expires_at,
        reset=reset,
    )
    return OutgoingMail(
        to_name=user.display_name or user.username,
        to_address=user.email or "",
        subject=rendered.subject,
        body=rendered.body,
    )
