"""What a waiting job is told: its reason (decided in walk.py), its positions and an ETA range."""

from __future__ import annotations

from collections.abc import Iterator

from .cluster import QueuedJob, Wait, WaitReason
from .eta import list_schedule
from .walk import FlavourWalk

_PLACED = frozenset({WaitReason.WAITING_FOR_CAPACITY, WaitReason.BEHIND_JOBS, WaitReason.BOOKED_WINDOW})


def explain_flavour(walk: FlavourWalk, waiting: dict[str, Wait]) -> None:
    """Positions for every waiting job of the walk; ETA ranges for the first ``eta_horizon_jobs``."""
    etas = _etas(walk)
    get_eta = etas.get
    unknown = (None, None)
    org_positions: dict[str, int] = {}
    for position, (job, reason, params) in enumerate(walk.waits, 1):
        org_position = org_positions.get(job.org, 0) + 1
        org_positions[job.org] = org_position
        earliest, latest = get_eta(job.id, unknown)
        waiting[job.id] = new_wait(reason, params, org_position, position, earliest, latest)


def explain_unknown_flavour(name: str, jobs: list[QueuedJob], waiting: dict[str, Wait]) -> None:
    org_positions: dict[str, int] = {}
    for position, job in enumerate(jobs, 1):
        org_positions[job.org] = org_positions.get(job.org, 0) + 1
        params: dict[str, int | str] = {"flavour": name, "free": 0, "gpus": job.gpus}
        waiting[job.id] = Wait(WaitReason.WAITING_FOR_CAPACITY, params, org_positions[job.org], position)


# A cycle builds one Wait per queued job (10,000 in the benchmark). The dataclass is frozen, and its
# generated __init__ sets each field through object.__setattr__, which costs more than the rest of
# the explanation; setting the slots through their descriptors builds the same object in less than
# half the time. test_admission_policy checks the result equals Wait(...).
_new = object.__new__
_set_reason, _set_params, _set_org_position, _set_flavour_position, _set_earliest, _set_latest = (
    Wait.__dict__[name].__set__
    for name in ("reason", "params", "org_position", "flavour_position", "eta_earliest", "eta_latest")
)


def new_wait(
    reason: WaitReason,
    params: dict[str, int | str],
    org_position: int,
    flavour_position: int,
    eta_earliest: float | None,
    eta_latest: float | None,
) -> Wait:
    wait = _new(Wait)
    _set_reason(wait, reason)
    _set_params(wait, params)
    _set_org_position(wait, org_position)
    _set_flavour_position(wait, flavour_position)
    _set_earliest(wait, eta_earliest)
    _set_latest(wait, eta_latest)
    return wait


def _etas(walk: FlavourWalk) -> dict[str, tuple[float | None, float | None]]:
    horizon = walk.config.eta_horizon_jobs
    if horizon <= 0 or not walk.waits:
        return {}
    now = walk.now
    etas: dict[str, tuple[float | None, float | None]] = {}
    placed: list[QueuedJob] = []
    for job, reason, _ in walk.waits[:horizon]:
        if reason is WaitReason.RECLAIMING:
            etas[job.id] = (now, now)  # as soon as the preempted jobs have stopped
        elif reason in _PLACED:
            placed.append(job)
    if not placed:
        return etas
    ratio = min(1.0, max(0.0, walk.snapshot.runtime_ratio.get(walk.flavour.name, 1.0)))
    latest = _list_schedule(walk, placed, 1.0)
    earliest = latest if ratio == 1.0 else _list_schedule(walk, placed, ratio)
    for job, low, high in zip(placed, earliest, latest, strict=True):
        etas[job.id] = (low, high)
    return etas


def _list_schedule(walk: FlavourWalk, placed: list[QueuedJob], ratio: float) -> list[float | None]:
    """Devices free now: capacity - used + unclaimed stopping devices. They come back as running jobs
    end (preempted ones excluded: their devices went to the reclaiming jobs), as the jobs admitted
    now end, and as the reclaiming jobs end."""
    now, ledger = walk.now, walk.ledger
    if ratio == 1.0:
        releases = [(end, gpus) for end, _, gpus in walk.alive_ends()]
    else:
        releases = sorted(_scaled_releases(walk, ratio))
    extra = [(now + ratio * (end - now), gpus) for end, gpus in walk.admitted_ends]
    extra += [(now + ratio * job.time_limit_s, job.gpus) for job in walk.reclaimers]
    if extra:
        releases = sorted(releases + extra)
    free = ledger.capacity - ledger.used + ledger.stopping_free
    jobs = [(job.gpus, ratio * job.time_limit_s) for job in placed]
    return list_schedule(now, ledger.capacity, free, releases, jobs)


def _scaled_releases(walk: FlavourWalk, ratio: float) -> Iterator[tuple[float, int]]:
    now, running = walk.now, walk.running
    for end, job_id, gpus in walk.alive_ends():
        job = running.get(job_id)
        start = job.started_at if job is not None else end
        yield max(now, start + ratio * (end - start)), gpus
