"""Child processes of `aicommons up`: launching them in their own process group with their output
in a log file, recognising them again later (pid + start time), and stopping whole groups."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path


@dataclass
class ChildSpec:
    name: str
    argv: list[str]
    env: dict[str, str]
    log_path: Path
    cwd: Path | None = None
    # Added to the child's niceness (lower CPU priority), inherited by everything it starts.
    nice: int = 0


@dataclass
class Child:
    spec: ChildSpec
    process: subprocess.Popen[bytes]
    start_ticks: int | None

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def pgid(self) -> int:
        # start_new_session=True makes the child the leader of its own group.
        return self.process.pid

    def exited(self) -> int | None:
        return self.process.poll()


def launch(spec: ChildSpec) -> Child:
    """Start `spec` in a new session (so a terminal's Ctrl-C reaches only the supervisor, which then
    stops children in order), appending stdout and stderr to its log file."""
    spec.log_path.parent.mkdir(parents=True, exist_ok=True)
    if spec.cwd is not None:
        spec.cwd.mkdir(parents=True, exist_ok=True)
    with open(spec.log_path, "ab") as log:
        stamp = datetime.now(UTC).isoformat(timespec="seconds")
        log.write(f"\n===== aicommons up: {stamp} · {' '.join(spec.argv)}\n".encode())
        log.flush()
        process = subprocess.Popen(
            spec.argv,
            env=spec.env,
            cwd=spec.cwd,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
            preexec_fn=(lambda: os.nice(spec.nice)) if spec.nice else None,
        )
    return Child(spec=spec, process=process, start_ticks=process_start_ticks(process.pid))


def process_start_ticks(pid: int) -> int | None:
    """When `pid` started, in clock ticks since boot (field 22 of /proc/<pid>/stat); None if unknown."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may contain spaces and parentheses: split after the last ')'.
    fields = raw[raw.rfind(")") + 2 :].split()
    try:
        return int(fields[19])
    except (IndexError, ValueError):
        return None


def pid_alive(pid: int | None, start_ticks: int | None = None) -> bool:
    """True when `pid` exists, is not a zombie and (when known) started at `start_ticks`."""
    if not pid or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    if _is_zombie(pid):
        return False
    if start_ticks is not None:
        current = process_start_ticks(pid)
        if current is not None and current != start_ticks:
            return False
    return True


def _is_zombie(pid: int) -> bool:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return raw[raw.rfind(")") + 2 :].startswith("Z")


def group_members(pgid: int) -> list[int]:
    """Live (non-zombie) pids in process group `pgid`, from /proc; falls back to a signal-0 probe."""
    proc = Path("/proc")
    if not proc.is_dir():
        try:
            os.killpg(pgid, 0)
            return [pgid]
        except (ProcessLookupError, PermissionError):
            return []
    members = []
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            raw = (entry / "stat").read_text()
        except OSError:
            continue
        fields = raw[raw.rfind(")") + 2 :].split()
        if len(fields) > 2 and fields[2] == str(pgid) and fields[0] != "Z":
            members.append(int(entry.name))
    return members


def group_alive(pgid: int | None) -> bool:
    return bool(pgid) and bool(group_members(pgid))  # type: ignore[arg-type]


def signal_group(pgid: int, signum: int) -> bool:
    try:
        os.killpg(pgid, signum)
        return True
    except (ProcessLookupError, PermissionError):
        return False


def signal_pid(pid: int, signum: int) -> bool:
    try:
        os.kill(pid, signum)
        return True
    except (ProcessLookupError, PermissionError):
        return False


def wait_until(condition: Callable[[], bool], timeout_s: float, interval_s: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout_s
    while True:
        if condition():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval_s)


def stop_group(
    pgid: int,
    grace_s: float,
    *,
    leader_pid: int | None = None,
    reap: Callable[[], object] | None = None,
) -> bool:
    """SIGTERM a process group (or only its leader, which then stops its own children, as
    `ray start --block` does), wait up to `grace_s` for the whole group to go, then SIGKILL what is
    left. Returns True when it went without SIGKILL."""

    def gone() -> bool:
        if reap is not None:
            reap()
        return not group_members(pgid)

    if gone():
        return True
    if leader_pid is not None and pid_alive(leader_pid):
        signal_pid(leader_pid, signal.SIGTERM)
    else:
        signal_group(pgid, signal.SIGTERM)
    if wait_until(gone, grace_s):
        return True
    signal_group(pgid, signal.SIGKILL)
    wait_until(gone, 5.0)
    return False


def stop_groups_in_parallel(
    targets: Iterable[tuple[int, int | None, Callable[[], object] | None]], grace_s: float
) -> None:
    """Stop several groups at once: (pgid, leader_pid or None, reap or None)."""
    import threading

    threads = [
        threading.Thread(target=stop_group, args=(pgid, grace_s), kwargs={"leader_pid": leader, "reap": reap})
        for pgid, leader, reap in targets
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def tail(path: Path, lines: int = 15) -> str:
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - 16384))
            text = handle.read().decode(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def child_env(
    base: Mapping[str, str], overrides: Mapping[str, str], drop: Sequence[str] = ()
) -> dict[str, str]:
    env = {key: value for key, value in base.items() if key not in drop}
    env.update(overrides)
    return env


def reap_quietly(child: Child) -> None:
    with contextlib.suppress(Exception):
        child.process.poll()
