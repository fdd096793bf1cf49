"""The monthly report as staff get it: its figures and files, from the archive of completed
months or made live.

A report of a COMPLETED Asia/Shanghai month, for the whole department or for one office, is
generated once and kept in ``report_archive`` (its bytes in ``stored_blob``): whoever asks
later gets the same bytes, even after the cases changed. The JSON is archived first and every
other format is rendered from it, so all files of a month tell the same numbers. The current
month is always generated live ("so far") and never archived; so is a report over several
offices at once (an officer of two offices), which is no scope the archive keeps.

The archive holds the official, Chinese files; another language is rendered from the archived
JSON on request (the same numbers) and not stored.

Mailing it, on the 1st or when asked, is :mod:`shared.reports.schedule`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

# The file formats (render, filename, content_type, FORMATS...) are the package's own.
from shared import reports
from shared.attachments import store_blob
from shared.db import utcnow
from shared.i18n import N_
from shared.models import Office, ReportArchive, StaffUser, StoredBlob
from shared.operations.errors import StepRefused
from shared.reports.figures import monthly_report
from shared.reports.months import is_completed
from shared.reports.scope import may_see

log = logging.getLogger("minyi.reports")

#: The language of the archived files and of the scheduled mail.
ARCHIVE_LANGUAGE = "zh"


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


def parse_format(value: str) -> str:
    """One of :data:`shared.reports.FORMATS`; refused on ``format`` otherwise."""
    if value not in reports.FORMATS:
        raise StepRefused(
            N_("Choose one of the formats offered: json, csv, xlsx, html or pdf."),
            "format",
            detail=f"Unknown format {value!r}; choose one of: {', '.join(reports.FORMATS)}.",
        )
    return value


def _archived_office(offices: Sequence[Office] | None) -> tuple[bool, int | None]:
    """Whether the archive keeps reports of this scope, and its office_id there."""
    if offices is None:
        return True, None
    if len(offices) == 1:
        return True, offices[0].id
    return False, None


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
    return reports.render(data, "json", language=ARCHIVE_LANGUAGE)


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
    now = now or utcnow()
    parse_format(fmt)
    archivable, office_id = _archived_office(offices)
    if is_completed(month, now) and archivable and language == ARCHIVE_LANGUAGE:
        row = _archive_row(session, month, fmt, office_id)
        if row is not None:
            name = _archive_filename(session, row)
            return ReportFile(
                _blob(session, row), reports.content_type(fmt), name, row.generated_at, row.id
            )
    if figures is None:
        figures = report(session, month, offices, language=language, now=now, progress=progress)
    if progress is not None:
        progress("render")
    if fmt == "json" and figures.archived and language == ARCHIVE_LANGUAGE:
        row = _archive_row(session, month, "json", office_id)
        return ReportFile(
            _blob(session, row),
            reports.content_type(fmt),
            reports.filename(figures.data, fmt),
            row.generated_at,
            row.id,
        )
    data = _render(figures, fmt, language)
    archive_id = None
    if figures.archived and language == ARCHIVE_LANGUAGE:
        archive_id = _store(session, month, fmt, office_id, data, figures.generated_at).id
    return ReportFile(
        data,
        reports.content_type(fmt),
        reports.filename(figures.data, fmt),
        figures.generated_at,
        archive_id,
    )


def _render(figures: Report, fmt: str, language: str) -> bytes:
    try:
        return reports.render(figures.data, fmt, language=language)
    except reports.FontMissing as error:
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
    try:
        return reports.report_fragment(figures.data, language=language)
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
    row = session.get(ReportArchive, archive_id)
    if row is None or not may_see(user, row):
        return None
    fmt = row.format if row.format in reports.FORMATS else "json"
    name = _archive_filename(session, row)
    return ReportFile(
        _blob(session, row), reports.content_type(fmt), name, row.generated_at, row.id
    )


def _archive_filename(session: Session, row: ReportArchive) -> str:
    """The file's name as the renderers name it, from the archived figures of its scope."""
    figures = _archived_json(session, row.month, row.office_id)
    if figures is not None and "month" in figures:
        try:
            return reports.filename(figures, row.format)
        except (KeyError, TypeError, ValueError):
            pass  # an odd archived JSON: the plain name below
    office = session.get(Office, row.office_id) if row.office_id is not None else None
    return f"minyi-report-{row.month:%Y-%m}{'-' + office.code if office else ''}.{row.format}"


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
