"""Workloads for the simulator: trace replays and generated multi-tenant workloads.

A workload is a small TOML description (examples/workloads/*.toml) that names its jobs' source and
its cluster (flavours, quotas, bookings, balances):

* ``[source] kind = "trace"``: replay a table in the normalized schema
  (``job_id, tenant, submit_time_s, duration_s, gpus, gpu_type, status``; CSV, optionally gzipped;
  see ../shared/traces/README.md). Traces without a tenant column get tenants assigned at random
  with the tenant weights below; traces without a GPU type go to ``flavour``; ``since_s`` keeps
  only the jobs submitted from then on.
* ``[source] kind = "generate"``: ``jobs`` jobs whose (GPUs, duration) pairs are sampled from a
  normalized table (``calibration``), arriving as a Poisson process (in batches of ``batch_mean``
  jobs of one tenant on average, as sweeps are submitted) at the rate that offers ``load`` × the
  cluster's GPUs; each tenant's share of arrivals is its weight times a log-normal factor
  (``demand_spread``), so some tenants ask for less than their entitlement and some for more.

Tenant weights: ``tenants`` tenants whose sizes follow Zipf(``tenant_skew``), or the virtual
clusters of a real cluster (``tenant_source = "helios-venus"``: GPUs per VC of SenseTime's Venus
cluster on ``tenant_date``; ``"philly"``: nodes per VC of Microsoft Philly). Guarantees are shared
out in proportion to the weights.

Durations above ``max_duration_s`` are cut to it (the Alibaba table holds long-running service
pods). The time limit a user would have asked for is the duration rounded up to the next
``time_limit_quantum_s`` (users ask for whole quarter-hours or hours) times ``time_limit_factor``
(users ask for more than they need): ``ceil(duration / quantum) × quantum × factor``. Jobs asking for
more GPUs than their flavour has are dropped, and counted.

Paths in a description are relative to the traces folder: ``$AICOMMONS_TRACES``, else the first
``shared/traces`` found beside the repository (../shared/traces) or the current directory.
"""

from __future__ import annotations

import csv
import gzip
import io
import math
import os
import random
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .policy.cluster import BookingWindow, FlavourCapacity, OrgQuota

HOUR = 3600.0


@dataclass(frozen=True, slots=True)
class TraceRow:
    job_id: str
    tenant: str
    submit_time_s: float
    duration_s: float
    gpus: int
    gpu_type: str
    status: str


@dataclass(frozen=True, slots=True)
class JobSpec:
    id: str
    tenant: str
    flavour: str
    gpus: int
    submit_s: float
    duration_s: float
    time_limit_s: float
    priority: int = 0


@dataclass
class Cluster:
    flavours: list[FlavourCapacity]
    quotas: list[OrgQuota] = field(default_factory=list)
    bookings: list[BookingWindow] = field(default_factory=list)
    balances: dict[tuple[str, str], float] | None = None  # GPU-seconds per (tenant, flavour)

    def capacity(self, flavour: str) -> int:
        return next((f.capacity for f in self.flavours if f.name == flavour), 0)

    def entitlement(self, tenant: str) -> int:
        """Guaranteed GPUs of the tenant over all flavours."""
        return sum(q.guaranteed for q in self.quotas if q.org == tenant)


@dataclass
class Workload:
    name: str
    cluster: Cluster
    jobs: list[JobSpec]  # by submit time
    dropped: int = 0  # jobs asking for more GPUs than their flavour has
    notes: list[str] = field(default_factory=list)

    @property
    def tenants(self) -> list[str]:
        return sorted({j.tenant for j in self.jobs} | {q.org for q in self.cluster.quotas})


# --- the normalized trace schema ----------------------------------------------------------------


def read_trace(path: Path) -> list[TraceRow]:
    """Rows of a normalized job table (``.csv`` or ``.csv.gz``)."""
    with _open_text(path) as handle:
        return [
            TraceRow(
                row["job_id"],
                row.get("tenant") or "",
                float(row["submit_time_s"]),
                float(row["duration_s"]),
                int(float(row["gpus"])),
                row.get("gpu_type") or "",
                row.get("status") or "",
            )
            for row in csv.DictReader(handle)
        ]


def _open_text(path: Path) -> io.TextIOBase:
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", newline="")
    return open(path, encoding="utf-8", newline="")


def time_limit(duration_s: float, quantum_s: float, factor: float) -> float:
    return math.ceil(max(duration_s, 1.0) / quantum_s) * quantum_s * factor


def traces_root() -> Path:
    env = os.environ.get("AICOMMONS_TRACES")
    if env:
        return Path(env)
    here = Path(__file__).resolve()
    for base in (*here.parents, Path.cwd(), *Path.cwd().parents):
        for candidate in (base / "shared" / "traces", base.parent / "shared" / "traces"):
            if candidate.is_dir():
                return candidate
    return Path("shared/traces")


def resolve(path: str, relative_to: Path | None = None) -> Path:
    """A description's path: absolute, relative to the description, or under the traces folder."""
    candidate = Path(path)
    if candidate.is_absolute():
        return candidate
    if relative_to is not None and (relative_to / candidate).exists():
        return relative_to / candidate
    return traces_root() / candidate


# --- tenant weights -----------------------------------------------------------------------------


def tenant_weights(spec: Mapping[str, Any], base: Path | None = None) -> dict[str, float]:
    source = spec.get("tenant_source", "zipf")
    if source == "zipf":
        count, skew = int(spec.get("tenants", 10)), float(spec.get("tenant_skew", 1.0))
        return {f"t{i:02d}": 1.0 / (i + 1) ** skew for i in range(count)}
    if source == "helios-venus":
        table = resolve(spec.get("tenant_table", "helios/raw/venus_cluster_gpu_number.csv"), base)
        return _helios_vc_gpus(table, spec.get("tenant_date"))
    if source == "philly":
        table = resolve(spec.get("tenant_table", "philly/raw/philly_vc.csv"), base)
        with open(table, encoding="utf-8") as handle:
            return {f"vc-{row['vc']}": float(row["node num"]) for row in csv.DictReader(handle)}
    raise ValueError(f"unknown tenant_source {source!r} (zipf, helios-venus, philly)")


def _helios_vc_gpus(table: Path, date: str | None) -> dict[str, float]:
    with open(table, encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    row = next((r for r in rows if r["date"] == date), rows[-1]) if date else rows[-1]
    return {f"vc-{name[2:]}": float(v) for name, v in row.items() if name.startswith("vc") and float(v) > 0}


# --- loading a description ----------------------------------------------------------------------


def load_workload(path: Path | str) -> Workload:
    path = Path(path)
    if path.suffix in (".csv", ".gz"):
        return _bare_trace(path)
    with open(path, "rb") as handle:
        spec = tomllib.load(handle)
    return build_workload(spec, path.parent)


def build_workload(spec: Mapping[str, Any], base: Path | None = None) -> Workload:
    rng = random.Random(int(spec.get("seed", 1)))
    source = spec.get("source", {})
    flavours = [FlavourCapacity(f["name"], int(f["capacity"])) for f in spec.get("flavours", [])]
    if not flavours:
        raise ValueError("a workload needs at least one [[flavours]] entry")
    weights = tenant_weights(source, base)
    kind = source.get("kind", "trace")
    if kind == "trace":
        jobs = _trace_jobs(source, flavours, weights, rng, base)
    elif kind == "generate":
        jobs = _generated_jobs(source, flavours, weights, rng, base)
    else:
        raise ValueError(f"unknown source kind {kind!r} (trace, generate)")
    cluster = Cluster(flavours, _quotas(spec.get("quotas", {}), flavours, weights))
    if jobs:
        _add_bookings(spec, cluster, jobs, rng, source)
    cluster.balances = _balances(spec.get("balances"), cluster, jobs)
    return _finish(str(spec.get("name", "workload")), cluster, jobs)


def _finish(name: str, cluster: Cluster, jobs: list[JobSpec]) -> Workload:
    capacities = {f.name: f.capacity for f in cluster.flavours}
    kept = [j for j in jobs if j.gpus <= capacities.get(j.flavour, 0) and j.gpus > 0]
    kept.sort(key=lambda j: (j.submit_s, j.id))
    workload = Workload(name, cluster, kept, dropped=len(jobs) - len(kept))
    if workload.dropped:
        workload.notes.append(f"{workload.dropped} jobs dropped: more GPUs than their flavour has (or none)")
    return workload


def _bare_trace(path: Path) -> Workload:
    """A normalized table on its own: one flavour per GPU type, sized to the largest job × 8."""
    rows = read_trace(path)
    jobs = [
        JobSpec(
            r.job_id,
            r.tenant or "t00",
            r.gpu_type or "gpu",
            r.gpus,
            r.submit_time_s,
            r.duration_s,
            time_limit(r.duration_s, 900, 1.5),
        )
        for r in rows
    ]
    sizes: dict[str, int] = {}
    for job in jobs:
        sizes[job.flavour] = max(sizes.get(job.flavour, 0), job.gpus * 8)
    return _finish(path.name, Cluster([FlavourCapacity(n, c) for n, c in sorted(sizes.items())]), jobs)


def _limits(source: Mapping[str, Any]) -> tuple[float, float, float]:
    return (
        float(source.get("max_duration_s", 7 * 24 * HOUR)),
        float(source.get("time_limit_quantum_s", 900)),
        float(source.get("time_limit_factor", 1.5)),
    )


def _trace_jobs(
    source: Mapping[str, Any],
    flavours: list[FlavourCapacity],
    weights: Mapping[str, float],
    rng: random.Random,
    base: Path | None,
) -> list[JobSpec]:
    rows = read_trace(resolve(source["trace"], base))
    cap, quantum, factor = _limits(source)
    default_flavour = source.get("flavour", flavours[0].name)
    since = float(source.get("since_s", 0.0))  # replay only what was submitted from then on
    names, w = list(weights), list(weights.values())
    jobs = []
    for row in rows:
        if row.gpus <= 0 or row.submit_time_s < since:
            continue
        duration = min(row.duration_s, cap)
        tenant = row.tenant or rng.choices(names, w)[0]
        flavour = row.gpu_type or default_flavour
        limit = time_limit(duration, quantum, factor)
        jobs.append(JobSpec(row.job_id, tenant, flavour, row.gpus, row.submit_time_s, duration, limit))
    return jobs


def _generated_jobs(
    source: Mapping[str, Any],
    flavours: list[FlavourCapacity],
    weights: Mapping[str, float],
    rng: random.Random,
    base: Path | None,
) -> list[JobSpec]:
    """Poisson batches of jobs sampled from the calibration table, at the rate that offers ``load``."""
    cap, quantum, factor = _limits(source)
    samples = _samples(source, cap, rng, base)
    count, load = int(source.get("jobs", 10_000)), float(source.get("load", 0.9))
    batch_mean = max(1.0, float(source.get("batch_mean", 1.0)))
    mean_work = sum(g * d for g, d in samples) / len(samples)
    total = sum(f.capacity for f in flavours)
    rate = load * total / mean_work  # jobs per second
    spread = float(source.get("demand_spread", 0.5))
    tenants = list(weights)
    demand = [weights[t] * rng.lognormvariate(0.0, spread) for t in tenants]
    flavour_names, flavour_w = [f.name for f in flavours], [f.capacity for f in flavours]
    jobs: list[JobSpec] = []
    t = 0.0
    while len(jobs) < count:
        t += rng.expovariate(rate / batch_mean)
        tenant = rng.choices(tenants, demand)[0]
        flavour = rng.choices(flavour_names, flavour_w)[0]
        gpus, duration = rng.choice(samples)
        for _ in range(min(count - len(jobs), _geometric(rng, batch_mean))):
            jobs.append(
                JobSpec(
                    f"g{len(jobs):06d}",
                    tenant,
                    flavour,
                    gpus,
                    round(t, 3),
                    duration,
                    time_limit(duration, quantum, factor),
                )
            )
            gpus, duration = gpus, rng.choice(samples)[1]  # a sweep: same size, its own duration
    return jobs


def _samples(
    source: Mapping[str, Any], cap: float, rng: random.Random, base: Path | None
) -> list[tuple[int, float]]:
    rows = read_trace(resolve(source["calibration"], base))
    pairs = [(r.gpus, min(max(r.duration_s, 1.0), cap)) for r in rows if r.gpus > 0]
    mix = source.get("size_mix")
    if mix:  # keep the table's durations, re-draw sizes from the given mix
        sizes, probs = [int(k) for k in mix], [float(v) for v in mix.values()]
        pairs = [(rng.choices(sizes, probs)[0], d) for _, d in pairs]
    return pairs


def _geometric(rng: random.Random, mean: float) -> int:
    if mean <= 1.0:
        return 1
    p = 1.0 / mean
    return 1 + int(math.log(1.0 - rng.random()) / math.log(1.0 - p))


# --- quotas, bookings, balances -----------------------------------------------------------------


def _quotas(
    spec: Mapping[str, Any], flavours: list[FlavourCapacity], weights: Mapping[str, float]
) -> list[OrgQuota]:
    """Guarantees in proportion to the tenant weights, summing to ``guaranteed_fraction`` of each
    flavour at most (largest remainders); ``borrow_fraction`` and ``lend_fraction`` of capacity and
    of the guarantee."""
    if not spec:
        return []
    fraction = float(spec.get("guaranteed_fraction", 0.8))
    borrow, lend = float(spec.get("borrow_fraction", 1.0)), float(spec.get("lend_fraction", 1.0))
    total = sum(weights.values())
    quotas = []
    for flavour in flavours:
        budget = int(fraction * flavour.capacity)
        exact = {t: budget * w / total for t, w in weights.items()}
        shares = {t: int(x) for t, x in exact.items()}
        for t in sorted(exact, key=lambda t: (shares[t] - exact[t], t))[: budget - sum(shares.values())]:
            shares[t] += 1
        for tenant, guaranteed in shares.items():
            quotas.append(
                OrgQuota(
                    tenant, flavour.name, guaranteed, int(borrow * flavour.capacity), int(lend * guaranteed)
                )
            )
    return quotas


def _add_bookings(
    spec: Mapping[str, Any],
    cluster: Cluster,
    jobs: list[JobSpec],
    rng: random.Random,
    source: Mapping[str, Any],
) -> None:
    """Booking windows, and the jobs their tenants run in them (a burst at the window's start)."""
    for booking in spec.get("bookings", []):
        window = BookingWindow(
            booking["tenant"],
            booking["flavour"],
            int(booking["gpus"]),
            float(booking["starts_at_s"]),
            float(booking["ends_at_s"]),
        )
        cluster.bookings.append(window)
    generated = spec.get("generated_bookings")
    if generated:
        _generate_bookings(generated, cluster, jobs, rng)
    _cap, quantum, factor = _limits(source)
    for n, window in enumerate(cluster.bookings):
        _fill_window(window, n, jobs, rng, quantum, factor)


def _generate_bookings(
    spec: Mapping[str, Any], cluster: Cluster, jobs: list[JobSpec], rng: random.Random
) -> None:
    span = jobs[-1].submit_s if jobs else 0.0
    tenants = sorted({q.org for q in cluster.quotas}) or sorted({j.tenant for j in jobs})
    hours, fraction = float(spec.get("hours", 6)), float(spec.get("gpus_fraction", 0.25))
    for flavour in cluster.flavours:
        for _ in range(int(spec.get("per_flavour", 1))):
            start = rng.uniform(0.1, 0.8) * span
            window = BookingWindow(
                rng.choice(tenants),
                flavour.name,
                max(1, int(fraction * flavour.capacity)),
                start,
                start + hours * HOUR,
            )
            if _bookable(cluster, window):
                cluster.bookings.append(window)


def _bookable(cluster: Cluster, window: BookingWindow) -> bool:
    """The approval rule: others' guarantees minus lending limits plus overlapping windows fit."""
    held = sum(
        q.guaranteed - q.lend_limit
        for q in cluster.quotas
        if q.flavour == window.flavour and q.org != window.org
    )
    overlapping = sum(
        b.gpus
        for b in cluster.bookings
        if b.flavour == window.flavour and b.starts_at < window.ends_at and window.starts_at < b.ends_at
    )
    return held + overlapping + window.gpus <= cluster.capacity(window.flavour)


def _fill_window(
    window: BookingWindow, n: int, jobs: list[JobSpec], rng: random.Random, quantum: float, factor: float
) -> None:
    length = window.ends_at - window.starts_at
    left = window.gpus
    k = 0
    while left > 0:
        gpus = min(left, rng.choice((1, 2, 4, 8)))
        duration = rng.uniform(0.3, 0.9) * length
        limit = min(time_limit(duration, quantum, factor), length)
        jobs.append(
            JobSpec(f"bk{n}-{k}", window.org, window.flavour, gpus, window.starts_at, duration, limit, 1)
        )
        left -= gpus
        k += 1


def _balances(
    spec: Mapping[str, Any] | None, cluster: Cluster, jobs: list[JobSpec]
) -> dict[tuple[str, str], float] | None:
    """GPU-seconds per (tenant, flavour): ``demand_factor`` × the tenant's offered GPU-seconds there."""
    if not spec:
        return None
    factor = float(spec.get("demand_factor", 2.0))
    offered: dict[tuple[str, str], float] = {}
    for job in jobs:
        key = (job.tenant, job.flavour)
        offered[key] = offered.get(key, 0.0) + job.gpus * job.duration_s
    return {key: factor * value for key, value in offered.items()}
