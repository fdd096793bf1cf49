"""``minyi fetch-mail``: the IMAP poller. It reads new mail from one folder of a mailbox
(a 163.com or 126.com account, or any IMAP server) and hands each mail to
:func:`shared.operations.mail_intake.receive_mail`.

What makes it safe to kill at any moment and to run again:

- Where it left off is a :class:`MailboxState` row (UIDVALIDITY and the last UID stored),
  advanced in the same transaction as the mail it records. A mail committed is never fetched
  again; a mail not committed is fetched again on the next pass.
- Mail is fetched with ``BODY.PEEK[]`` (nothing is marked read by fetching) and flagged
  ``\\Seen`` only after its transaction committed. A crash between the commit and the flag is
  repaired on the next pass: in the polled folder ``\\Seen`` means "stored by Minyi".
- Nothing is ever deleted or moved on the server.
- If the folder's UIDVALIDITY changed (the folder was recreated, or the server renumbered it),
  the whole folder is read again from UID 1; ``receive_mail`` recognises mail it already has
  by content hash, so nothing is stored twice.
- Only one poller works at a time: on PostgreSQL it holds an advisory lock on a connection of
  its own for as long as it runs; on SQLite an ``flock`` on ``VAR_DIR/fetch-mail.lock``.

163.com and 126.com refuse SELECT until the client has identified itself with the IMAP ``ID``
command (RFC 2971), so the poller sends ``ID`` after logging in, before selecting.

Logs carry counts and UIDs only, never addresses, subjects or contents.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import signal
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from imapclient import IMAPClient
from sqlalchemy import Connection, func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from shared.config import ConfigError
from shared.db import Database, run_with_retry
from shared.models import MailboxState
from shared.operations.mail_intake import MailResult, receive_mail

log = logging.getLogger("minyi.imap")
# imapclient logs the whole IMAP conversation at DEBUG, mail contents included: never ours.
logging.getLogger("imapclient").setLevel(logging.INFO)

#: UIDs asked for per round trip (sizes first, then the bodies).
BATCH_SIZE = 50
#: Bodies fetched in one round trip add up to at most this much (a single larger mail is
#: fetched alone), so a batch of large attachments does not fill the memory.
BATCH_BYTES = 32 * 1024 * 1024
#: Seconds an IMAP connection or read may take before it counts as lost.
IMAP_TIMEOUT = 60.0
#: Reconnecting after a failure: 1 s, doubling, at most 5 minutes.
FIRST_BACKOFF = 1.0
MAX_BACKOFF = 300.0
#: PostgreSQL advisory lock key held by the one running poller ("minyiIMA" as an int64).
ADVISORY_LOCK_KEY = int.from_bytes(b"minyiIMA", "big")
#: SQLite: the lock file, in VAR_DIR.
LOCK_FILE = "fetch-mail.lock"
#: Test hook, read only here: seconds to pause around each mail's commit, so that a test can
#: kill the poller in the middle of a batch. Half the pause is spent inside the mail's
#: transaction, half between its commit and its ``\\Seen`` flag. Unset in production.
SLOW_FETCH_ENV = "MINYI_TEST_SLOW_FETCH"

SEEN = b"\\Seen"
MAILBOX_KEY_LENGTH = 200  # MailboxState.mailbox and InboundMail.mailbox


class MailboxUnavailable(RuntimeError):
    """The IMAP server cannot be reached, refused the login, or broke off the conversation."""


@dataclass
class PassResult:
    """What one pass over the folder did."""

    #: Mails downloaded in this pass.
    fetched: int = 0
    #: Of those, mails that were new to the database.
    stored: int = 0
    #: Of those, mails the database already had (same content, or same mailbox/UID).
    duplicates: int = 0
    #: Mails stored by an earlier, interrupted pass that were flagged \\Seen only now.
    flagged_late: int = 0
    #: The folder's UIDVALIDITY had changed, so it was read again from UID 1.
    uidvalidity_changed: bool = False
    #: Another poller holds the lock; this pass did nothing.
    locked_out: bool = False


def mailbox_key(settings: Mapping[str, Any]) -> str:
    """The name under which a folder's position and its mails' origin are recorded:
    ``IMAP_USER@IMAP_HOST/IMAP_FOLDER`` (e.g. ``tongwei@163.com@imap.163.com/INBOX``).
    The port is left out on purpose: it does not change which mailbox this is."""
    key = f"{settings['IMAP_USER']}@{settings['IMAP_HOST']}/{settings['IMAP_FOLDER']}"
    if len(key) <= MAILBOX_KEY_LENGTH:
        return key
    digest = hashlib.sha256(key.encode()).hexdigest()
    return f"{key[: MAILBOX_KEY_LENGTH - len(digest) - 1]}#{digest}"


def check_settings(settings: Mapping[str, Any]) -> None:
    missing = [name for name in ("IMAP_HOST", "IMAP_USER", "IMAP_PASSWORD") if not settings[name]]
    if missing:
        raise ConfigError(f"fetch-mail needs {', '.join(missing)}")


# -- one poller at a time ---------------------------------------------------------------------


class PollerLock:
    """Whether this process is the one poller, and whether it still is."""

    def __init__(self, held: bool, connection: Connection | None = None) -> None:
        self.held = held
        self._connection = connection

    def still_held(self) -> bool:
        """False when the PostgreSQL session holding the lock is gone (the database restarted):
        the lock went with it and another poller may have taken it."""
        if self._connection is None:
            return self.held
        try:
            self._connection.exec_driver_sql("SELECT 1")
        except SQLAlchemyError:
            return False
        return True


@contextmanager
def poller_lock(database: Database, settings: Mapping[str, Any]) -> Iterator[PollerLock]:
    """Take the poller lock without waiting; ``.held`` says whether it was obtained."""
    if database.dialect == "postgresql":
        with _advisory_lock(database) as lock:
            yield lock
    else:
        with _file_lock(Path(settings["VAR_DIR"]) / LOCK_FILE) as lock:
            yield lock


@contextmanager
def _advisory_lock(database: Database) -> Iterator[PollerLock]:
    # A session-level lock on a connection of its own, in autocommit so that the connection
    # sits idle (not "idle in transaction") while the poller runs. It is released by
    # pg_advisory_unlock, or by PostgreSQL when the process dies and the connection drops.
    connection = database.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
    try:
        held = bool(connection.scalar(select(func.pg_try_advisory_lock(ADVISORY_LOCK_KEY))))
        try:
            yield PollerLock(held, connection)
        finally:
            if held:
                try:
                    connection.scalar(select(func.pg_advisory_unlock(ADVISORY_LOCK_KEY)))
                except SQLAlchemyError:
                    connection.invalidate()  # the session (and its lock) is gone anyway
    finally:
        connection.close()


@contextmanager
def _file_lock(path: Path) -> Iterator[PollerLock]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield PollerLock(False)
            return
        try:
            yield PollerLock(True)
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# -- the poller -------------------------------------------------------------------------------


class MailboxPoller:
    """One IMAP connection to one folder, kept open between passes and reopened after a
    failure. The caller holds the poller lock."""

    def __init__(
        self,
        database: Database,
        settings: Mapping[str, Any],
        *,
        stopping: threading.Event | None = None,
        batch_size: int = BATCH_SIZE,
    ) -> None:
        check_settings(settings)
        self.database = database
        self.settings = settings
        self.key = mailbox_key(settings)
        self.stopping = stopping or threading.Event()
        self.batch_size = batch_size
        self._client: IMAPClient | None = None

    # The conversation ------------------------------------------------------------------------

    @contextmanager
    def _talking(self) -> Iterator[IMAPClient]:
        """The connected client; any network or protocol failure inside becomes
        :class:`MailboxUnavailable` and drops the connection."""
        try:
            if self._client is None:
                self._client = self._connect()
            yield self._client
        except (OSError, IMAPClient.Error) as error:
            self.close()
            raise MailboxUnavailable(f"{type(error).__name__}: {error}") from error

    def _connect(self) -> IMAPClient:
        settings = self.settings
        client = IMAPClient(
            settings["IMAP_HOST"],
            port=settings["IMAP_PORT"],
            ssl=settings["IMAP_SSL"],
            timeout=settings.get("IMAP_TIMEOUT", IMAP_TIMEOUT),
        )
        try:
            client.login(settings["IMAP_USER"], settings["IMAP_PASSWORD"])
            identify(client)
        except BaseException:
            _shutdown(client)
            raise
        log.info("connected to the IMAP server")
        return client

    def close(self) -> None:
        """Log out (politely if possible); the next pass connects again."""
        client, self._client = self._client, None
        if client is None:
            return
        try:
            client.logout()
        except (OSError, IMAPClient.Error):
            _shutdown(client)

    # One pass --------------------------------------------------------------------------------

    def poll(self) -> PassResult:
        """Store every mail that arrived since the last pass, then flag it \\Seen."""
        result = PassResult()
        folder = self.settings["IMAP_FOLDER"]
        with self._talking() as client:
            selected = client.select_folder(folder, readonly=False)
        uidvalidity = int(selected[b"UIDVALIDITY"])
        last_uid, result.uidvalidity_changed = self._position(uidvalidity)

        with self._talking() as client:
            if last_uid:
                result.flagged_late = self._flag_stored_but_unseen(client, last_uid)
            # "N:*" always matches the highest UID, even one below N: filter again.
            new_uids = sorted(client.search(["UID", f"{last_uid + 1}:*"]))
        new_uids = [uid for uid in new_uids if uid > last_uid]

        for start in range(0, len(new_uids), self.batch_size):
            if self.stopping.is_set():
                break
            self._fetch_batch(new_uids[start : start + self.batch_size], uidvalidity, result)

        if result.fetched or result.flagged_late or result.uidvalidity_changed:
            log.info(
                "fetched %s mail(s): %s new, %s already stored; %s flagged seen late",
                result.fetched,
                result.stored,
                result.duplicates,
                result.flagged_late,
            )
        return result

    def _position(self, uidvalidity: int) -> tuple[int, bool]:
        """The last UID stored under this UIDVALIDITY (0 for none), and whether it changed."""
        with self.database.transaction() as session:
            state = session.scalar(select(MailboxState).where(MailboxState.mailbox == self.key))
            if state is None:
                session.add(MailboxState(mailbox=self.key, uidvalidity=uidvalidity, last_uid=0))
                return 0, False
            if state.uidvalidity != uidvalidity:
                log.warning(
                    "UIDVALIDITY changed from %s to %s: reading the folder again from UID 1 "
                    "(mail already stored is recognised by its content)",
                    state.uidvalidity,
                    uidvalidity,
                )
                state.uidvalidity, state.last_uid = uidvalidity, 0
                return 0, True
            return state.last_uid, False

    def _flag_stored_but_unseen(self, client: IMAPClient, last_uid: int) -> int:
        """Flag \\Seen the mails a killed pass stored but did not get to flag."""
        unseen = client.search(["UNSEEN", "UID", f"1:{last_uid}"])
        unseen = [uid for uid in unseen if uid <= last_uid]
        if unseen:
            client.add_flags(unseen, [SEEN], silent=True)
            log.info(
                "flagged seen %s mail(s) stored by an interrupted pass (UIDs %s)",
                len(unseen),
                _uid_list(unseen),
            )
        return len(unseen)

    def _fetch_batch(self, uids: Sequence[int], uidvalidity: int, result: PassResult) -> None:
        with self._talking() as client:
            sizes = client.fetch(uids, ["RFC822.SIZE"])
        present = [uid for uid in uids if uid in sizes]  # others were expunged meanwhile
        for chunk in _chunks_by_size(
            present, {u: sizes[u].get(b"RFC822.SIZE", 0) for u in present}
        ):
            with self._talking() as client:
                bodies = client.fetch(chunk, ["BODY.PEEK[]"])
            for uid in chunk:
                if self.stopping.is_set():
                    return
                raw = bodies.get(uid, {}).get(b"BODY[]")
                if raw is None:
                    log.warning("UID %s disappeared before it could be fetched", uid)
                    continue
                self._store(uid, uidvalidity, raw, result)

    def _store(self, uid: int, uidvalidity: int, raw: bytes, result: PassResult) -> None:
        """One mail: stored and the position advanced in one transaction; then \\Seen."""
        pause = _test_pause()

        def store(session: Session) -> MailResult:
            stored = receive_mail(
                session,
                raw,
                settings=self.settings,
                source="imap",
                mailbox=self.key,
                uidvalidity=uidvalidity,
                uid=uid,
            )
            state = session.scalar(select(MailboxState).where(MailboxState.mailbox == self.key))
            if state is None or state.uidvalidity != uidvalidity:
                raise RuntimeError("the mailbox position changed under the poller")
            state.last_uid = max(state.last_uid, uid)
            if pause:
                time.sleep(pause / 2)
            return stored

        # The same mail may arrive at the same moment by LMTP or import-mail; if that
        # transaction wins the race on the content hash, the retry answers from its row.
        stored = run_with_retry(self.database, store)
        result.fetched += 1
        if stored.duplicate:
            result.duplicates += 1
        else:
            result.stored += 1
        log.debug("UID %s stored (%s)", uid, stored.outcome)
        if pause:
            time.sleep(pause / 2)
        with self._talking() as client:
            client.add_flags([uid], [SEEN], silent=True)


def identify(client: IMAPClient) -> None:
    """Send the IMAP ID command, which 163.com and 126.com require before SELECT. A server
    that does not offer ID (or refuses it) is not 163.com: carry on without."""
    if not client.has_capability("ID"):
        log.info("the IMAP server does not support the ID command; not sending it")
        return
    try:
        client.id_({"name": "Minyi", "version": _version(), "vendor": "Minyi"})
    except IMAPClient.AbortError:
        raise
    except IMAPClient.Error as error:
        log.warning("the IMAP server refused the ID command (%s); carrying on", error)


def _version() -> str:
    try:
        return metadata.version("minyi")
    except metadata.PackageNotFoundError:  # pragma: no cover - run from a bare checkout
        return "dev"


def _shutdown(client: IMAPClient) -> None:
    with suppress(OSError):
        client.shutdown()


def _uid_list(uids: Sequence[int], limit: int = 20) -> str:
    shown = ", ".join(str(uid) for uid in uids[:limit])
    return shown + (f" and {len(uids) - limit} more" if len(uids) > limit else "")


def describe_database_error(error: SQLAlchemyError) -> str:
    """What went wrong, without SQLAlchemy's message: it quotes the statement's parameters,
    which may hold a citizen's mail."""
    original = getattr(error, "orig", None)
    if original is None:
        return type(error).__name__
    return f"{type(error).__name__} ({type(original).__name__})"


def _chunks_by_size(uids: Sequence[int], sizes: Mapping[int, int]) -> Iterator[list[int]]:
    chunk: list[int] = []
    total = 0
    for uid in uids:
        size = int(sizes.get(uid) or 0)
        if chunk and total + size > BATCH_BYTES:
            yield chunk
            chunk, total = [], 0
        chunk.append(uid)
        total += size
    if chunk:
        yield chunk


def _test_pause() -> float:
    value = os.environ.get(SLOW_FETCH_ENV)
    return float(value) if value else 0.0


# -- entry points -----------------------------------------------------------------------------


def fetch_once(database: Database, settings: Mapping[str, Any]) -> PassResult:
    """One pass, as ``minyi fetch-mail --once``: take the lock (or return ``locked_out``),
    connect, store the new mail, log out. Raises :class:`MailboxUnavailable` when the server
    cannot be reached or refuses the login."""
    check_settings(settings)
    with poller_lock(database, settings) as lock:
        if not lock.held:
            log.info("another poller is running; this one does nothing")
            return PassResult(locked_out=True)
        poller = MailboxPoller(database, settings)
        try:
            return poller.poll()
        finally:
            poller.close()


def run_forever(
    database: Database,
    settings: Mapping[str, Any],
    *,
    interval: float = 60.0,
    stopping: threading.Event | None = None,
) -> None:
    """Pass after pass until SIGTERM or SIGINT (the mail in hand is finished first). A lost
    IMAP server or database is retried after 1 s, 2 s, 4 s ... at most 5 minutes; while
    another poller holds the lock, this one waits and asks again every ``interval``."""
    check_settings(settings)
    if stopping is None:
        stopping = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stopping.set())
    backoff = _Backoff()
    while not stopping.is_set():
        try:
            with poller_lock(database, settings) as lock:
                if not lock.held:
                    log.info("another poller is running; asking again in %s s", interval)
                    stopping.wait(interval)
                    continue
                _poll_while_locked(database, settings, lock, interval, stopping, backoff)
        except SQLAlchemyError as error:
            wait = backoff.next()
            log.warning(
                "database unavailable (%s); retrying in %s s", describe_database_error(error), wait
            )
            stopping.wait(wait)


def _poll_while_locked(database, settings, lock, interval, stopping, backoff) -> None:
    poller = MailboxPoller(database, settings, stopping=stopping)
    try:
        while not stopping.is_set():
            if not lock.still_held():
                log.warning("lost the database connection holding the poller lock")
                stopping.wait(backoff.next())
                return  # take the lock again, or find that another poller has it
            try:
                poller.poll()
            except MailboxUnavailable as error:
                wait = backoff.next()
                log.warning("IMAP server unavailable (%s); retrying in %s s", error, wait)
                stopping.wait(wait)
                continue
            backoff.reset()
            stopping.wait(interval)
    finally:
        poller.close()


class _Backoff:
    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self._next = FIRST_BACKOFF

    def next(self) -> float:
        wait, self._next = self._next, min(self._next * 2, MAX_BACKOFF)
        return wait
