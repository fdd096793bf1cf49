"""The IMAP poller (``minyi fetch-mail``) against a real private Dovecot on loopback."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from intake.inbound import imap
from shared.config import load_settings
from shared.models import Case, InboundMail, MailboxState, MailOutcome
from tests.dovecot import (
    Dovecot,
    IdRequiredProxy,
    dovecot_fixture,  # noqa: F401 (the "dovecot" fixture)
)
from tests.mailfactory import citizen_mail
from tests.mailservers import free_port

MINYI = str(Path(sys.executable).with_name("minyi"))
_folders = itertools.count(1)


class Mailbox:
    """One fresh folder of the test user in Dovecot, and the poller's settings for it."""

    def __init__(self, server: Dovecot, folder: str, database_url: str, var_dir: Path) -> None:
        self.server = server
        self.folder = folder
        self.database_url = database_url
        self.var_dir = var_dir
        self.sent = 0

    def settings(self, **overrides) -> dict:
        return load_settings(
            {
                "DATABASE_URL": self.database_url,
                "VAR_DIR": str(self.var_dir),
                "SECRET_KEY": "imap-test",
                **self.server.settings(self.folder),
                **overrides,
            }
        )

    def environment(self, **extra: str) -> dict[str, str]:
        return {
            **os.environ,
            "DATABASE_URL": self.database_url,
            "VAR_DIR": str(self.var_dir),
            "SECRET_KEY": "imap-test",
            **self.server.environment(self.folder),
            **extra,
        }

    def append(self, count: int = 1) -> list[bytes]:
        """Deliver ``count`` new citizen mails into the folder; returns their bytes."""
        mails = []
        for _ in range(count):
            self.sent += 1
            mails.append(citizen_mail(self.sent))
        self.append_raw(mails)
        return mails

    def append_raw(self, mails: list[bytes]) -> None:
        with self.server.client() as client:
            for raw in mails:
                client.append(self.folder, raw)

    def flags(self) -> dict[int, tuple[bytes, ...]]:
        """UID → flags of every mail in the folder, as the server has them now."""
        with self.server.client() as client:
            client.select_folder(self.folder, readonly=True)
            return client.get_flags(client.search("ALL"))

    def uidvalidity(self) -> int:
        with self.server.client() as client:
            return client.folder_status(self.folder, [b"UIDVALIDITY"])[b"UIDVALIDITY"]

    def recreate(self) -> None:
        """Delete the folder and make it again: the server gives it a new UIDVALIDITY."""
        with self.server.client() as client:
            client.delete_folder(self.folder)
            client.create_folder(self.folder)

    def fetch_mail(self, *args: str, **env: str) -> subprocess.CompletedProcess:
        """``minyi fetch-mail ARGS`` as a process, as systemd or cron would run it."""
        return subprocess.run(
            [MINYI, "fetch-mail", *args],
            env=self.environment(**env),
            cwd=self.var_dir.parent,
            capture_output=True,
            text=True,
            timeout=120,
        )

    def spawn(self, *args: str, **env: str) -> subprocess.Popen:
        log = (self.var_dir.parent / "poller.log").open("a")
        try:
            return subprocess.Popen(
                [MINYI, "fetch-mail", *args],
                env=self.environment(**env),
                cwd=self.var_dir.parent,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        finally:
            log.close()


@pytest.fixture
def mailbox(dovecot, db, demo, database_url, tmp_path) -> Mailbox:
    folder = f"Feedback{next(_folders)}"
    with dovecot.client() as client:
        client.create_folder(folder)
    (tmp_path / "var").mkdir()
    return Mailbox(dovecot, folder, database_url, tmp_path / "var")


def stored(db) -> list[InboundMail]:
    with db.session() as session:
        return list(session.scalars(select(InboundMail).order_by(InboundMail.uid)))


def count_stored(db) -> int:
    with db.session() as session:
        return session.scalar(select(func.count()).select_from(InboundMail))


def state_of(db, mailbox: Mailbox) -> MailboxState | None:
    key = imap.mailbox_key(mailbox.settings())
    with db.session() as session:
        return session.scalar(select(MailboxState).where(MailboxState.mailbox == key))


def wait_for(condition, timeout: float = 30, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def all_seen(flags: dict[int, tuple[bytes, ...]]) -> bool:
    return all(b"\\Seen" in item for item in flags.values())


# -- fetching ----------------------------------------------------------------------------------


def test_three_mails_become_cases_and_are_flagged_seen_not_deleted(db, mailbox):
    """Each new mail is stored with its mailbox/UIDVALIDITY/UID, opens a case, and is then
    flagged \\Seen on the server, where it stays."""
    mailbox.append(3)
    assert not any(b"\\Seen" in item for item in mailbox.flags().values())

    result = imap.fetch_once(db, mailbox.settings())

    assert (result.fetched, result.stored, result.duplicates) == (3, 3, 0)
    rows = stored(db)
    key = imap.mailbox_key(mailbox.settings())
    assert [(row.mailbox, row.uidvalidity, row.uid) for row in rows] == [
        (key, mailbox.uidvalidity(), uid) for uid in (1, 2, 3)
    ]
    assert {row.source for row in rows} == {"imap"}
    assert {row.outcome for row in rows} == {MailOutcome.CASE}
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(Case)) == 3
    flags = mailbox.flags()
    assert sorted(flags) == [1, 2, 3] and all_seen(flags)
    assert not any(b"\\Deleted" in item for item in flags.values())


def test_fetch_mail_command_once(db, mailbox):
    """``minyi fetch-mail --once`` with IMAP_* and DATABASE_URL in the environment stores
    the mail, flags it seen, and says how many it fetched."""
    mailbox.append(3)

    done = mailbox.fetch_mail("--once")

    assert done.returncode == 0, done.stdout + done.stderr
    assert "fetched 3: 3 new" in done.stdout
    assert [row.uid for row in stored(db)] == [1, 2, 3]
    assert all(row.case_id for row in stored(db))
    assert all_seen(mailbox.flags())
    assert "citizen" not in done.stderr  # no addresses in the log


def test_second_pass_fetches_nothing_and_a_later_mail_alone(db, mailbox):
    """The position is remembered: a pass with no new mail fetches nothing (although
    ``UID N:*`` always answers the highest UID), and a mail that arrives later is fetched
    alone."""
    mailbox.append(2)
    assert imap.fetch_once(db, mailbox.settings()).fetched == 2

    again = imap.fetch_once(db, mailbox.settings())
    assert (again.fetched, again.flagged_late) == (0, 0)

    mailbox.append(1)
    later = imap.fetch_once(db, mailbox.settings())
    assert (later.fetched, later.stored) == (1, 1)
    assert [row.uid for row in stored(db)] == [1, 2, 3]
    assert state_of(db, mailbox).last_uid == 3
    assert all_seen(mailbox.flags())


def test_id_is_sent_before_select_to_a_server_that_requires_it(db, mailbox):
    """Against a server that refuses SELECT without ID (as 163.com and 126.com do), the
    poller works, because it sends ID after login and before SELECT; Dovecot logs the ID."""
    proxy = IdRequiredProxy(mailbox.server.port).start()
    try:
        # The proxy does refuse a client that does not identify itself ...
        from imapclient import IMAPClient

        plain = IMAPClient("127.0.0.1", port=proxy.port, ssl=False, timeout=10)
        plain.login(mailbox.server.user, mailbox.server.password)
        with pytest.raises(IMAPClient.Error, match="Unsafe Login"):
            plain.select_folder(mailbox.folder)
        plain.logout()
        assert proxy.refused == 1
        proxy.commands.clear()

        # ... and the poller gets through it.
        mailbox.append(1)
        result = imap.fetch_once(db, mailbox.settings(IMAP_PORT=proxy.port))
    finally:
        proxy.stop()

    assert result.stored == 1 and proxy.refused == 1
    assert proxy.commands.index("LOGIN") < proxy.commands.index("ID")
    assert proxy.commands.index("ID") < proxy.commands.index("SELECT")
    assert "ID sent: name=Minyi" in mailbox.server.log


def test_id_is_not_sent_to_a_server_without_it():
    """A server that does not offer ID is not 163.com: the poller carries on without it."""

    class NoIdServer:
        sent = False

        def has_capability(self, name: str) -> bool:
            return False

        def id_(self, parameters):  # pragma: no cover - must not be called
            self.sent = True

    client = NoIdServer()
    imap.identify(client)
    assert not client.sent


# -- faults ------------------------------------------------------------------------------------


def test_killed_mid_batch_then_run_again_stores_every_mail_exactly_once(db, mailbox):
    """The poller killed with SIGKILL in the middle of a batch, then run again: every mail
    stored exactly once, every one flagged seen (a flag lost to the kill is set late)."""
    mailbox.append(30)
    poller = mailbox.spawn("--once", MINYI_TEST_SLOW_FETCH="0.2")
    try:
        wait_for(lambda: count_stored(db) >= 5, what="the first mails to be stored")
    finally:
        poller.send_signal(signal.SIGKILL)
        poller.wait(timeout=30)
    assert poller.returncode == -signal.SIGKILL
    killed_at = count_stored(db)
    assert 5 <= killed_at < 30, "the poller was not killed in the middle of the batch"

    done = mailbox.fetch_mail("--once")

    assert done.returncode == 0, done.stdout + done.stderr
    # What was committed is not fetched again: the position moved with each mail.
    assert f"fetched {30 - killed_at}: {30 - killed_at} new" in done.stdout
    rows = stored(db)
    assert len(rows) == 30
    assert sorted(row.uid for row in rows) == list(range(1, 31))
    assert len({row.sha256 for row in rows}) == 30
    assert state_of(db, mailbox).last_uid == 30
    flags = mailbox.flags()
    assert len(flags) == 30 and all_seen(flags)


def test_flag_lost_between_commit_and_seen_is_set_on_the_next_pass(db, mailbox, monkeypatch):
    """If the connection breaks after a mail's commit but before its \\Seen flag, the mail
    is not stored again, and the next pass flags it."""
    from imapclient import IMAPClient

    mailbox.append(2)
    real_add_flags = IMAPClient.add_flags

    def broken_once(client, *args, **kwargs):
        monkeypatch.setattr(IMAPClient, "add_flags", real_add_flags)
        raise ConnectionResetError("connection lost")

    monkeypatch.setattr(IMAPClient, "add_flags", broken_once)
    with pytest.raises(imap.MailboxUnavailable, match="ConnectionResetError"):
        imap.fetch_once(db, mailbox.settings())
    assert [row.uid for row in stored(db)] == [1]
    assert not any(b"\\Seen" in item for item in mailbox.flags().values())

    result = imap.fetch_once(db, mailbox.settings())

    assert (result.flagged_late, result.fetched, result.stored) == (1, 1, 1)
    assert [row.uid for row in stored(db)] == [1, 2]
    assert all_seen(mailbox.flags())


def test_uidvalidity_change_reads_the_folder_again_without_duplicates(db, mailbox):
    """When the folder's UIDVALIDITY changes, it is read again from UID 1; mail already
    stored is recognised by its content, only the new one is stored, and the new UIDVALIDITY
    is recorded."""
    first = mailbox.append(3)
    imap.fetch_once(db, mailbox.settings())
    old_validity = mailbox.uidvalidity()

    mailbox.recreate()
    mailbox.append_raw(first)  # the same three mails, renumbered
    mailbox.append(1)
    new_validity = mailbox.uidvalidity()
    assert new_validity != old_validity

    result = imap.fetch_once(db, mailbox.settings())

    assert result.uidvalidity_changed
    assert (result.fetched, result.stored, result.duplicates) == (4, 1, 3)
    assert count_stored(db) == 4
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(Case)) == 4
    state = state_of(db, mailbox)
    assert (state.uidvalidity, state.last_uid) == (new_validity, 4)
    assert all_seen(mailbox.flags())


def test_only_one_poller_works_at_a_time(db, mailbox):
    """While one poller runs, a second one (process or function) does nothing and says that
    another poller is running: PostgreSQL advisory lock, or a lock file beside SQLite."""
    mailbox.append(20)
    first = mailbox.spawn("--once", MINYI_TEST_SLOW_FETCH="0.3")
    try:
        wait_for(lambda: count_stored(db) >= 1, what="the first poller to start storing")

        second = mailbox.fetch_mail("--once")
        assert second.returncode == 0, second.stdout + second.stderr
        assert "another poller is running" in second.stdout
        assert imap.fetch_once(db, mailbox.settings()).locked_out

        assert first.wait(timeout=60) == 0
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    rows = stored(db)
    assert sorted(row.uid for row in rows) == list(range(1, 21))
    # The lock is released with the first poller: a new one may work again.
    assert not imap.fetch_once(db, mailbox.settings()).locked_out


def test_running_poller_keeps_fetching_and_stops_on_sigterm(db, mailbox):
    """``minyi fetch-mail`` without ``--once`` polls every ``--interval`` seconds, picks up
    mail as it arrives, and exits cleanly on SIGTERM."""
    mailbox.append(1)
    poller = mailbox.spawn("--interval", "0.2")
    try:
        wait_for(lambda: count_stored(db) == 1, what="the first mail")
        mailbox.append(2)
        wait_for(lambda: count_stored(db) == 3, what="the mails that arrived later")
        poller.send_signal(signal.SIGTERM)
        assert poller.wait(timeout=30) == 0
    finally:
        if poller.poll() is None:
            poller.kill()
            poller.wait()
    assert [row.uid for row in stored(db)] == [1, 2, 3]
    assert all_seen(mailbox.flags())


def test_running_poller_reconnects_when_the_server_comes_back(db, mailbox, monkeypatch):
    """Run continuously, the poller retries an unreachable server with growing pauses and
    fetches as soon as the server answers again."""
    monkeypatch.setattr(imap, "FIRST_BACKOFF", 0.05)
    port = free_port()
    mailbox.append(2)
    stopping = threading.Event()
    runner = threading.Thread(
        target=imap.run_forever,
        args=(db, mailbox.settings(IMAP_PORT=port)),
        kwargs={"interval": 0.1, "stopping": stopping},
    )
    runner.start()
    proxy = None
    try:
        time.sleep(0.5)  # a few failed attempts
        assert count_stored(db) == 0
        proxy = IdRequiredProxy(mailbox.server.port, port=port).start()
        wait_for(lambda: count_stored(db) == 2, what="the mail after the server came back")
        mailbox.append(1)
        wait_for(lambda: count_stored(db) == 3, what="the mail that arrived while running")
    finally:
        stopping.set()
        runner.join(timeout=30)
        if proxy is not None:
            proxy.stop()
    assert not runner.is_alive()
    assert all_seen(mailbox.flags())


def test_once_fails_when_the_server_cannot_be_reached(db, mailbox):
    """``--once`` exits non-zero, in words, when the server is down or refuses the login."""
    down = mailbox.fetch_mail("--once", IMAP_PORT=str(free_port()))
    wrong = mailbox.fetch_mail("--once", IMAP_PASSWORD="not the password")
    unset = mailbox.fetch_mail("--once", IMAP_HOST="")

    for result in (down, wrong):
        assert result.returncode != 0
        assert "cannot fetch mail" in result.stderr
        assert "Traceback" not in result.stderr
    assert unset.returncode != 0 and "fetch-mail needs IMAP_HOST" in unset.stderr
    assert count_stored(db) == 0
