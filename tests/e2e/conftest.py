"""End-to-end fixtures: the real portal under uvicorn, driven by Debian's Chromium through Playwright.

`infra/lib/browser.sh` installs Chromium (apt) and the Playwright Python package; Playwright's own
browser download is never used. Without them the tests are skipped locally and FAIL when CI=true.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import httpx
import pytest

from aicommons.portal.core.settings import Settings
from aicommons.portal.server.bootstrap import prepare

CHROMIUM = Path(os.environ.get("AICOMMONS_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"
SEED_PASSWORD = "e2e-password-123"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "e2e: drives the web UI in headless Chromium")


def _unavailable(reason: str) -> NoReturn:
    message = f"{reason}; run infra/lib/browser.sh"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)


@dataclass
class LivePortal:
    url: str
    admin_username: str
    admin_password: str
    data_dir: Path


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_until_up(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the portal exited early:\n{log.read_text()[-4000:]}")
        try:
            if httpx.get(f"{url}/api/v1/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"the portal did not start in 60 s:\n{log.read_text()[-4000:]}")


def _seed(portal: LivePortal) -> None:
    """A populated platform through the public API: one organisation with a member."""
    with httpx.Client(base_url=f"{portal.url}/api/v1", timeout=30) as api:
        token = api.post(
            "/auth/token", json={"username": portal.admin_username, "password": portal.admin_password}
        ).json()["access_token"]
        api.headers["Authorization"] = f"Bearer {token}"
        api.post("/orgs", json={"slug": "acme", "name": "Acme Robotics"}).raise_for_status()
        api.post(
            "/users", json={"username": "alice", "password": SEED_PASSWORD, "display_name": "Alice Wang"}
        ).raise_for_status()
        api.post("/orgs/acme/members", json={"username": "alice", "role": "member"}).raise_for_status()


@pytest.fixture(scope="session")
def live_portal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LivePortal]:
    data_dir = tmp_path_factory.mktemp("e2e-portal")
    port = _free_port()
    env = {
        **os.environ,
        "AICOMMONS_DATA_DIR": str(data_dir),
        "AICOMMONS_HOST": "127.0.0.1",
        "AICOMMONS_PORT": str(port),
        "AICOMMONS_MIGRATE_ON_START": "false",
    }
    env.pop("AICOMMONS_DATABASE_URL", None)
    settings = Settings(data_dir=data_dir, host="127.0.0.1", port=port, migrate_on_start=False)
    admin_password = prepare(settings)
    assert admin_password, "a fresh data directory creates the administrator"
    log = data_dir / "portal.log"
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "aicommons.portal.app:create_app",
        "--factory",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "warning",
    ]
    with log.open("wb") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(url, process, log)
        portal = LivePortal(url, settings.bootstrap_admin_username, admin_password, data_dir)
        _seed(portal)
        yield portal
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        _unavailable(f"{CHROMIUM} is missing")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright Python package is missing")
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield instance
        finally:
            instance.close()


@pytest.fixture
def screenshot_dir() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
