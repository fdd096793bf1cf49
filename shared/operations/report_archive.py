"""Delivering the monthly report: the archive of completed months, who may see which report,
and the scheduled mail on the 1st.

A report of a COMPLETED Asia/Shanghai month, for the whole department or for one office, is
generated once and kept in ``report_archive`` (its bytes in ``stored_blob``): whoever asks
later gets the same bytes, even after the cases changed. The JSON is archived first and every
other format is rendered from it, so all files of a month tell the same numbers. The current
month is always generated live ("so far") and never archived; so is a report over several
offices at once (an officer of two offices), which is no scope the archive keeps.

The archive holds the official, Chinese files; another language is rendered from the archived
JSON on request (the same numbers) and not stored.

From 08:00 Asia/Shanghai on the 1st (or at the first worker pass after it that month), the
previous month's whole-department report is archived in every format and mailed, with the
XLSX and PDF attached, to ``REPORT_RECIPIENTS`` (or else the active admins). The mail is
written once: workers take a lock first (PostgreSQL: a transaction-scoped advisory lock that
a busy worker skips; SQLite: the database's one write lock) and the archived XLSX and PDF
record when they were mailed.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from shared.attachments import store_blob
from shared.config import addresses
from shared.db import SHANGHAI, one_worker_at_a_time, utcnow
from shared.i18n import N_
from shared.mail import report_mail
from shared.mail.outbox import enqueue
from shared.models import Office, OutboxAttachment, ReportArchive, Role, StaffUser, StoredBlob
from shared.operations import audit
from shared.operations.errors import StepRefused
from shared.operations.offices import all_offices, office_by_code, offices_by_code

log = logging.getLogger("minyi.reports")

#: The language of the archived files and of the scheduled mail.
ARCHIVE_LANGUAGE = "zh"
#: The scheduled report goes out from this Asia/Shanghai time on the 1st of the month.
SCHEDULE_TIME = time(8, 0)
#: The formats the scheduled mail attaches.
MAILED_FORMATS = ("xlsx", "pdf")
#: PostgreSQL advisory lock held by the worker writing the scheduled report ("minyiRPT").
ADVISORY_LOCK_KEY = int.from_bytes(b"minyiRPT", "big")

#: Months this process already warned about (no recipients), so the log is not flooded.
_warned_months: set[date] = set()


#: What a person reads on a page or in the API about a field that names no report.
FIELD_MESSAGES = {
    "month": N_("Choose a month written as YYYY-MM, from January 2000 to the current month."),
    "format": N_("Choose one of the formats offered: json, csv, xlsx, html or pdf."),
    "office": N_("There is no such office."),
}


def _names_no_report(field: str, detail: str) -> StepRefused:
    """Input that names no report (bad month, format or office): a page and the API show
    ``FIELD_MESSAGES[field]``, the command line the ``detail``, in English."""
    return StepRefused(FIELD_MESSAGES[field], field, detail=detail)


class ReportUnavailable(RuntimeError):
    """The file cannot be made: no font for the PDF, or an archived report that this
    version's renderers cannot read. The message says which."""


@dataclass(frozen=True)
class ReportFile:
    """A report as bytes, ready to download or attach."""

    data: bytes
    content_type: str
    filename: str
    #: When the numbers were counted (the archived time for a completed month).
    generated_at: datetime
    #: The archive row holding exactly these bytes; None when generated live.
    archive_id: int | None


@dataclass(frozen=True)
class Report:
    """The report's figures, from the archive or live."""

    data: dict
    month: date
    generated_at: datetime
    #: Whether the month was complete (archived figures) or still running ("so far").
    completed: bool
    archived: bool


# -- months and scope --------------------------------------------------------------------------


def month_start(month: date) -> datetime:
    """00:00 Asia/Shanghai of the month's first day."""
    return datetime.combine(month.replace(day=1), time(0), SHANGHAI)


def next_month(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def earlier_month(month: date) -> date:
    return date(month.year - (month.month == 1), (month.month - 2) % 12 + 1, 1)


def current_month(now: datetime | None = None) -> date:
    return (now or utcnow()).astimezone(SHANGHAI).date().replace(day=1)


def last_completed_month(now: datetime | None = None) -> date:
    """The month before the current Asia/Shanghai month: the one the 1st's report covers."""
    return earlier_month(current_month(now))


def is_completed(month: date, now: datetime | None = None) -> bool:
    return month_start(next_month(month)) <= (now or utcnow())


def parse_month(value: str | None, now: datetime | None = None) -> date:
    """``YYYY-MM`` as the first day of that month (the last completed month when empty);
    refused with a clear message otherwise."""
    if not value:
        return last_completed_month(now)
    from shared.operations.reports import parse_month as parse

    try:
        return parse(value, now=now)
    except ValueError as error:
        raise _names_no_report("month", str(error)) from None


def parse_format(value: str) -> str:
    from shared.reports import FORMATS

    if value not in FORMATS:
        raise _names_no_report(
            "format", f"Unknown format {value!r}; choose one of: {', '.join(FORMATS)}."
        )
    return value


def scope_for(session: Session, user: StaffUser, office_code: str | None) -> list[Office] | None:
    """The offices a member of staff's report covers (None: the whole department). Admins and
    triagers see the department or the one office they pick; officers and reviewers only
    their own offices, whatever they ask for (one of them if they pick it)."""
    if user.sees_all_offices:
        if not office_code:
            return None
        office = office_by_code(session, office_code, active_only=False)
        if office is None:
            raise _names_no_report("office", f"There is no office {office_code!r}.")
        return [office]
    own = list(
        session.scalars(
            select(Office)
            .where(Office.id.in_([office.id for office in user.offices]))
            .order_by(Office.code)
        )
    )
    picked = [office for office in own if office.code == office_code]
    return picked or own


def office_choices(session: Session, user: StaffUser) -> list[Office]:
    """The offices a member of staff may pick a report of."""
    if user.sees_all_offices:
        return all_offices(session)
    return scope_for(session, user, None) or []


def scope_by_codes(session: Session, codes: Sequence[str]) -> list[Office] | None:
    """The offices named on the command line (None for none: the whole department)."""
    if not codes:
        return None
    found, unknown = offices_by_code(session, codes, active_only=False)
    if unknown:
        raise _names_no_report("office", f"There is no office {unknown[0]!r}.")
    return found


def _archived_office(offices: Sequence[Office] | None) -> tuple[bool, int | None]:
    """Whether the archive keeps reports of this scope, and its office_id there."""
    if offices is None:
        return True, None
    if len(offices) == 1:
        return True, offices[0].id
    return False, None


# -- the archive -------------------------------------------------------------------------------


def _archive_row(session: Session, month: date, fmt: str, office_id: int | None):
    office = (
        ReportArchive.office_id.is_(None)
        if office_id is None
        else ReportArchive.office_id == office_id
    )
    return session.scalar(
        select(ReportArchive).where(
            ReportArchive.month == month, ReportArchive.format == fmt, office
        )
    )


def _store(
    session: Session, month: date, fmt: str, office_id: int | None, data: bytes, at: datetime
) -> ReportArchive:
    """Archive a file. Two writers at once: the second fails on the unique index and its
    caller's transaction is retried (``run_with_retry``), finding the first one's row."""
    row = ReportArchive(
        month=month, format=fmt, office_id=office_id, blob_sha256=store_blob(session, data)
    )
    row.generated_at = at
    session.add(row)
    session.flush()
    return row


def _blob(session: Session, row: ReportArchive) -> bytes:
    return session.get_one(StoredBlob, row.blob_sha256).data


def _generate(
    session: Session,
    month: date,
    offices: Sequence[Office] | None,
    language: str,
    now: datetime | None,
    progress: Callable[[str], None] | None,
) -> dict:
    from shared.operations.reports import monthly_report

    archivable, office_id = _archived_office(offices)

    def reported(earlier: date) -> dict | None:
        row = _archive_row(session, earlier, "json", office_id) if archivable else None
        return json.loads(_blob(session, row)) if row is not None else None

    return monthly_report(
        session,
        month,
        offices=offices,
        language=language,
        progress=progress,
        now=now,
        reported=reported,
    )


def report(
    session: Session,
    month: date,
    offices: Sequence[Office] | None = None,
    *,
    language: str = ARCHIVE_LANGUAGE,
    now: datetime | None = None,
    progress: Callable[[str], None] | None = None,
) -> Report:
    """The month's figures for the scope: a completed month from the archive (generated and
    archived on first use), the current month live."""
    now = now or utcnow()
    archivable, office_id = _archived_office(offices)
    completed = is_completed(month, now)
    if completed and archivable:
        row = _archive_row(session, month, "json", office_id)
        if row is None:
            data = _generate(session, month, offices, ARCHIVE_LANGUAGE, now, progress)
            row = _store(session, month, "json", office_id, _json_bytes(data), now)
        else:
            data = json.loads(_blob(session, row))
        return Report(data, month, row.generated_at, completed=True, archived=True)
    data = _generate(session, month, offices, language, now, progress)
    return Report(data, month, now, completed=completed, archived=False)


def _json_bytes(data: dict) -> bytes:
    from shared.reports import render

    return render(data, "json", language=ARCHIVE_LANGUAGE)


def report_file(
    session: Session,
    month: date,
    fmt: str,
    offices: Sequence[Office] | None = None,
    *,
    language: str = ARCHIVE_LANGUAGE,
    now: datetime | None = None,
    progress: Callable[[str], None] | None = None,
    figures: Report | None = None,
) -> ReportFile:
    """The report in one format. A completed month's file in the archive's language is
    archived on first use and the same bytes are served ever after. ``figures``: the
    report of the same month and scope, when the caller has it already."""
    from shared.reports import content_type, filename

    now = now or utcnow()
    parse_format(fmt)
    archivable, office_id = _archived_office(offices)
    if is_completed(month, now) and archivable and language == ARCHIVE_LANGUAGE:
        row = _archive_row(session, month, fmt, office_id)
        if row is not None:
            name = _archive_filename(session, row)
            return ReportFile(
                _blob(session, row), content_type(fmt), name, row.generated_at, row.id
            )
    if figures is None:
        figures = report(session, month, offices, language=language, now=now, progress=progress)
    if progress is not None:
        progress("render")
    if fmt == "json" and figures.archived and language == ARCHIVE_LANGUAGE:
        row = _archive_row(session, month, "json", office_id)
        return ReportFile(
            _blob(session, row),
            content_type(fmt),
            filename(figures.data, fmt),
            row.generated_at,
            row.id,
        )
    data = _render(figures, fmt, language)
    archive_id = None
    if figures.archived and language == ARCHIVE_LANGUAGE:
        archive_id = _store(session, month, fmt, office_id, data, figures.generated_at).id
    return ReportFile(
        data, content_type(fmt), filename(figures.data, fmt), figures.generated_at, archive_id
    )


def _render(figures: Report, fmt: str, language: str) -> bytes:
    from shared.reports import FontMissing, render

    try:
        return render(figures.data, fmt, language=language)
    except FontMissing as error:
        raise ReportUnavailable(str(error)) from error
    except (KeyError, TypeError, ValueError) as error:
        if not figures.archived:
            raise
        raise ReportUnavailable(
            f"the archived report of {figures.month:%Y-%m} was made by an earlier version and "
            f"cannot be rendered as {fmt} ({type(error).__name__}: {error}); its archived "
            "files are unchanged"
        ) from error


def fragment(figures: Report, language: str):
    """The report's tables and charts as HTML; None (and a warning in the log) when the
    archived figures are of a shape this version cannot show."""
    from shared.reports import report_fragment

    try:
        return report_fragment(figures.data, language=language)
    except (KeyError, TypeError, ValueError):
        if not figures.archived:
            raise
        log.warning("archived report of %s cannot be shown", f"{figures.month:%Y-%m}")
        return None


def _archived_json(session: Session, month: date, office_id: int | None) -> dict | None:
    row = _archive_row(session, month, "json", office_id)
    return json.loads(_blob(session, row)) if row is not None else None


def archive_file(session: Session, user: StaffUser, archive_id: int) -> ReportFile | None:
    """An archived file, if the member of staff may see its scope (else None: a 404)."""
    from shared.reports import FORMATS, content_type

    row = session.get(ReportArchive, archive_id)
    if row is None or not may_see(user, row):
        return None
    fmt = row.format if row.format in FORMATS else "json"
    name = _archive_filename(session, row)
    return ReportFile(_blob(session, row), content_type(fmt), name, row.generated_at, row.id)


def _archive_filename(session: Session, row: ReportArchive) -> str:
    """The file's name as the renderers name it, from the archived figures of its scope."""
    from shared.reports import filename

    figures = _archived_json(session, row.month, row.office_id)
    if figures is not None and "month" in figures:
        try:
            return filename(figures, row.format)
        except (KeyError, TypeError, ValueError):
            pass  # an odd archived JSON: the plain name below
    office = session.get(Office, row.office_id) if row.office_id is not None else None
    return f"minyi-report-{row.month:%Y-%m}{'-' + office.code if office else ''}.{row.format}"


def may_see(user: StaffUser, row: ReportArchive) -> bool:
    if user.sees_all_offices:
        return True
    return row.office_id is not None and row.office_id in {office.id for office in user.offices}


def archived_reports(session: Session, user: StaffUser, limit: int = 300) -> list[dict]:
    """The archived files the member of staff may download, newest month first."""
    statement = (
        select(ReportArchive, Office)
        .outerjoin(Office, ReportArchive.office_id == Office.id)
        .order_by(
            ReportArchive.month.desc(),
            ReportArchive.office_id.is_not(None),
            Office.code,
            ReportArchive.format,
        )
        .limit(limit)
    )
    if not user.sees_all_offices:
        statement = statement.where(
            ReportArchive.office_id.in_([office.id for office in user.offices])
        )
    return [
        {
            "id": row.id,
            "month": f"{row.month:%Y-%m}",
            "format": row.format,
            "office": office,
            "generated_at": row.generated_at,
        }
        for row, office in session.execute(statement)
    ]


# -- mail --------------------------------------------------------------------------------------


def report_recipients(session: Session, settings: Mapping[str, Any]) -> tuple[str, ...]:
    """``REPORT_RECIPIENTS``, or else the email addresses of the active admins."""
    configured = settings.get("REPORT_RECIPIENTS") or ()
    try:
        chosen = addresses(configured)
    except ValueError as error:
        raise StepRefused(f"REPORT_RECIPIENTS: {error}", "recipients") from None
    if chosen:
        return chosen
    admins = session.scalars(
        select(StaffUser.email)
        .where(
            StaffUser.role == Role.ADMIN,
            StaffUser.active,
            StaffUser.email.is_not(None),
            StaffUser.email != "",
        )
        .order_by(StaffUser.id)
    )
    return tuple(dict.fromkeys(admins))


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
) -> list[ReportFile]:
    """Write one mail per recipient into the outbox, with the report's XLSX and PDF attached;
    returns the attached files. Flushes; the caller commits."""
    now = now or utcnow()
    figures = report(session, month, offices, now=now, progress=progress)
    files = [
        report_file(session, month, fmt, offices, now=now, progress=progress, figures=figures)
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
    from shared.reports import FORMATS

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
    if recipients or _archived_formats(session, month) < len(FORMATS):
        for fmt in FORMATS:  # the archive holds every format, mailed or not
            report_file(session, month, fmt, None, now=now)
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
