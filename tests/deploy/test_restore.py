"""A backup made by deploy/backup/backup.sh, restored by following deploy/backup/restore.md:
its shell blocks run as written (only the backup's name and, for SQLite, the folders are this
test's), on a private PostgreSQL cluster with password logins and on SQLite. The restored
database holds exactly what was backed up."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from sqlalchemy import func, select

from shared import migrate
from shared.db import Base, Database
from shared.demo.seed import seed_demo
from shared.models import Case, StoredBlob
from tests.conftest import require
from tests.deploy.units import DEPLOY
from tests.factories import make_case
from tests.mailservers import free_port

RESTORE_MD = DEPLOY / "backup" / "restore.md"
EXAMPLE_BACKUP = "/var/backups/minyi/minyi-20260101-023000"
PASSWORD = "p@ss:w/rd% $x"  # every character a URL must encode, and one a shell would expand


def restore_steps() -> dict[str, str]:
    """restore.md's shell blocks, by what they do."""
    blocks = re.findall(r"```sh\n(.*?)```", RESTORE_MD.read_text(), re.S)
    steps = {}
    for name, marker in [
        ("stop", "systemctl stop"),
        ("new server", "createuser"),
        ("pg_restore", "pg_restore"),
        ("pg check", "psql"),
        ("sqlite", "install -o minyi"),
        ("sqlite check", "sqlite3"),
        ("start", "systemctl start"),
    ]:
        (steps[name],) = [block for block in blocks if marker in block]
    return steps


def snapshot(database: Database) -> dict:
    """Rows per table and the hash of every stored file: what a restore must give back."""
    with database.session() as session:
        counts = {
            table.name: session.scalar(select(func.count()).select_from(table))
            for table in Base.metadata.sorted_tables
        }
        blobs = {
            sha: hashlib.sha256(data).hexdigest()
            for sha, data in session.execute(select(StoredBlob.sha256, StoredBlob.data))
        }
        bodies = sorted(session.scalars(select(Case.body)))
    return {"counts": counts, "blobs": blobs, "bodies": bodies}


def filled(url: str) -> dict:
    """The newest schema at ``url``, the demo data and a few cases; their snapshot."""
    migrate.upgrade(url)
    database = Database(url)
    try:
        some_data(database)
        return snapshot(database)
    finally:
        database.dispose()


def some_data(database: Database) -> None:
    with database.transaction() as session:
        seed_demo(session)
    make_case(database, body="备份之前的第一条意见：路灯坏了。", email="a@example.cn")
    make_case(database, body="备份之前的第二条意见：请公开整改台账。", name="张三")
    with database.transaction() as session:
        data = b"%PDF-1.4 scanned letter"
        session.add(StoredBlob(sha256=hashlib.sha256(data).hexdigest(), size=len(data), data=data))


@pytest.fixture
def world_readable() -> Iterator[Path]:
    """A folder other users (postgres, nobody) may enter, as /var/lib and /run are."""
    require(os.geteuid() == 0, "the restore runs commands as other users: needs root")
    folder = Path(tempfile.mkdtemp(prefix="minyi-restore-", dir="/tmp"))
    folder.chmod(0o755)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def stubs(folder: Path) -> Path:
    """systemctl, journalctl and curl, which only record how they were called (no systemd
    here; the services are not started)."""
    path = folder / "stubs"
    path.mkdir()
    for name in ("systemctl", "journalctl", "curl"):
        (path / name).write_text(f'#!/bin/sh\necho "{name} $*" >> {folder}/calls\n')
        (path / name).chmod(0o755)
    return path


def run_step(script: str, env: dict[str, str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        env=env, capture_output=True, text=True, timeout=300, **kwargs,
    )  # fmt: skip


def backup(folder: Path, database_url: str, env: dict[str, str]) -> Path:
    """backup.sh as minyi-backup.service runs it: the settings file names the database."""
    settings = folder / "minyi.env"
    settings.write_text(f'DATABASE_URL="{database_url}"\n')
    backups = folder / "backups"
    backups.mkdir(mode=0o700)
    done = subprocess.run(
        ["bash", str(DEPLOY / "backup" / "backup.sh"), str(backups)],
        env={**env, "MINYI_ENV_FILE": str(settings)}, capture_output=True, text=True,
        timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    (made,) = backups.glob("minyi-*")
    assert oct(made.stat().st_mode & 0o777) == "0o600"
    return made


# -- PostgreSQL ---------------------------------------------------------------------------------


class PrivateCluster:
    """A PostgreSQL cluster of its own: logins by password over TCP, by peer for postgres
    over its socket, as on a Debian server."""

    def __init__(self, folder: Path) -> None:
        require(shutil.which("pg_config"), "PostgreSQL's server is not installed")
        bindir = Path(subprocess.check_output(["pg_config", "--bindir"], text=True).strip())
        require((bindir / "initdb").exists(), "initdb is not installed (postgresql)")
        self.bindir = bindir
        self.data = folder / "data"
        self.socket = folder / "socket"
        self.port = free_port()
        for path in (self.data, self.socket):
            path.mkdir()
            shutil.chown(path, "postgres", "postgres")

    def as_postgres(self, *argv: str) -> subprocess.CompletedProcess:
        done = subprocess.run(
            ["runuser", "-u", "postgres", "--", *argv], env=self.env(), capture_output=True,
            text=True, timeout=120,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        return done

    def env(self, **extra: str) -> dict[str, str]:
        return {**os.environ, "PGHOST": str(self.socket), "PGPORT": str(self.port), **extra}

    def start(self) -> None:
        self.as_postgres(
            str(self.bindir / "initdb"), "-D", str(self.data), "-U", "postgres",
            "--auth-local=peer", "--auth-host=scram-sha-256",
        )  # fmt: skip
        options = f"-p {self.port} -k {self.socket} -c listen_addresses=127.0.0.1"
        self.as_postgres(
            str(self.bindir / "pg_ctl"), "-D", str(self.data), "-o", options, "-w",
            "-l", str(self.data / "server.log"), "start",
        )  # fmt: skip

    def stop(self) -> None:
        subprocess.run(
            ["runuser", "-u", "postgres", "--", str(self.bindir / "pg_ctl"), "-D",
             str(self.data), "-m", "immediate", "-w", "stop"],
            capture_output=True, timeout=60,
        )  # fmt: skip

    def sql(self, statement: str) -> str:
        return self.as_postgres("psql", "-d", "postgres", "-Atc", statement).stdout

    def url(self) -> str:
        return f"postgresql://minyi:{quote(PASSWORD, safe='')}@127.0.0.1:{self.port}/minyi"


@pytest.fixture
def cluster(world_readable) -> Iterator[PrivateCluster]:
    cluster = PrivateCluster(world_readable)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


def test_a_postgresql_backup_restored_on_a_new_server_as_restore_md_says(
    cluster, world_readable, tmp_path
):
    """backup.sh (the password in pg_dump's environment, not on its command line), then a new
    server: restore.md's blocks in order, the backup fed on standard input (postgres may not
    read it), the database made first, runuser instead of sudo. Everything comes back, owned
    by minyi, and minyi db upgrade (minyi-migrate) finds nothing to do."""
    steps = restore_steps()
    folder = world_readable
    password_sql = PASSWORD.replace("'", "''")
    cluster.sql(f"CREATE ROLE minyi LOGIN PASSWORD '{password_sql}'")
    cluster.as_postgres("createdb", "--owner", "minyi", "minyi")
    url = cluster.url()
    before = filled(url)

    # pg_dump as a stand-in that notes how it was called, then runs the real one.
    shims = folder / "shims"
    shims.mkdir()
    (shims / "pg_dump").write_text(
        f'#!/bin/sh\nprintf "%s\\n" "$@" > {folder}/pg_dump.argv\n'
        f'printf "%s" "${{PGPASSWORD-unset}}" > {folder}/pg_dump.password\n'
        f'exec {shutil.which("pg_dump")} "$@"\n'
    )
    (shims / "pg_dump").chmod(0o755)
    dumped = backup(folder, url, {**os.environ, "PATH": f"{shims}:{os.environ['PATH']}"})
    argv = (folder / "pg_dump.argv").read_text()
    assert "minyi@127.0.0.1" in argv and "p@ss" not in argv and quote(PASSWORD) not in argv
    assert (folder / "pg_dump.password").read_text() == PASSWORD

    # A new server: README steps 1 and 2, no database user or database yet.
    cluster.sql("DROP DATABASE minyi")
    cluster.sql("DROP ROLE minyi")
    env = cluster.env(PATH=f"{stubs(folder)}:{os.environ['PATH']}")
    # What restore.md used to say: postgres cannot open a backup only minyi (here root) reads.
    by_name = run_step(f"runuser -u postgres -- pg_restore -d postgres {dumped}", env)
    assert by_name.returncode != 0 and "Permission denied" in by_name.stderr

    assert run_step(steps["stop"], env).returncode == 0
    made = run_step(steps["new server"], env, input=f"{PASSWORD}\n{PASSWORD}\n")
    assert made.returncode == 0, made.stderr
    restored = run_step(steps["pg_restore"].replace(f"{EXAMPLE_BACKUP}.dump", str(dumped)), env)
    assert restored.returncode == 0, restored.stderr
    checked = run_step(steps["pg check"], env)
    assert checked.returncode == 0, checked.stderr
    assert re.search(rf"^\s*{before['counts']['case']}\s*$", checked.stdout, re.M), checked.stdout
    assert run_step(steps["start"], env).returncode == 0
    calls = (folder / "calls").read_text()
    assert "systemctl stop minyi.target" in calls and "systemctl start minyi.target" in calls

    # minyi-migrate, then the services, with the settings file's DATABASE_URL (the password
    # given to createuser logs in).
    upgraded = subprocess.run(
        [sys.executable, "-m", "shared.cli", "db", "upgrade"], capture_output=True, text=True,
        env={**os.environ, "DATABASE_URL": url}, timeout=300, cwd=tmp_path,
    )  # fmt: skip
    assert upgraded.returncode == 0, upgraded.stderr
    database = Database(url)
    try:
        assert snapshot(database) == before
    finally:
        database.dispose()
    owners = cluster.as_postgres(
        "psql", "-d", "minyi", "-Atc",
        "SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = 'public'",
    ).stdout.split()  # fmt: skip
    assert owners == ["minyi"]


# -- SQLite -------------------------------------------------------------------------------------


def as_restore_md_says_for(step: str, var: Path, backup_file: Path) -> str:
    """A SQLite block with this test's folders for /var/lib/minyi and the backup, and the
    nobody user for minyi (whom this machine does not have)."""
    return (
        step.replace(f"{EXAMPLE_BACKUP}.db", str(backup_file))
        .replace("/var/lib/minyi", str(var))
        .replace("install -o minyi -g minyi", "install -o nobody -g nogroup")
        .replace("runuser -u minyi", "runuser -u nobody")
    )


def write_after_the_backup_and_die(database_file: Path) -> None:
    """A service writing after the backup and killed before SQLite folds its write-ahead log
    into the database: the -wal file stays, holding the change."""
    code = (
        "import os, signal, sqlite3, sys\n"
        "connection = sqlite3.connect(sys.argv[1])\n"
        'connection.execute("UPDATE \\"case\\" SET body = \'written after the backup\'")\n'
        "connection.commit()\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    died = subprocess.run([sys.executable, "-c", code, str(database_file)], timeout=60)
    assert died.returncode == -signal.SIGKILL
    assert Path(f"{database_file}-wal").stat().st_size > 0


def test_a_sqlite_backup_restored_as_restore_md_says(world_readable):
    """backup.sh's copy, restored by restore.md's SQLite block over a database whose -wal
    file holds later changes: the -wal goes first, so the restored database is the backup,
    not the backup with the later changes replayed into it; everything is owned by the
    service user, the check included."""
    require(shutil.which("sqlite3"), "sqlite3 is not installed")
    steps = restore_steps()
    folder = world_readable
    var = folder / "var"
    var.mkdir()
    database_file = var / "minyi.db"
    url = f"sqlite:///{database_file}"
    before = filled(url)
    copy = backup(folder, url, dict(os.environ))
    write_after_the_backup_and_die(database_file)
    shutil.copytree(var, folder / "var-kept-wal")
    shutil.chown(var, "nobody", "nogroup")

    env = {**os.environ, "PATH": f"{stubs(folder)}:{os.environ['PATH']}"}
    for step in ("stop", "sqlite"):
        done = run_step(as_restore_md_says_for(steps[step], var, copy), env)
        assert done.returncode == 0, done.stderr
    checked = run_step(as_restore_md_says_for(steps["sqlite check"], var, copy), env)
    assert checked.returncode == 0, checked.stderr
    assert checked.stdout.split() == ["ok", str(before["counts"]["case"])]
    assert {path.owner() for path in var.iterdir()} == {"nobody"}
    database = Database(url)
    try:
        assert snapshot(database) == before
    finally:
        database.dispose()

    # Without removing the -wal file, the "restored" database shows the later changes.
    kept = folder / "var-kept-wal"
    install = [line for line in steps["sqlite"].splitlines() if line.startswith("install ")]
    assert run_step(as_restore_md_says_for("\n".join(install), kept, copy), env).returncode == 0
    stale = Database(f"sqlite:///{kept / 'minyi.db'}")
    try:
        assert set(snapshot(stale)["bodies"]) == {"written after the backup"}
    finally:
        stale.dispose()
