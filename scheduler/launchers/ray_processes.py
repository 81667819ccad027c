"""What the Job Submission API cannot do, through Ray's state API and this machine's process table:
whether the cluster has Ray `GPU` resources, and killing a job's processes before Ray's own grace
runs out (Linux /proc; elsewhere nothing is found and Ray's grace applies)."""

from __future__ import annotations

import logging
import os
import signal
from pathlib import Path

from .base import LauncherError

log = logging.getLogger(__name__)

# Put into every job's environment by the launcher; the job's processes inherit it.
JOB_MARKER_VAR = "AICOMMONS_RAY_SUBMISSION_ID"
# Ray's per-job actor that starts the entrypoint and records its end; its title names the class.
SUPERVISOR_CLASS = "JobSupervisor"
STATE_API_TIMEOUT_S = 10


def cluster_has_gpus(address: str) -> bool:
    """True when some node of the cluster at `address` (dashboard URL) advertises Ray's `GPU` resource."""
    from ray.util.state import list_nodes

    try:
        nodes = list_nodes(address=address, detail=True, timeout=STATE_API_TIMEOUT_S)
    except Exception as exc:
        raise LauncherError("launcher.unreachable", address=address, detail=str(exc)[:300]) from exc
    return any((node.resources_total or {}).get("GPU", 0) > 0 for node in nodes if node.state == "ALIVE")


def kill_job_processes(job_id: str) -> int:
    """SIGKILL every process of a running Ray job on this machine, as Ray itself does when its grace
    runs out; the job's supervisor then records STOPPED. The processes are recognised by the marker
    variable the launcher put in the job's environment, since the entrypoint's shell may already
    have gone on SIGTERM and left its children to init. The supervisor itself is spared.
    Returns how many processes were killed (0 when the job runs on another machine or has ended)."""
    killed = 0
    for pid in _processes_with(JOB_MARKER_VAR, job_id):
        if pid == os.getpid() or SUPERVISOR_CLASS in _cmdline(pid):
            continue
        try:
            os.kill(pid, signal.SIGKILL)
            killed += 1
        except (ProcessLookupError, PermissionError):
            continue
    return killed


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _processes_with(variable: str, value: str) -> list[int]:
    """Pids whose environment holds `variable=value`, from /proc (empty where there is none)."""
    wanted = f"{variable}={value}".encode()
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:  # gone, or another user's
            continue
        if wanted in environ.split(b"\0"):
            found.append(int(entry.name))
    return found
