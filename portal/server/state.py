"""The state file `aicommons up` leaves for `status` and `down`: data_dir/run/up.json.

It records the supervisor, every child (pid, process group, start time so a recycled pid is never
mistaken for ours), the URLs and how to probe each service. Writes are atomic (temp file + rename).
A lock file held by the running supervisor tells a live platform from a stale state file.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TextIO

STATE_VERSION = 1


class StateFileError(Exception):
    """The state file exists but cannot be understood."""


@dataclass
class HealthCheck:
    """One probe: `http` expects a 2xx answer from `target` (a URL), `tcp` a connection to host:port."""

    kind: str
    target: str


@dataclass
class ServiceRecord:
    name: str
    url: str | None
    checks: list[HealthCheck] = field(default_factory=list)
    pid: int | None = None
    pgid: int | None = None
    # Clock ticks since boot at which the process started (Linux /proc), None elsewhere.
    start_ticks: int | None = None
    log: str | None = None
    external: bool = False


@dataclass
class UpState:
    supervisor_pid: int
    data_dir: str
    started_at: str
    services: dict[str, ServiceRecord] = field(default_factory=dict)
    urls: dict[str, str] = field(default_factory=dict)
    ready: bool = False
    supervisor_start_ticks: int | None = None
    version: int = STATE_VERSION

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> UpState:
        try:
            services = {
                name: ServiceRecord(
                    **{**svc, "checks": [HealthCheck(**check) for check in svc.get("checks", [])]}
                )
                for name, svc in raw.get("services", {}).items()
            }
            return cls(
                supervisor_pid=int(raw["supervisor_pid"]),
                data_dir=str(raw["data_dir"]),
                started_at=str(raw["started_at"]),
                services=services,
                urls=dict(raw.get("urls", {})),
                ready=bool(raw.get("ready", False)),
                supervisor_start_ticks=raw.get("supervisor_start_ticks"),
                version=int(raw.get("version", STATE_VERSION)),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise StateFileError(f"unreadable state file: {exc}") from exc


def run_dir(data_dir: Path) -> Path:
    return data_dir / "run"


def state_path(data_dir: Path) -> Path:
    return run_dir(data_dir) / "up.json"


def lock_path(data_dir: Path) -> Path:
    return run_dir(data_dir) / "up.lock"


def write_state(data_dir: Path, state: UpState) -> Path:
    path = state_path(data_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(state.to_json() + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path


def read_state(data_dir: Path) -> UpState | None:
    """The recorded state, None when there is no state file; StateFileError when it is corrupt."""
    path = state_path(data_dir)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise StateFileError(f"{path} is not valid JSON: {exc}") from exc
    if not isinstance(raw, dict):
        raise StateFileError(f"{path} does not hold a JSON object")
    return UpState.from_dict(raw)


def remove_state(data_dir: Path) -> bool:
    try:
        state_path(data_dir).unlink()
        return True
    except FileNotFoundError:
        return False


class PlatformLock:
    """An exclusive, non-blocking flock on data_dir/run/up.lock held for the supervisor's lifetime.

    The kernel drops it when the holder dies, however it dies, so a leftover state file with a free
    lock is stale. Children do not inherit it (subprocess closes other descriptors).
    """

    def __init__(self, data_dir: Path) -> None:
        self.path = lock_path(data_dir)
        self._file: TextIO | None = None

    def acquire(self) -> bool:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self.path, "a+", encoding="utf-8")  # noqa: SIM115 - held until release()
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            return False
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        self._file = handle
        return True

    def release(self) -> None:
        if self._file is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._file.fileno(), fcntl.LOCK_UN)
            self._file.close()
            self._file = None

    def __enter__(self) -> PlatformLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def is_locked(data_dir: Path) -> bool:
    """True when some live process holds the platform lock of this data directory."""
    path = lock_path(data_dir)
    if not path.exists():
        return False
    with open(path, "a+", encoding="utf-8") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError:
            return True
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
        return False
