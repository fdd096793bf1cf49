"""A private corner of this machine where the README's commands run as written.

Inside a mount and network namespace of its own (``unshare``), Debian's paths are this test's
folders: ``/etc/nginx`` a copy of the installed Debian nginx configuration, ``/var/log/nginx``,
``/run``, ``/etc/ssl`` and ``/opt/minyi`` (this checkout) are mounted over the real ones,
which stay untouched, as do the ports other tests use: only loopback exists inside. Needs
root (the tests run as root in CI) and util-linux's ``unshare`` and ``nsenter``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

from tests.conftest import require
from tests.servers import stop

ROOT = Path(__file__).resolve().parents[2]


def require_sandbox() -> None:
    require(os.geteuid() == 0, "the sandbox mounts folders: needs root")
    for tool in ("unshare", "nsenter", "ip", "nginx", "openssl", "curl"):
        require(shutil.which(tool), f"{tool} is not installed")
    probe = subprocess.run(["unshare", "-m", "-n", "true"], capture_output=True, timeout=30)
    require(probe.returncode == 0, f"unshare -m -n is not allowed here: {probe.stderr!r}")


class Sandbox:
    """``run()`` a shell script or ``start()`` a process inside; everything started is stopped
    on leaving."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.etc_nginx = folder / "etc-nginx"
        self.logs = folder / "log-nginx"
        self.ssl = folder / "etc-ssl"
        self.run_dir = folder / "run"
        self.stubs = folder / "stubs"
        self._holder: subprocess.Popen | None = None
        self._started: list[subprocess.Popen] = []

    def __enter__(self) -> Sandbox:
        shutil.copytree("/etc/nginx", self.etc_nginx, symlinks=True)
        for folder in (self.logs, self.run_dir, self.ssl / "minyi", self.stubs):
            folder.mkdir(parents=True)
        self._certificate()
        self._stub("editor", "true")  # the names and certificate paths are kept as shipped
        self._stub("systemctl", f'echo "systemctl $*" >> {self.folder}/systemctl.calls')
        ready = self.folder / "ready"
        setup = " && ".join(
            [
                "ip link set lo up",
                f"mount --bind {self.etc_nginx} /etc/nginx",
                f"mount --bind {self.logs} /var/log/nginx",
                f"mount --bind {self.ssl} /etc/ssl",
                f"mount --bind {self.run_dir} /run",
                "mount -t tmpfs tmpfs /opt",
                "mkdir /opt/minyi",
                f"mount --bind {ROOT} /opt/minyi",
                f"touch {ready}",
                "exec sleep infinity",
            ]
        )
        self._holder = subprocess.Popen(
            ["unshare", "--mount", "--net", "--propagation", "private", "bash", "-c", setup]
        )
        try:
            deadline = time.monotonic() + 30
            while not ready.exists():
                if self._holder.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the sandbox did not start")
                time.sleep(0.05)
        except BaseException:
            self.__exit__()  # no namespace left behind
            raise
        return self

    def __exit__(self, *exc_info) -> None:
        self.run("if [ -f /run/nginx.pid ]; then nginx -s stop; fi", check=False)
        for process in reversed(self._started):
            stop(process)
        if self._holder is not None:
            self._holder.kill()
            self._holder.wait()

    def _certificate(self) -> None:
        made = subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
             "-subj", "/CN=yijian.example.gov.cn",
             "-addext", "subjectAltName=DNS:yijian.example.gov.cn,DNS:minyi-staff.example.gov.cn",
             "-keyout", str(self.ssl / "minyi" / "privkey.pem"),
             "-out", str(self.ssl / "minyi" / "fullchain.pem")],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert made.returncode == 0, made.stderr

    def _stub(self, name: str, body: str) -> None:
        path = self.stubs / name
        path.write_text(f"#!/bin/sh\n{body}\n")
        path.chmod(0o755)

    def _enter(self) -> list[str]:
        assert self._holder is not None
        return ["nsenter", "-t", str(self._holder.pid), "--mount", "--net"]

    def env(self, **extra: str) -> dict[str, str]:
        return {**os.environ, "PATH": f"{self.stubs}:{os.environ['PATH']}", **extra}

    def run(self, script: str, *, check: bool = True, **kwargs) -> subprocess.CompletedProcess:
        """A bash script inside, stopping at the first failing command."""
        done = subprocess.run(
            [*self._enter(), "bash", "-euo", "pipefail", "-c", script],
            capture_output=True, text=True, timeout=kwargs.pop("timeout", 120),
            env=kwargs.pop("env", self.env()), **kwargs,
        )  # fmt: skip
        if check:
            output = f"--- stdout\n{done.stdout}\n--- stderr\n{done.stderr}"
            assert done.returncode == 0, f"{script}\n{output}"
        return done

    def start(self, argv: list[str], **kwargs) -> subprocess.Popen:
        process = subprocess.Popen([*self._enter(), *argv], **kwargs)
        self._started.append(process)
        return process

    def wait_for_port(self, port: int, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            probe = self.run(f"exec 3<>/dev/tcp/127.0.0.1/{port}", check=False)
            if probe.returncode == 0:
                return
            for process in self._started:
                assert process.poll() is None, f"{process.args} exited with {process.returncode}"
            time.sleep(0.2)
        raise AssertionError(f"nothing listens on port {port} in the sandbox")
