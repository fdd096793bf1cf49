"""Latency of the staff queue at a million cases in PostgreSQL, beside the same SQL sent raw.

    .venv/bin/python -m benchmarks.queue_latency [--cases 1000000] [--reuse] [--url URL] \\
        [--repeat 40] [--warmup 3] [--budget 20] [--timeout 30] [--deep-pages 200] [--explain]

The database (default postgresql://postgres@127.0.0.1:5432/minyi_bench, created if missing)
is emptied, migrated, seeded with the demo notice and offices and loaded with ``--cases``
realistic cases by :mod:`benchmarks.million_cases`; ``--reuse`` keeps a database that already
holds exactly that many cases. Then every query goes through the code the queue page runs,
:func:`shared.operations.queue.list_cases` and :func:`~shared.operations.queue.counts` with
an ORM session, as an admin (sees every office) and as officers of one and of two offices:

- the first page, no filter;
- filtered pages: a status and an office, a category and a channel, the overdue tab;
- a deep page: the cursor is followed ``--deep-pages`` pages down once, untimed, then that
  page is fetched;
- searches: a common two-character word, a common one the officer's office owns, a rare
  one, three-character phrases of middling and common frequency;
- the counts of the queue's tabs.

Each query runs ``--warmup`` times uncounted then ``--repeat`` times, each in a new session
as a request would (the user loaded first, untimed); a slow query stops repeating once its
timed runs add up to ``--budget`` seconds (after 5 at least), and one that reaches the
statement timeout (``--timeout`` seconds) is not repeated at all. p50 and p95 are
nearest-rank, in milliseconds, against the aim of p95 under 100 ms.

The baseline, in the same run: the first page's statements exactly as the ORM sent them (the
page, then the offices and notice items of its cases), executed through plain psycopg and
fetched as tuples; the ratio ORM / raw is what SQLAlchemy adds. ``--explain`` prints
EXPLAIN (ANALYZE, BUFFERS) of the statements of every query whose p95 misses the aim.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field

import psycopg
from sqlalchemy import event, func, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from benchmarks.million_cases import (
    DEFAULT_URL,
    ensure_database,
    libpq_url,
    load_cases,
    prepare_schema,
)
from shared.db import Database
from shared.models import Case, CaseStatus, Role, StaffUser
from shared.operations.queue import QueueFilters, counts, list_cases
from shared.operations.staff import create_staff
from shared.search import matches, query_terms

AIM_MS = 100.0
#: (username, role, offices): created once per database.
USERS = (
    ("bench-admin", Role.ADMIN, ()),
    ("bench-finance", Role.OFFICER, ("finance",)),
    ("bench-two-offices", Role.OFFICER, ("cyber", "party")),
)


@dataclass
class Query:
    label: str
    username: str
    run: Callable[[Session, StaffUser], object]
    times: list[float] = field(default_factory=list)
    rows: str = ""
    #: A run hit the statement timeout; the query was not repeated.
    timed_out: bool = False

    def percentile(self, fraction: float) -> float:
        """Nearest rank, in milliseconds."""
        ranked = sorted(self.times)
        if not ranked:
            return math.nan
        return 1000 * ranked[max(0, math.ceil(fraction * len(ranked)) - 1)]


NO_FILTERS = QueueFilters()


def page(filters: QueueFilters = NO_FILTERS, cursor: str | None = None):
    return lambda session, user: list_cases(session, user, filters, cursor=cursor)


def tab_counts(filters: QueueFilters = NO_FILTERS):
    return lambda session, user: counts(session, user, filters)


def width(text: str) -> int:
    """Columns the text takes in a terminal: Chinese characters take two."""
    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text)


def line(label: str, user: str, p50: str, p95: str, ok: str, result: str) -> str:
    return label + " " * max(1, 40 - width(label)) + f"{user:<19}{p50:>8}{p95:>9}  {ok:<5}{result}"


def report(query: Query, *, aim: bool = True) -> str:
    p50, p95 = query.percentile(0.5), query.percentile(0.95)
    mark, digits = (">", 0) if query.timed_out else ("", 1)
    figures = (f"{mark}{p50:.{digits}f}", f"{mark}{p95:.{digits}f}")
    ok = ("yes" if p95 < AIM_MS and not query.timed_out else "NO") if aim else ""
    runs = f" ({len(query.times)} runs)" if len(query.times) < 20 else ""
    return line(query.label, query.username, *figures, ok, query.rows + runs)


def describe(result) -> str:
    if result is None:
        return "not counted (a broad search)"
    if isinstance(result, dict):
        return " ".join(f"{key[:3]}={value}" for key, value in result.items())
    return f"{len(result.items)} rows"


# --- setup ------------------------------------------------------------------------------------


def case_count(url: str) -> int | None:
    with psycopg.connect(libpq_url(url)) as connection:
        exists = connection.execute("SELECT to_regclass('public.case')").fetchone()[0]
        if exists is None:
            return None
        return connection.execute('SELECT count(*) FROM "case"').fetchone()[0]


def ensure_users(database: Database) -> dict[str, int]:
    ids = {}
    with database.transaction() as session:
        for username, role, offices in USERS:
            user_id = session.scalar(select(StaffUser.id).where(StaffUser.username == username))
            if user_id is None:
                user_id = create_staff(session, username, role, "benchmark-pw-1", offices).id
            ids[username] = user_id
    return ids


def shape(database: Database) -> list[str]:
    """A few lines on what the data looks like (untimed)."""
    with database.session() as session:
        total = session.scalar(select(func.count()).select_from(Case)) or 1
        by_status = dict(
            session.execute(select(Case.status, func.count()).group_by(Case.status)).all()
        )
        overdue = session.scalar(
            select(func.count()).where(
                Case.status.in_(CaseStatus.OPEN), Case.reply_due < func.now()
            )
        )
        triage = session.scalar(
            select(func.count()).where(Case.office_id.is_(None), Case.status.in_(CaseStatus.OPEN))
        )
        span = session.execute(select(func.min(Case.received_at), func.max(Case.received_at))).one()
    shares = ", ".join(
        f"{status} {100 * by_status.get(status, 0) / total:.1f}%" for status in CaseStatus.ALL
    )
    open_cases = sum(by_status.get(status, 0) for status in CaseStatus.OPEN)
    return [
        f"statuses: {shares}",
        f"open {open_cases:,} ({100 * open_cases / total:.1f}%), of which overdue {overdue:,}"
        f" and in triage {triage:,}; received {span[0]:%Y-%m-%d} to {span[1]:%Y-%m-%d}",
    ]


def matching(database: Database, words: list[str]) -> dict[str, int]:
    """How many cases each search matches in the whole table. With the default work_mem the
    bitmap of a common word turns lossy and every case on its pages is searched again: this
    is not a figure to time, so it gets memory enough and no timeout."""
    with database.session() as session:
        session.execute(text("SET LOCAL work_mem = '256MB'"))
        session.execute(text("SET LOCAL statement_timeout = 0"))
        return {
            word: session.scalar(
                select(func.count()).where(matches(query_terms(word), "postgresql"))
            )
            or 0
            for word in words
        }


# --- measuring --------------------------------------------------------------------------------


class Recorder:
    """The statements an engine sends while it is on, with their parameters."""

    def __init__(self, database: Database) -> None:
        self.statements: list[tuple[str, object]] = []
        self.on = False
        event.listen(database.engine, "before_cursor_execute", self._record)

    def _record(self, _conn, _cursor, statement, parameters, _context, _many) -> None:
        if self.on:
            self.statements.append((statement, parameters))

    def capture(self, work: Callable[[], object]) -> list[tuple[str, object]]:
        self.statements, self.on = [], True
        try:
            work()
        finally:
            self.on = False
        return self.statements


def measure(
    database: Database, user_id: int, query: Query, warmup: int, repeat: int, budget: float
) -> None:
    """Up to ``repeat`` timed runs after ``warmup`` untimed ones, fewer (at least 5) if they
    take more than ``budget`` seconds in all; one that times out ends it."""
    spent, number, result = 0.0, 0, None
    while number < warmup + repeat:
        with database.session() as session:
            user = session.get(StaffUser, user_id)
            user.offices  # noqa: B018  (loaded as the login would, untimed)
            started = time.perf_counter()
            try:
                result = query.run(session, user)
            except OperationalError as error:
                if not isinstance(error.orig, psycopg.errors.QueryCanceled):
                    raise
                query.timed_out = True
                query.times.append(time.perf_counter() - started)
                query.rows = "statement timeout"
                return
            took = time.perf_counter() - started
        number += 1
        if number > warmup:
            query.times.append(took)
            spent += took
            if spent > budget and len(query.times) >= 5:
                break
        elif took > budget / 5:
            number = warmup  # slow enough: the rest of the warm-up would only cost time
    query.rows = describe(result)


def follow(database: Database, user_id: int, pages: int) -> tuple[str | None, int]:
    """The cursor ``pages`` pages down the user's queue (or as far as it goes)."""
    cursor, reached = None, 0
    with database.session() as session:
        user = session.get(StaffUser, user_id)
        for _ in range(pages):
            result = list_cases(session, user, QueueFilters(), cursor=cursor)
            session.expunge_all()
            if result.next_cursor is None:
                break
            cursor, reached = result.next_cursor, reached + 1
    return cursor, reached


def raw_first_page(url: str, statements, warmup: int, repeat: int) -> Query:
    """The ORM's statements for a page, sent through psycopg alone."""
    query = Query("raw psycopg, same statements", "", lambda *_: None)
    with psycopg.connect(libpq_url(url)) as connection:
        for number in range(warmup + repeat):
            started = time.perf_counter()
            fetched = 0
            for statement, parameters in statements:
                with connection.cursor() as cursor:
                    cursor.execute(statement, parameters or None)
                    fetched += len(cursor.fetchall())
            took = time.perf_counter() - started
            connection.rollback()
            if number >= warmup:
                query.times.append(took)
    query.rows = f"{fetched} rows, {len(statements)} statements"
    return query


def explain(url: str, statements, timeout: float) -> None:
    """EXPLAIN (ANALYZE, BUFFERS) of each statement on the case table, in one transaction
    where the planner settings the code changed (``set_config``) are changed again; plain
    EXPLAIN if ANALYZE takes too long."""
    with psycopg.connect(libpq_url(url)) as connection:
        connection.execute(f"SET LOCAL statement_timeout = {int(timeout * 1000)}")
        for statement, parameters in statements:
            if "set_config" in statement:
                connection.execute(statement, parameters or None)
                print(f"\n--- {' '.join(statement.split())}, {parameters}")
                continue
            if '"case"' not in statement:
                continue
            print(f"\n--- {' '.join(statement.split())[:300]}")
            print(f"    parameters: {parameters}")
            try:
                with connection.transaction():  # a savepoint: a timeout spoils only this
                    plan = connection.execute(
                        "EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters or None
                    ).fetchall()
            except psycopg.errors.QueryCanceled:
                print(f"    (not finished after {timeout:.0f} s: EXPLAIN without ANALYZE)")
                plan = connection.execute("EXPLAIN " + statement, parameters or None).fetchall()
            for (text,) in plan:
                print(f"    {text}")
        connection.rollback()


# --- the run ----------------------------------------------------------------------------------


def queries(deep: dict[str, tuple[str | None, int]]) -> list[Query]:
    admin, officer, two = (username for username, _role, _offices in USERS)
    q = QueueFilters
    return [
        Query("first page", admin, page()),
        Query("first page", officer, page()),
        Query("first page", two, page()),
        Query("status=assigned office=finance", admin,
              page(q(status="assigned", office="finance"))),
        Query("category=complaint channel=phone", admin,
              page(q(category="complaint", channel="phone"))),
        Query("status=assigned", officer, page(q(status="assigned"))),
        Query("overdue", admin, page(q(overdue=True))),
        Query("overdue", officer, page(q(overdue=True))),
        Query(f"deep page {deep[admin][1]} by cursor", admin, page(cursor=deep[admin][0])),
        Query(f"deep page {deep[officer][1]} by cursor", officer, page(cursor=deep[officer][0])),
        Query(f"deep page {deep[two][1]} by cursor", two, page(cursor=deep[two][0])),
        Query("search 财务", admin, page(q(q="财务"))),
        Query("search 舆情", admin, page(q(q="舆情"))),
        Query("search 皮影 (rare)", admin, page(q(q="皮影"))),
        Query("search 差旅费", admin, page(q(q="差旅费"))),
        Query("search 融媒体", admin, page(q(q="融媒体"))),
        Query("search 财务", officer, page(q(q="财务"))),
        Query("search 舆情", officer, page(q(q="舆情"))),
        Query("counts", admin, tab_counts()),
        Query("counts", officer, tab_counts()),
        Query("counts", two, tab_counts()),
        Query("counts office=finance", admin, tab_counts(q(office="finance"))),
        Query("counts search 财务", admin, tab_counts(q(q="财务"))),
    ]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=DEFAULT_URL)
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--reuse", action="store_true", help="keep the cases already loaded")
    parser.add_argument("--repeat", type=int, default=40)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--deep-pages", type=int, default=200)
    parser.add_argument("--explain", action="store_true", help="plans of what misses the aim")
    parser.add_argument(
        "--timeout",
        type=float,
        default=30,
        help="statement timeout, seconds (a query that hits it is not repeated)",
    )
    parser.add_argument(
        "--budget",
        type=float,
        default=20,
        help="seconds of timed runs per query, after which"
        " it is repeated no more (at least 5 runs)",
    )
    args = parser.parse_args()

    ensure_database(args.url)
    present = case_count(args.url)
    if args.reuse and present == args.cases:
        print(f"reusing {present:,} cases in {args.url}")
    else:
        print(f"loading {args.cases:,} cases into {args.url}", flush=True)
        started = time.perf_counter()
        prepare_schema(args.url)
        stats = load_cases(args.url, args.cases, log=lambda line: print(line, flush=True))
        took = time.perf_counter() - started
        phases = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in stats.phases.items())
        print(f"  ({phases}; {stats.ratings:,} ratings)")
        print(f"loaded in {took:.1f} s: {args.cases / took:,.0f} cases/s")

    timeout = f"-c statement_timeout={int(args.timeout * 1000)}"
    database = Database(args.url, connect_args={"options": timeout})
    recorder = Recorder(database)
    user_ids = ensure_users(database)
    for description in shape(database):
        print(description)
    words = ["财务", "舆情", "皮影", "差旅费", "融媒体"]
    found = matching(database, words)
    print("search matches: " + ", ".join(f"{word} {found[word]:,}" for word in words))
    deep = {}
    for username in user_ids:
        deep[username] = follow(database, user_ids[username], args.deep_pages)
    print(flush=True)

    print(line("query", "user", "p50 ms", "p95 ms", "<100", "result"))
    print("-" * 100)
    results = queries(deep)
    for query in results:
        user_id = user_ids[query.username]
        measure(database, user_id, query, args.warmup, args.repeat, args.budget)
        print(report(query), flush=True)

    # The baseline: the first page's statements, captured from the ORM, sent raw.
    orm = results[0]
    admin_id = user_ids[orm.username]

    def first_page() -> None:
        with database.session() as session:
            list_cases(session, session.get(StaffUser, admin_id))

    statements = recorder.capture(first_page)
    statements = [(sql, params) for sql, params in statements if "staff_user" not in sql]
    raw = raw_first_page(args.url, statements, args.warmup, args.repeat)
    raw.username = orm.username
    print(report(raw, aim=False))
    ratio = orm.percentile(0.5) / raw.percentile(0.5)
    print(f"\nratio ORM / raw psycopg, first page (p50): {ratio:.2f}")

    missed = [query for query in results if query.timed_out or query.percentile(0.95) >= AIM_MS]
    print(
        f"p95 under {AIM_MS:.0f} ms: {len(results) - len(missed)} of {len(results)} queries"
        + (
            f"; missed by {', '.join(f'{q.label} ({q.username})' for q in missed)}"
            if missed
            else ""
        )
    )
    if args.explain:
        for query in missed:
            print(f"\n=== {query.label} ({query.username}): EXPLAIN (ANALYZE, BUFFERS)")
            user_id = user_ids[query.username]

            def once(query=query, user_id=user_id) -> None:
                with database.session() as session:
                    user = session.get(StaffUser, user_id)
                    user.offices  # noqa: B018
                    # A timeout again does not matter: the statements are captured by then.
                    with contextlib.suppress(OperationalError):
                        query.run(session, user)

            explain(args.url, recorder.capture(once), 4 * args.timeout)
    database.dispose()


if __name__ == "__main__":
    main()
