"""Configuration from the environment and ``.env``."""

from __future__ import annotations

import pytest

from shared.config import ConfigError, load_settings


def test_defaults_need_nothing_in_development(tmp_path, monkeypatch):
    """A fresh checkout runs on SQLite under var/ with a generated, persistent secret key."""
    monkeypatch.chdir(tmp_path)
    for name in ("DATABASE_URL", "SECRET_KEY", "MINYI_ENV", "VAR_DIR"):
        monkeypatch.delenv(name, raising=False)
    first, second = load_settings(), load_settings()
    assert first["DATABASE_URL"] == f"sqlite:///{tmp_path}/var/minyi.db"
    assert first["SECRET_KEY"] == second["SECRET_KEY"] and len(first["SECRET_KEY"]) > 40
    assert first["MAIL_DIR"] == f"{tmp_path}/var/mail"


def test_production_refuses_to_start_without_secret_key(tmp_path, monkeypatch):
    """Outside development, a missing SECRET_KEY is an error, not a generated key."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MINYI_ENV", "production")
    monkeypatch.delenv("SECRET_KEY", raising=False)
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        load_settings()


def test_dotenv_file_is_read_and_environment_wins(tmp_path, monkeypatch):
    """Values come from .env unless the environment sets them."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("LMTP_PORT=2525\nREPLY_DOMAIN=from-dotenv.example\n")
    monkeypatch.setenv("REPLY_DOMAIN", "from-env.example")
    settings = load_settings()
    assert settings["LMTP_PORT"] == 2525
    assert settings["REPLY_DOMAIN"] == "from-env.example"


def test_malformed_value_names_the_variable(tmp_path, monkeypatch):
    """A value that cannot be read says which variable is wrong."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RATELIMIT_ENABLED", "perhaps")
    with pytest.raises(ConfigError, match="RATELIMIT_ENABLED"):
        load_settings()


def test_the_outbox_lease_must_outlast_a_mail_being_sent(tmp_path, monkeypatch):
    """A lease shorter than 10 × MAIL_TIMEOUT would let a second worker send a mail the first
    is still sending: the services refuse to start, naming both settings."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MAIL_TIMEOUT", "30")
    monkeypatch.setenv("OUTBOX_LEASE_SECONDS", "299")
    with pytest.raises(ConfigError, match=r"OUTBOX_LEASE_SECONDS \(299\).*MAIL_TIMEOUT \(30\)"):
        load_settings()
    monkeypatch.setenv("OUTBOX_LEASE_SECONDS", "300")
    assert load_settings()["OUTBOX_LEASE_SECONDS"] == 300
    monkeypatch.delenv("OUTBOX_LEASE_SECONDS")
    assert load_settings()["OUTBOX_LEASE_SECONDS"] == 900  # 15 minutes
