"""The files in deploy/ are accepted by the tools that will read them in production."""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

from shared.config import _SPEC
from tests.conftest import require

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
VENV_BIN = Path(sys.executable).parent
UNITS = sorted((DEPLOY / "systemd").glob("minyi*.*"))


def run(*argv: str | Path, **kwargs) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(arg) for arg in argv], capture_output=True, text=True, timeout=120, **kwargs
    )


def test_systemd_accepts_the_units(tmp_path):
    """`systemd-analyze verify` accepts every unit, with ExecStart pointed at this checkout."""
    require(shutil.which("systemd-analyze"), "systemd-analyze is not installed (systemd)")
    assert {unit.name for unit in UNITS} >= {
        "minyi-intake.service",
        "minyi-responder.service",
        "minyi-lmtp.service",
        "minyi-fetch-mail.service",
        "minyi-worker.service",
        "minyi-migrate.service",
        "minyi.target",
        "minyi-backup.service",
        "minyi-backup.timer",
    }
    for unit in UNITS:
        text = unit.read_text()
        if unit.suffix == ".service" and unit.name != "minyi-backup.service":
            assert "Restart=on-failure" in text or "Type=oneshot" in text
        if unit.suffix == ".service":
            assert "User=minyi" in text and "EnvironmentFile=/etc/minyi/minyi.env" in text
            assert "ProtectSystem=strict" in text and "NoNewPrivileges=yes" in text
        # verify checks that the programs exist: use this checkout's (a missing User= is not
        # checked, so User=minyi stays as it is).
        text = text.replace("/opt/minyi/.venv/bin/", f"{VENV_BIN}/")
        text = text.replace("/opt/minyi/deploy/", f"{DEPLOY}/")
        (tmp_path / unit.name).write_text(text)
    verified = run(
        "systemd-analyze", "verify", "--man=no", "--generators=no",
        *sorted(tmp_path.iterdir()),
        env={**os.environ, "SYSTEMD_LOG_LEVEL": "notice"},
    )  # fmt: skip
    output = verified.stdout + verified.stderr
    assert verified.returncode == 0, output
    assert "Unknown key" not in output and "Failed" not in output, output
    for unit in UNITS:  # nothing said about our units
        assert unit.name not in output, output


def test_compose_file_validates(tmp_path):
    """`docker-compose config -q` accepts compose.yaml with the example environment."""
    require(shutil.which("docker-compose"), "docker-compose is not installed")
    # compose.yaml reads .env beside it; use the example one, in a copy.
    shutil.copy(DEPLOY / "docker" / "compose.yaml", tmp_path / "compose.yaml")
    shutil.copy(DEPLOY / ".env.example", tmp_path / ".env")
    checked = run(
        "docker-compose", "-f", tmp_path / "compose.yaml",
        "--env-file", DEPLOY / ".env.example", "config", "-q",
    )  # fmt: skip
    assert checked.returncode == 0, checked.stderr
    listed = run(
        "docker-compose", "-f", tmp_path / "compose.yaml", "--profile", "imap", "config",
        "--services",
    )  # fmt: skip
    assert listed.returncode == 0, listed.stderr
    assert set(listed.stdout.split()) == {
        "postgres", "redis", "migrate", "intake", "responder", "worker", "lmtp", "fetch-mail",
    }  # fmt: skip


def test_gunicorn_configs_load(tmp_path):
    """Both gunicorn configs pass `gunicorn --check-config` with their app."""
    env = {
        **os.environ,
        "MINYI_ENV": "development",
        "VAR_DIR": str(tmp_path / "var"),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'check.db'}",
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"),
    }
    for service in ("intake", "responder"):
        checked = run(
            sys.executable, "-m", "gunicorn", "--check-config",
            "-c", DEPLOY / "gunicorn" / f"{service}.conf.py", f"{service}:create_app()",
            cwd=ROOT, env=env,
        )  # fmt: skip
        assert checked.returncode == 0, checked.stdout + checked.stderr


def test_gunicorn_config_settings():
    """The configs bind to loopback, log no personal data, trust nginx's client address."""
    for service, port in (("intake", 8000), ("responder", 8001)):
        path = DEPLOY / "gunicorn" / f"{service}.conf.py"
        namespace: dict = {"__file__": str(path)}
        saved = dict(os.environ)
        try:
            os.environ.pop("GUNICORN_BIND", None)
            os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
            os.environ["GUNICORN_WORKERS"] = "3"
            exec(compile(path.read_text(), str(path), "exec"), namespace)
        finally:
            os.environ.clear()
            os.environ.update(saved)
        assert namespace["bind"] == f"127.0.0.1:{port}"
        assert namespace["workers"] == 3
        assert namespace["forwarded_allow_ips"] == "127.0.0.1"
        assert namespace["timeout"] == namespace["graceful_timeout"] == 30
        assert "%(U)s" in namespace["access_log_format"]
        for personal in ("%(q)s", "%(r)s", "%(h)s", "%(a)s", "%(f)s"):
            assert personal not in namespace["access_log_format"]
        assert callable(namespace["child_exit"])
        # No gunicornc socket in $HOME (shared by both services, read-only under systemd).
        assert namespace.get("control_socket_disable") or namespace["control_socket"].startswith(
            f"/run/minyi/{service}/"
        )
        # The client's address behind nginx is the app's own business (TRUSTED_PROXIES,
        # tests/test_observability.py); the gunicorn config must not wrap it a second time.
        assert "post_worker_init" not in namespace


def test_env_example_names_every_setting():
    """deploy/.env.example sets every variable shared/config.py reads."""
    names = set(re.findall(r"^([A-Z][A-Z0-9_]*)=", (DEPLOY / ".env.example").read_text(), re.M))
    assert set(_SPEC) - names == set()
    assert {"PROMETHEUS_MULTIPROC_DIR", "POSTGRES_PASSWORD"} <= names


def test_readme_explains_every_setting():
    """The README's configuration table has a row for every variable shared/config.py reads."""
    readme = (ROOT / "README.md").read_text()
    table = readme[readme.index("## Configuration") : readme.index("## Commands")]
    assert {name for name in _SPEC if f"`{name}`" not in table} == set()


def test_backup_script_copies_a_sqlite_database(tmp_path):
    """backup.sh makes a usable copy of a SQLite database with sqlite3's .backup."""
    require(shutil.which("sqlite3"), "sqlite3 is not installed (apt-get install sqlite3)")
    database = tmp_path / "minyi.db"
    with sqlite3.connect(database) as connection:
        connection.execute("create table case_ (number text)")
        connection.execute("insert into case_ values ('K7QM-2XHP')")
    connection.close()
    backups = tmp_path / "backups"
    done = run(
        "bash", DEPLOY / "backup" / "backup.sh", backups,
        env={**os.environ, "DATABASE_URL": f"sqlite:///{database}",
             "MINYI_ENV_FILE": str(tmp_path / "none.env")},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    (copy,) = backups.glob("minyi-*.db")
    with sqlite3.connect(copy) as connection:
        assert connection.execute("select number from case_").fetchall() == [("K7QM-2XHP",)]
    connection.close()


def test_minyi_sh_runs_a_command_with_the_environment_file(tmp_path):
    """deploy/minyi.sh runs `minyi` with the settings file, quotes and "$" kept as systemd does."""
    require(os.geteuid() == 0, "deploy/minyi.sh switches user with runuser: needs root")
    database = tmp_path / "minyi.db"
    env_file = tmp_path / "minyi.env"
    env_file.write_text(
        "MINYI_ENV=production\n"
        "SECRET_KEY=not$expanded and spaces\n"
        f"DATABASE_URL=sqlite:///{database}\n"
        f"VAR_DIR={tmp_path / 'var'}\n"
        'MAIL_DEFAULT_SENDER="通渭县委宣传部 <noreply@example.gov.cn>"\n'
    )
    env = {**os.environ, "MINYI_HOME": str(ROOT), "MINYI_USER": "root"}
    env["MINYI_ENV_FILE"] = str(env_file)
    for name in ("MINYI_ENV", "SECRET_KEY", "DATABASE_URL", "VAR_DIR"):
        env.pop(name, None)
    done = run("bash", DEPLOY / "minyi.sh", "db", "upgrade", env=env)
    assert done.returncode == 0, done.stderr
    assert database.exists()
