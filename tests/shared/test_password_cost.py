"""The suite hashes staff passwords cheaply (tests/conftest.py); production must not."""

from __future__ import annotations

import subprocess
import sys

from argon2 import PasswordHasher
from argon2.profiles import RFC_9106_LOW_MEMORY


def test_production_hashes_staff_passwords_at_the_librarys_default_cost():
    """In a process of its own, as a service starts: a new password's hash carries argon2's
    recommended parameters, not the suite's cheap ones."""
    stored = subprocess.run(
        [sys.executable, "-c", "from shared.security import hash_secret; print(hash_secret('x'))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    default = PasswordHasher()
    assert (default.time_cost, default.memory_cost) == (
        RFC_9106_LOW_MEMORY.time_cost,
        RFC_9106_LOW_MEMORY.memory_cost,
    )
    expected = (
        f"$argon2id$v=19$m={default.memory_cost},t={default.time_cost},p={default.parallelism}$"
    )
    assert stored.startswith(expected)
    assert not default.check_needs_rehash(stored)
