"""Discrete-event simulator: replays a workload through the admission policy the live loop uses.

Virtual clock, three kinds of events: arrivals (at ``submit_s``), completions (at start +
min(duration, time limit)) and booking windows opening or closing. Like the live loop, the
simulator decides in scheduling cycles on a fixed period (``tick_s``): events are applied in time
order up to the next cycle time, then ``plan_cycle`` runs, but only if something happened that can
change a decision (a job arrived on a flavour, a job ended on a flavour with queued jobs, a window
opened or closed), and only over those flavours' queues (flavours do not interact in a cycle).
Admitted jobs start at the cycle time. Preempted jobs stop at once, go back to the queue with their
original ``queued_at``, and later restart from zero: the lost work is charged to utilisation but
not to the tenant's balance. A cycle that preempted is followed by another at the same time, so the
reclaiming job starts without waiting a period.

The simulator keeps a ``RunningIndex`` up to date and passes it as the snapshot's running jobs, and
asks for no explanations (``explain=False``, ``eta_horizon_jobs=0``): the decisions are the same,
at a fraction of the cost. Decayed usage for fair share uses ``usage_half_life_s`` (running GPUs
sampled at each cycle). Balances, when the workload has them, shrink as runs end.

Results: JCT (submit → end) and queueing delay (all time spent queued, before the first start and
after preemptions): mean, median, p95; utilisation per flavour (busy GPU-seconds, lost work
included, over capacity × the arrival window from the first to the last submission); each tenant's
share of the cluster against its entitlement; the guarantee attainment check (see ``Attainment``).
"""

from __future__ import annotations

import heapq
import math
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from .policy import plan_cycle
from .policy.cluster import (
    AdmissionConfig,
    BookingWindow,
    ClusterSnapshot,
    CycleResult,
    QueuedJob,
    RunningJob,
)
from .policy.queue import QueueIndex
from .policy.running import RunningIndex
from .workloads import JobSpec, Workload

_FAST = AdmissionConfig(explain=False, eta_horizon_jobs=0)
POLICIES: dict[str, AdmissionConfig] = {
    "fair": _FAST,
    "fifo": replace(_FAST, policy="fifo"),
    "fair-strict": replace(_FAST, backfill=False),  # fair order only: no backfill, hence no reclaim
    "fair-no-reclaim": replace(_FAST, reclaim=False),
}
Planner = Callable[[ClusterSnapshot, AdmissionConfig], CycleResult]
ATTAINMENT_TARGET = 0.95  # a tenant short of its guarantee gets at least this much of what it asked for
ATTAINMENT_MIN_DEMAND = 0.01  # tenants asking for less than 1% of their guarantee × the run are not judged


@dataclass(frozen=True)
class SimOptions:
    tick_s: float = 30.0
    usage_half_life_s: float = 12 * 3600.0
    min_balance_s: float | None = None
    booking_drain_lead_s: float = 0.0


@dataclass
class Stats:
    mean: float
    median: float
    p95: float

    @classmethod
    def of(cls, values: list[float]) -> Stats:
        if not values:
            return cls(0.0, 0.0, 0.0)
        ordered = sorted(values)
        n = len(ordered)
        median = ordered[n // 2] if n % 2 else (ordered[n // 2 - 1] + ordered[n // 2]) / 2
        return cls(sum(ordered) / n, median, ordered[min(n - 1, math.ceil(0.95 * n) - 1)])


@dataclass
class TenantShare:
    tenant: str
    entitlement: float  # guaranteed GPUs / all GPUs
    demand: float  # GPU-seconds asked for / (all GPUs × window)
    share: float  # GPU-seconds used / (all GPUs × window)
    attainment: float | None  # see Attainment; None: never short of its guarantee
    ok: bool


@dataclass(frozen=True, slots=True)
class JobResult:
    id: str
    tenant: str
    submitted: float
    started: float | None  # start of the run that completed (None: never started)
    ended: float | None
    waited: float  # all time spent queued
    preemptions: int


@dataclass
class SimResult:
    workload: str
    policy: str
    jobs: int
    finished: int
    never_started: int
    dropped: int
    preemptions: int
    cycles: int
    wall_s: float
    jct: Stats
    wait: Stats
    utilisation: dict[str, float]
    tenants: list[TenantShare] = field(default_factory=list)
    job_results: list[JobResult] = field(default_factory=list, repr=False)

    @property
    def jobs_per_s(self) -> float:
        return self.jobs / self.wall_s if self.wall_s > 0 else 0.0

    @property
    def starvation_free(self) -> bool:
        return all(t.ok for t in self.tenants)

    def to_dict(self) -> dict[str, Any]:
        return {
            "workload": self.workload,
            "policy": self.policy,
            "jobs": self.jobs,
            "finished": self.finished,
            "never_started": self.never_started,
            "dropped": self.dropped,
            "preemptions": self.preemptions,
            "cycles": self.cycles,
            "wall_s": round(self.wall_s, 3),
            "jobs_per_s": round(self.jobs_per_s),
            "jct_s": _rounded(self.jct),
            "wait_s": _rounded(self.wait),
            "utilisation": {k: round(v, 4) for k, v in self.utilisation.items()},
            "starvation_free": self.starvation_free,
            "tenants": [
                {
                    "tenant": t.tenant,
                    "entitlement": round(t.entitlement, 4),
                    "demand": round(t.demand, 4),
                    "share": round(t.share, 4),
                    "attainment": None if t.attainment is None else round(t.attainment, 4),
                    "ok": t.ok,
                }
                for t in self.tenants
            ],
        }


def _rounded(stats: Stats) -> dict[str, float]:
    return {"mean": round(stats.mean, 1), "median": round(stats.median, 1), "p95": round(stats.p95, 1)}


def simulate(
    workload: Workload,
    policy: str = "fair",
    options: SimOptions = SimOptions(),
    planner: Planner = plan_cycle,
) -> SimResult:
    """``planner`` decides each cycle; another one than ``plan_cycle`` is for measurements only
    (bench_sim replays recorded decisions through it to time the event loop on its own)."""
    if policy not in POLICIES:
        raise ValueError(f"unknown policy {policy!r} (one of {', '.join(POLICIES)})")
    return _Simulation(workload, policy, options, planner).run()


def compare(workload: Workload, policies: list[str], options: SimOptions = SimOptions()) -> list[SimResult]:
    return [simulate(workload, policy, options) for policy in policies]


class Attainment:
    """How much of its guarantee a tenant got while it asked for it, on one flavour.

    At each instant the tenant *wants* min(g, running + queued GPUs) if its smallest queued job fits
    in its unused guarantee (``running + size <= g``; a job that would only fit by borrowing is not
    owed), else just what it runs; it *gets* min(g, running). Attainment = ∫gets / ∫wants over the
    run. A tenant whose demand reaches its guarantee gets its guarantee when attainment is 1; the
    check asks for at least ``ATTAINMENT_TARGET`` (the shortfall is the time to the next cycle and
    jobs blocked by gang sizes, bookings or a lending limit)."""

    __slots__ = ("got_s", "guarantee", "last", "queued", "running", "sizes", "wanted_s")

    def __init__(self, guarantee: int, start: float) -> None:
        self.guarantee = guarantee
        self.running = 0
        self.queued = 0
        self.sizes: dict[int, int] = {}
        self.last = start
        self.wanted_s = 0.0
        self.got_s = 0.0

    def advance(self, now: float) -> None:
        span = now - self.last
        if span <= 0:
            return
        self.last = now
        g, running = self.guarantee, self.running
        if running >= g:
            self.wanted_s += g * span
            self.got_s += g * span
            return
        wanted = running
        if self.queued and min(size for size, n in self.sizes.items() if n) <= g - running:
            wanted = min(g, running + self.queued)
        self.wanted_s += wanted * span
        self.got_s += running * span

    def queue(self, gpus: int, sign: int) -> None:
        self.queued += sign * gpus
        self.sizes[gpus] = self.sizes.get(gpus, 0) + sign


@dataclass(slots=True)
class _Job:
    spec: JobSpec
    queued: QueuedJob
    token: int = 0  # bumped on preemption: the old completion event no longer counts (= preemptions)
    started: float = -1.0
    queued_since: float = 0.0
    waited: float = 0.0
    finished: float = -1.0


class _Balances(Mapping[tuple[str, str], float]):
    """What the snapshot's balances mean, computed on access: remaining GPU-seconds minus what
    running jobs have used so far (they are charged when they end)."""

    def __init__(self, initial: Mapping[tuple[str, str], float]) -> None:
        self.remaining = dict(initial)
        self.running: dict[tuple[str, str], list[float]] = {}  # [Σ gpus, Σ gpus × start]
        self.now = 0.0

    def __getitem__(self, key: tuple[str, str]) -> float:
        sums = self.running.get(key)
        used = sums[0] * self.now - sums[1] if sums else 0.0
        return self.remaining.get(key, 0.0) - used

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self.remaining)

    def __len__(self) -> int:
        return len(self.remaining)

    def start(self, key: tuple[str, str], gpus: int, at: float) -> None:
        sums = self.running.setdefault(key, [0.0, 0.0])
        sums[0] += gpus
        sums[1] += gpus * at

    def stop(self, key: tuple[str, str], gpus: int, started: float, ended: float, charged: bool) -> None:
        sums = self.running[key]
        sums[0] -= gpus
        sums[1] -= gpus * started
        if charged:
            self.remaining[key] = self.remaining.get(key, 0.0) - gpus * (ended - started)


class _Simulation:
    def __init__(self, workload: Workload, policy: str, options: SimOptions, planner: Planner) -> None:
        self.workload, self.policy, self.options, self.planner = workload, policy, options, planner
        self.config = replace(
            POLICIES[policy],
            min_balance_s=options.min_balance_s,
            booking_drain_lead_s=options.booking_drain_lead_s,
        )
        cluster = workload.cluster
        self.jobs = {
            spec.id: _Job(
                spec,
                QueuedJob(
                    spec.id,
                    spec.tenant,
                    spec.flavour,
                    spec.gpus,
                    spec.time_limit_s,
                    spec.priority,
                    spec.submit_s,
                ),
            )
            for spec in workload.jobs
        }
        self.queue = QueueIndex()
        self.index = RunningIndex()
        self.completions: list[tuple[float, int, str, int]] = []  # (end, seq, job id, token)
        self.seq = 0
        self.usage: dict[str, float] = {}
        self.last_decay = 0.0
        self.balances = _Balances(cluster.balances) if cluster.balances is not None else None
        first = workload.jobs[0].submit_s if workload.jobs else 0.0
        self.window = (first, workload.jobs[-1].submit_s if workload.jobs else 0.0)
        self.busy: dict[str, float] = {f.name: 0.0 for f in cluster.flavours}
        self.used_by: dict[str, float] = {}
        self.attainment = {
            (q.org, q.flavour): Attainment(q.guaranteed, first) for q in cluster.quotas if q.guaranteed > 0
        }
        self.bookings: list[BookingWindow] = list(cluster.bookings)
        self.flavours, self.quotas = tuple(cluster.flavours), tuple(cluster.quotas)  # the same every cycle
        self.preemptions = 0
        self.cycles = 0

    # --- the event loop -------------------------------------------------------------------------

    def run(self) -> SimResult:
        began = time.perf_counter()
        specs, n, i = self.workload.jobs, len(self.workload.jobs), 0
        boundaries = sorted({t for b in self.bookings for t in (b.starts_at, b.ends_at)})
        b, tick, inf = 0, self.options.tick_s, math.inf
        completions = self.completions
        while True:
            next_event = min(
                specs[i].submit_s if i < n else inf,
                completions[0][0] if completions else inf,
                boundaries[b] if b < len(boundaries) else inf,
            )
            if next_event == inf:
                break
            now = math.ceil(next_event / tick) * tick
            dirty: set[str] = set()
            while True:  # arrivals and completions up to the cycle, in time order
                arrival = specs[i].submit_s if i < n else inf
                if completions and completions[0][0] < arrival:
                    if completions[0][0] > now:
                        break
                    end, _, job_id, token = heapq.heappop(completions)
                    flavour = self._complete(job_id, token, end)
                    if flavour is not None and flavour in self.queue.flavours():
                        dirty.add(flavour)
                elif arrival <= now:
                    self._arrive(specs[i])
                    dirty.add(specs[i].flavour)
                    i += 1
                else:
                    break
            if b < len(boundaries) and boundaries[b] <= now:
                while b < len(boundaries) and boundaries[b] <= now:
                    b += 1
                self.bookings = [w for w in self.bookings if w.ends_at > now]
                dirty = set(self.queue.flavours())
            if dirty:
                self._cycles(now, dirty)
        return self._result(time.perf_counter() - began)

    def _cycles(self, now: float, dirty: set[str]) -> None:
        self._decay(now)
        if self.balances is not None:
            self.balances.now = now
        for _ in range(8):  # a cycle that preempted is followed by another at once
            queued = self.queue.view(dirty)
            if not queued.flavours():
                return
            snapshot = ClusterSnapshot(
                now,
                self.flavours,
                self.quotas,
                self.bookings,
                self.index,
                queued,
                self.balances,
                self.usage,
            )
            result = self.planner(snapshot, self.config)
            self.cycles += 1
            for job_id in result.preempt:
                self._preempt(job_id, now)
            for job_id in result.admit:
                self._start(job_id, now)
            if not result.preempt:
                return

    def _decay(self, now: float) -> None:
        span = now - self.last_decay
        if span <= 0:
            return
        half_life = self.options.usage_half_life_s
        keep = 2.0 ** (-span / half_life)
        gained = (1.0 - keep) * half_life / math.log(2)  # ∫ of a decaying GPU over the span
        usage = self.usage
        for tenant in usage:
            usage[tenant] *= keep
        for tenant, gpus in self.index.org_totals().items():
            if gpus:
                usage[tenant] = usage.get(tenant, 0.0) + gpus * gained
        self.last_decay = now

    # --- job transitions ------------------------------------------------------------------------

    def _arrive(self, spec: JobSpec) -> None:
        job = self.jobs[spec.id]
        job.queued_since = spec.submit_s
        self.queue.add(job.queued)
        self._attain(spec, spec.submit_s, queued=1)

    def _start(self, job_id: str, now: float) -> None:
        job = self.jobs[job_id]
        spec = job.spec
        self.queue.remove(job_id)
        job.waited += now - job.queued_since
        job.started = now
        self.index.add(RunningJob(job_id, spec.tenant, spec.flavour, spec.gpus, now, spec.time_limit_s))
        self.seq += 1
        end = now + min(spec.duration_s, spec.time_limit_s)
        heapq.heappush(self.completions, (end, self.seq, job_id, job.token))
        self._attain(spec, now, queued=-1, running=1)
        if self.balances is not None:
            self.balances.start((spec.tenant, spec.flavour), spec.gpus, now)

    def _complete(self, job_id: str, token: int, end: float) -> str | None:
        job = self.jobs[job_id]
        if token != job.token:
            return None  # the run was preempted
        spec = job.spec
        self.index.remove(job_id)
        job.finished = end
        self._account(job, end, charged=True)
        self._attain(spec, end, running=-1)
        return spec.flavour

    def _preempt(self, job_id: str, now: float) -> None:
        job = self.jobs[job_id]
        spec = job.spec
        self.index.remove(job_id)
        job.token += 1
        self.preemptions += 1
        self._account(job, now, charged=False)
        job.queued_since = now
        self.queue.add(job.queued)  # keeps queued_at, and with it its place
        self._attain(spec, now, queued=1, running=-1)

    def _account(self, job: _Job, end: float, charged: bool) -> None:
        spec = job.spec
        low, high = max(job.started, self.window[0]), min(end, self.window[1])
        if high > low:
            self.busy[spec.flavour] += spec.gpus * (high - low)
            self.used_by[spec.tenant] = self.used_by.get(spec.tenant, 0.0) + spec.gpus * (high - low)
        if self.balances is not None:
            self.balances.stop((spec.tenant, spec.flavour), spec.gpus, job.started, end, charged)

    def _attain(self, spec: JobSpec, at: float, queued: int = 0, running: int = 0) -> None:
        tracker = self.attainment.get((spec.tenant, spec.flavour))
        if tracker is None:
            return
        tracker.advance(at)
        if queued:
            tracker.queue(spec.gpus, queued)
        tracker.running += running * spec.gpus

    # --- results --------------------------------------------------------------------------------

    def _result(self, wall_s: float) -> SimResult:
        done = [job for job in self.jobs.values() if job.finished >= 0]
        end = max((job.finished for job in done), default=self.window[1])
        for tracker in self.attainment.values():
            tracker.advance(end)
        span = max(self.window[1] - self.window[0], 1.0)
        cluster = self.workload.cluster
        return SimResult(
            workload=self.workload.name,
            policy=self.policy,
            jobs=len(self.jobs),
            finished=len(done),
            never_started=sum(1 for job in self.jobs.values() if job.started < 0),
            dropped=self.workload.dropped,
            preemptions=self.preemptions,
            cycles=self.cycles,
            wall_s=wall_s,
            jct=Stats.of([job.finished - job.spec.submit_s for job in done]),
            wait=Stats.of([job.waited for job in done]),
            utilisation={f.name: self.busy[f.name] / (f.capacity * span) for f in cluster.flavours},
            tenants=self._shares(span),
            job_results=[
                JobResult(
                    job.spec.id,
                    job.spec.tenant,
                    job.spec.submit_s,
                    job.started if job.started >= 0 else None,
                    job.finished if job.finished >= 0 else None,
                    job.waited,
                    job.token,
                )
                for job in self.jobs.values()
            ],
        )

    def _shares(self, span: float) -> list[TenantShare]:
        cluster = self.workload.cluster
        total = sum(f.capacity for f in cluster.flavours) * span
        all_gpus = sum(f.capacity for f in cluster.flavours)
        asked: dict[str, float] = {}
        for spec in self.workload.jobs:
            asked[spec.tenant] = asked.get(spec.tenant, 0.0) + spec.gpus * spec.duration_s
        shares = []
        for tenant in self.workload.tenants:
            trackers = [t for (org, _), t in self.attainment.items() if org == tenant]
            wanted = sum(t.wanted_s for t in trackers)
            owed = sum(t.guarantee for t in trackers) * span
            attainment = sum(t.got_s for t in trackers) / wanted if wanted > 0 else None
            judged = attainment is not None and wanted >= ATTAINMENT_MIN_DEMAND * owed
            shares.append(
                TenantShare(
                    tenant,
                    cluster.entitlement(tenant) / all_gpus,
                    asked.get(tenant, 0.0) / total,
                    self.used_by.get(tenant, 0.0) / total,
                    attainment,
                    ok=not judged or (attainment or 0.0) >= ATTAINMENT_TARGET,
                )
            )
        return shares
