"""A private Dovecot IMAP server on loopback for the tests (Debian's dovecot-imapd), and a
proxy in front of it that behaves like 163.com: no SELECT before the IMAP ``ID`` command.

The recipe is the one in ``shared/docs/RECIPES.md``: its own configuration in a temporary
directory, a passwd-file with one user, a maildir owned by ``mail`` (Dovecot will not keep
mail as root), and ``dovecot -c DIR/dovecot.conf``, which daemonises; it is stopped by
killing the pid in ``DIR/run/master.pid``.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest
from imapclient import IMAPClient

from tests.clock import without_faketime
from tests.conftest import require
from tests.mailservers import free_port

DOVECOT = "/usr/sbin/dovecot"

CONFIG = """\
base_dir = {dir}/run
state_dir = {dir}/state
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
log_path = {dir}/dovecot.log
# Every ID a client sends is logged ("ID sent: name=..."), so tests can see it arrived.
imap_id_log = *
default_login_user = nobody
default_internal_user = root
default_internal_group = root
first_valid_uid = 1
first_valid_gid = 1
mail_location = maildir:{dir}/mail/%u
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {dir}/users
}}
userdb {{
  driver = static
  args = uid=mail gid=mail home={dir}/mail/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
"""


class Dovecot:
    """A running private Dovecot with one user, ``intake@example.cn``."""

    user = "intake@example.cn"

    def __init__(self) -> None:
        # Not under pytest's tmp_path: that is mode 0700 and root's, and the imap process runs
        # as ``mail``, which must reach the maildir.
        self.dir = Path(tempfile.mkdtemp(prefix="minyi-dovecot-"))
        self.dir.chmod(0o755)
        self.port = free_port()
        self.password = secrets.token_urlsafe(12)

    def start(self) -> Dovecot:
        (self.dir / "dovecot.conf").write_text(CONFIG.format(dir=self.dir, port=self.port))
        (self.dir / "users").write_text(f"{self.user}:{{PLAIN}}{self.password}\n")
        (self.dir / "mail").mkdir()
        subprocess.run(["chown", "-R", "mail:mail", str(self.dir / "mail")], check=True)
        # Its output goes to a file, never a pipe: the daemon would keep the pipe open.
        with (self.dir / "start.log").open("w") as output:
            started = subprocess.run(
                [DOVECOT, "-c", str(self.dir / "dovecot.conf")],
                stdout=output,
                stderr=subprocess.STDOUT,
                timeout=30,
                env=without_faketime(os.environ),  # the provider's clock is its own
            )
        if started.returncode != 0:
            raise RuntimeError(f"dovecot did not start:\n{self._logs()}")
        deadline = time.monotonic() + 20
        while not _accepts(self.port):
            if time.monotonic() > deadline:
                raise RuntimeError(f"dovecot does not answer on port {self.port}:\n{self._logs()}")
            time.sleep(0.1)
        return self

    def stop(self) -> None:
        pid_file = self.dir / "run" / "master.pid"
        if pid_file.exists():
            pid = int(pid_file.read_text().split()[0])
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + 20
            while _alive(pid) and time.monotonic() < deadline:
                time.sleep(0.1)
        shutil.rmtree(self.dir, ignore_errors=True)

    def _logs(self) -> str:
        return "\n".join(
            path.read_text(errors="replace")
            for path in (self.dir / "start.log", self.dir / "dovecot.log")
            if path.exists()
        )

    @property
    def log(self) -> str:
        """Dovecot's own log (logins, the ID each client sent)."""
        return (self.dir / "dovecot.log").read_text(errors="replace")

    @contextmanager
    def client(self) -> Iterator[IMAPClient]:
        """A logged-in IMAP connection, as a mail client of the test would have."""
        client = IMAPClient("127.0.0.1", port=self.port, ssl=False, timeout=10)
        try:
            client.login(self.user, self.password)
            yield client
        finally:
            client.logout()

    def settings(self, folder: str, *, port: int | None = None) -> dict:
        """The IMAP_* settings for the poller to read ``folder`` of the test user."""
        return {
            "IMAP_HOST": "127.0.0.1",
            "IMAP_PORT": port or self.port,
            "IMAP_SSL": False,
            "IMAP_USER": self.user,
            "IMAP_PASSWORD": self.password,
            "IMAP_FOLDER": folder,
        }

    def environment(self, folder: str, *, port: int | None = None) -> dict[str, str]:
        """The same settings as environment variables, for ``minyi fetch-mail``."""
        values = self.settings(folder, port=port)
        return {name: str(value).lower() if isinstance(value, bool) else str(value)
                for name, value in values.items()}  # fmt: skip


@pytest.fixture(scope="module", name="dovecot")
def dovecot_fixture() -> Iterator[Dovecot]:
    """A private Dovecot for the tests of one module."""
    require(os.path.exists(DOVECOT), "Debian's dovecot-imapd is not installed")
    require(os.geteuid() == 0, "the private Dovecot must run as root (its mail is owned by mail)")
    server = Dovecot()
    try:
        yield server.start()
    finally:
        server.stop()


def _accepts(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


# -- a server that insists on ID, as 163.com and 126.com do ------------------------------------

#: What imap.163.com answers a SELECT sent before ID.
UNSAFE_LOGIN = b"NO SELECT Unsafe Login. Please contact kefu@188.com for help"
_COMMAND = re.compile(rb"^(\S+) +(?:UID +)?([A-Za-z]+)")


class IdRequiredProxy:
    """A TCP proxy to Dovecot that refuses SELECT and EXAMINE until the client has sent ID on
    that connection, with the words 163.com uses. It reads the client's command lines (enough
    for the commands a poller sends) and records each command's name in :attr:`commands`."""

    def __init__(self, upstream_port: int, port: int | None = None) -> None:
        self.upstream_port = upstream_port
        self.port = port or free_port()
        #: Command names sent by clients, in order, over all connections.
        self.commands: list[str] = []
        #: How many SELECT/EXAMINE were refused for want of ID.
        self.refused = 0
        self._listener: socket.socket | None = None
        self._sockets: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    def start(self) -> IdRequiredProxy:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen()
        self._listener = listener
        self._spawn(self._accept_loop)
        return self

    def stop(self) -> None:
        if self._listener is not None:
            with suppress(OSError):
                self._listener.shutdown(socket.SHUT_RDWR)
            self._listener.close()
            self._listener = None
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            with suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        for thread in self._threads:
            thread.join(timeout=5)

    def _spawn(self, target, *args) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _accept_loop(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except (OSError, AttributeError):
                return
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            with self._lock:
                self._sockets += [client, upstream]
            write_lock = threading.Lock()
            self._spawn(self._server_to_client, upstream, client, write_lock)
            self._spawn(self._client_to_server, client, upstream, write_lock)

    def _server_to_client(self, upstream, client, write_lock) -> None:
        with suppress(OSError):
            while data := upstream.recv(65536):
                with write_lock:
                    client.sendall(data)
        with suppress(OSError):
            client.shutdown(socket.SHUT_WR)

    def _client_to_server(self, client, upstream, write_lock) -> None:
        identified = False
        with suppress(OSError), client.makefile("rb") as lines:
            for line in lines:
                match = _COMMAND.match(line)
                if match:
                    tag, name = match.group(1), match.group(2).upper().decode()
                    self.commands.append(name)
                    if name == "ID":
                        identified = True
                    elif name in {"SELECT", "EXAMINE"} and not identified:
                        self.refused += 1
                        with write_lock:
                            client.sendall(tag + b" " + UNSAFE_LOGIN + b"\r\n")
                        continue
                upstream.sendall(line)
        with suppress(OSError):
            upstream.shutdown(socket.SHUT_WR)
