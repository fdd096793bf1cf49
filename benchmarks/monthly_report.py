"""Time and peak memory of the monthly report (issue 8) at a million cases in PostgreSQL.

    .venv/bin/python -m benchmarks.monthly_report [--reuse] [--cases 1000000] [--url URL] \\
        [--month YYYY-MM] [--office CODE]... [--runs 2] [--explain] [--slow-ms 500] \\
        [--timeout 300] [--no-jit]

The database (default postgresql://postgres@127.0.0.1:5432/minyi_bench, created if missing)
is emptied, migrated, seeded and loaded with ``--cases`` cases over two years by
:mod:`benchmarks.million_cases` (the loader prints its own time); ``--reuse`` keeps a database
that already holds exactly that many cases with their replies. The month is last month
(the busiest of the data) unless ``--month`` says otherwise; ``--office`` limits the report
to those offices, as an officer's report is. A reused database is first brought level with
the models (missing tables, nullable columns and indexes are added, and said so).

Every measure runs in a fresh Python process, so that its peak RSS (the child's own
``ru_maxrss``) is its alone, and is timed with ``time.perf_counter`` inside it:

- baseline: the cost of reading the month once, raw psycopg, no ORM:
  ``SELECT count(*), count(first_replied_at) … FROM "case" WHERE received_at`` in the month,
  plus one ``GROUP BY office_id`` over the same rows;
- JSON: :func:`shared.reports.figures.monthly_report` (the figures) and ``json.dumps``;
- XLSX: the figures and ``shared.reports.render(report, "xlsx")``.

Each child first imports what the report needs (SQLAlchemy, psycopg, the models, the report
and its renderers); its RSS then is the reference for memory ("python + imports"). The three
run ``--runs`` times in turn (the first run also warms the caches); the table shows the best
time and the largest peak RSS, with their ratios to the baseline, against the aims: JSON under
10 s, XLSX under 60 s, both under 500 MB peak RSS. Then the time of each step of the report
(the names its ``progress`` callback gives), split into the time PostgreSQL took for the step's
statements and the rest (Python). ``--explain`` prints ``EXPLAIN (ANALYZE, BUFFERS)`` of the
report's statements that took more than ``--slow-ms`` (captured with SQLAlchemy's
``before_cursor_execute`` / ``after_cursor_execute`` events in the last JSON child, explained
there after the measurement, with the parameters they were sent with). A statement read in
batches (``yield_per``, a server-side cursor) counts "in SQL" only until its first rows.
``--timeout`` is the report's statement timeout (a run that reaches it stops the benchmark,
naming the step and the statement); ``--no-jit`` runs the report with PostgreSQL's JIT off.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from datetime import UTC, date, datetime
from datetime import time as dt_time
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")

AIMS = {"json": (10.0, 500.0), "xlsx": (60.0, 500.0)}
LABELS = {
    "baseline": "baseline: the month read once (raw SQL)",
    "json": "JSON report (figures + json.dumps)",
    "xlsx": "XLSX report (figures + render)",
}

_BASELINE_TOTALS = """
SELECT count(*), count(first_replied_at), count(*) FILTER (WHERE status <> 'spam'),
       count(closed_at)
FROM "case" WHERE received_at >= %(start)s AND received_at < %(end)s
"""
_BASELINE_OFFICES = """
SELECT office_id, count(*) FROM "case"
WHERE received_at >= %(start)s AND received_at < %(end)s GROUP BY office_id
"""


def _month_bounds(month: date) -> dict[str, datetime]:
    """The Asia/Shanghai month as UTC instants: start included, end excluded."""
    following = date(month.year + month.month // 12, month.month % 12 + 1, 1)
    return {
        "start": datetime.combine(month, dt_time(0), SHANGHAI).astimezone(UTC),
        "end": datetime.combine(following, dt_time(0), SHANGHAI).astimezone(UTC),
    }


def _peak_mb() -> float:
    """This process's peak resident set so far (Linux gives kilobytes)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --- the child: one measure in a fresh process ------------------------------------------------


class _Steps:
    """The report's progress steps, timed, with the statements sent during each."""

    def __init__(self, slow_seconds: float) -> None:
        self.slow_seconds = slow_seconds
        self.current = "setup"
        self.started = time.perf_counter()
        self.wall: dict[str, float] = {}
        self.sql: dict[str, float] = {}
        self.statements: dict[str, int] = {}
        self.slow: list[dict] = []
        self._sent: float | None = None

    def step(self, name: str) -> None:
        now = time.perf_counter()
        self.wall[self.current] = self.wall.get(self.current, 0.0) + now - self.started
        self.current, self.started = name, now

    def end(self) -> None:
        self.step("done")

    def before(self, _conn, _cursor, _statement, _parameters, _context, _many) -> None:
        self._sent = time.perf_counter()

    def after(self, _conn, _cursor, statement, parameters, _context, _many) -> None:
        if self._sent is None:
            return
        took = time.perf_counter() - self._sent
        self._sent = None
        self.sql[self.current] = self.sql.get(self.current, 0.0) + took
        self.statements[self.current] = self.statements.get(self.current, 0) + 1
        if took > self.slow_seconds:
            self.slow.append(
                {"step": self.current, "seconds": took, "sql": statement, "parameters": parameters}
            )


def _explain(engine, slow: list[dict]) -> list[dict]:
    """EXPLAIN (ANALYZE, BUFFERS) of each slow statement, with the parameters it was sent
    with; the statements' texts and parameters are made printable."""
    explained = []
    with engine.connect() as connection:
        for entry in slow:
            rows = connection.exec_driver_sql(
                "EXPLAIN (ANALYZE, BUFFERS) " + entry["sql"], entry["parameters"]
            ).all()
            explained.append(
                {
                    "step": entry["step"],
                    "seconds": entry["seconds"],
                    "sql": entry["sql"],
                    "parameters": {k: str(v) for k, v in (entry["parameters"] or {}).items()},
                    "plan": "\n".join(row[0] for row in rows),
                }
            )
        connection.rollback()
    return explained


def child(kind: str, url: str, month_text: str, now_text: str, offices: list[str], args) -> dict:
    """One measure; returns what the parent prints (as one JSON line on stdout)."""
    import psycopg
    from sqlalchemy import event, select
    from sqlalchemy.exc import OperationalError

    from benchmarks.million_cases import libpq_url
    from shared.db import Database
    from shared.models import Office
    from shared.reports import render
    from shared.reports.figures import monthly_report

    imports_mb = _peak_mb()
    month = date.fromisoformat(month_text + "-01")
    now = datetime.fromisoformat(now_text)
    result: dict = {"kind": kind, "imports_mb": imports_mb}

    if kind == "baseline":
        bounds = _month_bounds(month)
        with psycopg.connect(libpq_url(url)) as connection:
            started = time.perf_counter()
            totals = connection.execute(_BASELINE_TOTALS, bounds).fetchone()
            per_office = connection.execute(_BASELINE_OFFICES, bounds).fetchall()
            result["seconds"] = time.perf_counter() - started
        result["peak_mb"] = _peak_mb()
        result["rows"] = f"{totals[0]:,} cases received, {len(per_office)} offices"
        return result

    options = f"-c statement_timeout={int(args.timeout * 1000)}"
    if args.no_jit:
        options += " -c jit=off"
    database = Database(url, connect_args={"options": options})
    steps = _Steps(args.slow_ms / 1000)
    event.listen(database.engine, "before_cursor_execute", steps.before)
    event.listen(database.engine, "after_cursor_execute", steps.after)
    with database.session() as session:
        scope = None
        if offices:
            scope = session.scalars(select(Office).where(Office.code.in_(offices))).all()
        steps.step("setup")
        started = time.perf_counter()
        try:
            report = monthly_report(session, month, offices=scope, progress=steps.step, now=now)
        except OperationalError as error:
            if not isinstance(error.orig, psycopg.errors.QueryCanceled):
                raise
            result.update(
                timed_out=steps.current,
                seconds=time.perf_counter() - started,
                peak_mb=_peak_mb(),
                statement=str(error.statement),
            )
            return result
        figures = time.perf_counter() - started
        steps.step("output")
        if kind == "json":
            data = json.dumps(report, ensure_ascii=False).encode()
        else:
            data = render(report, kind, language="zh")
        steps.end()
        result["seconds"] = time.perf_counter() - started
        result["peak_mb"] = _peak_mb()
        result["figures_seconds"] = figures
        result["bytes"] = len(data)
        result["rows"] = (
            f"{report['received']:,} received, {report['replied']:,} replied,"
            f" {len(report['overdue_cases']):,} overdue listed"
        )
        session.rollback()
    result["steps"] = {
        name: {
            "seconds": seconds,
            "sql": steps.sql.get(name, 0.0),
            "statements": steps.statements.get(name, 0),
        }
        for name, seconds in steps.wall.items()
        if name not in ("setup", "done")
    }
    event.remove(database.engine, "before_cursor_execute", steps.before)
    event.remove(database.engine, "after_cursor_execute", steps.after)
    if args.explain and kind == "json":
        result["explained"] = _explain(database.engine, steps.slow)
    else:
        result["slow"] = [{"step": s["step"], "seconds": s["seconds"]} for s in steps.slow]
    database.dispose()
    return result


# --- the parent -------------------------------------------------------------------------------


def run_child(kind: str, args, month: str, now: datetime, *, explain: bool = False) -> dict:
    command = [
        sys.executable,
        "-m",
        "benchmarks.monthly_report",
        "--child",
        kind,
        "--url",
        args.url,
        "--month",
        month,
        "--now",
        now.isoformat(),
        "--slow-ms",
        str(args.slow_ms),
        "--timeout",
        str(args.timeout),
        *(["--explain"] if explain else []),
        *(["--no-jit"] if args.no_jit else []),
        *(part for code in args.office for part in ("--office", code)),
    ]
    completed = subprocess.run(  # noqa: S603  (our own module, our own arguments)
        command, capture_output=True, text=True, check=False, env={**os.environ}
    )
    if completed.returncode != 0:
        sys.stderr.write(completed.stderr)
        raise SystemExit(f"the {kind} measure failed (exit status {completed.returncode})")
    if completed.stderr.strip():
        sys.stderr.write(completed.stderr)
    return json.loads(completed.stdout.strip().splitlines()[-1])


def loaded(url: str) -> tuple[int | None, int]:
    """Cases and replies in the database (None: no schema)."""
    import psycopg

    from benchmarks.million_cases import libpq_url

    with psycopg.connect(libpq_url(url)) as connection:
        if connection.execute("SELECT to_regclass('public.case')").fetchone()[0] is None:
            return None, 0
        cases = connection.execute('SELECT count(*) FROM "case"').fetchone()[0]
        replies = connection.execute("SELECT count(*) FROM reply").fetchone()[0]
        return cases, replies


def catch_up_schema(url: str) -> list[str]:
    """Add to a reused database what the models have and it lacks: tables, nullable columns,
    indexes (the migration of this release is still being written, and a load takes minutes).
    Returns what was added."""
    from sqlalchemy import inspect
    from sqlalchemy.schema import CreateIndex

    import shared.models  # noqa: F401  (every table in the metadata)
    from shared.db import Base, make_engine

    engine = make_engine(url)
    added: list[str] = []
    try:
        with engine.begin() as connection:
            present = inspect(connection)
            tables = set(present.get_table_names())
            for table in Base.metadata.sorted_tables:
                if table.name not in tables:
                    table.create(connection)
                    added.append(f"table {table.name}")
                    continue
                columns = {column["name"] for column in present.get_columns(table.name)}
                for column in table.columns:
                    if column.name not in columns:
                        kind = column.type.compile(dialect=connection.dialect)
                        connection.exec_driver_sql(
                            f'ALTER TABLE "{table.name}" ADD COLUMN "{column.name}" {kind}'
                        )
                        added.append(f"column {table.name}.{column.name}")
                indexes = {index["name"] for index in present.get_indexes(table.name)}
                for index in table.indexes:
                    if index.name not in indexes:
                        connection.execute(CreateIndex(index))
                        added.append(f"index {index.name}")
            if added:
                connection.exec_driver_sql("ANALYZE")
    finally:
        engine.dispose()
    return added


def ensure_data(args) -> None:
    from benchmarks.million_cases import ensure_database, load_cases, prepare_schema

    ensure_database(args.url)
    cases, replies = loaded(args.url)
    if args.reuse and cases == args.cases and replies:
        print(f"reusing {cases:,} cases and {replies:,} replies in {args.url}")
        added = catch_up_schema(args.url)
        if added:
            print(f"  the models have changed since the load; added {', '.join(added)}")
        return
    if args.reuse:
        print(f"cannot reuse: {cases or 0:,} cases and {replies:,} replies; loading again")
    print(f"loading {args.cases:,} cases into {args.url}", flush=True)
    started = time.perf_counter()
    prepare_schema(args.url)
    stats = load_cases(args.url, args.cases, log=lambda line: print(line, flush=True))
    took = time.perf_counter() - started
    phases = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in stats.phases.items())
    print(f"  ({phases}; {stats.ratings:,} ratings)")
    print(f"loaded in {took:.1f} s (schema included): {args.cases / took:,.0f} cases/s")


def _ok(met: bool) -> str:
    return "yes" if met else "NO"


def print_table(results: dict[str, list[dict]]) -> None:
    base = results["baseline"]
    base_seconds = min(r["seconds"] for r in base)
    base_mb = max(r["peak_mb"] for r in base)
    imports_mb = max(r["imports_mb"] for r in results["json"])
    print(
        f"child process after imports (python + SQLAlchemy + report + renderers): "
        f"{imports_mb:.0f} MB RSS"
    )
    header = (
        f"{'measure':<42}{'seconds':>9}{'x base':>9}{'peak MB':>9}{'x base':>8}"
        f"{'aim':>14}  met  runs (s)"
    )
    print(header)
    print("-" * len(header))
    for kind, runs in results.items():
        seconds = min(r["seconds"] for r in runs)
        peak = max(r["peak_mb"] for r in runs)
        each = " ".join(f"{r['seconds']:.2f}" for r in runs)
        if kind in AIMS:
            aim_s, aim_mb = AIMS[kind]
            aim = f"<{aim_s:.0f} s <{aim_mb:.0f}MB"
            met = _ok(seconds < aim_s and peak < aim_mb)
        else:
            aim, met = "", ""
        print(
            f"{LABELS[kind]:<42}{seconds:>9.2f}{seconds / base_seconds:>9.1f}{peak:>9.0f}"
            f"{peak / base_mb:>8.2f}{aim:>14}  {met:<4} {each}"
        )
    print(f"\n({runs_note(results)})")


def runs_note(results: dict[str, list[dict]]) -> str:
    json_run = results["json"][-1]
    xlsx_run = results["xlsx"][-1]
    return (
        f"{json_run['rows']}; JSON {json_run['bytes']:,} bytes, XLSX {xlsx_run['bytes']:,} bytes;"
        f" figures in the XLSX run {xlsx_run['figures_seconds']:.2f} s,"
        f" render {xlsx_run['seconds'] - xlsx_run['figures_seconds']:.2f} s"
    )


def print_steps(results: dict[str, list[dict]]) -> None:
    runs = results["json"]
    best = min(runs, key=lambda r: r["seconds"])
    xlsx = min(results["xlsx"], key=lambda r: r["seconds"])
    print("\nsteps of the report (the fastest JSON run; output: json.dumps, and the XLSX render)")
    print(f"{'step':<16}{'seconds':>9}{'in SQL':>9}{'Python':>9}{'statements':>12}")
    print("-" * 55)
    for name, step in best["steps"].items():
        print(
            f"{name:<16}{step['seconds']:>9.3f}{step['sql']:>9.3f}"
            f"{step['seconds'] - step['sql']:>9.3f}{step['statements']:>12}"
        )
    render_step = xlsx["steps"].get("output")
    if render_step:
        print(f"{'xlsx render':<16}{render_step['seconds']:>9.3f}")
    slow = best.get("slow") or [
        {"step": e["step"], "seconds": e["seconds"]} for e in best.get("explained", [])
    ]
    if slow:
        listed = ", ".join(f"{s['step']} {s['seconds']:.2f} s" for s in slow)
        print(f"statements over the slow mark: {listed}")


def _shorten(text: str, limit: int) -> str:
    """Long IN lists make statements and plans unreadable: keep the beginning."""
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text):,} characters)"


def print_plans(results: dict[str, list[dict]]) -> None:
    explained = [e for run in results["json"] for e in run.get("explained", [])]
    if not explained:
        print("\nno statement of the report took more than the slow mark")
        return
    seen = set()
    for entry in explained:
        if entry["sql"] in seen:
            continue
        seen.add(entry["sql"])
        print(f"\n=== step {entry['step']}: {entry['seconds']:.2f} s")
        print(_shorten(entry["sql"], 2000))
        print(_shorten(f"parameters: {entry['parameters']}", 400))
        print("--- EXPLAIN (ANALYZE, BUFFERS)")
        print("\n".join(_shorten(line, 400) for line in entry["plan"].splitlines()))


def main() -> None:
    from benchmarks.million_cases import DEFAULT_URL

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=DEFAULT_URL)
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--reuse", action="store_true", help="keep the cases already loaded")
    parser.add_argument("--month", help="YYYY-MM (default: last month)")
    parser.add_argument("--office", action="append", default=[], help="limit to this office")
    parser.add_argument("--runs", type=int, default=2, help="runs of each measure")
    parser.add_argument("--explain", action="store_true", help="plans of the slow statements")
    parser.add_argument("--slow-ms", type=float, default=500.0)
    parser.add_argument(
        "--timeout", type=float, default=300.0, help="statement timeout of the report, seconds"
    )
    parser.add_argument(
        "--no-jit", action="store_true", help="the report's session with jit = off (a fix to try)"
    )
    parser.add_argument("--child", choices=("baseline", "json", "xlsx"), help=argparse.SUPPRESS)
    parser.add_argument("--now", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        result = child(args.child, args.url, args.month, args.now, args.office, args)
        print(json.dumps(result, default=str))
        return

    ensure_data(args)
    from shared.reports.months import last_completed_month, parse_month

    now = datetime.now(UTC)
    month = parse_month(args.month, now=now) if args.month else last_completed_month(now)
    month_text = f"{month:%Y-%m}"
    scope = ", ".join(args.office) if args.office else "the whole department"
    jit = "; jit = off" if args.no_jit else ""
    print(f"\nmonthly report of {month_text}, {scope}; {args.runs} run(s) of each measure{jit}")
    results: dict[str, list[dict]] = {"baseline": [], "json": [], "xlsx": []}
    for number in range(args.runs):
        for kind in results:
            last = number == args.runs - 1
            result = run_child(kind, args, month_text, now, explain=args.explain and last)
            if result.get("timed_out"):
                print(
                    f"  run {number + 1} {kind}: a statement of step {result['timed_out']}"
                    f" reached the timeout ({args.timeout:.0f} s) after {result['seconds']:.0f} s"
                    f" in all:\n{result['statement']}"
                )
                raise SystemExit(1)
            results[kind].append(result)
            print(
                f"  run {number + 1} {kind}: {result['seconds']:.2f} s, "
                f"peak {result['peak_mb']:.0f} MB",
                flush=True,
            )
    print()
    print_table(results)
    print_steps(results)
    if args.explain:
        print_plans(results)


if __name__ == "__main__":
    main()
