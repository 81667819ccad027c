"""The CLI against a real portal served by uvicorn: login, whoami, organisations, users, tokens."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from aicommons.portal.core.settings import Settings
from aicommons.portal.server.bootstrap import prepare


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Served:
    url: str
    admin_password: str
    env: dict[str, str]

    def cli(self, *args: str, lang: str = "en", input: str | None = None) -> subprocess.CompletedProcess[str]:
        env = {**self.env, "AICOMMONS_LANG": lang}
        return subprocess.run(
            [sys.executable, "-m", "aicommons.portal.main", *args],
            env=env, capture_output=True, text=True, timeout=60, input=input,
        )


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    folder = tmp_path_factory.mktemp("served")
    port = _free_port()
    env = {
        **os.environ,
        "AICOMMONS_DATA_DIR": str(folder / "data"),
        "AICOMMONS_PORT": str(port),
        "AICOMMONS_CONFIG": str(folder / "cli" / "config.json"),
        "AICOMMONS_DATABASE_URL": "",
    }
    env.pop("AICOMMONS_DATABASE_URL")
    env.pop("AICOMMONS_TOKEN", None)
    env.pop("AICOMMONS_SERVER", None)
    password = prepare(Settings(data_dir=folder / "data", port=port))
    assert password, "first start creates the administrator"
    log = open(folder / "uvicorn.log", "w")  # noqa: SIM115
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", "aicommons.portal.app:create_app",
         "--host", "127.0.0.1", "--port", str(port)],
        env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/api/v1/health", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.2)
    else:
        server.kill()
        pytest.fail(f"portal did not start: {(folder / 'uvicorn.log').read_text()[-2000:]}")
    yield Served(url, password, env)
    server.terminate()
    server.wait(timeout=15)
    log.close()


def test_cli_end_to_end(served: Served) -> None:
    assert served.cli("whoami").returncode == 2, "not signed in yet"

    login = served.cli("login", "--username", "admin", "--password", served.admin_password, "--server", served.url)
    assert login.returncode == 0, login.stderr
    assert "admin" in login.stdout

    whoami = served.cli("whoami")
    assert whoami.returncode == 0 and "admin" in whoami.stdout

    assert served.cli("orgs", "create", "acme", "Acme Robotics").returncode == 0
    duplicate = served.cli("orgs", "create", "acme", "Acme again")
    assert duplicate.returncode == 1 and "org.slug_taken" in duplicate.stderr
    duplicate_zh = served.cli("orgs", "create", "acme", "Acme again", lang="zh")
    assert "已存在" in duplicate_zh.stderr

    created = served.cli("users", "create", "alice", "--password", "alice-password-1")
    assert created.returncode == 0, created.stderr
    added = served.cli("orgs", "add-member", "acme", "alice", "--role", "steward")
    assert added.returncode == 0, added.stderr
    members = served.cli("orgs", "members", "acme")
    assert "alice" in members.stdout and "steward" in members.stdout

    token = served.cli("tokens", "create", "ci-bot", "--days", "30")
    assert token.returncode == 0, token.stderr
    secret = next(line for line in token.stdout.split() if line.startswith("aic_"))
    listed = served.cli("tokens", "list")
    assert "ci-bot" in listed.stdout and secret not in listed.stdout

    script_env = {**served.env, "AICOMMONS_TOKEN": secret, "AICOMMONS_SERVER": served.url}
    by_token = subprocess.run(
        [sys.executable, "-m", "aicommons.portal.main", "whoami"], env=script_env, capture_output=True, text=True,
        timeout=60,
    )
    assert by_token.returncode == 0 and "admin" in by_token.stdout


def test_cli_bad_input_is_a_clear_message(served: Served) -> None:
    bad = served.cli("login", "--username", "admin", "--password", "wrong-password", "--server", served.url)
    assert bad.returncode == 1
    assert "Wrong username or password" in bad.stderr and "Traceback" not in bad.stderr
    served.cli("login", "--username", "admin", "--password", served.admin_password, "--server", served.url)
    invalid = served.cli("orgs", "create", "Not A Slug", "x")
    assert invalid.returncode == 2 and "slug" in invalid.stderr and "Traceback" not in invalid.stderr
    unreachable = subprocess.run(
        [sys.executable, "-m", "aicommons.portal.main", "whoami"],
        env={**served.env, "AICOMMONS_SERVER": "http://127.0.0.1:9", "AICOMMONS_TOKEN": "x"},
        capture_output=True, text=True, timeout=60,
    )
    assert unreachable.returncode == 1 and "cannot reach" in unreachable.stderr
