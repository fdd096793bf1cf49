"""The clocks of the processes the tests start: the real one, or one set with faketime."""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

#: Loaded as ``sitecustomize`` by Python processes under faketime (its docstring says why).
FAKETIME_FIX = Path(__file__).parent / "faketime"
FAKETIME = shutil.which("faketime")


def without_faketime(environment: Mapping[str, str]) -> dict[str, str]:
    """``environment`` without libfaketime and its settings: a process started with it runs on
    the real clock even when the test run itself is under faketime."""
    return {
        name: value
        for name, value in environment.items()
        if name != "LD_PRELOAD" and not name.startswith(("FAKETIME", "DONT_FAKE"))
    }


def with_fake_clock(environment: Mapping[str, str]) -> dict[str, str]:
    """Settings for a Python process run under faketime: a real monotonic clock, and the fix
    for ``time.sleep`` on ``PYTHONPATH``."""
    paths = [str(FAKETIME_FIX), *filter(None, environment.get("PYTHONPATH", "").split(os.pathsep))]
    return {
        **environment,
        "FAKETIME_DONT_FAKE_MONOTONIC": "1",
        "PYTHONPATH": os.pathsep.join(dict.fromkeys(paths)),
    }


def at(instant: datetime) -> list[str]:
    """The command prefix that starts a program with its system clock at ``instant`` (and
    running on from there). The program's environment must have TZ=UTC."""
    return [FAKETIME, instant.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")]
