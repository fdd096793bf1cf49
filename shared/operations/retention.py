"""Retention: raw mail and unreferenced files are not kept for ever (``minyi purge``).

What goes, after ``older_than`` days:

- raw mail (:class:`InboundMail` and its stored bytes) whose case is finished (closed,
  rejected, spam), or that never became a case (quarantined, auto-replies, bounces);
  the mail of an open or answered case stays, as the case may still need it;
- stored files that nothing refers to any more (no raw mail, attachment, outbox attachment or
  report archive), e.g. those kept from a form that was never sent.

Case records stay: attachments, messages and replies are not touched here. Everything happens
in one transaction, with an audit event saying how much went.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, or_, select
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
class PurgeResult:
    inbound_mails: int
    blobs: int
    blob_bytes: int
    dry_run: bool

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


def purge(
    session: Session, older_than_days: int, *, dry_run: bool = False, now: datetime | None = None
) -> PurgeResult:
    """Delete (or with ``dry_run`` only count) what retention allows; the caller commits.

    The file of a purged raw mail was stored when the mail arrived, so it is as old as the mail
    and goes with it, unless something else (an attachment of a case) still refers to it.
    """
    if older_than_days < 0:
        raise ValueError("older_than_days must not be negative")
    cutoff = (now or utcnow()) - timedelta(days=older_than_days)
    orphans = _orphans(cutoff, _referenced(keeping_mail_only_before=cutoff))
    mails = session.scalar(select(func.count()).select_from(_purgeable_mail(cutoff).subquery()))
    blobs, blob_bytes = session.execute(
        select(func.count(), func.coalesce(func.sum(StoredBlob.size), 0)).where(*orphans)
    ).one()
    result = PurgeResult(int(mails), int(blobs), int(blob_bytes), dry_run)
    if dry_run:
        return result
    no_sync = {"synchronize_session": False}
    deleted_mails = session.execute(
        delete(InboundMail).where(InboundMail.id.in_(_purgeable_mail(cutoff))),
        execution_options=no_sync,
    ).rowcount
    # Now that the raw mail is gone, what nothing refers to is what nothing refers to.
    deleted_blobs = session.execute(
        delete(StoredBlob).where(*_orphans(cutoff, _referenced())), execution_options=no_sync
    ).rowcount
    result = PurgeResult(deleted_mails, deleted_blobs, result.blob_bytes, dry_run)
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
