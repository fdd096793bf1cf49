"""Fixtures for the whole suite.

The database is real: SQLite in a temporary file by default, or the PostgreSQL database named
by ``TEST_DATABASE_URL``. Its schema is built by the Alembic migrations, as in production, and
every table is emptied after each test, so tests commit for real and still start clean.
"""

from __future__ import annotations

import importlib.util
import os
import re
import sys
from collections.abc import Iterator

import pytest
import time_machine
from argon2 import PasswordHasher
from sqlalchemy import text

from shared import migrate, security
from shared.db import Base, Database
from shared.demo.seed import seed_demo
from shared.models import Case
from tests.clock import FAKETIME_FIX, with_fake_clock

IN_CI = os.environ.get("CI", "").lower() == "true"


def _load_faketime_fix():
    """tests/faketime/sitecustomize.py, loaded here too (it fixes time.sleep if need be)."""
    spec = importlib.util.spec_from_file_location("faketime_fix", FAKETIME_FIX / "sitecustomize.py")
    fix = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fix)
    return fix


faketime_fix = _load_faketime_fix()


def pytest_configure(config) -> None:
    """Under ``faketime`` (the shifted-clock pass of CI), the monotonic clock stays real and
    every Python process the tests start loads tests/faketime/sitecustomize.py; its docstring
    says why. libfaketime reads its settings when a process starts, so a run started without
    ``FAKETIME_DONT_FAKE_MONOTONIC=1`` starts itself again with it (output no longer captured,
    so that the new process writes to the terminal)."""
    if not faketime_fix.under_faketime():
        return
    if not faketime_fix.monotonic_clock_is_real():
        config.pluginmanager.getplugin("capturemanager").stop_global_capturing()
        os.execve(sys.executable, sys.orig_argv, with_fake_clock(os.environ))
    os.environ.update(with_fake_clock(os.environ))


def require(condition: bool, reason: str) -> None:
    """Skip on a newcomer's machine when a service or tool is missing; fail in CI."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"CI=true, and this test needs what is missing: {reason}")
    pytest.skip(reason)


def pytest_sessionfinish(session, exitstatus) -> None:
    """In CI, a skipped test is a failed run: nothing may go untested for a missing service."""
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = len(reporter.stats.get("skipped", [])) if reporter else 0
    if IN_CI and skipped and exitstatus == 0:
        reporter.write_line(
            f"CI=true but {skipped} test(s) were skipped: failing the run", red=True
        )
        session.exitstatus = 1


def pytest_collection_modifyitems(config, items) -> None:
    """A test module that moves the clock (time_machine) pins the whole clock of its tests with
    the ``clock`` marker, so its fixtures are made on the same calendar as what it checks."""
    unpinned = sorted(
        {
            item.module.__name__
            for item in items
            if getattr(item, "module", None) is not None
            and "time_machine" in vars(item.module)
            and item.get_closest_marker("clock") is None
        }
    )
    if unpinned:
        raise pytest.UsageError(
            "these modules travel in time but leave tests unpinned; mark them "
            f"@pytest.mark.clock(instant): {', '.join(unpinned)}"
        )


@pytest.fixture(autouse=True)
def pinned_clock(request) -> Iterator[time_machine.Traveller | None]:
    """The clock of a test marked ``@pytest.mark.clock(instant)``, set before any of the test's
    other fixtures run (autouse fixtures come first), so what the fixtures create and what the
    test checks see one and the same calendar. A test either pins its whole clock this way or
    uses the real one throughout: a date written into a test that runs on today's clock is a
    test that breaks on its own when the calendar moves on."""
    marker = request.node.get_closest_marker("clock")
    if marker is None:
        yield None
        return
    with time_machine.travel(marker.args[0], tick=marker.kwargs.get("tick", True)) as traveller:
        yield traveller


@pytest.fixture(autouse=True, scope="session")
def _cheap_password_hashes() -> Iterator[None]:
    """Staff passwords at argon2's lowest cost in this process: at the production cost (about
    0.1 s each) hashing was a third of the suite's time. Production keeps the library's
    default (tests/test_security_settings.py checks it in a fresh process); servers the tests
    start as processes of their own keep it too."""
    with pytest.MonkeyPatch.context() as patch:
        cheap = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
        patch.setattr(security, "_password_hasher", cheap)
        yield


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> str:
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        return f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
    return url


@pytest.fixture(scope="session")
def database(database_url) -> Iterator[Database]:
    database = Database(database_url)
    _drop_everything(database)
    migrate.upgrade(database_url)
    yield database
    database.dispose()


def _drop_everything(database: Database) -> None:
    with database.engine.begin() as connection:
        Base.metadata.drop_all(connection)
        connection.execute(text("DROP TABLE IF EXISTS alembic_version"))


@pytest.fixture
def db(database) -> Iterator[Database]:
    """The test database, emptied after the test."""
    yield database
    # DELETE, children first, rather than TRUNCATE: PostgreSQL's TRUNCATE of every table took
    # 0.4 to 1 s a test, these statements take milliseconds. Ids start again at 1 as they do
    # after TRUNCATE … RESTART IDENTITY (and as SQLite does by itself).
    tables = [table.name for table in reversed(Base.metadata.sorted_tables)]
    statements = [f'DELETE FROM "{name}"' for name in tables]
    if database.dialect == "postgresql":
        statements.append(
            "SELECT setval(oid, 1, false) FROM pg_class "
            "WHERE relkind = 'S' AND relnamespace = 'public'::regnamespace"
        )
    with database.engine.begin() as connection:
        for statement in statements:
            connection.execute(text(statement))


@pytest.fixture
def demo(db) -> str:
    """The demo notice, offices and rules; returns the admin password."""
    with db.transaction() as session:
        return seed_demo(session)


@pytest.fixture
def settings(db, tmp_path) -> dict:
    return {
        "DATABASE": db,
        "DATABASE_URL": "unused://",  # DATABASE above is the one used
        "SECRET_KEY": "test-secret-key",
        "VAR_DIR": str(tmp_path / "var"),
        "TESTING": True,
        # The abuse defences have their own tests; elsewhere they would only get in the way.
        "RATELIMIT_ENABLED": False,
        "FORM_MIN_FILL_SECONDS": 0,
    }


@pytest.fixture
def intake_app(settings):
    from intake import create_app

    return create_app(settings)


@pytest.fixture
def intake_client(intake_app):
    return intake_app.test_client()


@pytest.fixture
def responder_app(settings):
    from responder import create_app

    return create_app(settings)


@pytest.fixture
def responder_client(responder_app):
    return responder_app.test_client()


def csrf_token(client, path: str) -> str:
    """The CSRF token of the form on ``path``, as a browser would send it back."""
    html = client.get(path).get_data(as_text=True)
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, f"no CSRF token in the form at {path}"
    return match.group(1)


def case_by_number(db: Database, tracking_number: str) -> Case:
    from sqlalchemy import select
    from sqlalchemy.orm import selectinload

    with db.session() as session:
        return session.scalar(
            select(Case)
            .where(Case.tracking_number == tracking_number)
            .options(
                selectinload(Case.office),
                selectinload(Case.notice_item),
                selectinload(Case.messages),
            )
        )


@pytest.fixture
def smtp_sink():
    from tests.mailservers import SmtpSink

    sink = SmtpSink().start()
    yield sink
    sink.stop()


@pytest.fixture
def make_worker(settings):
    """A worker whose mail goes to ``port`` on loopback (or to files when port is None)."""
    from responder import create_app
    from responder.worker import Worker

    def make(port: int | None, policy=None, **overrides):
        config = {**settings, **overrides}
        if port is not None:
            config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=port, MAIL_TIMEOUT=2)
        return Worker(create_app(config), policy=policy)

    return make
