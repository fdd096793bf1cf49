"""The ``minyi`` command, run as the installed console script."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import func, select

from shared.models import Notice, NoticeItem, Office, RoutingRule, StaffUser

MINYI = str(Path(sys.executable).with_name("minyi"))


def minyi(*args: str, database_url: str, cwd: Path, stdin: str = "") -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": database_url, "SECRET_KEY": "cli-test"}
    return subprocess.run(
        [MINYI, *args], input=stdin, capture_output=True, text=True, cwd=cwd, env=env, timeout=120
    )


def test_seed_demo_twice_leaves_one_copy_and_prints_password_once(db, database_url, tmp_path):
    """Seeding is idempotent; the admin password is printed the first time only."""
    assert minyi("db", "upgrade", database_url=database_url, cwd=tmp_path).returncode == 0
    first = minyi("seed", "demo", database_url=database_url, cwd=tmp_path)
    second = minyi("seed", "demo", database_url=database_url, cwd=tmp_path)
    assert first.returncode == second.returncode == 0, first.stderr + second.stderr
    assert "password" in first.stdout and "password" not in second.stdout
    with db.session() as session:
        count = lambda model: session.scalar(select(func.count()).select_from(model))  # noqa: E731
        assert (count(Notice), count(NoticeItem), count(Office)) == (1, 12, 8)
        assert count(RoutingRule) == 5
        assert count(StaffUser) == 1


def test_user_add_reads_password_from_stdin_and_token_works(
    db, database_url, tmp_path, responder_client
):
    """A user made on the command line gets a token that the staff API accepts."""
    minyi("seed", "demo", database_url=database_url, cwd=tmp_path)
    added = minyi(
        "user", "add", "zhang", "--role", "officer", "--office", "cyber",
        database_url=database_url, cwd=tmp_path, stdin="a long password\n",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    token = minyi("user", "token", "zhang", database_url=database_url, cwd=tmp_path).stdout.strip()
    response = responder_client.get("/api/v1/cases", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    with db.session() as session:
        user = session.scalar(select(StaffUser).where(StaffUser.username == "zhang"))
        assert [office.code for office in user.offices] == ["cyber"]
        assert "a long password" not in user.password_hash


def test_user_add_refuses_unknown_office_and_short_password(db, database_url, tmp_path):
    """Mistakes are reported in words and exit non-zero; nothing is created."""
    minyi("seed", "demo", database_url=database_url, cwd=tmp_path)
    bad_office = minyi(
        "user", "add", "li", "--role", "officer", "--office", "nowhere",
        database_url=database_url, cwd=tmp_path, stdin="a long password\n",
    )  # fmt: skip
    short = minyi(
        "user", "add", "li", "--role", "officer",
        database_url=database_url, cwd=tmp_path, stdin="short\n",
    )  # fmt: skip
    assert bad_office.returncode != 0 and "unknown office nowhere" in bad_office.stderr
    assert short.returncode != 0 and "at least" in short.stderr
    assert "Traceback" not in bad_office.stderr + short.stderr
    with db.session() as session:
        assert session.scalar(select(StaffUser).where(StaffUser.username == "li")) is None


def test_token_for_unknown_user_is_an_error(db, database_url, tmp_path):
    """No token is printed for a user who does not exist."""
    result = minyi("user", "token", "ghost", database_url=database_url, cwd=tmp_path)
    assert result.returncode != 0 and result.stdout == ""
    assert "no active user" in result.stderr
