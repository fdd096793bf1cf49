"""Fixtures for the whole suite.

The database is real: SQLite in a temporary file by default, or the PostgreSQL database named
by ``TEST_DATABASE_URL``. Its schema is built by the Alembic migrations, as in production, and
every table is emptied after each test, so tests commit for real and still start clean.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator

import pytest
from sqlalchemy import text

from shared import migrate
from shared.db import Base, Database
from shared.demo.seed import seed_demo
from shared.models import Case

IN_CI = os.environ.get("CI", "").lower() == "true"


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
    tables = [table.name for table in reversed(Base.metadata.sorted_tables)]
    with database.engine.begin() as connection:
        if database.dialect == "postgresql":
            quoted = ", ".join(f'"{name}"' for name in tables)
            connection.execute(text(f"TRUNCATE {quoted} RESTART IDENTITY CASCADE"))
        else:
            for name in tables:
                connection.execute(text(f'DELETE FROM "{name}"'))


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
