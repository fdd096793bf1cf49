"""Secrets: password and passcode hashes, random tokens, tracking numbers."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import unicodedata

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from itsdangerous import BadData, URLSafeTimedSerializer

#: Digits and upper-case letters without the ones people confuse (0/O, 1/I/L, U/V).
UNAMBIGUOUS = "23456789ABCDEFGHJKMNPQRSTWXYZ"

#: Staff passwords are chosen by people: argon2id at the library's recommended cost.
_password_hasher = PasswordHasher()
#: Passcodes are 8 random characters (29^8 ≈ 5·10^11) and whoever holds the database already
#: holds the cases they open, so a light argon2id (about 3 ms) is enough; the default cost
#: (about 100 ms and 64 MiB per comment) was 95% of the time to receive one.
_passcode_hasher = PasswordHasher(time_cost=1, memory_cost=4096, parallelism=1)


def hash_secret(secret: str) -> str:
    """A staff password's hash."""
    return _password_hasher.hash(secret)


def hash_passcode(passcode: str) -> str:
    return _passcode_hasher.hash(passcode)


def verify_secret(stored_hash: str | None, secret: str) -> bool:
    """Check a password or passcode; each hash carries its own parameters, so hashes made with
    other settings still verify."""
    if not stored_hash:
        return False
    try:
        return _password_hasher.verify(stored_hash, secret)
    except (VerificationError, InvalidHashError):
        return False


def random_code(length: int) -> str:
    return "".join(secrets.choice(UNAMBIGUOUS) for _ in range(length))


def new_tracking_number() -> str:
    """Eight unambiguous characters in two groups, e.g. ``K7QM-2XHP`` (29^8 ≈ 5·10^11)."""
    code = random_code(8)
    return f"{code[:4]}-{code[4:]}"


def compact_code(text: str) -> str:
    """A code as a citizen may type it back (any case, spaces, dashes, full-width characters),
    reduced to its letters and digits."""
    return "".join(ch for ch in unicodedata.normalize("NFKC", text).upper() if ch.isalnum())


def normalise_tracking_number(text: str) -> str:
    compact = compact_code(text)
    return f"{compact[:4]}-{compact[4:]}" if len(compact) == 8 else compact


def new_passcode() -> str:
    return random_code(8)


def derived_passcode(secret_key: str, idempotency_key: str, tracking_number: str) -> str:
    """The passcode of a case created with an Idempotency-Key.

    A repeated request with the same key must return the first answer, passcode included, but
    only the passcode's hash is stored. So it is derived from the client's key and the
    server's secret: whoever repeats the request knows the key, and the database alone
    reveals nothing.
    """
    digest = hmac.new(
        secret_key.encode(), f"{idempotency_key}\0{tracking_number}".encode(), hashlib.sha256
    ).digest()
    return "".join(UNAMBIGUOUS[byte % len(UNAMBIGUOUS)] for byte in digest[:8])


def new_reply_token() -> str:
    """For ``reply+TOKEN@…``: lower-case hex (80 bits), since mail systems may fold the case of
    an address."""
    return secrets.token_hex(10)


def new_token(nbytes: int = 32) -> str:
    return secrets.token_urlsafe(nbytes)


def sha256_hex(text: str | bytes) -> str:
    data = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    return hashlib.sha256(data).hexdigest()


#: How long the rating link in an answer mail works.
RATING_LINK_DAYS = 60


def rating_token(secret_key: str, tracking_number: str) -> str:
    """The token of the rating link in an answer mail: signed, so it cannot be guessed."""
    return URLSafeTimedSerializer(secret_key, salt="rating-link").dumps(tracking_number)


def tracking_number_of_rating_token(secret_key: str, token: str) -> str | None:
    """The case a rating link names, or None if it is forged, broken or too old."""
    try:
        value = URLSafeTimedSerializer(secret_key, salt="rating-link").loads(
            token, max_age=RATING_LINK_DAYS * 86400
        )
    except BadData:
        return None
    return value if isinstance(value, str) else None
