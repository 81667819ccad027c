"""Small snapshots for the admission policy tests: one flavour `f`, jobs, quotas, a plan."""

from __future__ import annotations

from collections.abc import Sequence

from aicommons.scheduler.policy import plan_cycle
from aicommons.scheduler.policy.cluster import (
    AdmissionConfig,
    BookingWindow,
    ClusterSnapshot,
    CycleResult,
    FlavourCapacity,
    OrgQuota,
    QueuedJob,
    RunningJob,
)

NOW = 10_000.0


def q(
    job_id: str,
    org: str = "a",
    gpus: int = 1,
    tl: float = 3600,
    at: float = 0.0,
    prio: int = 0,
    flavour: str = "f",
) -> QueuedJob:
    return QueuedJob(job_id, org, flavour, gpus, tl, priority=prio, queued_at=at)


def r(
    job_id: str,
    org: str = "x",
    gpus: int = 1,
    started: float = NOW - 100,
    tl: float = 100_000,
    preemptible: bool = True,
    stopping: bool = False,
    flavour: str = "f",
) -> RunningJob:
    return RunningJob(job_id, org, flavour, gpus, started, tl, preemptible=preemptible, stopping=stopping)


def quota(
    org: str, guaranteed: int, borrow: int = 100, lend: int | None = None, flavour: str = "f"
) -> OrgQuota:
    return OrgQuota(org, flavour, guaranteed, borrow, guaranteed if lend is None else lend)


def snap(
    capacity: int = 8,
    queued: Sequence[QueuedJob] = (),
    running: Sequence[RunningJob] = (),
    quotas: Sequence[OrgQuota] = (),
    bookings: Sequence[BookingWindow] = (),
    balances: dict[tuple[str, str], float] | None = None,
    usage: dict[str, float] | None = None,
    ratio: dict[str, float] | None = None,
) -> ClusterSnapshot:
    return ClusterSnapshot(
        now=NOW,
        flavours=[FlavourCapacity("f", capacity)],
        quotas=list(quotas),
        bookings=list(bookings),
        running=list(running),
        queued=list(queued),
        balances=balances,
        decayed_usage=usage or {},
        runtime_ratio=ratio or {},
    )


def plan(snapshot: ClusterSnapshot, **config: object) -> CycleResult:
    return plan_cycle(snapshot, AdmissionConfig(**config))  # type: ignore[arg-type]


def order(result: CycleResult) -> list[str]:
    """Waiting job ids by flavour position."""
    return [job_id for job_id, _ in sorted(result.waiting.items(), key=lambda kv: kv[1].flavour_position)]
