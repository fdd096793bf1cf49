"""Engine, sessions and the one transaction helper.

The models are used by processes that are not Flask apps (the LMTP receiver, the worker,
the command line), so this is plain SQLAlchemy: a :class:`Database` owns an engine and a
session factory, and :meth:`Database.transaction` is the one place that commits.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import (
    Connection,
    DateTime,
    Engine,
    MetaData,
    create_engine,
    delete,
    event,
    false,
    func,
    make_url,
    select,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

#: Constraint names that are the same on SQLite and PostgreSQL, so migrations can name them.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always returned timezone-aware.

    SQLite keeps no offset, so naive values read back are UTC by construction; naive values
    written are refused, because a naive local time in the database is a bug found too late.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


#: Where the office is: dates and times are shown, and days and months counted, here.
SHANGHAI = ZoneInfo("Asia/Shanghai")


def utcnow() -> datetime:
    return datetime.now(UTC)


def normalise_url(url: str) -> str:
    """``postgresql://`` means psycopg 3 here, not the psycopg2 SQLAlchemy would pick."""
    parsed = make_url(url)
    if parsed.drivername in {"postgresql", "postgres"}:
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def make_engine(url: str, **options) -> Engine:
    # Error messages then name the statement but not its values: those can be personal data.
    options.setdefault("hide_parameters", True)
    url = normalise_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 15}, **options)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    options.setdefault("pool_pre_ping", True)
    return create_engine(url, **options)


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")  # readers do not block the writer
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=15000")  # wait for the writer instead of failing
    cursor.execute("PRAGMA synchronous=NORMAL")  # durable with WAL, much faster than FULL
    cursor.close()


class Database:
    """An engine and its session factory; one per process (or per test)."""

    def __init__(self, url: str, **engine_options) -> None:
        self.engine = make_engine(url, **engine_options)
        self.session_factory = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def session(self) -> Session:
        return self.session_factory()

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session whose work is committed once at the end, or rolled back on any error."""
        with self.session_factory() as session, session.begin():
            yield session

    @contextmanager
    def autocommit(self, *, wait_for_disk: bool = True) -> Iterator[Connection]:
        """A connection on which every statement is a transaction of its own, committed when
        it returns: for a stream of small writes that must each last at once (the worker's
        outcome of each mail), one round trip each instead of three.

        ``wait_for_disk=False`` (PostgreSQL): a commit returns before it is flushed to disk.
        It is visible to every other session at once and outlives this process; only a crash
        of PostgreSQL itself may forget the last fraction of a second of them.
        """
        relaxed = not wait_for_disk and self.dialect == "postgresql"
        with self.engine.connect() as pooled:
            connection = pooled.execution_options(isolation_level="AUTOCOMMIT")
            if relaxed:
                connection.exec_driver_sql("SET synchronous_commit = off")
            try:
                yield connection
            finally:
                if relaxed and not connection.invalidated:  # back to the pool as it came
                    connection.exec_driver_sql("RESET synchronous_commit")

    def ping(self) -> None:
        with self.engine.connect() as connection:
            connection.exec_driver_sql("SELECT 1")

    def dispose(self) -> None:
        self.engine.dispose()


def one_worker_at_a_time(session: Session, key: int, table: type[Base]) -> bool:
    """Whether this transaction may go on with work that one worker at a time does (the day's
    reminders, the monthly report); the claim lasts until the transaction ends. PostgreSQL:
    the advisory lock ``key``, False while another worker holds it. SQLite has one writer: a
    write to ``table`` that changes nothing takes the write lock now, before the transaction
    reads, so a second worker waits here and then sees the first one's rows."""
    if session.get_bind().dialect.name == "postgresql":
        return bool(session.scalar(select(func.pg_try_advisory_xact_lock(key))))
    session.execute(delete(table).where(false()).execution_options(synchronize_session=False))
    return True


def run_with_retry(database: Database, work, *, attempts: int = 2):
    """Run ``work(session)`` in one transaction; if a concurrent transaction won a race on a
    unique key (the same Idempotency-Key, Message-ID or tracking number), run it again: the
    second run sees the winner's row and answers from it."""
    for attempt in range(1, attempts + 1):
        try:
            with database.transaction() as session:
                return work(session)
        except IntegrityError:
            if attempt == attempts:
                raise
    raise AssertionError("unreachable")
