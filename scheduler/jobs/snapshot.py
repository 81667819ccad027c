"""What the admission cycle sees, read from the database into the policy's plain data."""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from aicommons.portal.core.settings import Settings

from ..policy.cluster import BookingWindow, ClusterSnapshot, FlavourCapacity, OrgQuota, QueuedJob, RunningJob
from . import repository
from .models import Job
from .states import HOLDING, JobState

# Past use older than this many half-lives weighs under 1/64: not worth reading.
USAGE_HORIZON_HALF_LIVES = 6


def epoch(value: datetime) -> float:
    return value.timestamp()


def from_epoch(value: float) -> datetime:
    return datetime.fromtimestamp(value, UTC)


def build(session: Session, settings: Settings, now: datetime) -> tuple[ClusterSnapshot, dict[str, Job]]:
    """The snapshot at ``now`` and the jobs it names, by id (queued and holding)."""
    flavours = repository.flavours(session)
    names = {f.id: f.name for f in flavours}
    jobs = repository.jobs_in_states(session, [JobState.QUEUED.value, *(s.value for s in HOLDING)])
    queued = [_queued(j, names) for j in jobs if j.state == JobState.QUEUED.value]
    running = [_running(j, names, now) for j in jobs if j.state != JobState.QUEUED.value]
    snapshot = ClusterSnapshot(
        now=epoch(now),
        flavours=[FlavourCapacity(f.name, f.capacity_gpus) for f in flavours],
        quotas=[
            OrgQuota(q.org_id, names[q.flavour_id], q.guaranteed_gpus, q.borrow_limit_gpus, q.lend_limit_gpus)
            for q in repository.quotas(session)
        ],
        bookings=[
            BookingWindow(b.org_id, names[b.flavour_id], b.gpus, epoch(b.starts_at), epoch(b.ends_at))
            for b in repository.confirmed_bookings(session, now)
        ],
        running=running,
        queued=queued,
        balances=_balances(session, names, now) if settings.jobs_require_balance else None,
        decayed_usage=_decayed_usage(session, settings.scheduler_usage_half_life_s, now),
        runtime_ratio=_runtime_ratios(session, names),
    )
    return snapshot, {j.id: j for j in jobs}


def _queued(job: Job, names: dict[str, str]) -> QueuedJob:
    return QueuedJob(
        id=job.id,
        org=job.org_id,
        flavour=names[job.flavour_id],
        gpus=job.gpus,
        time_limit_s=float(job.time_limit_s),
        priority=job.priority,
        queued_at=epoch(job.queued_at),
        preemptible=job.preemptible,
    )


def _running(job: Job, names: dict[str, str], now: datetime) -> RunningJob:
    started = job.started_at or job.admitted_at or now
    return RunningJob(
        id=job.id,
        org=job.org_id,
        flavour=names[job.flavour_id],
        gpus=job.gpus,
        started_at=epoch(started),
        time_limit_s=float(job.time_limit_s),
        preemptible=job.preemptible,
        # asked to stop already: the policy does not preempt more jobs for the same need
        stopping=job.stop_requested is not None,
    )


def _balances(session: Session, names: dict[str, str], now: datetime) -> dict[tuple[str, str], float]:
    """GPU-seconds each organisation may spend per flavour: flavour-specific plus any-flavour vouchers."""
    specific: dict[tuple[str, str], int] = defaultdict(int)
    anywhere: dict[str, int] = defaultdict(int)
    for org, flavour_id, left in repository.remaining_by_org_flavour(session, now):
        if flavour_id is None:
            anywhere[org] += left
        elif flavour_id in names:
            specific[(org, names[flavour_id])] += left
    balances: dict[tuple[str, str], float] = {}
    for org in set(anywhere) | {org for org, _ in specific}:
        for name in names.values():
            balances[(org, name)] = float(specific.get((org, name), 0) + anywhere.get(org, 0))
    return balances


def _decayed_usage(session: Session, half_life_s: float, now: datetime) -> dict[str, float]:
    since = now - timedelta(seconds=half_life_s * USAGE_HORIZON_HALF_LIVES)
    usage: dict[str, float] = defaultdict(float)
    for org, ended, seconds in repository.recent_usage(session, since):
        age = max(0.0, (now - ended).total_seconds())
        usage[org] += seconds * math.pow(0.5, age / half_life_s)
    return dict(usage)


def _runtime_ratios(session: Session, names: dict[str, str]) -> dict[str, float]:
    ratios: dict[str, list[float]] = defaultdict(list)
    for flavour_id, started, ended, limit in repository.recent_runtimes(session):
        ratios[names.get(flavour_id, flavour_id)].append(min(1.0, (ended - started).total_seconds() / limit))
    return {flavour: statistics.median(values) for flavour, values in ratios.items() if values}
