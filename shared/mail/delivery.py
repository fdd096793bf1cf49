"""Delivering the outbox: claim due rows, send each once, record what happened.

Claiming is one UPDATE over the ids a sub-select picks: on PostgreSQL that sub-select is
``FOR UPDATE SKIP LOCKED``, so workers on several hosts never claim the same row; on SQLite
the UPDATE holds the database's write lock, so the claim is atomic there too. A claimed row
carries the claim's token; a worker that dies mid-send leaves its rows ``sending``, and they
are put back after ``lease`` (sent again: a mail may arrive twice, but none is lost).
"""

from __future__ import annotations

import os
import smtplib
import socket
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parseaddr
from pathlib import Path
from typing import Any, Protocol

import flask_mail
from sqlalchemy import select, update
from sqlalchemy.orm import Session, selectinload

from shared.db import Database, utcnow
from shared.models import OutboxEmail, OutboxState, StoredBlob


@dataclass(frozen=True)
class DeliveryPolicy:
    batch_size: int = 100
    max_attempts: int = 10
    first_delay: timedelta = timedelta(minutes=1)
    max_delay: timedelta = timedelta(hours=6)
    #: How long a claim may stay unfinished before the row is considered abandoned.
    lease: timedelta = timedelta(minutes=15)

    def delay_after(self, attempts: int) -> timedelta:
        """Exponential backoff: 1, 2, 4... minutes, at most ``max_delay``."""
        return min(self.first_delay * 2 ** max(attempts - 1, 0), self.max_delay)


class SendError(Exception):
    def __init__(self, message: str, *, permanent: bool) -> None:
        super().__init__(message)
        self.permanent = permanent


def classify(error: Exception) -> SendError:
    """A permanent failure (5xx for the message or its recipient) is not retried; anything
    else (network, timeout, 4xx, authentication) is."""
    if isinstance(error, SendError):
        return error
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _text in error.recipients.values()]
        details = "; ".join(f"{code} {_text_of(text)}" for code, text in error.recipients.values())
        return SendError(f"recipient refused: {details}", permanent=all(c >= 500 for c in codes))
    if isinstance(error, smtplib.SMTPAuthenticationError):
        return SendError(f"SMTP login failed: {error.smtp_code}", permanent=False)
    if isinstance(error, smtplib.SMTPResponseException):
        text = f"{error.smtp_code} {_text_of(error.smtp_error)}"
        return SendError(f"{type(error).__name__}: {text}", permanent=500 <= error.smtp_code < 600)
    if isinstance(error, socket.timeout | TimeoutError):
        return SendError("timed out talking to the mail server", permanent=False)
    return SendError(f"{type(error).__name__}: {error}", permanent=False)


def _text_of(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


# -- transports ---------------------------------------------------------------------------


class Transport(Protocol):
    def open(self) -> Any:
        """A context manager whose value has ``send(flask_mail.Message)``."""


class _TimeoutConnection(flask_mail.Connection):
    """flask-mail's connection with the connect and send timeout it lacks."""

    def __init__(self, mail, timeout: float) -> None:
        super().__init__(mail)
        self.timeout = timeout

    def configure_host(self) -> smtplib.SMTP:
        server, port = self.mail.server, self.mail.port
        if self.mail.use_ssl:
            host: smtplib.SMTP = smtplib.SMTP_SSL(server, port, timeout=self.timeout)
        else:
            host = smtplib.SMTP(server, port, timeout=self.timeout)
        if self.mail.use_tls:
            host.starttls()
        if self.mail.username and self.mail.password:
            host.login(self.mail.username, self.mail.password)
        return host

    def __exit__(self, *exc_info) -> None:
        if self.host is not None:
            with suppress(smtplib.SMTPException, OSError):  # the server may be gone already
                self.host.quit()
            self.host.close()


class SmtpTransport:
    def __init__(self, mail_state, timeout: float) -> None:
        self.mail_state = mail_state
        self.timeout = timeout

    def open(self) -> _TimeoutConnection:
        return _TimeoutConnection(self.mail_state, self.timeout)


class FileTransport:
    """Development: each mail becomes an ``.eml`` file in a folder instead of being sent."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)

    @contextmanager
    def open(self) -> Iterator[FileTransport]:
        self.folder.mkdir(parents=True, exist_ok=True)
        yield self

    def send(self, message: flask_mail.Message, envelope_from: str | None = None) -> None:
        data = message.as_bytes()
        stamp = time.strftime("%Y%m%d-%H%M%S")
        name = f"{stamp}-{uuid.uuid5(uuid.NAMESPACE_URL, message.msgId).hex[:12]}.eml"
        handle, temporary = tempfile.mkstemp(dir=self.folder, suffix=".tmp")
        with os.fdopen(handle, "wb") as file:
            file.write(data)
        os.replace(temporary, self.folder / name)  # a reader never sees half a file


def transport_for(app) -> Transport:
    config = app.config
    if config.get("MAIL_SERVER"):
        return SmtpTransport(app.extensions["mail"], float(config["MAIL_TIMEOUT"]))
    return FileTransport(config["MAIL_DIR"])


# -- the outbox ---------------------------------------------------------------------------


def claim_due(session: Session, token: str, now: datetime, limit: int) -> list[OutboxEmail]:
    due = (
        select(OutboxEmail.id)
        .where(OutboxEmail.state == OutboxState.PENDING, OutboxEmail.next_attempt_at <= now)
        .order_by(OutboxEmail.next_attempt_at, OutboxEmail.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    session.execute(
        update(OutboxEmail)
        .where(OutboxEmail.id.in_(due.scalar_subquery()), OutboxEmail.state == OutboxState.PENDING)
        .values(state=OutboxState.SENDING, claimed_by=token, claimed_at=now)
        .execution_options(synchronize_session=False)
    )
    return list(
        session.scalars(
            select(OutboxEmail)
            .where(OutboxEmail.claimed_by == token, OutboxEmail.state == OutboxState.SENDING)
            .options(selectinload(OutboxEmail.attachments))
            .order_by(OutboxEmail.id)
        )
    )


def release_abandoned(session: Session, now: datetime, policy: DeliveryPolicy) -> int:
    """Put back rows whose worker died while sending them."""
    result = session.execute(
        update(OutboxEmail)
        .where(
            OutboxEmail.state == OutboxState.SENDING,
            OutboxEmail.claimed_at < now - policy.lease,
        )
        .values(
            state=OutboxState.PENDING,
            claimed_by=None,
            attempts=OutboxEmail.attempts + 1,
            next_attempt_at=now,
            last_error="the worker stopped while sending; sending again",
        )
        .execution_options(synchronize_session=False)
    )
    return result.rowcount


def build_message(row: OutboxEmail, session: Session, sender: str) -> flask_mail.Message:
    headers = dict(row.headers or {})
    reply_to = headers.pop("Reply-To", None)
    message = flask_mail.Message(
        subject=row.subject,
        recipients=[row.to_addr],
        body=row.body_text,
        html=row.body_html,
        sender=sender,
        reply_to=reply_to,
        extra_headers=headers,
    )
    message.msgId = row.message_id  # fixed when the row was written; flask-mail's is @localhost
    for attachment in row.attachments:
        blob = session.get(StoredBlob, attachment.blob_sha256)
        message.attach(attachment.filename, attachment.content_type, blob.data)
    return message


@dataclass
class PassResult:
    sent: int = 0
    retried: int = 0
    failed: int = 0


class OutboxDelivery:
    """One worker's delivery of the outbox."""

    def __init__(
        self,
        database: Database,
        transport: Transport,
        settings: Mapping[str, Any],
        *,
        policy: DeliveryPolicy | None = None,
        worker_name: str | None = None,
    ) -> None:
        self.database = database
        self.transport = transport
        self.policy = policy or DeliveryPolicy()
        self.worker_name = worker_name or f"{socket.gethostname()}:{os.getpid()}"
        self.sender = settings["MAIL_DEFAULT_SENDER"]
        self.envelope_from = parseaddr(self.sender)[1]

    def deliver_due(self, now: datetime | None = None) -> PassResult:
        """Send everything due, batch by batch over one connection, until nothing due is left
        or the connection fails (the rest waits for the next pass).

        ``now`` fixes the clock (tests); by default each step reads it afresh.
        """
        clock = (lambda: now) if now else utcnow
        result = PassResult()
        with self.database.transaction() as session:
            release_abandoned(session, clock(), self.policy)
        with ExitStack() as connection_scope:
            connection = None
            while True:
                token = f"{self.worker_name}:{uuid.uuid4().hex[:12]}"
                with self.database.transaction() as session:
                    rows = claim_due(session, token, clock(), self.policy.batch_size)
                    batch = [
                        (row.id, row.attempts, build_message(row, session, self.sender))
                        for row in rows
                    ]
                if not batch:
                    return result
                outcomes: list[tuple[int, int, SendError | None]] = []
                try:
                    if connection is None:
                        connection = connection_scope.enter_context(self.transport.open())
                    self._send(connection, batch, outcomes)
                    broken = False
                except Exception as error:  # the connection failed, whatever the cause
                    failure = classify(error)
                    done = {row_id for row_id, _attempts, _failure in outcomes}
                    outcomes.extend((i, a, failure) for i, a, _m in batch if i not in done)
                    broken = True
                self._record(token, outcomes, clock(), result)
                if broken:
                    return result  # the rest stays due; the next pass tries again

    def _send(self, connection, batch: list, outcomes: list) -> None:
        for row_id, attempts, message in batch:
            try:
                connection.send(message, self.envelope_from)
            except _ANSWERED_FOR_THIS_MESSAGE as error:
                # The server refused this message; the connection is still usable.
                outcomes.append((row_id, attempts, classify(error)))
            else:
                outcomes.append((row_id, attempts, None))

    def _record(self, token: str, outcomes: list, now: datetime, result: PassResult) -> None:
        """Every outcome of a batch in one transaction (a worker killed before this leaves its
        rows to the lease: sent again, not lost)."""
        with self.database.transaction() as session:
            delivered = [row_id for row_id, _attempts, failure in outcomes if failure is None]
            if delivered:  # the common case: one statement for the whole batch
                session.execute(
                    update(OutboxEmail)
                    .where(OutboxEmail.id.in_(delivered), OutboxEmail.claimed_by == token)
                    .values(
                        state=OutboxState.SENT,
                        sent_at=now,
                        last_error=None,
                        attempts=OutboxEmail.attempts + 1,
                        claimed_by=None,
                    )
                    .execution_options(synchronize_session=False)
                )
                result.sent += len(delivered)
            for row_id, attempts, failure in outcomes:
                if failure is not None:
                    self._record_failure(session, token, row_id, attempts + 1, failure, now, result)

    def _record_failure(
        self,
        session: Session,
        token: str,
        row_id: int,
        attempts: int,
        failure: SendError,
        now: datetime,
        result: PassResult,
    ) -> None:
        if failure.permanent or attempts >= self.policy.max_attempts:
            values = {"state": OutboxState.FAILED}
            result.failed += 1
        else:
            values = {
                "state": OutboxState.PENDING,
                "next_attempt_at": now + self.policy.delay_after(attempts),
            }
            result.retried += 1
        session.execute(
            update(OutboxEmail)
            .where(OutboxEmail.id == row_id, OutboxEmail.claimed_by == token)
            .values(attempts=attempts, claimed_by=None, last_error=str(failure)[:2000], **values)
            .execution_options(synchronize_session=False)
        )


#: Refusals of one message that leave the SMTP session usable for the next.
_ANSWERED_FOR_THIS_MESSAGE = (
    smtplib.SMTPRecipientsRefused,
    smtplib.SMTPSenderRefused,
    smtplib.SMTPDataError,
)
