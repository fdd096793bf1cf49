"""What each automatic mail says. Builders build; they never send (the worker does)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from email.utils import parseaddr
from typing import Any
from urllib.parse import quote

from shared.db import SHANGHAI
from shared.i18n import DEFAULT_LANGUAGE
from shared.mail.outbox import OutgoingMail
from shared.mail.render import render
from shared.models import Case, Office, Reply, StaffUser
from shared.security import rating_token


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
    return _to_office("follow_up_notice", case, settings)


def reopened_notice(case: Case, settings: Mapping[str, Any]) -> OutgoingMail:
    """Tells the office that the citizen was not satisfied and the case is theirs again."""
    return _to_office("reopened_notice", case, settings)


def _to_office(template: str, case: Case, settings: Mapping[str, Any]) -> OutgoingMail:
    rendered = render(template, "zh", case=case, case_url=case_url(case, settings))
    return OutgoingMail(
        to_name=case.office.name,
        to_address=case.office.email,
        subject=rendered.subject,
        body=rendered.body,
    )


def reply(
    case: Case,
    sent: Reply,
    settings: Mapping[str, Any],
    *,
    in_reply_to: str | None,
    references: Sequence[str] = (),
) -> OutgoingMail:
    """A reply written by staff, as the citizen receives it: the tracking number in the
    subject, threaded on the citizen's own mail, answerable to the case's address; an answer
    carries the link to rate it."""
    sender_name = parseaddr(settings["MAIL_DEFAULT_SENDER"])[0]
    rendered = render(
        "reply",
        case.language,
        case=case,
        reply=sent,
        rating_url=rating_url(case, settings) if sent.kind == "answer" else None,
        sender_name=sender_name,
    )
    return OutgoingMail(
        to_name=case.submitter_name,
        to_address=case.submitter_email or "",
        subject=rendered.subject,
        body=rendered.body,
        reply_to=reply_address(case, settings),
        in_reply_to=in_reply_to,
        references=tuple(references) or ((in_reply_to,) if in_reply_to else ()),
        automatic=False,  # written and signed off by people
    )


def rating_url(case: Case, settings: Mapping[str, Any]) -> str:
    """A link that lets the citizen rate the answer without the passcode (which we do not
    keep): signed with SECRET_KEY, good for this case only."""
    base = settings["PUBLIC_BASE_URL"].rstrip("/")
    return f"{base}/rate/{rating_token(settings['SECRET_KEY'], case.tracking_number)}"


def case_url(case: Case, settings: Mapping[str, Any]) -> str:
    """The case's page on the staff side."""
    return f"{settings['RESPONDER_BASE_URL'].rstrip('/')}/cases/{case.tracking_number}"


#: Characters of a case's subject shown in a digest.
DIGEST_SUBJECT_MAX = 60


def _digest_lines(cases: Sequence[Case], day: date, settings: Mapping[str, Any]) -> list[dict]:
    """What a digest says of each case: number, subject, due day, link. Never who wrote it."""
    lines = []
    for case in cases:
        due_day = case.reply_due.astimezone(SHANGHAI).date()
        subject = " ".join((case.subject or "").split())
        lines.append(
            {
                "tracking_number": case.tracking_number,
                "subject": subject[:DIGEST_SUBJECT_MAX],
                "due": case.reply_due,
                "due_today": due_day == day,
                "days_overdue": max((day - due_day).days, 0),
                "url": case_url(case, settings),
            }
        )
    return lines


def reminder_digest(
    office: Office,
    due_soon: Sequence[Case],
    overdue: Sequence[Case],
    day: date,
    settings: Mapping[str, Any],
    *,
    remind_days: int,
    more_due_soon: int = 0,
    more_overdue: int = 0,
    language: str = DEFAULT_LANGUAGE,
) -> OutgoingMail:
    """The office's reminder (催办) of the day: its open cases whose answer is due within
    ``remind_days`` working days, and those already overdue. ``more_*`` count the cases left
    out of a long list."""
    rendered = render(
        "reminder_digest",
        language,
        office=office,
        day=day,
        remind_days=remind_days,
        due_soon=_digest_lines(due_soon, day, settings),
        overdue=_digest_lines(overdue, day, settings),
        due_soon_total=len(due_soon) + more_due_soon,
        overdue_total=len(overdue) + more_overdue,
        more_due_soon=more_due_soon,
        more_overdue=more_overdue,
        base_url=settings["RESPONDER_BASE_URL"].rstrip("/"),
    )
    return OutgoingMail(
        to_name=office.name,
        to_address=office.email or "",
        subject=rendered.subject,
        body=rendered.body,
    )


def overdue_digest(
    admin: StaffUser,
    groups: Sequence[tuple[Office | None, Sequence[Case], int]],
    day: date,
    settings: Mapping[str, Any],
    *,
    language: str = DEFAULT_LANGUAGE,
) -> OutgoingMail:
    """The admins' escalation of the day: overdue open cases by office. ``groups`` holds
    (office or None for cases not yet assigned, the cases listed, how many there are)."""
    rendered = render(
        "overdue_digest",
        language,
        admin=admin,
        day=day,
        groups=[
            {
                "office": office,
                "cases": _digest_lines(cases, day, settings),
                "total": total,
                "more": total - len(cases),
            }
            for office, cases, total in groups
        ],
        total=sum(total for _office, _cases, total in groups),
        base_url=settings["RESPONDER_BASE_URL"].rstrip("/"),
    )
    return OutgoingMail(
        to_name=admin.display_name or admin.username,
        to_address=admin.email or "",
        subject=rendered.subject,
        body=rendered.body,
    )
