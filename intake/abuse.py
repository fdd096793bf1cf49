"""Keeping robots and floods out of the comment form without making citizens jump hoops.

- a honeypot field people never see, and a minimum time between showing and sending the form;
- rate limits per address (Flask-Limiter; Redis in production, so all workers count together);
- a simple self-hosted question (captcha) only after several comments from one address.

Every refusal shows the form again with everything typed kept.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

from flask import current_app, request
from flask_babel import gettext
from itsdangerous import BadSignature, URLSafeTimedSerializer
from limits import parse
from limits.strategies import MovingWindowRateLimiter

from shared.extensions import limiter
from shared.i18n import N_
from shared.web import current_language

#: Comments per address; a person seldom writes more than a few.
SUBMIT_LIMIT = "5 per minute;30 per hour"
#: Look-ups with number and passcode per address, against guessing.
LOOKUP_LIMIT = "30 per minute;300 per hour"
#: The field robots fill in: hidden from people (CSS and aria-hidden), named unlike any
#: real field so that browsers' autofill leaves it alone.
HONEYPOT = "hp_extra"
CAPTCHA_MAX_AGE = 3600

_NUMERALS = "零一二三四五六七八九"


def _serializer(salt: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=salt)


def form_stamp() -> str:
    """When the form was shown, signed, for the minimum fill time."""
    return _serializer("form-shown").dumps(int(time.time()))


def form_problems(form) -> dict[str, list[str]]:
    """A filled honeypot or a form sent too fast; both answer the same, so a robot learns little."""
    minimum = float(current_app.config["FORM_MIN_FILL_SECONDS"])
    problem = {"_form": [N_("Please check your comment and send it again.")]}
    if form.get(HONEYPOT):
        return problem
    if minimum <= 0:
        return {}
    try:
        shown = _serializer("form-shown").loads(form.get("form_shown", ""), max_age=24 * 3600)
    except BadSignature:
        return problem
    return problem if time.time() - float(shown) < minimum else {}


# -- the captcha after repeated comments -----------------------------------------------------


def _comments_per_hour():
    return parse(f"{int(current_app.config['CAPTCHA_AFTER'])} per hour")


def _counter() -> MovingWindowRateLimiter:
    return MovingWindowRateLimiter(limiter.storage)


def captcha_required() -> bool:
    if not current_app.config.get("RATELIMIT_ENABLED", True):
        return False
    return not _counter().test(_comments_per_hour(), "captcha", request.remote_addr or "")


def count_comment() -> None:
    """Count a stored comment towards the captcha threshold of its address."""
    if current_app.config.get("RATELIMIT_ENABLED", True):
        _counter().hit(_comments_per_hour(), "captcha", request.remote_addr or "")


def new_captcha() -> tuple[str, str]:
    """(question, token): a sum in words; the token carries a keyed hash of the answer."""
    first, second = secrets.randbelow(9) + 1, secrets.randbelow(9) + 1
    nonce = secrets.token_hex(8)
    token = _serializer("captcha").dumps({"n": nonce, "h": _answer_hash(nonce, first + second)})
    question = gettext(
        "What is %(first)s plus %(second)s? Answer in digits.",
        first=_NUMERALS[first] if _chinese() else first,
        second=_NUMERALS[second] if _chinese() else second,
    )
    return question, token


def captcha_problems(form) -> dict[str, list[str]]:
    wrong = {"captcha": [N_("Answer the question to show you are not a robot.")]}
    try:
        data = _serializer("captcha").loads(form.get("captcha_token", ""), max_age=CAPTCHA_MAX_AGE)
        answer = int(form.get("captcha", "").strip())
    except (BadSignature, ValueError, TypeError):
        return wrong
    if not isinstance(data, dict) or not hmac.compare_digest(
        str(data.get("h")), _answer_hash(str(data.get("n")), answer)
    ):
        return wrong
    return {}


def _answer_hash(nonce: str, answer: int) -> str:
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, f"{nonce}:{answer}".encode(), hashlib.sha256).hexdigest()


def _chinese() -> bool:
    return current_language() == "zh"
