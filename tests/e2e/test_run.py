"""``minyi run``: real gunicorn processes serving the intake and the responder over HTTP."""

from __future__ import annotations

import email
import email.policy
import http.cookiejar
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from tests.servers import served

MINYI = str(Path(sys.executable).with_name("minyi"))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Browser:
    """Just enough of a browser: cookies, forms, redirects."""

    def __init__(self) -> None:
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )

    def get(self, url: str) -> tuple[int, str]:
        try:
            with self.opener.open(url, timeout=10) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()

    def post(self, url: str, fields: dict) -> tuple[int, str]:
        data = urllib.parse.urlencode(fields).encode()
        try:
            with self.opener.open(url, data=data, timeout=10) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()


def _csrf(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


@pytest.fixture
def running(db, database_url, tmp_path):
    """``minyi run`` on free ports, over the test database with the demo data."""
    # These tests post the form at machine speed; the minimum fill time has its own tests.
    env = {**os.environ, "DATABASE_URL": database_url, "SECRET_KEY": "e2e-secret",
           "FORM_MIN_FILL_SECONDS": "0", "LMTP_PORT": str(_free_port())}  # fmt: skip
    seeded = subprocess.run(
        [MINYI, "seed", "demo"], cwd=tmp_path, env=env, capture_output=True, text=True, check=True
    )
    password = re.search(r"password (\S+)", seeded.stdout).group(1)
    ports = {"intake": _free_port(), "responder": _free_port()}
    command = [MINYI, "run", "--intake-port", str(ports["intake"])]
    command += ["--responder-port", str(ports["responder"])]
    urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    ready = [url + "/readyz" for url in urls.values()]
    with served(command, cwd=tmp_path, env=env, ready_urls=ready) as process:
        yield urls, password, process, tmp_path


def test_comment_from_the_form_reaches_the_staff_list(running):
    """A citizen's comment, sent through the real form, shows in the responder with its office."""
    urls, password, _process, _folder = running
    citizen = Browser()
    status, page = citizen.get(urls["intake"] + "/")
    assert status == 200
    assert "中共通渭县委宣传部关于市委第七提级交叉巡察组巡察反馈意见整改情况的通报" in page
    status, receipt = citizen.post(
        urls["intake"] + "/feedback",
        {"csrf_token": _csrf(page), "form_token": "t1", "notice_item": "XC21-04",
         "body": "对网络舆情转办情况的跟踪应当公开。", "email": ""},
    )  # fmt: skip
    assert status == 200, receipt
    number = re.search(r'id="tracking-number">([^<]+)<', receipt).group(1)

    staff = Browser()
    status, login = staff.get(urls["responder"] + "/login")
    assert status == 200 and "登录" in login
    status, queue = staff.post(
        urls["responder"] + "/login",
        {"csrf_token": _csrf(login), "username": "admin", "password": password},
    )
    assert status == 200
    row = next((row for row in re.findall(r"<tr>.*?</tr>", queue, re.S) if number in row), None)
    assert row, f"{number} not in the staff list"
    assert "县委网信办" in row


def test_run_stops_cleanly_on_sigterm(running):
    """SIGTERM stops both services and ``minyi run`` exits 0."""
    urls, _password, process, _folder = running
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0
    with pytest.raises(OSError):
        urllib.request.urlopen(urls["intake"] + "/healthz", timeout=2)


def test_acknowledgement_lands_in_var_mail(running):
    """Without MAIL_SERVER, the worker ``minyi run`` starts writes the receipt mail to var/mail."""
    urls, _password, _process, folder = running
    citizen = Browser()
    _status, page = citizen.get(urls["intake"] + "/")
    _status, receipt = citizen.post(
        urls["intake"] + "/feedback",
        {"csrf_token": _csrf(page), "form_token": "t2", "body": "请公开整改台账。",
         "email": "citizen@example.cn"},
    )  # fmt: skip
    number = re.search(r'id="tracking-number">([^<]+)<', receipt).group(1)
    deadline = time.monotonic() + 30
    while not list((folder / "var" / "mail").glob("*.eml")):
        assert time.monotonic() < deadline, "no .eml in var/mail after 30 s"
        time.sleep(0.5)
    [mail] = (folder / "var" / "mail").glob("*.eml")
    message = email.message_from_bytes(mail.read_bytes(), policy=email.policy.default)
    assert message["To"].addresses[0].addr_spec == "citizen@example.cn"
    assert number in message["Subject"] and number in message.get_content()
