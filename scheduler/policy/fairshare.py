"""The order in which a flavour's queued jobs are served.

Fair share (policy "fair"): each organisation has a *standing*, in GPUs:

    standing(org) = GPUs its jobs run now (all flavours) + decayed_usage(org) / usage_horizon_s

and a *weight*: its guaranteed GPUs summed over flavours (1 if it has none). Jobs are served by the
standing per unit of weight the organisation would have *before* the job, counting the GPUs of its
jobs ahead of it on the same flavour as if they ran:

    key(job) = (standing(org) + GPUs of the org's jobs ahead of it on the flavour) / weight(org)

Why this choice: the running part is the dominant-share rule (Kueue, DRF) on a single resource, so
organisations converge to running GPUs in proportion to their entitlement as soon as their jobs end,
and the queue interleaves organisations instead of letting one long queue go first. The usage part,
decayed past GPU-seconds spread over ``usage_horizon_s``, is what Slurm's fair-share factor adds:
among organisations with equal current use, the one that used less lately goes first, and an
organisation cannot keep the lead by submitting bursts. Both parts are in GPUs, so the horizon says
how much history weighs (with a decay half-life h, steady use of G GPUs leaves ≈1.44·h·G GPU-seconds;
a horizon of 1.44·h weighs history like current use; the default of a day weighs it less when h is
shorter). Within an organisation: priority (higher first), then ``queued_at``, then ``id``. Equal keys
across organisations: lower decayed usage per weight, then ``queued_at``, then ``id``.

Policy "fifo" (the baseline): ``queued_at`` then ``id``, nothing else.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from itertools import accumulate
from operator import attrgetter, itemgetter

from .cluster import OrgQuota, QueuedJob


def weights(quotas: Sequence[OrgQuota]) -> dict[str, float]:
    """Entitlement per organisation: its guaranteed GPUs over all flavours (absent: 1)."""
    total: dict[str, float] = {}
    for q in quotas:
        total[q.org] = total.get(q.org, 0.0) + q.guaranteed
    return {org: (w if w > 0 else 1.0) for org, w in total.items()}


def group_by_flavour(queued: Iterable[QueuedJob]) -> dict[str, list[QueuedJob]]:
    by_flavour: dict[str, list[QueuedJob]] = {}
    for job in queued:
        jobs = by_flavour.get(job.flavour)
        if jobs is None:
            by_flavour[job.flavour] = [job]
        else:
            jobs.append(job)
    return by_flavour


def fifo_order(jobs: list[QueuedJob]) -> list[QueuedJob]:
    return sorted(jobs, key=_ARRIVAL)


def fair_order(
    jobs: list[QueuedJob],
    standing: Callable[[str], float],
    weight: Mapping[str, float],
    usage: Mapping[str, float],
) -> list[QueuedJob]:
    """One flavour's jobs in fair-share order (see the module docstring)."""
    by_org: dict[str, list[QueuedJob]] = {}
    for job in jobs:
        org_jobs = by_org.get(job.org)
        if org_jobs is None:
            by_org[job.org] = [job]
        else:
            org_jobs.append(job)
    keyed: list[tuple[float, float, float, str, QueuedJob]] = []
    for org, org_jobs in by_org.items():
        org_jobs.sort(key=_ARRIVAL)
        org_jobs.sort(key=_PRIORITY, reverse=True)  # stable: equal priorities stay in arrival order
        w = weight.get(org, 1.0)
        history = usage.get(org, 0.0) / w
        # A job without GPUs still moves its organisation's later jobs behind it.
        ahead = accumulate((j.gpus or 1e-6 for j in org_jobs), initial=standing(org))
        keyed += [(a / w, history, j.queued_at, j.id, j) for a, j in zip(ahead, org_jobs)]  # noqa: B905
    keyed.sort(key=_FIRST_FOUR)  # ids are unique, so the job itself is never compared
    return [item[4] for item in keyed]


_ARRIVAL = attrgetter("queued_at", "id")
_PRIORITY = attrgetter("priority")
_FIRST_FOUR = itemgetter(0, 1, 2, 3)
