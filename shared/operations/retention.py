"""Retention: raw mail and unreferenced files are not kept for ever (``minyi purge``).

What goes, after ``older_than`` days:

- raw mail (:class:`InboundMail` and its stored bytes) whose case is finished (closed,
  rejected, spam), or that never became a case (quarantined, auto-replies, bounces);
  the mail of an open or answered case stays, as the case may still need it;
- stored files that nothing refers to any more (no raw mail, attachment, outbox attachment or
  report archive), e.g. those kept from a form that was never sent.

Case records stay: attachments, messages and replies are not touched here. Everything happens
in one transaction, with an audit event saying how much went; the command lists each item.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from shared.db import utcnow
from shared.models import (
    Attachment,
    Case,
    CaseStatus,
    InboundMail,
    OutboxAttachment,
    ReportArchive,
    StoredBlob,
)
from shared.operations.audit import record


@dataclass(frozen=True)
class PurgedMail:
    """A raw mail that goes, described without anything personal (no sender, no subject)."""

    id: int
    received_at: datetime
    source: str
    outcome: str
    tracking_number: str | None
    size: int

    def line(self) -> str:
        belongs = f"case {self.tracking_number}" if self.tracking_number else "no case"
        return (
            f"raw mail {self.id} ({self.source}, received {self.received_at:%Y-%m-%d}, "
            f"{belongs}, outcome {self.outcome}, {self.size} bytes)"
        )


@dataclass(frozen=True)
class PurgedFile:
    sha256: str
    size: int
    created_at: datetime

    def line(self) -> str:
        return f"file {self.sha256} (stored {self.created_at:%Y-%m-%d}, {self.size} bytes)"


@dataclass(frozen=True)
class PurgeResult:
    mails: tuple[PurgedMail, ...]
    files: tuple[PurgedFile, ...]
    dry_run: bool

    @property
    def inbound_mails(self) -> int:
        return len(self.mails)

    @property
    def blobs(self) -> int:
        return len(self.files)

    @property
    def blob_bytes(self) -> int:
        return sum(file.size for file in self.files)

    def lines(self) -> list[str]:
        """What goes (or would go), one line each, oldest first."""
        return [item.line() for item in (*self.mails, *self.files)]

    def summary(self) -> str:
        verb = "would delete" if self.dry_run else "deleted"
        return (
            f"{verb} {self.inbound_mails} raw mail(s) and "
            f"{self.blobs} unreferenced file(s) ({self.blob_bytes} bytes)"
        )


def _purgeable_mail(cutoff: datetime):
    # Cases whose raw mail may go: nothing more will be done with them.
    finished_case = select(Case.id).where(Case.status.in_(CaseStatus.FINISHED))
    return select(InboundMail.id).where(
        InboundMail.received_at < cutoff,
        or_(InboundMail.case_id.is_(None), InboundMail.case_id.in_(finished_case)),
    )


def _referenced(*, keeping_mail_only_before: datetime | None = None):
    """Every sha256 something refers to; with a cutoff, not counting raw mail about to go."""
    mail = select(InboundMail.blob_sha256)
    if keeping_mail_only_before is not None:
        mail = mail.where(InboundMail.id.not_in(_purgeable_mail(keeping_mail_only_before)))
    return mail.union(
        select(Attachment.blob_sha256),
        select(OutboxAttachment.blob_sha256),
        select(ReportArchive.blob_sha256),
    ).subquery()


def _orphans(cutoff: datetime, referenced):
    return StoredBlob.created_at < cutoff, StoredBlob.sha256.not_in(select(referenced.c[0]))


def _mails_to_purge(session: Session, cutoff: datetime) -> tuple[PurgedMail, ...]:
    rows = session.execute(
        select(
            InboundMail.id,
            InboundMail.received_at,
            InboundMail.source,
            InboundMail.outcome,
            Case.tracking_number,
            StoredBlob.size,
        )
        .join(StoredBlob, StoredBlob.sha256 == InboundMail.blob_sha256)
        .outerjoin(Case, Case.id == InboundMail.case_id)
        .where(InboundMail.id.in_(_purgeable_mail(cutoff)))
        .order_by(InboundMail.received_at, InboundMail.id)
    )
    return tuple(PurgedMail(*row) for row in rows)


def _files_to_purge(session: Session, cutoff: datetime, referenced) -> tuple[PurgedFile, ...]:
    rows = session.execute(
        select(StoredBlob.sha256, StoredBlob.size, StoredBlob.created_at)
        .where(*_orphans(cutoff, referenced))
        .order_by(StoredBlob.created_at, StoredBlob.sha256)
    )
    return tuple(PurgedFile(*row) for row in rows)


#: Keys deleted per statement (a parameter list must stay within what the database takes).
_DELETE_CHUNK = 500


def _delete(session: Session, key, values: list) -> None:
    for start in range(0, len(values), _DELETE_CHUNK):
        session.execute(
            delete(key.class_).where(key.in_(values[start : start + _DELETE_CHUNK])),
            execution_options={"synchronize_session": False},
        )


def purge(
    session: Session, older_than_days: int, *, dry_run: bool = False, now: datetime | None = None
) -> PurgeResult:
    """Delete (or with ``dry_run`` only list) what retention allows; the caller commits.
    Exactly what is listed is deleted.

    The file of a purged raw mail was stored when the mail arrived, so it is as old as the mail
    and goes with it, unless something else (an attachment of a case) still refers to it.
    """
    if older_than_days < 0:
        raise ValueError("older_than_days must not be negative")
    cutoff = (now or utcnow()) - timedelta(days=older_than_days)
    mails = _mails_to_purge(session, cutoff)
    if dry_run:
        files = _files_to_purge(session, cutoff, _referenced(keeping_mail_only_before=cutoff))
        return PurgeResult(mails, files, dry_run)
    _delete(session, InboundMail.id, [mail.id for mail in mails])
    # Now that the raw mail is gone, what nothing refers to is what nothing refers to.
    files = _files_to_purge(session, cutoff, _referenced())
    _delete(session, StoredBlob.sha256, [file.sha256 for file in files])
    result = PurgeResult(mails, files, dry_run)
    record(
        session,
        "retention.purged",
        actor_kind="system",
        older_than_days=older_than_days,
        inbound_mails=result.inbound_mails,
        blobs=result.blobs,
        blob_bytes=result.blob_bytes,
    )
    return result
