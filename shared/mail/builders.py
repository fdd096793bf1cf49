"""What each automatic mail says. Builders build; they never send (the worker does)."""

from __future__ import annotations

from collections.abc import Mapping
from email.utils import parseaddr
from typing import Any
from urllib.parse import quote

from shared.mail.outbox import OutgoingMail
from shared.mail.render import render
from shared.models import Case


def reply_address(case: Case, settings: Mapping[str, Any]) -> str:
    """The per-case address a citizen's reply comes back to: ``reply+TOKEN@REPLY_DOMAIN``."""
    return f"reply+{case.reply_token}@{settings['REPLY_DOMAIN']}"


def tracking_url(case: Case, passcode: str, settings: Mapping[str, Any]) -> str:
    base = settings["PUBLIC_BASE_URL"].rstrip("/")
    return f"{base}/track/{case.tracking_number}?passcode={quote(passcode)}"


def acknowledgement(case: Case, passcode: str, settings: Mapping[str, Any]) -> OutgoingMail:
    """The receipt mail of a new case: number, passcode, tracking link, deadlines."""
    sender_name = parseaddr(settings["MAIL_DEFAULT_SENDER"])[0]
    rendered = render(
        "acknowledgement",
        case.language,
        case=case,
        passcode=passcode,
        track_url=tracking_url(case, passcode, settings),
        sender_name=sender_name,
    )
    return OutgoingMail(
        to_name=case.submitter_name,
        to_address=case.submitter_email or "",
        subject=rendered.subject,
        body=rendered.body,
        reply_to=reply_address(case, settings),
    )


def follow_up_notice(case: Case, settings: Mapping[str, Any]) -> OutgoingMail:
    """Tells the office handling a case that the citizen wrote again."""
    rendered = render(
        "follow_up_notice",
        "zh",
        case=case,
        case_url=f"{settings['RESPONDER_BASE_URL'].rstrip('/')}/cases/{case.tracking_number}",
    )
    return OutgoingMail(
        to_name=case.office.name,
        to_address=case.office.email,
        subject=rendered.subject,
        body=rendered.body,
    )
