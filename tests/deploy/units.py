"""What a shipped systemd unit and settings file give a process: its command line, working
directory and environment, as systemd would (without systemd, which does not run here)."""

from __future__ import annotations

import os
import re
import shlex
from pathlib import Path

from dotenv import dotenv_values

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
ENV_EXAMPLE = DEPLOY / ".env.example"


def unit_settings(unit: str) -> dict[str, list[str]]:
    """Every ``Key=value`` of the unit's [Service] section, in order."""
    settings: dict[str, list[str]] = {}
    section = None
    for line in (DEPLOY / "systemd" / unit).read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            section = line
        elif section == "[Service]":
            key, _, value = line.partition("=")
            settings.setdefault(key, []).append(value)
    return settings


def settings_file(folder: Path, **changes: str) -> Path:
    """deploy/.env.example as an administrator leaves it after README step 4: the lines named
    in ``changes`` set to those values, everything else as shipped."""
    text = ENV_EXAMPLE.read_text()
    for name, value in changes.items():
        text, found = re.subn(
            rf"^{name}=.*$", lambda _match, line=f"{name}={value}": line, text, flags=re.M
        )
        assert found == 1, f"{name} is not a line of deploy/.env.example"
    path = folder / "minyi.env"
    path.write_text(text)
    return path


def manager_environment() -> dict[str, str]:
    """What the service manager gives every process (PATH, LANG), and the test's clock: under
    faketime (CI's shifted pass) its variables, so that the service lives on the test's
    calendar as a service lives on its server's."""
    return {
        name: value
        for name, value in os.environ.items()
        if name in {"PATH", "LANG", "LD_PRELOAD", "PYTHONPATH"} or name.startswith("FAKETIME")
    }


def unit_environment(unit: str, settings: Path) -> dict[str, str]:
    """The environment of the unit's process: manager_environment(), then Environment=, then
    the EnvironmentFile= (``settings`` in place of /etc/minyi/minyi.env), overriding it,
    then UnsetEnvironment=."""
    service = unit_settings(unit)
    environment = manager_environment()
    for assignments in service.get("Environment", []):
        for assignment in shlex.split(assignments):
            name, _, value = assignment.partition("=")
            environment[name] = value
    assert service.get("EnvironmentFile") == ["/etc/minyi/minyi.env"], service
    values = dotenv_values(settings, interpolate=False)
    environment.update({name: value for name, value in values.items() if value is not None})
    for names in service.get("UnsetEnvironment", []):
        for name in names.split():
            environment.pop(name, None)
    return environment


def unit_command(unit: str) -> list[str]:
    """ExecStart= with this checkout in place of /opt/minyi."""
    (command,) = unit_settings(unit)["ExecStart"]
    return shlex.split(command.replace("/opt/minyi/", f"{ROOT}/"))
