"""Running our own servers (gunicorn, ``minyi run``) as real processes for tests and benchmarks."""

from __future__ import annotations

import signal
import subprocess
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path


class ServerDidNotStart(RuntimeError):
    """The process exited or did not answer in time; the message holds its log."""


@contextmanager
def served(
    command: Sequence[str], *, cwd: Path, env: dict, ready_urls: Sequence[str], timeout: float = 60
) -> Iterator[subprocess.Popen]:
    """Start ``command`` (output to ``cwd/server.log``), wait until every URL answers, yield the
    process, and stop it (SIGTERM, then kill) however the block ends."""
    log_path = Path(cwd) / "server.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(command, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            _wait_until_ready(process, ready_urls, timeout, log_path)
            yield process
        finally:
            stop(process)


def stop(process: subprocess.Popen, timeout: float = 30) -> None:
    """SIGTERM, and SIGKILL if it has not ended within ``timeout`` seconds."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _wait_until_ready(process, urls, timeout: float, log_path: Path) -> None:
    deadline = time.monotonic() + timeout
    pending = list(urls)
    while pending:
        try:
            urllib.request.urlopen(pending[0], timeout=2).close()
            pending.pop(0)
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise ServerDidNotStart(f"{process.args[:4]}…:\n{log_path.read_text()}") from None
            time.sleep(0.2)
