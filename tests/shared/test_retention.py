"""Retention (``minyi purge``): old raw mail of finished cases and unreferenced files go; the
mail of open cases, recent mail, case attachments and their files stay."""

from __future__ import annotations

import hashlib
import itertools
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select

from shared.db import utcnow
from shared.models import (
    Attachment,
    AuditEvent,
    Case,
    InboundMail,
    Message,
    StoredBlob,
)
from shared.operations.retention import purge
from tests.factories import make_case

MINYI = str(Path(sys.executable).with_name("minyi"))
_serial = itertools.count(1)


def _blob(session, *, age_days: float) -> str:
    data = f"blob {next(_serial)} {os.urandom(8).hex()}".encode()
    sha = hashlib.sha256(data).hexdigest()
    created = utcnow() - timedelta(days=age_days)
    session.add(StoredBlob(sha256=sha, size=len(data), data=data, created_at=created))
    session.flush()
    return sha


def _mail(db, *, age_days: float, case_id: int | None, outcome: str = "case") -> int:
    with db.transaction() as session:
        sha = _blob(session, age_days=age_days)
        mail = InboundMail(
            source="lmtp",
            sha256=sha,
            blob_sha256=sha,
            received_at=utcnow() - timedelta(days=age_days),
            outcome=outcome,
            case_id=case_id,
        )
        session.add(mail)
        session.flush()
        return mail.id


def _case(db, status: str) -> int:
    receipt = make_case(db)
    with db.transaction() as session:
        case = session.get(Case, receipt.case.id)
        case.status = status
        return case.id


def _mail_ids(db) -> set[int]:
    with db.session() as session:
        return set(session.scalars(select(InboundMail.id)))


def _blob_ids(db) -> set[str]:
    with db.session() as session:
        return set(session.scalars(select(StoredBlob.sha256)))


def test_old_raw_mail_of_finished_cases_and_of_no_case_goes(db, demo):
    closed, rejected, spam = (_case(db, s) for s in ("closed", "rejected", "spam"))
    open_case, replied = _case(db, "assigned"), _case(db, "replied")
    gone = {
        _mail(db, age_days=100, case_id=closed),
        _mail(db, age_days=100, case_id=rejected),
        _mail(db, age_days=100, case_id=spam),
        _mail(db, age_days=100, case_id=None, outcome="quarantined"),
        _mail(db, age_days=100, case_id=None, outcome="bounce"),
    }
    kept = {
        _mail(db, age_days=100, case_id=open_case),  # the case is still open
        _mail(db, age_days=100, case_id=replied),  # answered, not yet closed
        _mail(db, age_days=10, case_id=closed),  # recent
        _mail(db, age_days=10, case_id=None, outcome="auto_reply"),  # recent
    }
    with db.transaction() as session:
        result = purge(session, 90)
    assert (result.inbound_mails, result.dry_run) == (5, False)
    assert _mail_ids(db) == kept
    # The raw bytes of the purged mail went with it; those of the kept mail stayed.
    assert result.blobs == 5
    with db.session() as session:
        kept_blobs = set(session.scalars(select(InboundMail.blob_sha256)))
        assert _blob_ids(db) == kept_blobs
        event = session.scalar(select(AuditEvent).where(AuditEvent.action == "retention.purged"))
        assert event.detail["inbound_mails"] == 5 and event.detail["blobs"] == 5
        assert event.detail["older_than_days"] == 90
    assert not gone & _mail_ids(db)


def test_unreferenced_old_files_go_and_referenced_ones_stay(db, demo):
    case_id = _case(db, "closed")
    with db.transaction() as session:
        orphan_old = _blob(session, age_days=40)
        orphan_recent = _blob(session, age_days=0.5)  # an upload of a form still being written
        attached = _blob(session, age_days=400)
        message = Message(case_id=case_id, kind="citizen", body="附件", public=False)
        session.add(message)
        session.flush()
        session.add(
            Attachment(
                message_id=message.id,
                filename="photo.png",
                content_type="image/png",
                size=3,
                blob_sha256=attached,
            )
        )
    # An old mail of the closed case whose bytes are also a case attachment: the mail goes,
    # the file stays, since the attachment (a case record) still needs it.
    with db.transaction() as session:
        session.add(
            InboundMail(
                source="lmtp",
                sha256="f" * 64,
                blob_sha256=attached,
                received_at=utcnow() - timedelta(days=400),
                outcome="case",
                case_id=case_id,
            )
        )
    with db.transaction() as session:
        result = purge(session, 30)
    assert (result.inbound_mails, result.blobs) == (1, 1)
    assert _blob_ids(db) == {orphan_recent, attached}
    assert orphan_old not in _blob_ids(db)
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(Attachment)) == 1


def test_dry_run_counts_and_deletes_nothing(db, demo):
    closed = _case(db, "closed")
    _mail(db, age_days=200, case_id=closed)
    with db.transaction() as session:
        _blob(session, age_days=200)
    mails, blobs = _mail_ids(db), _blob_ids(db)
    with db.transaction() as session:
        result = purge(session, 30, dry_run=True)
    assert (result.inbound_mails, result.blobs, result.dry_run) == (1, 2, True)
    assert result.blob_bytes > 0
    assert "would delete 1 raw mail(s) and 2 unreferenced file(s)" in result.summary()
    assert (_mail_ids(db), _blob_ids(db)) == (mails, blobs)
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.action == "retention.purged")) == 0  # fmt: skip


def test_purge_command(db, demo, database_url, tmp_path):
    """``minyi purge --older-than DAYS [--dry-run]`` prints each raw mail and file it deletes
    (or would), without anything personal, then the counts."""
    closed = _case(db, "closed")
    mail_id = _mail(db, age_days=200, case_id=closed)
    with db.session() as session:
        number = session.get(Case, closed).tracking_number
        mail = session.get(InboundMail, mail_id)
        sha, received = mail.blob_sha256, f"{mail.received_at:%Y-%m-%d}"
    listed = [
        f"raw mail {mail_id} (lmtp, received {received}, case {number}, outcome case, ",
        f"file {sha} (stored {received}, ",
    ]
    env = {**os.environ, "DATABASE_URL": database_url, "SECRET_KEY": "purge-test"}

    def minyi(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [MINYI, "purge", *args], capture_output=True, text=True, cwd=tmp_path, env=env,
            timeout=120,
        )  # fmt: skip

    dry = minyi("--older-than", "30", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "would delete 1 raw mail(s) and 1 unreferenced file(s)" in dry.stdout
    lines = dry.stdout.splitlines()
    assert len(lines) == 3 and lines[2].startswith("would delete 1 raw mail(s)"), lines
    for line, item in zip(lines, listed, strict=False):
        assert line.startswith(f"would delete {item}"), lines
    assert len(_mail_ids(db)) == 1
    done = minyi("--older-than", "30")
    assert done.returncode == 0, done.stderr
    assert "deleted 1 raw mail(s) and 1 unreferenced file(s)" in done.stdout
    lines = done.stdout.splitlines()
    for line, item in zip(lines, listed, strict=False):
        assert line.startswith(f"deleted {item}"), lines
    assert _mail_ids(db) == set()
    refused = minyi("--older-than", "0")
    assert refused.returncode == 2
