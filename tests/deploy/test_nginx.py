"""The nginx site as the README installs it, on Debian's own nginx.conf, in front of gunicorn
started by the intake's systemd unit: the tests speak HTTPS to it with curl, as a browser
would, inside a sandbox (tests/deploy/sandbox.py) where the README's paths and ports are real.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.deploy.sandbox import ROOT, Sandbox, require_sandbox
from tests.deploy.units import (
    manager_environment,
    settings_file,
    unit_environment,
    unit_settings,
)

PUBLIC = "yijian.example.gov.cn"
STAFF = "minyi-staff.example.gov.cn"
SECURITY_HEADERS = {
    "strict-transport-security": "max-age=31536000",
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "same-origin",
}


def readme_blocks(section: str) -> list[str]:
    """The ```sh blocks of one numbered step of README "Running in production"."""
    readme = (ROOT / "README.md").read_text()
    start = readme.index(f"\n### {section}")
    end = readme.index("\n### ", start + 1)
    return re.findall(r"```sh\n(.*?)```", readme[start:end], re.S)


def install_site(box: Sandbox) -> subprocess.CompletedProcess:
    """README step 7, as written: copy, edit (names and certificate paths are kept), link,
    remove Debian's default site, test and reload (systemctl only records the call here)."""
    copy, _certbot, enable = readme_blocks("7. nginx and the certificate")
    assert "editor /etc/nginx/sites-available/minyi" in copy
    assert "nginx -t && systemctl reload nginx" in enable
    return box.run(copy + enable, check=False)


@pytest.fixture
def sandbox(tmp_path) -> Iterator[Sandbox]:
    require_sandbox()
    with Sandbox(tmp_path / "box") as box:
        yield box


def test_nginx_accepts_the_site_on_debians_own_nginx_conf(sandbox):
    """`nginx -t` passes with Debian's /etc/nginx/nginx.conf as installed, the files copied
    where README step 7 says; nothing warned about, and nginx is then reloaded."""
    stock = subprocess.run(["dpkg", "--verify", "nginx-common"], capture_output=True, text=True)
    assert stock.stdout == "", f"/etc/nginx is not Debian's as installed: {stock.stdout}"
    installed = install_site(sandbox)
    assert installed.returncode == 0, installed.stderr
    assert "syntax is ok" in installed.stderr and "test is successful" in installed.stderr
    assert "[warn]" not in installed.stderr and "[emerg]" not in installed.stderr
    assert (sandbox.folder / "systemctl.calls").read_text() == "systemctl reload nginx\n"
    assert (sandbox.etc_nginx / "sites-enabled" / "minyi").is_symlink()
    assert not (sandbox.etc_nginx / "sites-enabled" / "default").exists()


# -- a running site ----------------------------------------------------------------------------


@dataclass
class Response:
    status: int
    headers: dict[str, list[str]] = field(default_factory=dict)
    body: bytes = b""

    def header(self, name: str) -> str | None:
        values = self.headers.get(name.lower(), [])
        assert len(values) <= 1, f"{name} sent {len(values)} times: {values}"
        return values[0] if values else None

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


class Site:
    """nginx and the intake's gunicorn running in a sandbox; requests from a client address
    of the test's choosing (each on 127.0.0.0/8), so that rate limits do not mix."""

    def __init__(self, box: Sandbox, folder: Path) -> None:
        self.box = box
        self.folder = folder
        self.gunicorn_log = folder / "gunicorn.log"
        self._requests = 0

    def request(
        self,
        path: str,
        *,
        host: str = PUBLIC,
        scheme: str = "https",
        client: str = "127.0.0.1",
        options: tuple[str, ...] = (),
    ) -> Response:
        self._requests += 1
        headers = self.folder / f"headers-{self._requests}"
        body = self.folder / f"body-{self._requests}"
        port = 443 if scheme == "https" else 80
        command = [
            "curl", "--silent", "--insecure", "--path-as-is", "--interface", client,
            "--resolve", f"{PUBLIC}:{port}:127.0.0.1", "--resolve", f"{STAFF}:{port}:127.0.0.1",
            "--dump-header", str(headers), "--output", str(body), "--write-out", "%{http_code}",
            *options, f"{scheme}://{host}{path}",
        ]  # fmt: skip
        done = self.box.run(shlex.join(command), timeout=120)
        parsed: dict[str, list[str]] = {}
        for line in headers.read_text().splitlines()[1:]:
            name, _, value = line.partition(":")
            if value:
                parsed.setdefault(name.strip().lower(), []).append(value.strip())
        return Response(int(done.stdout), parsed, body.read_bytes() if body.exists() else b"")

    def post_json(self, path: str, payload: dict, **options) -> Response:
        return self.request(
            path,
            options=("-H", "Content-Type: application/json", "--data-binary", json.dumps(payload)),
            **options,
        )

    def logs(self) -> str:
        """Everything nginx and gunicorn wrote."""
        written = [self.gunicorn_log.read_text(errors="replace")]
        written += [path.read_text(errors="replace") for path in self.box.logs.iterdir()]
        return "\n".join(written)


def start_site(box: Sandbox, folder: Path, *, edit: str = "", **settings: str) -> Site:
    """README step 7 in the sandbox (then ``edit``, a script changing what the README lets
    an administrator change), then the intake as minyi-intake.service starts it (its
    ExecStart, WorkingDirectory and environment, from the settings file), on SQLite (the
    sandbox has no network but loopback) with one worker for the in-memory rate limits."""
    installed = install_site(box)
    assert installed.returncode == 0, installed.stderr
    if edit:
        box.run(edit + "\nnginx -t")
    database = folder / "minyi.db"
    for command in (["db", "upgrade"], ["seed", "demo"]):
        subprocess.run(
            [sys.executable, "-m", "shared.cli", *command], cwd=ROOT, check=True,
            capture_output=True,
            env={**manager_environment(), "DATABASE_URL": f"sqlite:///{database}"},
        )  # fmt: skip
    changes = {
        "SECRET_KEY": "nginx-test-secret",
        "DATABASE_URL": f"sqlite:///{database}",
        "VAR_DIR": str(folder / "var"),
        "RATELIMIT_STORAGE_URI": "memory://",
        "PUBLIC_BASE_URL": f"https://{PUBLIC}",
        "RESPONDER_BASE_URL": f"https://{STAFF}",
        "FORM_MIN_FILL_SECONDS": "0",
        "GUNICORN_WORKERS": "1",
        **settings,
    }
    environment = unit_environment("minyi-intake.service", settings_file(folder, **changes))
    (directory,) = unit_settings("minyi-intake.service")["WorkingDirectory"]
    (command,) = unit_settings("minyi-intake.service")["ExecStart"]
    site = Site(box, folder)
    with site.gunicorn_log.open("wb") as log:  # the child keeps its own copy
        box.start(
            ["env", "-i", "--chdir", directory, *(f"{k}={v}" for k, v in environment.items()),
             *shlex.split(command)],
            stdout=log, stderr=log,
        )  # fmt: skip
    box.wait_for_port(8000)
    box.run("nginx")  # what "systemctl start nginx" runs
    box.wait_for_port(443)
    return site


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Iterator[Site]:
    require_sandbox()
    folder = tmp_path_factory.mktemp("site")
    with Sandbox(folder / "box") as box:
        yield start_site(box, folder)


def _assert_security_headers(response: Response) -> None:
    for name, value in SECURITY_HEADERS.items():
        assert response.header(name) == value, (name, response.headers)
    assert "default-src 'self'" in (response.header("content-security-policy") or "")


def test_the_app_answers_an_oversized_request_itself(site):
    """Above MAX_MESSAGE_BYTES (25 MiB) but within nginx's limit: Minyi's own 413, JSON under
    /api/ and its page explaining the limits on the form; nginx's own only far beyond, JSON
    under /api/ too."""
    site.box.run(f"head -c {26 * 2**20} /dev/zero > {site.folder}/26MiB")
    site.box.run(f"truncate -s 100M {site.folder}/100MiB")
    options = ("-H", "Content-Type: application/json", "--data-binary")
    api = site.request("/api/v1/feedback", client="127.0.1.1",
                       options=(*options, f"@{site.folder}/26MiB"))  # fmt: skip
    assert api.status == 413 and api.header("content-type") == "application/json"
    assert json.loads(api.body)["message"] == "请求内容过大。"
    form = site.request("/feedback", client="127.0.1.1",
                        options=("--data-binary", f"@{site.folder}/26MiB"))  # fmt: skip
    assert form.status == 413 and "文件太大" in form.text and "25 MB" in form.text
    answered_by_minyi = re.findall(r"POST /(?:api/v1/)?feedback 413", site.gunicorn_log.read_text())
    assert len(answered_by_minyi) == 2, site.gunicorn_log.read_text()

    far_api = site.request("/api/v1/feedback", client="127.0.1.1",
                           options=(*options, f"@{site.folder}/100MiB"))  # fmt: skip
    assert far_api.status == 413
    assert far_api.header("content-type") == "application/json; charset=utf-8"
    assert json.loads(far_api.body) == {
        "error": "Request Entity Too Large",
        "message": "请求内容过大。",
    }
    far_form = site.request("/feedback", client="127.0.1.1",
                            options=("--data-binary", f"@{site.folder}/100MiB"))  # fmt: skip
    assert far_form.status == 413 and "请求内容过大" in far_form.text
    assert far_form.header("content-type") == "text/html; charset=utf-8"
    for response in (far_api, far_form):
        _assert_security_headers(response)
    assert len(re.findall(r"feedback 413", site.gunicorn_log.read_text())) == 2  # not passed on


def test_every_response_carries_the_security_headers_once(site):
    """Minyi's pages (their own headers, not doubled), nginx's static files and its own error
    pages (a missing file, /metrics refused, gunicorn down on the staff side) alike."""
    page = site.request("/")
    assert page.status == 200
    static = site.request("/static/intake.css")
    assert static.status == 200 and static.header("content-type") == "text/css"
    missing = site.request("/static/nothing-here.css")
    assert missing.status == 404
    refused = site.request("/metrics", client="127.0.4.1")  # not the server itself
    assert refused.status == 403
    down = site.request("/", host=STAFF)  # no responder runs in this sandbox
    assert down.status == 502 and "服务暂时不可用" in down.text
    assert down.header("retry-after") == "30"
    down_api = site.request("/api/v1/cases", host=STAFF)
    assert down_api.status == 502 and json.loads(down_api.body)["error"] == "Service Unavailable"
    for response in (page, static, missing, refused, down, down_api):
        _assert_security_headers(response)
    assert page.header("retry-after") is None


def test_nothing_secret_reaches_any_log(site):
    """Passcodes and one-time or rating links appear in no log: not in nginx's access logs
    (the port-80 redirect included), not in its error log when gunicorn cannot be reached,
    not in gunicorn's access log even with a doubled slash."""
    redirect = site.request("/track/ABCD-EFGH?passcode=SECRETPC1", scheme="http")
    assert redirect.status == 301
    assert redirect.header("location") == f"https://{PUBLIC}/track/ABCD-EFGH?passcode=SECRETPC1"
    assert site.request("/track/ABCD-EFGH?passcode=SECRETPC2").status == 404
    assert site.request("//rate/SECRETRATE1").status in {308, 404}
    assert site.request("/rate/SECRETRATE2").status == 404
    assert site.request("/invitation/SECRETINV1?x=SECRETQ", host=STAFF).status == 502
    assert site.request("/invitation/SECRETINV2", scheme="http", host=STAFF).status == 301
    logs = site.logs()
    assert "SECRET" not in logs, [line for line in logs.splitlines() if "SECRET" in line]
    access = (site.box.logs / "minyi-access.log").read_text()
    assert '"GET /track/ABCD-EFGH" 301' in access and '"GET /track/ABCD-EFGH" 404' in access
    assert '"GET /rate/..." 404' in access
    assert '"GET /invitation/..." 502' in (site.box.logs / "minyi-staff-access.log").read_text()
    gunicorn = site.gunicorn_log.read_text()
    assert "GET //rate/… " in gunicorn and "GET /rate/… 404" in gunicorn
    # Debian's own logs hear nothing of the site.
    for name in ("access.log", "error.log"):
        path = site.box.logs / name
        assert not path.exists() or path.read_text() == "", path.read_text()


def test_a_form_sent_through_another_port_passes_the_csrf_check(site):
    """With a port in the address (a port forward to :8443), the form still goes through:
    nginx passes Host with its port, so the CSRF referrer check agrees with the page."""
    host = f"{PUBLIC}:8443"
    jar = site.folder / "cookies"
    page = site.request("/", client="127.0.2.1",
                        options=("-H", f"Host: {host}", "--cookie-jar", str(jar)))  # fmt: skip
    assert page.status == 200
    form = page.text[page.text.index('<form method="post"') :]
    hidden = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form))
    assert "csrf_token" in hidden and "form_shown" in hidden
    fields = [("body", "通过端口 8443 提交的意见"), *hidden.items()]
    options = ["-H", f"Host: {host}", "-H", f"Referer: https://{host}/", "-b", str(jar)]
    for name, value in fields:
        options += ["--form-string", f"{name}={value}"]
    receipt = site.request("/feedback", client="127.0.2.1", options=tuple(options))
    assert receipt.status == 200, receipt.text[:2000]
    assert re.search(r"[A-Z0-9]{4}-[A-Z0-9]{4}", receipt.text)


def test_a_flood_is_stopped_by_minyi_first_then_by_nginx(site):
    """From one address: 5 comments a minute are taken; Minyi refuses the 6th itself (its 429,
    JSON with Retry-After); nginx's limit (burst 5, then 10 a minute) stops the 7th before
    Python, with a JSON 429 and Retry-After too."""
    statuses, responses = [], []
    for number in range(8):
        response = site.post_json("/api/v1/feedback", {"body": f"第{number}条"}, client="127.0.3.1")
        statuses.append(response.status)
        responses.append(response)
    assert statuses == [201] * 5 + [429] * 3, statuses
    ours, nginx = responses[5], responses[6]
    assert ours.header("x-ratelimit-limit") == "5" and int(ours.header("retry-after")) > 0
    assert nginx.header("x-ratelimit-limit") is None and nginx.header("retry-after") == "60"
    assert json.loads(nginx.body)["error"] == "Too Many Requests"
    assert responses[0].header("retry-after") is None  # a 201 says nothing of retrying
    _assert_security_headers(nginx)
    posted = re.findall(r"POST /api/v1/feedback (\d{3})", site.gunicorn_log.read_text())
    assert posted.count("201") >= 5 and "429" in posted


def test_behind_a_load_balancer_each_citizen_has_their_own_limits(tmp_path):
    """With the balancer named in minyi-http.conf (real_ip) and TRUSTED_PROXIES=2, as the
    README says, Minyi's and nginx's limits count each citizen's address as the balancer
    reports it, not the balancer's."""
    require_sandbox()
    with Sandbox(tmp_path / "box") as box:
        edit = (
            "sed -i -e 's/^# set_real_ip_from 10.0.0.5;/set_real_ip_from 127.0.0.1;/' "
            "-e 's/^# real_ip_header X-Forwarded-For;/real_ip_header X-Forwarded-For;/' "
            "/etc/nginx/conf.d/minyi-http.conf\n"
            "grep -q '^set_real_ip_from 127.0.0.1;' /etc/nginx/conf.d/minyi-http.conf"
        )
        site = start_site(box, tmp_path, edit=edit, TRUSTED_PROXIES="2")

        def post(citizen: str, number: int) -> int:
            balancer = ("-H", f"X-Forwarded-For: {citizen}")
            options = ("-H", "Content-Type: application/json", *balancer, "--data-binary",
                       json.dumps({"body": f"第{number}条"}))  # fmt: skip
            return site.request("/api/v1/feedback", options=options).status

        first = [post("203.0.113.1", n) for n in range(7)]
        assert first == [201] * 5 + [429, 429], first
        assert post("203.0.113.2", 8) == 201  # another citizen behind the same balancer


def test_the_readmes_checks_show_what_it_says(site):
    """The checks of README steps 6 and 7, run on the site (with --resolve and --insecure in
    the sandbox, which has no DNS and a certificate of its own), show what the README says."""
    readme = (ROOT / "README.md").read_text()
    ready = site.box.run("curl -s http://127.0.0.1:8000/readyz").stdout
    assert ready == '{"database":"ok","status":"ok"}\n'
    assert f"`{ready.strip()}`" in readme
    resolve = f"--resolve {PUBLIC}:443:127.0.0.1 --resolve {PUBLIC}:80:127.0.0.1 --insecure"
    https = site.box.run(f"curl -sI {resolve} https://{PUBLIC}/ | head -1").stdout.strip()
    http = site.box.run(f"curl -sI {resolve} http://{PUBLIC}/ | head -1").stdout.strip()
    assert (https, http) == ("HTTP/2 200", "HTTP/1.1 301 Moved Permanently")
    for shown in (https, http):
        assert f"`{shown}`" in readme
