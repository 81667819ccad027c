"""The shared kernel: settings, principal rules, passwords, time, error kinds."""

from __future__ import annotations

import os
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest

from aicommons.portal.api.errors import STATUS_BY_KIND
from aicommons.portal.auth import passwords
from aicommons.portal.client.config import ClientConfig
from aicommons.portal.core import errors
from aicommons.portal.core.principal import Principal
from aicommons.portal.core.settings import Settings
from aicommons.portal.core.time import as_utc, isoformat


def test_settings_read_the_aicommons_prefix(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("AICOMMONS_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("AICOMMONS_PORT", "9123")
    settings = Settings()
    assert settings.data_dir == tmp_path
    assert settings.database_url_resolved == f"sqlite:///{tmp_path / 'aicommons.db'}"
    assert settings.base_url == "http://127.0.0.1:9123"
    assert settings.issuer == settings.base_url


def test_settings_default_to_loopback_and_home(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AICOMMONS_DATA_DIR", raising=False)
    settings = Settings()
    assert settings.host == "127.0.0.1"
    assert settings.data_dir == Path.home() / ".aicommons"


def test_every_error_kind_maps_to_a_4xx_or_503() -> None:
    kinds = {cls.kind for cls in errors.AppError.__subclasses__()}
    assert kinds <= set(STATUS_BY_KIND)
    assert all(400 <= STATUS_BY_KIND[k] < 500 or STATUS_BY_KIND[k] == 503 for k in kinds)


def test_principal_hides_foreign_organisations() -> None:
    alice = Principal("u1", "alice", memberships={"acme": "member"})
    alice.require_member("acme")
    with pytest.raises(errors.NotFound):
        alice.require_member("beta")
    with pytest.raises(errors.Forbidden):
        alice.require_steward("acme")
    with pytest.raises(errors.NotFound):
        alice.require_steward("beta")
    with pytest.raises(errors.Forbidden):
        alice.require_admin()
    Principal("u0", "root", is_admin=True).require_steward("beta")
    assert alice.can_read("acme") and not alice.can_read("beta")
    assert Principal("u0", "root", is_admin=True).can_read("beta")


def test_password_hashes_are_salted_and_verified() -> None:
    first, second = passwords.hash_password("s3cret-pass"), passwords.hash_password("s3cret-pass")
    assert first != second and first.startswith("$argon2id$")
    assert passwords.verify_password(first, "s3cret-pass")
    assert not passwords.verify_password(first, "wrong")
    assert not passwords.verify_password(None, "s3cret-pass")
    assert not passwords.verify_password("not-a-hash", "x")


def test_time_helpers_are_utc() -> None:
    naive = datetime(2026, 1, 2, 3, 4, 5)
    assert as_utc(naive).tzinfo is UTC
    assert isoformat(naive) == "2026-01-02T03:04:05Z"


def test_client_config_is_private(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("AICOMMONS_CONFIG", str(tmp_path / "cfg" / "config.json"))
    monkeypatch.delenv("AICOMMONS_TOKEN", raising=False)
    monkeypatch.delenv("AICOMMONS_SERVER", raising=False)
    config = ClientConfig(server="http://127.0.0.1:1", token="secret", username="alice")
    path = config.save()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    loaded = ClientConfig.load()
    assert (loaded.server, loaded.token, loaded.username) == ("http://127.0.0.1:1", "secret", "alice")
