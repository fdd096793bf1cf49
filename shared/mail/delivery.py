"""Delivering the outbox: claim due rows, send each once, record what happened.

Claiming is one UPDATE over the ids a CTE picks: on PostgreSQL that CTE is
``FOR UPDATE SKIP LOCKED``, so workers on several hosts never claim the same row; on SQLite
the UPDATE holds the database's write lock, so the claim is atomic there too. A claimed row
carries the claim's token and time. Each mail's outcome is committed as soon as the server
has answered for it, so a worker that dies mid-batch leaves at most the mail in flight
unrecorded. Its claimed rows stay ``sending`` until the lease (``OUTBOX_LEASE_SECONDS``)
has passed since the claim was last renewed, and are then put back (the one in flight may
arrive twice; none is lost). A worker renews its claim while it works through a batch, so a
slow mail server never makes a live batch look abandoned.
"""

from __future__ import annotations

import logging
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
from sqlalchemy import Connection, func, select, update
from sqlalchemy.orm import Session, selectinload

from shared.db import Database, utcnow
from shared.models import OutboxEmail, OutboxState, StoredBlob

log = logging.getLogger("minyi.outbox")


@dataclass(frozen=True)
class DeliveryPolicy:
    #: Rows claimed at a time: after a kill, the unsent rest of a batch waits for the lease.
    batch_size: int = 20
    max_attempts: int = 10
    first_delay: timedelta = timedelta(minutes=1)
    max_delay: timedelta = timedelta(hours=6)
    #: How long a claim lasts without renewal before its rows count as abandoned
    #: (``OUTBOX_LEASE_SECONDS``). A working worker renews it after a quarter of it.
    lease: timedelta = timedelta(minutes=15)

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> DeliveryPolicy:
        return cls(lease=timedelta(seconds=settings["OUTBOX_LEASE_SECONDS"]))

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
    # A CTE, not a sub-select: PostgreSQL may run a sub-select under IN once per row it
    # updates, each run locking ``limit`` more rows, so that one claim took every due row. A
    # CTE that locks rows is run once.
    due = (
        select(OutboxEmail.id)
        .where(OutboxEmail.state == OutboxState.PENDING, OutboxEmail.next_attempt_at <= now)
        .order_by(OutboxEmail.next_attempt_at, OutboxEmail.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
        .cte("due")
    )
    session.execute(
        update(OutboxEmail)
        .where(OutboxEmail.id.in_(select(due.c.id)), OutboxEmail.state == OutboxState.PENDING)
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


def renew_claim(connection: Connection, token: str, now: datetime) -> set[int]:
    """Start the lease of the rows still claimed with ``token`` again; their ids (a row whose
    lease had passed may have been put back and taken by another worker meanwhile)."""
    return set(
        connection.scalars(
            update(OutboxEmail)
            .where(OutboxEmail.claimed_by == token, OutboxEmail.state == OutboxState.SENDING)
            .values(claimed_at=now)
            .returning(OutboxEmail.id)
        )
    )


def release_abandoned(session: Session, now: datetime, policy: DeliveryPolicy) -> int:
    """Put back rows whose worker stopped while sending them (its claim was not renewed
    within the lease), saying so in the log."""
    abandoned = (
        OutboxEmail.state == OutboxState.SENDING,
        OutboxEmail.claimed_at < now - policy.lease,
    )
    claims = session.execute(
        select(OutboxEmail.claimed_by, func.count(), func.min(OutboxEmail.claimed_at))
        .where(*abandoned)
        .group_by(OutboxEmail.claimed_by)
    ).all()
    if not claims:
        return 0
    released = session.execute(
        update(OutboxEmail)
        .where(*abandoned)
        .values(
            state=OutboxState.PENDING,
            claimed_by=None,
            attempts=OutboxEmail.attempts + 1,
            next_attempt_at=now,
            last_error="the worker stopped while sending; sending again",
        )
        .execution_options(synchronize_session=False)
    ).rowcount
    for claimed_by, count, claimed_at in claims:
        log.warning(
            "outbox: %s mail(s) claimed by %s at %s were not finished within the lease "
            "(%s s): the worker stopped; they are sent again, and the one it was sending "
            "may arrive twice",
            count,
            claimed_by,
            f"{claimed_at:%Y-%m-%d %H:%M:%S} UTC",
            int(policy.lease.total_seconds()),
        )
    return released


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
        self.policy = policy or DeliveryPolicy.from_settings(settings)
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
        with ExitStack() as scope:
            outcomes = connection = None
            while True:
                token = f"{self.worker_name}:{uuid.uuid4().hex[:12]}"
                with self.database.transaction() as session:
                    renewed_at = clock()
                    rows = claim_due(session, token, renewed_at, self.policy.batch_size)
                    batch = [
                        (row.id, row.attempts, build_message(row, session, self.sender))
                        for row in rows
                    ]
                if not batch:
                    return result
                if outcomes is None:
                    # Each outcome is committed as soon as it is known, without waiting for
                    # the disk: a crash of the database server itself (not of this worker)
                    # could forget the last ones, whose mails the lease then sends again;
                    # waiting would cost a disk flush per mail.
                    outcomes = scope.enter_context(self.database.autocommit(wait_for_disk=False))
                held = {row_id for row_id, _attempts, _message in batch}
                for position, (row_id, attempts, message) in enumerate(batch):
                    if clock() - renewed_at >= self.policy.lease / 4:
                        renewed_at = clock()
                        held = renew_claim(outcomes, token, renewed_at)
                    if row_id not in held:
                        continue  # its lease had passed, and another worker took it over
                    try:
                        if connection is None:
                            connection = scope.enter_context(self.transport.open())
                        connection.send(message, self.envelope_from)
                    except _ANSWERED_FOR_THIS_MESSAGE as error:
                        # The server refused this message; the connection is still usable.
                        outcome: SendError | None = classify(error)
                    except Exception as error:  # the connection failed, whatever the cause
                        unsent = [(i, a) for i, a, _message in batch[position:]]
                        self._record(outcomes, token, unsent, classify(error), clock(), result)
                        return result  # the rest stays due; the next pass tries again
                    else:
                        outcome = None
                    self._record(outcomes, token, [(row_id, attempts)], outcome, clock(), result)

    def _record(
        self,
        outcomes: Connection,
        token: str,
        rows: list[tuple[int, int]],
        failure: SendError | None,
        now: datetime,
        result: PassResult,
    ) -> None:
        """The outcome of ``rows`` (id, attempts before this one), each committed at once: a
        worker killed after this does not send them again."""
        for row_id, attempts in rows:
            if failure is None:
                values = {"state": OutboxState.SENT, "sent_at": now, "last_error": None}
                result.sent += 1
            elif failure.permanent or attempts + 1 >= self.policy.max_attempts:
                values = {"state": OutboxState.FAILED, "last_error": str(failure)[:2000]}
                result.failed += 1
            else:
                values = {
                    "state": OutboxState.PENDING,
                    "next_attempt_at": now + self.policy.delay_after(attempts + 1),
                    "last_error": str(failure)[:2000],
                }
                result.retried += 1
            recorded = outcomes.execute(
                update(OutboxEmail)
                .where(OutboxEmail.id == row_id, OutboxEmail.claimed_by == token)
                .values(attempts=attempts + 1, claimed_by=None, **values)
            ).rowcount
            if not recorded and failure is None:
                log.warning(
                    "outbox: mail %s was delivered after its claim had passed to another "
                    "worker; it may arrive twice",
                    row_id,
                )


#: Refusals of one message that leave the SMTP session usable for the next.
_ANSWERED_FOR_THIS_MESSAGE = (
    smtplib.SMTPRecipientsRefused,
    smtplib.SMTPSenderRefused,
    smtplib.SMTPDataError,
)
