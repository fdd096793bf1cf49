"""``minyi lmtp``: the LMTP receiver the mail server (Postfix, Exim...) hands our mail to.

Reject early, accept late, as GNU Mailman's LMTP runner does:

- RCPT: an address that is not ours (the intake address, or a case's reply address) is
  refused there and then with ``550 5.1.1``. If the database cannot say, ``451 4.3.0``: the
  mail server asks again later instead of bouncing a citizen's mail for our outage.
- Larger than MAX_MESSAGE_BYTES: aiosmtpd advertises SIZE and answers ``552``, at MAIL FROM
  when the sender declares the size, otherwise at the end of DATA.
- DATA: the bytes, exactly as received, go to :func:`deliver`, a plain synchronous function
  that stores them with :func:`~shared.operations.mail_intake.receive_mail` in one transaction,
  on a worker thread so the event loop keeps serving the other connections. ``250`` only after
  the commit; on any failure ``451``, and the mail server retries. ``receive_mail`` knows a mail
  it has stored before, so a retry after a lost ``250`` stores nothing twice.

LMTP (RFC 2033 §4.2) answers DATA once per accepted recipient, where SMTP answers once.
aiosmtpd 1.4.6 sends a single line whatever the number of recipients, which leaves a mail
server with several recipients waiting for the rest, so :class:`LMTPServer` repeats the answer
for each. The mail is stored once, however many of our addresses it was sent to.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import signal
import socket
import traceback
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from aiosmtpd.lmtp import LMTP
from aiosmtpd.smtp import SMTP, Envelope, Session

from shared.db import Database, run_with_retry
from shared.operations.mail_intake import MailResult, accepts_recipient, receive_mail

log = logging.getLogger(__name__)

RECIPIENT_OK = "250 2.1.5 OK"
NO_SUCH_USER = "550 5.1.1 No such user here"
TRY_AGAIN_LATER = "451 4.3.0 Temporary failure, try again later"
LOCAL_ERROR = "451 4.3.0 Requested action aborted: local error in processing"
SHUTTING_DOWN = "421 4.3.2 Service shutting down"

#: Seconds that a mail still being received when the service is told to stop has to finish.
SHUTDOWN_GRACE = 30.0

#: Where our code is, to say where an error happened: the innermost frame in one of these.
_PROJECT = Path(__file__).resolve().parents[2]
_OUR_PACKAGES = {"shared", "intake", "responder"}


class ListenError(RuntimeError):
    """The address to listen on is taken, or not ours to bind."""


def deliver(
    database: Database,
    settings: Mapping[str, Any],
    raw: bytes,
    *,
    envelope_from: str | None,
    envelope_to: Sequence[str],
) -> MailResult:
    """Store one mail in one transaction; return only once it is committed. Raises when it
    could not be stored, and then the sender must not be told that it was."""

    def work(session):
        return receive_mail(
            session,
            raw,
            settings=settings,
            source="lmtp",
            envelope_from=envelope_from,
            envelope_to=envelope_to,
        )

    # A retry of the same mail racing the first delivery loses on the unique hash; run again,
    # it finds the winner's row and answers from it.
    return run_with_retry(database, work)


class LMTPHandler:
    """aiosmtpd's hooks: whether a recipient is ours, and storing the mail."""

    def __init__(self, database: Database, settings: Mapping[str, Any]) -> None:
        self.database = database
        self.settings = settings

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        loop = asyncio.get_running_loop()
        try:
            ours = await loop.run_in_executor(None, self._is_ours, address)
        except Exception as error:  # the database is down, or busy beyond its timeout
            log.warning("recipient not checked, answered 451: %s", _describe(error))
            return TRY_AGAIN_LATER
        if not ours:
            return NO_SUCH_USER
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return RECIPIENT_OK

    def _is_ours(self, address: str) -> bool:
        with self.database.session() as session:  # read only: closed without a commit
            return accepts_recipient(session, address, self.settings)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        """Store the mail; the answer goes to every accepted recipient (see LMTPServer)."""
        raw = envelope.original_content or b""
        store = functools.partial(
            deliver,
            self.database,
            self.settings,
            raw,
            envelope_from=_reverse_path(envelope.mail_from),
            envelope_to=list(envelope.rcpt_tos),
        )
        try:
            result = await asyncio.get_running_loop().run_in_executor(None, store)
        except Exception as error:  # database down, disk full, a bug: the sender retries
            log.error("mail of %d bytes not stored, answered 451: %s", len(raw), _describe(error))
            return LOCAL_ERROR
        if result.duplicate:
            log.info("mail %s was stored before (%s)", result.inbound.id, result.outcome)
            return f"250 2.0.0 OK: already queued as {result.inbound.id}"
        log.info("mail %s stored (%s)", result.inbound.id, result.outcome)
        return f"250 2.0.0 OK: queued as {result.inbound.id}"

    async def handle_exception(self, error: Exception) -> str:
        """Anything else that fails in the conversation: a 4xx (aiosmtpd's own answer would be
        a permanent 500 quoting the error's message)."""
        log.error("LMTP command failed, answered 451: %s", _describe(error))
        return LOCAL_ERROR


class LMTPServer(LMTP):
    """One LMTP conversation: aiosmtpd's, plus one answer to DATA per accepted recipient
    (RFC 2033 §4.2), and a way to hang up between mails when the service stops."""

    def __init__(self, handler: LMTPHandler, *, connections: set[LMTPServer], **options) -> None:
        super().__init__(handler, **options)
        self._connections = connections
        self._in_data = False
        #: How many times the next answer is to be sent: the recipients of the mail just read.
        self._answers_due = 0
        self._closing = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self._connections.add(self)

    def connection_lost(self, error: Exception | None) -> None:
        self._connections.discard(self)
        super().connection_lost(error)

    async def smtp_DATA(self, arg: str) -> None:
        self._in_data = True
        try:
            await super().smtp_DATA(arg)
        finally:
            self._in_data = False
            if self._closing:
                self._hang_up()

    async def push(self, status: str) -> None:
        if self._answers_due:
            # The answer to the mail's data (stored, 451, or aiosmtpd's own 552 and 500).
            status = "\r\n".join([status] * self._answers_due)
            self._answers_due = 0
        await super().push(status)
        if self._in_data and status.startswith("354") and self.envelope is not None:
            self._answers_due = len(self.envelope.rcpt_tos)

    def close_when_idle(self) -> None:
        """Hang up now, or after the mail being received has been answered."""
        self._closing = True
        if not self._in_data:
            self._hang_up()

    def _hang_up(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(f"{SHUTTING_DOWN}\r\n".encode("ascii"))
            self.transport.close()


async def run(
    database: Database,
    settings: Mapping[str, Any],
    host: str,
    port: int,
    stopping: asyncio.Event,
    *,
    listening: Callable[[int], None] | None = None,
    grace: float = SHUTDOWN_GRACE,
) -> None:
    """Receive mail on ``host:port`` until ``stopping`` is set; then take no new connections,
    let each mail being received finish (for up to ``grace`` seconds) and hang up.
    ``listening`` is called with the port once connections are taken (useful with port 0)."""
    loop = asyncio.get_running_loop()
    handler = LMTPHandler(database, settings)
    connections: set[LMTPServer] = set()
    hostname = socket.gethostname()  # once: aiosmtpd would look up the FQDN per connection

    def conversation() -> LMTPServer:
        return LMTPServer(
            handler,
            connections=connections,
            data_size_limit=settings["MAX_MESSAGE_BYTES"],
            enable_SMTPUTF8=True,  # Chinese addresses and raw UTF-8 headers are accepted
            hostname=hostname,
            ident="Minyi LMTP",
            loop=loop,
        )

    try:
        server = await loop.create_server(conversation, host, port)
    except OSError as error:
        raise ListenError(f"cannot listen on {host}:{port}: {error.strerror}") from error
    bound_port = server.sockets[0].getsockname()[1]
    log.info("receiving mail over LMTP on %s:%s", host, bound_port)
    if listening is not None:
        listening(bound_port)
    try:
        await stopping.wait()
    finally:
        server.close()
        deadline = loop.time() + grace
        while connections and loop.time() < deadline:
            for connection in list(connections):  # again: one may have come in meanwhile
                connection.close_when_idle()
            await asyncio.sleep(0.05)
        for connection in list(connections):
            if connection.transport is not None:
                connection.transport.abort()
        await server.wait_closed()
        log.info("LMTP receiver stopped")


def serve(settings: Mapping[str, Any], host: str, port: int) -> None:
    """Receive mail on ``host:port`` until SIGTERM or SIGINT, then stop cleanly."""
    # aiosmtpd logs each command at INFO (addresses) and DEBUG (the mail): warnings only.
    logging.getLogger("mail.log").setLevel(logging.WARNING)
    database = settings.get("DATABASE") or Database(settings["DATABASE_URL"])

    async def until_signalled() -> None:
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stopping.set)
        await run(database, settings, host, port, stopping)

    try:
        asyncio.run(until_signalled())
    finally:
        if database is not settings.get("DATABASE"):
            database.dispose()


def _reverse_path(mail_from: str | None) -> str | None:
    """The envelope sender; a bounce's null reverse path ``<>`` as the empty string."""
    return "" if mail_from == "<>" else mail_from


def _describe(error: BaseException) -> str:
    """The error's type and where in our code it was raised, not its message: database
    errors quote the SQL parameters, which hold addresses and the mail itself."""
    where = ""
    for frame in reversed(traceback.extract_tb(error.__traceback__)):
        path = Path(frame.filename)
        if path.is_relative_to(_PROJECT) and path.relative_to(_PROJECT).parts[0] in _OUR_PACKAGES:
            where = f" in {path.relative_to(_PROJECT)}:{frame.lineno} ({frame.name})"
            break
    return f"{type(error).__module__}.{type(error).__qualname__}{where}"
