"""``time.sleep`` that works in every Python process of the suite run under Debian's faketime.

``faketime '+400 days' make test`` runs the suite with the wall clock of every process moved
on (libfaketime in LD_PRELOAD). The suite runs it with ``FAKETIME_DONT_FAKE_MONOTONIC=1``
(tests/conftest.py sees to it): the monotonic clock keeps counting from boot, as it does on a
machine whose date really is 2028. With libfaketime's default, a fake monotonic clock, the
version in Debian 12 (0.9.10) leaves ``sem_clockwait`` alone, which Python 3.11 uses for every
wait on a lock with a timeout, so ``Event.wait(5)``, ``Queue.get(timeout=1)`` and
``threading.Timer`` never time out (flask-limiter's in-memory storage runs such a timer: a
process using it cannot even exit), and gunicorn's arbiter compares that clock with a file's
time and kills every worker it has just started.

With a real monotonic clock, one thing is left broken: libfaketime 0.9.10 turns the absolute
monotonic deadline of ``clock_nanosleep``, which Python 3.11's ``time.sleep`` uses, into an
invalid one (EINVAL). tests/conftest.py puts this folder first on ``PYTHONPATH`` under
faketime, so every Python process the tests start imports this module at start-up as
``sitecustomize``, and loads it in the test process itself: ``time.sleep`` then waits with
``select``, whose timeout is a duration. Only the test run's clock is fake; a real server
whose clock says 2028 sleeps as usual.
"""

from __future__ import annotations

import os
import select
import time


def under_faketime() -> bool:
    return "libfaketime" in os.environ.get("LD_PRELOAD", "")


def monotonic_clock_is_real() -> bool:
    return os.environ.get("FAKETIME_DONT_FAKE_MONOTONIC") == "1"


def _sleep(seconds: float) -> None:
    if seconds < 0:
        raise ValueError("sleep length must be non-negative")
    select.select([], [], [], seconds)  # resumed after a signal with the time left (PEP 475)


if under_faketime() and monotonic_clock_is_real():
    time.sleep = _sleep
