"""The state file and lock that `up` leaves for `status` and `down`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import typer

from aicommons.portal.server import control, processes, state
from aicommons.portal.server.state import HealthCheck, ServiceRecord, StateFileError, UpState

pytestmark = pytest.mark.unit


def _state(tmp_path: Path) -> UpState:
    return UpState(
        supervisor_pid=4242,
        data_dir=str(tmp_path),
        started_at="2026-01-01T00:00:00+00:00",
        services={
            "mlflow": ServiceRecord(
                name="mlflow",
                url="http://127.0.0.1:1",
                pid=11,
                pgid=11,
                start_ticks=99,
                checks=[HealthCheck("http", "http://127.0.0.1:1/health")],
                log="/x/mlflow.log",
            ),
            "ray": ServiceRecord(
                name="ray",
                url="http://127.0.0.1:2",
                pid=12,
                pgid=12,
                checks=[
                    HealthCheck("tcp", "127.0.0.1:3"),
                    HealthCheck("http", "http://127.0.0.1:2/api/version"),
                ],
            ),
        },
        urls={"MLflow": "http://127.0.0.1:1"},
        ready=True,
    )


def test_state_round_trips_through_the_file(tmp_path: Path) -> None:
    original = _state(tmp_path)
    path = state.write_state(tmp_path, original)
    assert path == tmp_path / "run" / "up.json"
    assert state.read_state(tmp_path) == original
    assert not list((tmp_path / "run").glob("*.tmp"))  # atomic write leaves no temp file


def test_missing_state_reads_as_none_and_remove_is_idempotent(tmp_path: Path) -> None:
    assert state.read_state(tmp_path) is None
    state.write_state(tmp_path, _state(tmp_path))
    assert state.remove_state(tmp_path) is True
    assert state.remove_state(tmp_path) is False


@pytest.mark.parametrize("content", ["{not json", "[1, 2]", '{"data_dir": "/x"}'])
def test_corrupt_state_raises_a_clear_error(tmp_path: Path, content: str) -> None:
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "up.json").write_text(content)
    with pytest.raises(StateFileError):
        state.read_state(tmp_path)


def test_lock_is_exclusive_and_released(tmp_path: Path) -> None:
    assert state.is_locked(tmp_path) is False
    with state.PlatformLock(tmp_path) as first:
        assert first.acquire() is True
        assert state.is_locked(tmp_path) is True
        assert state.PlatformLock(tmp_path).acquire() is False
    assert state.is_locked(tmp_path) is False


def test_lock_held_by_another_process_is_seen_and_dropped_when_it_dies(tmp_path: Path) -> None:
    code = (
        "import sys,time; from pathlib import Path; from aicommons.portal.server.state import PlatformLock;"
        "lock = PlatformLock(Path(sys.argv[1])); assert lock.acquire();"
        "print('locked', flush=True); time.sleep(60)"
    )
    holder = subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        assert state.is_locked(tmp_path) is True
    finally:
        holder.kill()
        holder.wait()
    assert state.is_locked(tmp_path) is False


def test_pid_alive_checks_start_time(tmp_path: Path) -> None:
    me = os.getpid()
    ticks = processes.process_start_ticks(me)
    assert processes.pid_alive(me, ticks)
    if ticks is not None:
        assert not processes.pid_alive(me, ticks + 1)  # a recycled pid is not ours
    assert not processes.pid_alive(None)
    assert not processes.pid_alive(0)


def test_status_without_state_file_is_not_running(tmp_path: Path) -> None:
    status = control.platform_status(tmp_path)
    assert not status.running and not status.healthy
    assert "not running" in status.message


def test_status_of_stale_state_is_unhealthy(tmp_path: Path) -> None:
    stale = _state(tmp_path)
    stale.services["mlflow"].pid = stale.services["ray"].pid = 2**22 + 7  # no such process
    state.write_state(tmp_path, stale)
    status = control.platform_status(tmp_path)
    assert not status.running and not status.healthy
    assert "stale" in status.message
    assert {s.process for s in status.services} == {"gone"}


def test_down_cleans_a_stale_state_file(tmp_path: Path) -> None:
    from rich.console import Console

    stale = _state(tmp_path)
    for record in stale.services.values():
        record.pid = record.pgid = 2**22 + 7
    state.write_state(tmp_path, stale)
    console = Console(file=open(os.devnull, "w"))  # noqa: SIM115
    assert control.down(tmp_path, console, timeout_s=5) == 0
    assert state.read_state(tmp_path) is None


def test_register_adds_up_status_down() -> None:
    from aicommons.portal.server.commands import register

    app = typer.Typer()
    register(app)
    assert {c.name for c in app.registered_commands} >= {"up", "status", "down"}
