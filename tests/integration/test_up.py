"""`aicommons up|status|down` with real processes: Ray head, MLflow server and the portal.

Free ports and a temporary data directory keep it away from a developer's own platform.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from aicommons.portal.server import plan, processes

pytestmark = [pytest.mark.slow, pytest.mark.timeout(420)]

CLI = [sys.executable, "-m", "aicommons.portal.main"]
HEALTHY_WITHIN_S = 60.0
PORT_VARS = (
    "AICOMMONS_PORT",
    "AICOMMONS_MLFLOW_PORT",
    "AICOMMONS_RAY_GCS_PORT",
    "AICOMMONS_RAY_DASHBOARD_PORT",
    "AICOMMONS_RAY_CLIENT_PORT",
)


def free_ports(count: int) -> list[int]:
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for sock in sockets:
            sock.close()


@dataclass
class Platform:
    data_dir: Path
    env: dict[str, str]

    def cli(self, *args: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*CLI, *args], env=self.env, capture_output=True, text=True, timeout=timeout)

    def start(self, *args: str) -> tuple[subprocess.Popen[bytes], Path]:
        out = self.data_dir.parent / f"up-{time.monotonic_ns()}.out"
        with open(out, "wb") as handle:
            proc = subprocess.Popen(
                [*CLI, "up", *args], env=self.env, stdout=handle, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True,
            )  # fmt: skip
        return proc, out

    def state(self) -> dict:
        return json.loads((self.data_dir / "run" / "up.json").read_text())


def wait_for_up(proc: subprocess.Popen[bytes], out: Path, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = out.read_text(errors="replace")
        if "aicommons is up" in text:
            time.sleep(0.5)  # let the credentials and URLs lines land
            return out.read_text(errors="replace")
        if proc.poll() is not None:
            pytest.fail(f"`aicommons up` exited with {proc.returncode}:\n{text}")
        time.sleep(0.25)
    pytest.fail(f"`aicommons up` not healthy within {timeout:.0f} s:\n{out.read_text(errors='replace')}")


def recorded_groups(state: dict) -> list[int]:
    return [svc["pgid"] for svc in state["services"].values() if svc.get("pgid")]


def kill_everything(platform: Platform, proc: subprocess.Popen[bytes] | None) -> None:
    try:
        groups = recorded_groups(platform.state())
    except (OSError, ValueError):
        groups = []
    if proc is not None and proc.poll() is None:
        groups.append(proc.pid)
    for pgid in groups:
        processes.signal_group(pgid, signal.SIGKILL)


@pytest.fixture
def platform(tmp_path: Path) -> Iterator[Platform]:
    env = dict(os.environ)
    for name in ("AICOMMONS_DATABASE_URL", "RAY_ADDRESS", "MLFLOW_TRACKING_URI"):
        env.pop(name, None)
    env.update(dict(zip(PORT_VARS, map(str, free_ports(len(PORT_VARS))), strict=True)))
    data_dir = tmp_path / "data"
    env["AICOMMONS_DATA_DIR"] = str(data_dir)
    env["COLUMNS"] = "200"
    yield Platform(data_dir, env)
    # pytest's paths are too long for Ray's sockets, so its temp dir lives under /tmp instead.
    ray_temp = plan.ray_temp_dir(data_dir)
    if not ray_temp.is_relative_to(tmp_path):
        shutil.rmtree(ray_temp, ignore_errors=True)


def ray_resources(dashboard: str) -> dict[str, float]:
    deadline = time.monotonic() + 20
    while True:
        summary = httpx.get(f"{dashboard}/nodes?view=summary", timeout=10).json()
        nodes = summary["data"]["summary"]
        if nodes or time.monotonic() > deadline:
            return nodes[0]["raylet"]["resourcesTotal"] if nodes else {}
        time.sleep(0.5)


def assert_services_healthy(state: dict) -> None:
    urls = state["urls"]
    assert httpx.get(f"{urls['Portal']}/api/v1/health", timeout=10).status_code == 200
    assert httpx.get(urls["API docs"], timeout=10).status_code == 200
    mlflow = urls["MLflow"]
    assert httpx.get(f"{mlflow}/health", timeout=10).status_code == 200
    info = httpx.get(f"{mlflow}/api/3.0/mlflow/server-info", timeout=10).json()
    assert info.get("workspaces_enabled") is True, info
    workspaces = httpx.get(f"{mlflow}/api/3.0/mlflow/workspaces", timeout=10)
    assert workspaces.status_code == 200, workspaces.text
    assert "default" in {w["name"] for w in workspaces.json().get("workspaces", [])}
    assert httpx.get(f"{urls['Ray dashboard']}/api/version", timeout=10).status_code == 200
    assert ray_resources(urls["Ray dashboard"]).get("H100-80G") == 2.0


def assert_flavour_registered(portal: str, admin_password: str, name: str, capacity: int) -> None:
    """`--flavor` declares the accelerator to Ray and makes it bookable in the portal."""
    token = httpx.post(f"{portal}/api/v1/auth/token", json={"username": "admin", "password": admin_password})
    headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
    listed = httpx.get(f"{portal}/api/v1/flavours", headers=headers, timeout=10).json()
    assert {f["name"]: f["capacity_gpus"] for f in listed}.get(name) == capacity, listed


def assert_all_gone(supervisor_pid: int, groups: list[int]) -> None:
    assert processes.wait_until(
        lambda: not processes.pid_alive(supervisor_pid) and not any(map(processes.group_alive, groups)),
        timeout_s=30,
    ), {g: processes.group_members(g) for g in groups}


def test_up_status_down_and_restart_on_same_data_dir(platform: Platform) -> None:
    proc = None
    try:
        started = time.monotonic()
        proc, out = platform.start("--flavor", "H100-80G=2")
        text = wait_for_up(proc, out, HEALTHY_WITHIN_S)
        print(f"first start healthy after {time.monotonic() - started:.1f} s")
        password = re.search(r"username: admin\s+password: (\S+)", text)
        assert password, text

        state = platform.state()
        assert state["ready"] is True and state["supervisor_pid"] == proc.pid
        assert set(state["services"]) == {"portal", "ray", "mlflow"}
        assert_services_healthy(state)
        assert_flavour_registered(state["urls"]["Portal"], password.group(1), "H100-80G", 2)

        status = platform.cli("status")
        assert status.returncode == 0, status.stdout + status.stderr
        assert "healthy" in status.stdout
        as_json = json.loads(platform.cli("status", "--json").stdout)
        assert as_json["healthy"] is True

        second = platform.cli("up", "--no-ray", "--no-mlflow", timeout=60)
        assert second.returncode == 3
        assert "already running" in second.stdout

        groups = recorded_groups(state)
        down = platform.cli("down")
        assert down.returncode == 0, down.stdout + down.stderr
        assert proc.wait(timeout=30) == 0
        assert_all_gone(proc.pid, groups)
        assert not (platform.data_dir / "run" / "up.json").exists()
        assert platform.cli("status").returncode == 1

        # A second start reuses the data directory: same database, no new administrator.
        proc, out = platform.start("--flavor", "H100-80G=2")
        text = wait_for_up(proc, out, HEALTHY_WITHIN_S)
        assert "password" not in text.lower(), text
        assert (platform.data_dir / "logs" / "mlflow.log").exists()
        state = platform.state()
        assert platform.cli("status").returncode == 0
        # Ctrl-C stops every child too.
        os.kill(proc.pid, signal.SIGINT)
        assert proc.wait(timeout=60) == 0
        assert_all_gone(proc.pid, recorded_groups(state))
        assert not (platform.data_dir / "run" / "up.json").exists()
    finally:
        kill_everything(platform, proc)


def test_down_cleans_up_after_a_killed_supervisor(platform: Platform) -> None:
    proc = None
    try:
        proc, out = platform.start("--no-ray", "--no-mlflow")
        wait_for_up(proc, out, HEALTHY_WITHIN_S)
        state = platform.state()
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        assert platform.cli("status").returncode == 1
        down = platform.cli("down")
        assert down.returncode == 0, down.stdout
        assert "Stale" in down.stdout
        assert_all_gone(proc.pid, recorded_groups(state))
        assert not (platform.data_dir / "run" / "up.json").exists()
    finally:
        kill_everything(platform, proc)
