"""Configuration from environment variables (and an ``.env`` file in the working directory).

Every variable of the public contract is read here, once, into a plain mapping that the
Flask apps use as their ``config`` and the command-line tools use as is.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from dotenv import dotenv_values


class ConfigError(RuntimeError):
    """The configuration cannot be used; the message says which variable and why."""


def _bool(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError(f"not a boolean: {value!r}")


def _optional(value: str) -> str | None:
    return value or None


def addresses(value: str | Sequence[str]) -> tuple[str, ...]:
    """Comma-separated email addresses (or a list of them), each checked; ValueError names
    the first bad one."""
    from marshmallow import ValidationError, validate

    parts = value.split(",") if isinstance(value, str) else list(value)
    checked = []
    for part in (str(part).strip() for part in parts):
        if not part:
            continue
        try:
            validate.Email()(part)
        except ValidationError:
            raise ValueError(f"not an email address: {part!r}") from None
        checked.append(part)
    return tuple(checked)


#: name -> (parser, default). A default of None means "not set".
_SPEC: dict[str, tuple[Callable[[str], Any], Any]] = {
    "MINYI_ENV": (str, "development"),
    "VAR_DIR": (str, "var"),
    "DATABASE_URL": (str, None),
    "SECRET_KEY": (_optional, None),
    "PUBLIC_BASE_URL": (str, "http://127.0.0.1:8000"),
    "RESPONDER_BASE_URL": (str, "http://127.0.0.1:8001"),
    "MAIL_SERVER": (_optional, None),
    "MAIL_PORT": (int, 25),
    "MAIL_USE_TLS": (_bool, False),
    "MAIL_USE_SSL": (_bool, False),
    "MAIL_USERNAME": (_optional, None),
    "MAIL_PASSWORD": (_optional, None),
    "MAIL_DEFAULT_SENDER": (str, "通渭县委宣传部 <noreply@minyi.localhost>"),
    "MAIL_TIMEOUT": (float, 30.0),
    #: How long a worker's claim on the mail it is sending lasts without renewal; after
    #: that another worker may send it (the first one is taken to have died).
    "OUTBOX_LEASE_SECONDS": (float, 900.0),
    "INTAKE_ADDRESS": (str, "feedback@minyi.localhost"),
    "REPLY_DOMAIN": (str, "minyi.localhost"),
    "IMAP_HOST": (_optional, None),
    "IMAP_PORT": (int, 993),
    "IMAP_SSL": (_bool, True),
    "IMAP_USER": (_optional, None),
    "IMAP_PASSWORD": (_optional, None),
    "IMAP_FOLDER": (str, "INBOX"),
    "LMTP_HOST": (str, "127.0.0.1"),
    "LMTP_PORT": (int, 8024),
    "RATELIMIT_STORAGE_URI": (str, "memory://"),
    "RATELIMIT_ENABLED": (_bool, True),
    "MAX_ATTACHMENT_BYTES": (int, 10 * 1024 * 1024),
    "MAX_ATTACHMENTS": (int, 5),
    #: Reverse proxies in front (nginx: 1) whose X-Forwarded-For is believed; 0 without one.
    "TRUSTED_PROXIES": (int, 1),
    #: json or text; unset: JSON outside development.
    "MINYI_LOG_FORMAT": (str, ""),
    #: A form sent sooner than this after it was shown is a robot's (0 turns the check off).
    "FORM_MIN_FILL_SECONDS": (float, 3.0),
    #: Comments from one address in an hour before the form asks for a captcha.
    "CAPTCHA_AFTER": (int, 3),
    "MAX_MESSAGE_BYTES": (int, 25 * 1024 * 1024),
    #: Who gets the monthly report by mail (comma-separated); empty: the active admins.
    "REPORT_RECIPIENTS": (addresses, ()),
}


def load_settings(overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Read the settings: explicit overrides, then the environment, then ``.env``, then defaults."""
    dotenv = {k: v for k, v in dotenv_values(Path.cwd() / ".env").items() if v is not None}
    overrides = dict(overrides or {})
    settings: dict[str, Any] = {}
    for name, (parse, default) in _SPEC.items():
        if name in overrides:
            settings[name] = overrides.pop(name)
            continue
        raw = os.environ.get(name, dotenv.get(name))
        if raw is None:
            settings[name] = default
            continue
        try:
            settings[name] = parse(raw)
        except ValueError as error:
            raise ConfigError(f"{name}: {error}") from None
    settings.update(overrides)  # extra keys (Flask's own, test switches) pass through

    _check_lease(settings)
    var_dir = Path(settings["VAR_DIR"]).absolute()
    settings["VAR_DIR"] = str(var_dir)
    settings.setdefault("MAIL_DIR", str(var_dir / "mail"))
    if not settings["DATABASE_URL"]:
        settings["DATABASE_URL"] = f"sqlite:///{var_dir / 'minyi.db'}"
    if not settings["SECRET_KEY"]:
        if settings["MINYI_ENV"] != "development":
            raise ConfigError("SECRET_KEY must be set outside development (MINYI_ENV)")
        settings["SECRET_KEY"] = _development_secret(var_dir)
    return settings


#: Sending one mail takes at most a few MAIL_TIMEOUTs (connect, greeting, TLS, login, MAIL,
#: RCPT, DATA, the text, its answer); the worker renews its claim between mails, after a
#: quarter of the lease. A lease this many times MAIL_TIMEOUT keeps a live worker's claim.
LEASE_PER_MAIL_TIMEOUT = 10


def _check_lease(settings: Mapping[str, Any]) -> None:
    lease, timeout = settings["OUTBOX_LEASE_SECONDS"], settings["MAIL_TIMEOUT"]
    if lease < LEASE_PER_MAIL_TIMEOUT * timeout:
        raise ConfigError(
            f"OUTBOX_LEASE_SECONDS ({lease:g}) must be at least {LEASE_PER_MAIL_TIMEOUT} × "
            f"MAIL_TIMEOUT ({timeout:g}): a mail still being sent would look abandoned, and "
            "another worker would send it too"
        )


def _development_secret(var_dir: Path) -> str:
    """A per-installation key kept in ``var/``, so every development process shares it."""
    path = var_dir / "secret_key"
    if not path.exists():
        var_dir.mkdir(parents=True, exist_ok=True)
        try:
            with open(path, "x", encoding="ascii") as handle:  # first writer wins
                handle.write(secrets.token_urlsafe(48))
            path.chmod(0o600)
        except FileExistsError:
            pass
    return path.read_text(encoding="ascii").strip()
