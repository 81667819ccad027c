"""What the scheduler asks of a compute backend, and nothing about any particular one.

A launcher runs one admitted job on its backend under the job's id, reports the backend's view of
it, stops it and returns its logs. The reconcile loop owns all decisions (admission, time limits,
retries); a launcher only carries them out, and must be safe to call again after a crash: a second
`submit` of the same id never starts a second run, and `stop` of an ended or unknown job is no error.

Capabilities are opt-in strings so that callers can ask before relying on a feature a backend
lacks (KubeRay, for instance, may not stream logs).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from aicommons.portal.core.i18n import translate

from . import messages  # noqa: F401  (registers the launcher messages)

# Opt-in capabilities a launcher may declare.
CAP_LOGS = "logs"  # logs() returns what the job printed so far
CAP_FOLLOW_LOGS = "follow_logs"  # follow_logs() streams until the job ends
CAP_GRACEFUL_STOP = "graceful_stop"  # stop() sends SIGTERM first and kills only after the grace
CAP_RESOURCE_FLAVOURS = "resource_flavours"  # flavours are reserved on the backend, not just counted
CAP_RESUMES_BY_ID = "resumes_by_id"  # submitting a stopped job's id again resumes it as a new run


@dataclass(frozen=True)
class LaunchSpec:
    """Everything a backend needs to run one job; built by the caller, which owns its meaning."""

    job_id: str  # also the backend's id for the run (Ray's submission id)
    entrypoint: str  # a shell command, e.g. "python train.py --epochs 2"
    working_dir: Path | None  # a local .zip archive or directory, shipped with the job
    pip: tuple[str, ...]  # extra pip packages for the job's runtime environment
    env: Mapping[str, str]  # variables the job finds in its environment (MLflow, datasets, checkpoints)
    flavour: str | None  # the accelerator type, a backend resource name; None for CPU-only
    gpus_per_worker: int
    workers: int
    cpus: float  # for the entrypoint process
    memory_bytes: int | None
    time_limit_s: int  # enforced by the reconcile loop; a backend may use it as a backstop or label
    # For backends that mirror the portal's quotas (KubeRay): the organisation's id, and the most GPUs
    # it may hold at once per flavour name (guaranteed + borrowing limit). Unused by local Ray.
    org: str | None = None
    org_quota_gpus: Mapping[str, int] | None = None
    # Tokens and credentials: in the job's environment like ``env``, but kept out of what the backend
    # shows of the job where it can (KubeRay: a Secret; local Ray has only its runtime environment).
    secrets: Mapping[str, str] = field(default_factory=dict)

    @property
    def total_gpus(self) -> int:
        """Accelerators the job holds while it runs: all workers are admitted at once."""
        return self.gpus_per_worker * self.workers


class LaunchPhase(StrEnum):
    PENDING = "PENDING"  # accepted; waiting for resources or its environment
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    STOPPED = "STOPPED"  # ended by stop() (or by an operator on the backend)
    MISSING = "MISSING"  # the backend does not know the id: never submitted, or lost

    @property
    def ended(self) -> bool:
        return self in ENDED_PHASES


ENDED_PHASES = frozenset({LaunchPhase.SUCCEEDED, LaunchPhase.FAILED, LaunchPhase.STOPPED})


@dataclass(frozen=True)
class LaunchStatus:
    phase: LaunchPhase
    message: str | None = None  # the backend's own words, for operators and the job's history
    started_at: datetime | None = None  # timezone-aware (UTC)
    ended_at: datetime | None = None


class LauncherError(Exception):
    """A backend failed or refused a request. Carries a message code (scheduler/launchers/messages.py)
    and parameters, so callers can show it in the user's language; str() is the English text."""

    def __init__(self, code: str, **params: Any) -> None:
        self.code = code
        self.params = params
        super().__init__(translate(code, "en", params))


@runtime_checkable
class Launcher(Protocol):
    name: str
    capabilities: frozenset[str]

    def submit(self, spec: LaunchSpec) -> None:
        """Start the job; a second submit of the same job id is a no-op, never a second run."""
        ...

    def status(self, job_id: str) -> LaunchStatus:
        """The backend's view of the job; MISSING when it does not know the id."""
        ...

    def stop(self, job_id: str, grace_s: float) -> None:
        """SIGTERM, then kill after `grace_s`; no error when the job has already ended or is unknown."""
        ...

    def logs(self, job_id: str) -> str:
        """Everything the job printed so far."""
        ...

    def follow_logs(self, job_id: str) -> Iterator[str]:
        """Chunks of output as they come, ending when the job ends."""
        ...
