"""Mailing the monthly report: on the 1st, by the worker, and when asked (``minyi report
--send``).

From 08:00 Asia/Shanghai on the 1st (or at the first worker pass after it that month), the
previous month's whole-department report is archived in every format and mailed, with the
XLSX and PDF attached, to ``REPORT_RECIPIENTS`` (or else the active admins). The mail is
written once: workers take a lock first (PostgreSQL: a transaction-scoped advisory lock that
a busy worker skips; SQLite: the database's one write lock) and the archived XLSX and PDF
record when they were mailed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime, time
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from shared import reports
from shared.attachments import store_blob
from shared.config import addresses
from shared.db import SHANGHAI, one_worker_at_a_time, utcnow
from shared.mail import report_mail
from shared.mail.outbox import enqueue
from shared.models import Office, OutboxAttachment, ReportArchive, StaffUser
from shared.operations import audit
from shared.operations.errors import StepRefused
from shared.operations.staff import admins_with_mail
from shared.reports import archive
from shared.reports.months import last_completed_month

log = logging.getLogger("minyi.reports")

#: The scheduled report goes out from this Asia/Shanghai time on the 1st of the month.
SCHEDULE_TIME = time(8, 0)

#: The formats the scheduled mail attaches.
MAILED_FORMATS = ("xlsx", "pdf")

#: PostgreSQL advisory lock held by the worker writing the scheduled report ("minyiRPT").
ADVISORY_LOCK_KEY = int.from_bytes(b"minyiRPT", "big")

#: Months this process already warned about (no recipients), so the log is not flooded.
_warned_months: set[date] = set()


def report_recipients(session: Session, settings: Mapping[str, Any]) -> tuple[str, ...]:
    """``REPORT_RECIPIENTS``, or else the email addresses of the active admins."""
    configured = settings.get("REPORT_RECIPIENTS") or ()
    try:
        chosen = addresses(configured)
    except ValueError as error:
        raise StepRefused(f"REPORT_RECIPIENTS: {error}", "recipients") from None
    if chosen:
        return chosen
    return tuple(dict.fromkeys(admin.email for admin in admins_with_mail(session)))


def mail_report(
    session: Session,
    settings: Mapping[str, Any],
    month: date,
    offices: Sequence[Office] | None = None,
    *,
    recipients: Sequence[str],
    now: datetime | None = None,
    actor: StaffUser | None = None,
    progress: Callable[[str], None] | None = None,
) -> list[archive.ReportFile]:
    """Write one mail per recipient into the outbox, with the report's XLSX and PDF attached;
    returns the attached files. Flushes; the caller commits."""
    now = now or utcnow()
    figures = archive.report(session, month, offices, now=now, progress=progress)
    files = [
        archive.report_file(
            session, month, fmt, offices, now=now, progress=progress, figures=figures
        )
        for fmt in MAILED_FORMATS
    ]
    blobs = [store_blob(session, file.data) for file in files]
    for address in recipients:
        mail = report_mail.monthly_report(
            figures.data, address, settings, completed=figures.completed
        )
        row = enqueue(session, mail, settings)
        for file, sha256 in zip(files, blobs, strict=True):
            row.attachments.append(
                OutboxAttachment(
                    filename=file.filename, content_type=file.content_type, blob_sha256=sha256
                )
            )
    audit.record(
        session,
        "report.mailed",
        actor=actor,
        month=f"{month:%Y-%m}",
        offices=[office.code for office in offices] if offices is not None else None,
        recipients=len(recipients),
    )
    session.flush()
    return files


def send_scheduled_report(
    session: Session, settings: Mapping[str, Any], now: datetime | None = None
) -> int:
    """From 08:00 on the 1st, the previous month's department report: archived in every
    format and mailed once. Returns how many mails were written. Call it in a transaction of
    its own (the lock lasts until it ends)."""
    now = now or utcnow()
    local = now.astimezone(SHANGHAI)
    if local < datetime.combine(local.date().replace(day=1), SCHEDULE_TIME, SHANGHAI):
        return 0
    month = last_completed_month(now)
    if _mailed(session, month):
        return 0
    if not one_worker_at_a_time(session, ADVISORY_LOCK_KEY, ReportArchive) or _mailed(
        session, month
    ):
        return 0  # another worker is doing it right now, or has just done it
    recipients = report_recipients(session, settings)
    if recipients or _archived_formats(session, month) < len(reports.FORMATS):
        for fmt in reports.FORMATS:  # the archive holds every format, mailed or not
            archive.report_file(session, month, fmt, None, now=now)
    if not recipients:
        if month not in _warned_months:
            _warned_months.add(month)
            log.warning(
                "the report of %s is archived but mailed to nobody: set REPORT_RECIPIENTS or "
                "give an active admin an email address",
                f"{month:%Y-%m}",
            )
        return 0
    mail_report(session, settings, month, None, recipients=recipients, now=now)
    session.execute(
        update(ReportArchive)
        .where(
            ReportArchive.month == month,
            ReportArchive.office_id.is_(None),
            ReportArchive.format.in_(MAILED_FORMATS),
        )
        .values(mailed_at=now)
        .execution_options(synchronize_session=False)
    )
    return len(recipients)


def _archived_formats(session: Session, month: date) -> int:
    """How many formats of the department's report of ``month`` the archive holds."""
    return session.scalar(
        select(func.count()).where(ReportArchive.month == month, ReportArchive.office_id.is_(None))
    )


def _mailed(session: Session, month: date) -> bool:
    return bool(
        session.scalar(
            select(func.count()).where(
                ReportArchive.month == month,
                ReportArchive.office_id.is_(None),
                ReportArchive.mailed_at.is_not(None),
            )
        )
    )
