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

The order is produced lazily, by merging the organisations' own queues on a heap (O(log orgs) per
job), so that a cycle that can stop early does not pay for ordering the whole queue.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from heapq import heapify, heappop, heappush, heapreplace

from .cluster import OrgQuota, QueuedJob
from .queue import FlavourQueue

# (key: share, history, queued_at, id; then org, position in its queue, GPUs ahead, weight)
_Entry = tuple[float, float, float, str, str, int, float, float]


def weights(quotas: Sequence[OrgQuota]) -> dict[str, float]:
    """Entitlement per organisation: its guaranteed GPUs over all flavours (absent: 1)."""
    total: dict[str, float] = {}
    for q in quotas:
        total[q.org] = total.get(q.org, 0.0) + q.guaranteed
    return {org: (w if w > 0 else 1.0) for org, w in total.items()}


class FairMerge:
    """One flavour's queued jobs in fair-share order, one at a time.

    ``park(org)`` takes an organisation's remaining jobs out of the order (the walk knows none of
    them can matter as things stand); ``resume()`` puts back those that come after the last job
    handed out, as if they had never left."""

    __slots__ = ("_by_org", "_heap", "_last", "_parked", "_parking")

    def __init__(
        self,
        queue: FlavourQueue,
        standing: Callable[[str], float],
        weight: Mapping[str, float],
        usage: Mapping[str, float],
    ) -> None:
        self._by_org = queue.by_org
        heap: list[_Entry] = []
        for org, jobs in queue.by_org.items():
            w = weight.get(org, 1.0)
            ahead = standing(org)
            first = jobs[0]
            heap.append((ahead / w, usage.get(org, 0.0) / w, first.queued_at, first.id, org, 0, ahead, w))
        heapify(heap)
        self._heap = heap
        self._parking: set[str] = set()
        self._parked: dict[str, _Entry] = {}
        self._last: _Entry | None = None  # the entry of the job handed out last

    def __iter__(self) -> FairMerge:
        return self

    def __next__(self) -> QueuedJob:
        heap, parking = self._heap, self._parking
        while heap and heap[0][4] in parking:
            parked = heappop(heap)
            self._parked[parked[4]] = parked
        if not heap:
            raise StopIteration
        entry = heap[0]
        _share, history, _, _, org, position, ahead, w = entry
        jobs = self._by_org[org]
        job = jobs[position]
        if position + 1 < len(jobs):  # _following, inline: this runs for every job handed out
            ahead += job.gpus or 1e-6
            nxt = jobs[position + 1]
            heapreplace(heap, (ahead / w, history, nxt.queued_at, nxt.id, org, position + 1, ahead, w))
        else:
            heappop(heap)
        self._last = entry
        return job

    def _following(self, entry: _Entry) -> _Entry | None:
        _share, history, _, _, org, position, ahead, w = entry
        jobs = self._by_org[org]
        if position + 1 >= len(jobs):
            return None
        # A job without GPUs still moves its organisation's later jobs behind it.
        ahead += jobs[position].gpus or 1e-6
        nxt = jobs[position + 1]
        return (ahead / w, history, nxt.queued_at, nxt.id, org, position + 1, ahead, w)

    def park(self, org: str) -> None:
        self._parking.add(org)

    def resume(self, orgs: Iterable[str] | None = None) -> None:
        """Put back the given parked organisations (all of them by default)."""
        if orgs is None:
            self._parking.clear()
            back = list(self._parked.values())
            self._parked.clear()
        else:
            back = []
            for org in orgs:
                self._parking.discard(org)
                entry = self._parked.pop(org, None)
                if entry is not None:
                    back.append(entry)
        for entry in back:
            following: _Entry | None = entry
            while following is not None and self._last is not None and following[:4] < self._last[:4]:
                following = self._following(following)
            if following is not None:
                heappush(self._heap, following)


def fair_order(
    queue: FlavourQueue,
    standing: Callable[[str], float],
    weight: Mapping[str, float],
    usage: Mapping[str, float],
) -> list[QueuedJob]:
    """The whole of ``FairMerge``'s order at once, by one sort on the same keys (cheaper when every
    job is needed, as when explaining)."""
    keyed: list[tuple[float, float, float, str, QueuedJob]] = []
    add = keyed.append
    for org, jobs in queue.by_org.items():
        w = weight.get(org, 1.0)
        history = usage.get(org, 0.0) / w
        ahead = standing(org)
        for job in jobs:
            add((ahead / w, history, job.queued_at, job.id, job))
            ahead += job.gpus or 1e-6
    keyed.sort()  # ids are unique, so the comparison never reaches the jobs
    return [item[4] for item in keyed]
