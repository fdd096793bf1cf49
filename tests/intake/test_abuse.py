"""Robots and floods are kept out; a person who trips a defence loses nothing they typed."""

from __future__ import annotations

import os
import re
import socket
import sys
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from shared.models import Case
from tests.conftest import csrf_token, require
from tests.mailservers import free_port
from tests.servers import served

NUMERALS = "零一二三四五六七八九"


def _app(settings, **overrides):
    from intake import create_app

    return create_app({**settings, **overrides}).test_client()


def _cases(db) -> int:
    with db.session() as session:
        return session.scalar(select(func.count()).select_from(Case))


def _form(client, **fields):
    page = client.get("/").get_data(as_text=True)
    data = {
        "csrf_token": re.search(r'name="csrf_token" value="([^"]+)"', page).group(1),
        "form_shown": re.search(r'name="form_shown" value="([^"]+)"', page).group(1),
        "form_token": os.urandom(4).hex(),
        "body": "意见内容",
    }
    data.update(fields)
    return page, data


def test_filled_honeypot_is_refused_and_the_text_kept(db, demo, settings):
    """A form whose hidden trap field is filled is not stored; the page keeps the comment."""
    client = _app(settings)
    _page, data = _form(client, body="我的长篇意见", hp_extra="http://spam.example")
    response = client.post("/feedback", data=data)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "我的长篇意见" in html and "请检查您的留言后再次提交" in html
    assert _cases(db) == 0


def test_the_honeypot_is_hidden_from_people(db, demo, intake_client):
    """The trap field is off-screen, out of the tab order and hidden from screen readers."""
    html = intake_client.get("/").get_data(as_text=True)
    trap = re.search(r'<div class="hp" aria-hidden="true">.*?</div>', html, re.S).group(0)
    assert 'tabindex="-1"' in trap and 'autocomplete="off"' in trap


@pytest.mark.clock(datetime(2026, 11, 2, 9, 0, tzinfo=UTC))
def test_form_sent_faster_than_a_person_can_is_refused(db, demo, settings, pinned_clock):
    """Sent right after it was shown: refused; sent after the minimum time: stored."""
    client = _app(settings, FORM_MIN_FILL_SECONDS=30)
    _page, data = _form(client)
    assert client.post("/feedback", data=data).status_code == 422
    assert _cases(db) == 0
    _page, data = _form(client)
    pinned_clock.shift(31)  # a slow machine cannot take 30 s between the two
    assert client.post("/feedback", data=data).status_code == 200
    assert _cases(db) == 1


def test_forged_or_missing_stamp_is_refused(db, demo, settings):
    """The time stamp is signed: a made-up one counts as missing."""
    client = _app(settings, FORM_MIN_FILL_SECONDS=1)
    for stamp in ("", "MTcwMDAwMDAwMA.forged.sig"):
        _page, data = _form(client)
        data["form_shown"] = stamp
        assert client.post("/feedback", data=data).status_code == 422
    assert _cases(db) == 0


def test_too_many_comments_from_one_address_get_429_with_the_form_kept(db, demo, settings):
    """The sixth comment in a minute is refused with 429, the text still in the form."""
    client = _app(settings, RATELIMIT_ENABLED=True, CAPTCHA_AFTER=100)
    for i in range(5):
        _page, data = _form(client, body=f"第{i}条")
        assert client.post("/feedback", data=data).status_code == 200
    _page, data = _form(client, body="第六条意见")
    response = client.post("/feedback", data=data)
    assert response.status_code == 429
    assert "Retry-After" in response.headers
    html = response.get_data(as_text=True)
    assert "第六条意见" in html and "请几分钟后再次提交" in html
    assert _cases(db) == 5


def test_api_rate_limit_answers_json_429(db, demo, settings):
    """The API's limit answers 429 in JSON with Retry-After."""
    client = _app(settings, RATELIMIT_ENABLED=True)
    statuses = [
        client.post("/api/v1/feedback", json={"body": f"{i}"}).status_code for i in range(6)
    ]
    assert statuses == [201] * 5 + [429]
    response = client.post("/api/v1/feedback", json={"body": "x"})
    assert response.status_code == 429 and response.is_json
    assert response.json["error"] == "Too Many Requests"
    assert int(response.headers["Retry-After"]) > 0


@pytest.mark.clock(datetime(2026, 11, 2, 9, 0, 0, tzinfo=UTC), tick=False)
def test_the_limit_counts_the_last_minute_whenever_it_is_asked(db, demo, settings, pinned_clock):
    """One comment at 09:00:00, four at 09:00:50; at 09:01:01 the first has left the last
    minute, so one more is taken and the next refused. (A window that started with the
    first comment and ended at 09:01:00 would take five more at once: nine in eleven
    seconds.)"""
    client = _app(settings, RATELIMIT_ENABLED=True)

    def send(count: int) -> list[int]:
        return [
            client.post("/api/v1/feedback", json={"body": "限流"}).status_code for _ in range(count)
        ]

    assert send(1) == [201]
    pinned_clock.shift(50)
    assert send(4) == [201] * 4
    pinned_clock.shift(11)
    assert send(5) == [201] + [429] * 4


def test_guessing_passcodes_is_limited(db, demo, settings):
    """Many look-ups from one address are cut off, so passcodes cannot be guessed."""
    client = _app(settings, RATELIMIT_ENABLED=True)
    statuses = {
        client.get("/api/v1/feedback/AAAA-AAAA", headers={"X-Passcode": f"{i:08d}"}).status_code
        for i in range(31)
    }
    assert statuses == {404, 429}


def _answer(question: str) -> str:
    digits = [int(d) for d in re.findall(r"\d", question)]
    if len(digits) < 2:
        digits = [NUMERALS.index(ch) for ch in question if ch in NUMERALS]
    return str(sum(digits[:2]))


def test_captcha_only_after_repeated_comments(db, demo, settings):
    """The first comments need no question; after them the form asks one and checks it."""
    client = _app(settings, RATELIMIT_ENABLED=True, CAPTCHA_AFTER=2)
    for i in range(2):
        page, data = _form(client, body=f"第{i}条")
        assert 'name="captcha"' not in page
        assert client.post("/feedback", data=data).status_code == 200
    page, data = _form(client, body="第三条")
    assert 'name="captcha"' in page
    response = client.post("/feedback", data=data)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "请回答问题" in html and "第三条" in html
    question = re.search(r'<label for="field-captcha">([^<]+)</label>', html).group(1)
    token = re.search(r'name="captcha_token" value="([^"]+)"', html).group(1)
    data.update(captcha=_answer(question), captcha_token=token, csrf_token=csrf_token(client, "/"))
    assert client.post("/feedback", data=data).status_code == 200
    assert _cases(db) == 3


def test_wrong_captcha_answer_is_refused(db, demo, settings):
    """A wrong answer, or a token from elsewhere, does not pass."""
    client = _app(settings, RATELIMIT_ENABLED=True, CAPTCHA_AFTER=0)
    page, data = _form(client)
    token = re.search(r'name="captcha_token" value="([^"]+)"', page).group(1)
    question = re.search(r'<label for="field-captcha">([^<]+)</label>', page).group(1)
    wrong = str(int(_answer(question)) + 1)
    for answer, used_token in ((wrong, token), (_answer(question), "forged")):
        data.update(captcha=answer, captcha_token=used_token)
        assert client.post("/feedback", data=data).status_code == 422
    assert _cases(db) == 0


def _redis_available() -> bool:
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=1).close()
        return True
    except OSError:
        return False


def test_rate_limit_holds_across_gunicorn_worker_processes_with_redis(
    db, demo, database_url, tmp_path
):
    """With Redis storage, gunicorn's worker processes share one count: the sixth is refused."""
    require(_redis_available(), "Redis is not running on 127.0.0.1:6379")
    import redis

    redis.Redis(host="127.0.0.1", port=6379, db=15).flushdb()
    port = free_port()
    log = tmp_path / "access.log"
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "SECRET_KEY": "rl",
        "RATELIMIT_STORAGE_URI": "redis://127.0.0.1:6379/15",
        "RATELIMIT_ENABLED": "true",
    }
    # Each worker process is replaced after 3 requests, so the 12 requests are answered by
    # at least 4 different processes: the count can only hold if it is shared in Redis.
    command = [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", "2"]
    command += ["--max-requests", "3"]
    command += ["--access-logfile", str(log), "--access-logformat", "%(p)s %(s)s"]
    command += ["intake:create_app()"]
    url = f"http://127.0.0.1:{port}"
    answers: list[tuple[float, int]] = []  # (when it was sent, status)
    with served(command, cwd=tmp_path, env=env, ready_urls=[url + "/healthz"]):
        for i in range(12):
            request = urllib.request.Request(
                url + "/api/v1/feedback",
                data=f'{{"body": "第{i}条"}}'.encode(),
                headers={"Content-Type": "application/json", "Connection": "close"},
            )
            sent = time.monotonic()
            try:
                with urllib.request.urlopen(request, timeout=10) as response:
                    answers.append((sent, response.status))
            except urllib.error.HTTPError as error:
                answers.append((sent, error.code))
    statuses = [status for _sent, status in answers]
    if answers[-1][0] - answers[0][0] < 55:  # as on any machine not badly overloaded
        assert statuses == [201] * 5 + [429] * 7
    # However slow the machine: never more than five taken within a minute, by whichever
    # processes, and the rest refused.
    taken = [sent for sent, status in answers if status == 201]
    assert all(later - earlier >= 55 for earlier, later in zip(taken, taken[5:], strict=False))
    assert set(statuses) == {201, 429}
    workers = {
        line.split()[0] for line in log.read_text().splitlines() if line.endswith(("201", "429"))
    }
    assert len(workers) >= 4, "the requests should have been answered by several processes"
    assert _cases(db) == statuses.count(201)


def test_retry_after_only_where_a_client_is_told_to_retry(db, demo, settings, tmp_path):
    """The limiter's counts go with every limited answer, but Retry-After ("come back later")
    only with a refusal: the limiter's 429, and the 30 s of a 503 when the database does not
    answer, not the limiter's window in its place."""
    from shared.db import Database

    client = _app(settings, RATELIMIT_ENABLED=True)
    accepted = client.post("/api/v1/feedback", json={"body": "一条意见"})
    assert accepted.status_code == 201
    assert accepted.headers["X-RateLimit-Limit"] == "5" and "Retry-After" not in accepted.headers
    for _ in range(5):
        refused = client.post("/api/v1/feedback", json={"body": "一条意见"})
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 30
    unreachable = Database(f"sqlite:///{tmp_path / 'no-such-directory' / 'minyi.db'}")
    try:
        down = _app(settings, RATELIMIT_ENABLED=True, DATABASE=unreachable)
        response = down.post("/api/v1/feedback", json={"body": "数据库不可用时的留言"})
    finally:
        unreachable.dispose()
    assert response.status_code == 503
    assert response.headers.getlist("Retry-After") == ["30"]
