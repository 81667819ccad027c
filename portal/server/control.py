"""`aicommons status` and `aicommons down`, from another terminal, through the state file."""

from __future__ import annotations

import json
import signal
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table

from . import processes
from .health import probe
from .state import ServiceRecord, StateFileError, UpState, is_locked, read_state, remove_state


@dataclass
class ServiceStatus:
    name: str
    pid: int | None
    process: str
    healthy: bool
    detail: str
    url: str | None


@dataclass
class PlatformStatus:
    running: bool
    ready: bool
    supervisor_pid: int | None
    started_at: str | None
    services: list[ServiceStatus]
    urls: dict[str, str]
    message: str

    @property
    def healthy(self) -> bool:
        return self.running and bool(self.services) and all(s.healthy for s in self.services)


# ----- status ----------------------------------------------------------------------------------


def service_status(record: ServiceRecord) -> ServiceStatus:
    if record.external:
        process = "external"
    elif processes.pid_alive(record.pid, record.start_ticks):
        process = "running"
    else:
        return ServiceStatus(record.name, record.pid, "gone", False, "process gone", record.url)
    for check in record.checks:
        ok, why = probe(check, timeout_s=2.0)
        if not ok:
            return ServiceStatus(
                record.name, record.pid, process, False, f"{check.target}: {why}", record.url
            )
    return ServiceStatus(record.name, record.pid, process, True, "ok", record.url)


def platform_status(data_dir: Path) -> PlatformStatus:
    try:
        state = read_state(data_dir)
    except StateFileError as exc:
        return PlatformStatus(False, False, None, None, [], {}, str(exc))
    running = is_locked(data_dir)
    if state is None:
        message = (
            "aicommons is running but has not written its state yet"
            if running
            else (f"aicommons is not running (no state file under {data_dir})")
        )
        return PlatformStatus(running, False, None, None, [], {}, message)
    services = [service_status(record) for record in state.services.values()]
    if not running:
        message = f"stale state file: supervisor pid {state.supervisor_pid} is gone (run `aicommons down`)"
    elif not state.ready:
        message = "aicommons is starting"
    else:
        message = "aicommons is up" if all(s.healthy for s in services) else "aicommons is degraded"
    return PlatformStatus(
        running, state.ready, state.supervisor_pid, state.started_at, services, state.urls, message
    )


def print_status(status: PlatformStatus, console: Console, as_json: bool = False) -> int:
    if as_json:
        payload = {**asdict(status), "healthy": status.healthy}
        console.file.write(json.dumps(payload) + "\n")
        return 0 if status.healthy else 1
    style = "green" if status.healthy else "red"
    console.print(f"[bold {style}]{status.message}[/]", soft_wrap=True)
    if status.supervisor_pid:
        console.print(f"supervisor pid {status.supervisor_pid}, started {status.started_at}")
    if status.services:
        table = Table("service", "pid", "process", "health", "URL")
        for svc in status.services:
            health = "[green]healthy[/]" if svc.healthy else f"[red]{svc.detail}[/]"
            table.add_row(svc.name, str(svc.pid or "-"), svc.process, health, svc.url or "-")
        console.print(table)
    for label, url in status.urls.items():
        console.print(f"{label}: {url}", soft_wrap=True)
    return 0 if status.healthy else 1


# ----- down ------------------------------------------------------------------------------------


def _ours(record: ServiceRecord) -> bool:
    """The recorded group still belongs to us: its leader is gone, or is the very process we started."""
    if record.pid is None or record.pgid is None or record.external:
        return False
    leader_start = processes.process_start_ticks(record.pid)
    return leader_start is None or record.start_ticks is None or leader_start == record.start_ticks


def leftover_groups(state: UpState) -> list[ServiceRecord]:
    return [r for r in state.services.values() if _ours(r) and processes.group_alive(r.pgid)]


def stop_leftovers(state: UpState, grace_s: float) -> None:
    """Stop children a dead supervisor left behind: portal first, then the rest together."""
    leftovers = leftover_groups(state)
    portal = [r for r in leftovers if r.name == "portal"]
    others = [r for r in leftovers if r.name != "portal"]
    for group in (portal, others):
        processes.stop_groups_in_parallel(
            [(r.pgid, r.pid if r.name == "ray" else None, None) for r in group if r.pgid], grace_s
        )


def clean_stale(data_dir: Path, console: Console, grace_s: float = 10.0) -> None:
    """Called by `up` while holding the lock: a state file now can only be a dead run's."""
    try:
        state = read_state(data_dir)
    except StateFileError as exc:
        console.print(f"Removing an unreadable state file ({exc}).", soft_wrap=True)
        remove_state(data_dir)
        return
    if state is None:
        return
    if leftover_groups(state):
        console.print(
            f"Stopping processes left by an earlier `aicommons up` (pid {state.supervisor_pid}).",
            soft_wrap=True,
        )
        stop_leftovers(state, grace_s)
    remove_state(data_dir)


def _everything_gone(data_dir: Path, state: UpState) -> bool:
    return not is_locked(data_dir) and not leftover_groups(state)


def down(data_dir: Path, console: Console, timeout_s: float = 60.0, grace_s: float = 10.0) -> int:
    try:
        state = read_state(data_dir)
    except StateFileError as exc:
        console.print(f"Removing an unreadable state file ({exc}).", soft_wrap=True)
        remove_state(data_dir)
        return 0 if not is_locked(data_dir) else 1
    if state is None:
        if is_locked(data_dir):
            console.print("aicommons is starting and has not written its state yet; try again shortly.")
            return 1
        console.print(f"aicommons is not running (no state file under {data_dir}).", soft_wrap=True)
        return 0
    if is_locked(data_dir):
        _stop_supervisor(data_dir, state, console, timeout_s)
    else:
        console.print(f"Stale state file (supervisor pid {state.supervisor_pid} is gone).")
    if leftover_groups(state):
        console.print("Stopping leftover child processes…")
        stop_leftovers(state, grace_s)
    remove_state(data_dir)
    if leftover_groups(state) or is_locked(data_dir):
        console.print("[bold red]Some aicommons processes could not be stopped.[/]")
        return 1
    console.print("aicommons is down.")
    return 0


def _stop_supervisor(data_dir: Path, state: UpState, console: Console, timeout_s: float) -> None:
    pid = state.supervisor_pid
    if not processes.pid_alive(pid, state.supervisor_start_ticks):
        return
    with console.status(f"Stopping aicommons (supervisor pid {pid})…"):
        processes.signal_pid(pid, signal.SIGTERM)
        if processes.wait_until(lambda: _everything_gone(data_dir, state), timeout_s, 0.2):
            return
    console.print(f"The supervisor did not stop within {timeout_s:.0f} s; killing it.")
    processes.signal_pid(pid, signal.SIGKILL)
    processes.wait_until(lambda: not processes.pid_alive(pid), 5.0)
    time.sleep(0.1)
