"""Comment-form throughput over HTTP under gunicorn, beside a bare WSGI app inserting one row.

    .venv/bin/python -m benchmarks.form_throughput [--submissions 200] [--concurrency 4] \\
        [--rounds 3] [--workers 2]

In a temporary folder the benchmark migrates and seeds (``minyi db upgrade``, ``minyi seed
demo``) a SQLite database, then starts two servers with the same gunicorn settings (sync
workers, ``--workers W``, no access log):

- Minyi's intake, ``intake:create_app()``;
- :func:`bare_app` below: a few lines of WSGI, no framework, which answers a GET with a tiny
  form and a POST by inserting one row into SQLite (same pragmas as Minyi: WAL,
  synchronous=NORMAL, busy_timeout) on one connection per worker.

The same client drives both: C threads, each a browser with its own cookie jar, each
submission a GET of the form (for its csrf_token and form_token) then a POST of a realistic
Chinese comment (about 200 characters, a notice item, a category, a name, a phone number and
an email address, so the acknowledgement mail goes to the outbox too); a submission counts
only if the POST answers 200 with a tracking number, and every failure is reported (the exit
status is then 1). The latency of a submission is its GET plus its POST.

Rounds alternate bare and Minyi (after an uncounted warm-up of each), since the machine is
shared; the rate printed is the best round of each, and p50/p99 are those of that best round.
The server's environment sets RATELIMIT_ENABLED=false, FORM_MIN_FILL_SECONDS=0 and a huge
CAPTCHA_AFTER: the abuse defences would otherwise throttle or challenge a client that sends
hundreds of forms a second from one address, which is what this is. The client runs in this
process and shares the machine's cores with the servers, for both sides alike.
"""

from __future__ import annotations

import argparse
import functools
import http.cookiejar
import math
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

# --- the baseline: a bare WSGI app (imported by its gunicorn workers; stdlib only) ----------

BARE_DB_ENV = "FORM_BENCH_BARE_DB"
_BARE_FORM = (
    b'<!doctype html><form method="post" action="/feedback">'
    b'<input type="hidden" name="csrf_token" value="bare-csrf">'
    b'<input type="hidden" name="form_token" value="bare-form"></form>'
)


@functools.cache
def _bare_connection(path: str) -> sqlite3.Connection:
    connection = sqlite3.connect(path, timeout=15)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA busy_timeout=15000")
    connection.execute("PRAGMA synchronous=NORMAL")
    return connection


def bare_app(environ, start_response):
    """GET: a tiny form and a cookie. POST: insert the comment as one row, answer its number."""
    if environ["REQUEST_METHOD"] != "POST":
        start_response("200 OK", [("Content-Type", "text/html"), ("Set-Cookie", "s=1; Path=/")])
        return [_BARE_FORM]
    size = int(environ.get("CONTENT_LENGTH") or 0)
    form = urllib.parse.parse_qs(environ["wsgi.input"].read(size).decode())
    connection = _bare_connection(os.environ[BARE_DB_ENV])
    with connection:  # one transaction, committed
        row = connection.execute(
            "INSERT INTO comment (body, email, received_at) VALUES (?, ?, ?)",
            (form["body"][0], form.get("email", [""])[0], time.time()),
        ).lastrowid
    start_response("200 OK", [("Content-Type", "text/html; charset=utf-8")])
    return [f'<dd id="tracking-number">{row // 10000:04d}-{row % 10000:04d}</dd>'.encode()]


def _create_bare_database(path: Path) -> None:
    with sqlite3.connect(path) as connection:
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute(
            "CREATE TABLE comment (id INTEGER PRIMARY KEY, body TEXT NOT NULL, email TEXT,"
            " received_at REAL NOT NULL)"
        )
    connection.close()


# --- the client ------------------------------------------------------------------------------

_BODIES = (
    "通报中提到网络舆情转办的整改已经完成，但我们在乡镇一级看到，群众在县融媒体中心留言后，"
    "很多时候只收到“已转有关部门”的答复，之后就没有下文了。建议把每一条转办件的办理单位、"
    "办理时限和办理结果在网上公开，按月汇总通报，让留言的群众能查到进度；对逾期不办、"
    "答复敷衍的单位，也请在下一次整改情况通报里写明是怎么处理的。另外，希望电话和信件"
    "反映的问题也能一并纳入台账，不要只统计网上的留言，这样整改才算真正落到实处。谢谢！",
    "我是一名乡村学校的老师，看了这次巡察整改情况的通报很受鼓舞。关于理论学习流于形式的问题，"
    "我觉得基层的宣讲活动还可以更贴近群众：少念文件，多讲身边的事，用方言讲，用群众听得懂的话讲。"
    "建议宣讲结束后留出时间让群众提问，并把群众提出的问题记录下来，一个月内给出答复。"
    "另外，村里的宣传栏很多内容几年都没有更新，希望能定期检查更换，把整改的情况也贴出来，"
    "让不会上网的老人也能知道。希望这些意见能被采纳。",
    "反映一个具体问题：通报中说财务管理方面的问题已经整改，但是去年我们村文化广场的建设资金，"
    "到现在还有一部分没有拨付到位，施工队多次来村里要钱，群众意见很大。请有关部门核实一下"
    "这笔资金现在在哪个环节，什么时候能够拨付；如果有困难，也请给村里一个明确的说法。"
    "我们不是要为难谁，只是希望公开透明，账目清楚。另外建议今后类似的项目资金使用情况，"
    "在村务公开栏和网上同时公示，方便群众监督。盼复，谢谢。",
)
_NAMES = ("王建国", "李秀英", "张伟", "刘芳", "陈明", "杨静")
_CATEGORIES = ("suggestion", "complaint", "report", "inquiry", "praise")
_HIDDEN = re.compile(r'name="(csrf_token|form_token|notice_id)" value="([^"]*)"')
_TRACKING_NUMBER = re.compile(r'id="tracking-number">([^<]+)<')


def comment_fields(index: int, items: list[str]) -> dict[str, str]:
    """The visible fields of submission ``index``, as a citizen fills them in."""
    fields = {
        "notice_item": items[index % len(items)] if items else "",
        "category": _CATEGORIES[index % len(_CATEGORIES)],
        "subject": "关于巡察整改落实情况的意见",
        "body": _BODIES[index % len(_BODIES)],
        "name": _NAMES[index % len(_NAMES)],
        "phone": f"0932-555{index % 10000:04d}",
        "email": f"citizen{index}@example.cn",
    }
    if index % 3 == 0:
        fields["publish_consent"] = "on"
    if index % 7 == 0:
        fields["confidential"] = "on"
    return fields


@dataclass
class Round:
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    failures: Counter = field(default_factory=Counter)

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else 0.0

    def percentile(self, fraction: float) -> float:
        """Nearest rank, in milliseconds."""
        ranked = sorted(self.latencies)
        if not ranked:
            return math.nan
        return 1000 * ranked[max(0, math.ceil(fraction * len(ranked)) - 1)]


def _submit(opener, base_url: str, fields: dict[str, str]) -> str | None:
    """One submission as a browser sends it; None if it worked, else what went wrong."""
    try:
        with opener.open(base_url + "/", timeout=30) as response:
            page = response.read().decode()
        hidden = dict(_HIDDEN.findall(page))
        if "csrf_token" not in hidden or "form_token" not in hidden:
            return "GET /: no csrf_token or form_token in the page"
        data = urllib.parse.urlencode({**hidden, **fields}).encode()
        with opener.open(base_url + "/feedback", data=data, timeout=30) as response:
            receipt = response.read().decode()
            status = response.status
    except urllib.error.HTTPError as error:
        return f"{error.url.removeprefix(base_url)}: HTTP {error.code}"
    except OSError as error:  # refused, reset, timed out
        return f"{type(error).__name__}: {error}"
    if status != 200:
        return f"POST /feedback: HTTP {status}"
    if not _TRACKING_NUMBER.search(receipt):
        return "POST /feedback: 200 without a tracking number"
    return None


def drive(base_url: str, submissions: int, concurrency: int, first: int, items) -> Round:
    """``submissions`` form submissions by ``concurrency`` browsers at once."""
    result = Round()
    lock = threading.Lock()
    numbers = iter(range(first, first + submissions))
    start = threading.Barrier(concurrency + 1)

    def browser() -> None:
        cookies = urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        opener = urllib.request.build_opener(cookies)
        start.wait()
        while True:
            with lock:
                index = next(numbers, None)
            if index is None:
                return
            began = time.perf_counter()
            failure = _submit(opener, base_url, comment_fields(index, items))
            took = time.perf_counter() - began
            with lock:
                if failure is None:
                    result.latencies.append(took)
                else:
                    result.failures[failure] += 1

    threads = [threading.Thread(target=browser, daemon=True) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    result.seconds = time.perf_counter() - began
    return result


# --- the servers -----------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def gunicorn(app: str, workers: int, env: dict[str, str], folder: Path, name: str):
    """``python -m gunicorn`` serving ``app`` on a free port, run in ``folder`` (PYTHONPATH
    finds this checkout); yields its base URL."""
    port = _free_port()
    command = [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}"]
    command += ["--workers", str(workers), app]
    log_path = folder / f"{name}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(  # noqa: S603  (our own argv)
            command, cwd=folder, env=env, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 60
            while True:
                try:
                    urllib.request.urlopen(url + "/readyz", timeout=2).close()  # noqa: S310  (loopback http)
                    break
                except OSError:
                    if process.poll() is not None or time.monotonic() > deadline:
                        raise SystemExit(
                            f"{name} did not come up:\n{log_path.read_text(errors='replace')}"
                        ) from None
                    time.sleep(0.2)
            yield url
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _minyi(env: dict[str, str], folder: Path, *args: str) -> str:
    command = [sys.executable, "-m", "shared.cli", *args]
    done = subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True)  # noqa: S603  (our own argv)
    if done.returncode:
        raise SystemExit(f"minyi {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
    return done.stdout


def _count(database: Path, table: str) -> int:
    with sqlite3.connect(database) as connection:
        count = connection.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]  # noqa: S608  (our own table names)
    connection.close()
    return count


def _log_tail(folder: Path, side: str, lines: int = 40) -> str:
    tail = (folder / f"{side}.log").read_text(errors="replace").splitlines()[-lines:]
    return "\n".join([f"the end of the {side} server's log:", *tail])


def _failed(failures: Counter, side: str) -> int:
    return sum(count for what, count in failures.items() if what.startswith(side))


def _line(label: str, best: Round, failures: int) -> str:
    return (
        f"{label:<30}{best.rate:8.1f} submissions/s   p50 {best.percentile(0.50):7.1f} ms"
        f"   p99 {best.percentile(0.99):7.1f} ms   failures {failures}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=200, help="per round and side")
    parser.add_argument("--concurrency", type=int, default=4, help="browsers at once")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn sync workers")
    args = parser.parse_args()
    warmup = 4 * args.concurrency

    with tempfile.TemporaryDirectory() as tmp, ExitStack() as servers:
        folder = Path(tmp)
        minyi_db, bare_db = folder / "bench.db", folder / "bare.db"
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
            "MINYI_ENV": "development",  # session cookies without Secure: this is plain http
            "DATABASE_URL": f"sqlite:///{minyi_db}",
            "SECRET_KEY": "form-throughput-benchmark",
            "VAR_DIR": str(folder / "var"),
            "RATELIMIT_ENABLED": "false",
            "FORM_MIN_FILL_SECONDS": "0",
            "CAPTCHA_AFTER": str(10**9),
            BARE_DB_ENV: str(bare_db),
        }
        for name in ("MAIL_SERVER", "IMAP_HOST"):
            env.pop(name, None)
        _minyi(env, folder, "db", "upgrade")
        _minyi(env, folder, "seed", "demo")
        _create_bare_database(bare_db)

        urls = {
            "bare": servers.enter_context(
                gunicorn("benchmarks.form_throughput:bare_app", args.workers, env, folder, "bare")
            ),
            "minyi": servers.enter_context(
                gunicorn("intake:create_app()", args.workers, env, folder, "minyi")
            ),
        }
        try:
            with urllib.request.urlopen(urls["minyi"] + "/", timeout=30) as response:  # noqa: S310  (loopback http)
                page = response.read().decode()
        except OSError as error:
            raise SystemExit(f"GET / failed: {error}\n{_log_tail(folder, 'minyi')}") from None
        items = sorted(set(re.findall(r'name="notice_item" value="([^"]+)"', page)))
        if not items:
            raise SystemExit("the form offers no notice items: was the demo notice seeded?")

        rounds: dict[str, list[Round]] = {"bare": [], "minyi": []}
        failures: Counter = Counter()
        index = 0
        for side in ("bare", "minyi"):  # uncounted, but checked
            warm = drive(urls[side], warmup, args.concurrency, index, items)
            failures.update({f"{side}, warm-up: {what}": n for what, n in warm.failures.items()})
            index += warmup
        submitted = {"bare": warmup, "minyi": warmup}
        for number in range(1, args.rounds + 1):
            for side in ("bare", "minyi"):
                done = drive(urls[side], args.submissions, args.concurrency, index, items)
                index += args.submissions
                submitted[side] += args.submissions
                rounds[side].append(done)
                failures.update({f"{side}: {what}": n for what, n in done.failures.items()})
                print(
                    f"round {number} {side:<5} {done.rate:8.1f} submissions/s"
                    f" ({done.seconds:.2f} s, {sum(done.failures.values())} failed)",
                    flush=True,
                )
        servers.close()  # stop both before counting rows

        expected = submitted["minyi"] - _failed(failures, "minyi")
        for table in ("case", "outbox_email"):
            if (found := _count(minyi_db, table)) != expected:
                failures[f"minyi: {found} rows in {table}, expected {expected}"] += 1
        expected = submitted["bare"] - _failed(failures, "bare")
        if (found := _count(bare_db, "comment")) != expected:
            failures[f"bare: {found} rows in comment, expected {expected}"] += 1
        logs = [_log_tail(folder, side) for side in urls if _failed(failures, side)]

    best = {side: max(done, key=lambda r: r.rate) for side, done in rounds.items()}
    failed = {side: _failed(failures, side) for side in best}
    print()
    print(
        f"database: sqlite (WAL), gunicorn --workers {args.workers} (sync), {args.concurrency}"
        f" browsers, {args.submissions} submissions (GET form + POST) per round,"
        f" best of {args.rounds} rounds (p50/p99 of that round)"
    )
    print(_line("bare WSGI + one sqlite insert:", best["bare"], failed["bare"]))
    print(_line("minyi comment form:", best["minyi"], failed["minyi"]))
    ratio = best["minyi"].rate / best["bare"].rate if best["bare"].rate else math.nan
    print(f"ratio minyi / bare: {ratio:.3f} (aim: at least 0.25)")
    if failures:
        print("\nFAILURES:", file=sys.stderr)
        for what, count in failures.most_common():
            print(f"  {count:6d} × {what}", file=sys.stderr)
        for log in logs:
            print(log, file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
