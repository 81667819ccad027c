"""Queued jobs indexed the way an admission cycle reads them.

Per flavour: each organisation's jobs in its own order (priority, then ``queued_at``, then ``id``),
all jobs in arrival order (FIFO), the GPUs each organisation has queued (its demand) and the job
sizes present. A cycle builds this from a plain sequence in O(queue log queue); a caller that keeps a
``QueueIndex`` up to date between cycles (the simulator) passes it as ``ClusterSnapshot.queued``,
and a cycle then reads only the jobs it needs: with the fair-share merge (fairshare.py) a flavour
that is full costs O(organisations), not O(queue).
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Iterable, Iterator, Sequence
from typing import TypeVar, overload

from .cluster import QueuedJob

OrgKey = tuple[int, float, str]  # (-priority, queued_at, id)
ArrivalKey = tuple[float, str]  # (queued_at, id)


class FlavourQueue:
    __slots__ = ("by_org", "demand", "fifo", "limits", "org_limits", "org_sizes", "sizes")

    def __init__(self) -> None:
        self.by_org: dict[str, list[tuple[OrgKey, QueuedJob]]] = {}
        self.fifo: list[tuple[ArrivalKey, QueuedJob]] = []
        self.demand: dict[str, int] = {}  # organisation -> queued GPUs
        self.sizes: dict[int, int] = {}  # GPUs -> number of queued jobs asking for that many
        self.limits: list[float] = []  # the jobs' time limits, shortest first
        self.org_sizes: dict[str, dict[int, int]] = {}  # the same, per organisation
        self.org_limits: dict[str, list[float]] = {}

    def __len__(self) -> int:
        return len(self.fifo)

    def add(self, job: QueuedJob) -> None:
        insort(self.by_org.setdefault(job.org, []), ((-job.priority, job.queued_at, job.id), job))
        insort(self.fifo, ((job.queued_at, job.id), job))
        self.demand[job.org] = self.demand.get(job.org, 0) + job.gpus
        for sizes, limits in ((self.sizes, self.limits), self._of(job.org)):
            sizes[job.gpus] = sizes.get(job.gpus, 0) + 1
            insort(limits, job.time_limit_s)

    def remove(self, job: QueuedJob) -> None:
        org_jobs = self.by_org[job.org]
        _discard(org_jobs, ((-job.priority, job.queued_at, job.id), job))
        if not org_jobs:
            del self.by_org[job.org]
        _discard(self.fifo, ((job.queued_at, job.id), job))
        self.demand[job.org] -= job.gpus
        if not self.demand[job.org]:
            del self.demand[job.org]
        for sizes, limits in ((self.sizes, self.limits), self._of(job.org)):
            sizes[job.gpus] -= 1
            if not sizes[job.gpus]:
                del sizes[job.gpus]
            del limits[bisect_left(limits, job.time_limit_s)]
        if not self.org_limits[job.org]:
            del self.org_limits[job.org], self.org_sizes[job.org]

    def _of(self, org: str) -> tuple[dict[int, int], list[float]]:
        sizes = self.org_sizes.get(org)
        if sizes is None:
            sizes = self.org_sizes[org] = {}
            self.org_limits[org] = []
        return sizes, self.org_limits[org]

    def smallest(self) -> int:
        return min(self.sizes, default=0)

    def shortest_limit(self) -> float:
        return self.limits[0] if self.limits else 0.0

    def smallest_of(self, org: str) -> int:
        return min(self.org_sizes.get(org, ()), default=0)

    def shortest_limit_of(self, org: str) -> float:
        limits = self.org_limits.get(org)
        return limits[0] if limits else 0.0

    def arrival_order(self) -> Iterator[QueuedJob]:
        for _, job in self.fifo:
            yield job


class QueueIndex(Sequence[QueuedJob]):
    """A sequence of queued jobs, grouped per flavour; ``add``/``remove`` keep it up to date."""

    __slots__ = ("_flavours", "_jobs", "_list")

    def __init__(self, jobs: Iterable[QueuedJob] = ()) -> None:
        self._flavours: dict[str, FlavourQueue] = {}
        self._jobs: dict[str, QueuedJob] | None = {}  # None: a read-only view
        self._list: list[QueuedJob] | None = None
        for job in jobs:
            self.add(job)

    def add(self, job: QueuedJob) -> None:
        if self._jobs is None:
            raise TypeError("a view cannot be changed")
        if job.id in self._jobs:
            raise ValueError(f"job {job.id} is already queued")
        self._jobs[job.id] = job
        self._list = None
        queue = self._flavours.get(job.flavour)
        if queue is None:
            queue = self._flavours[job.flavour] = FlavourQueue()
        queue.add(job)

    def remove(self, job_id: str) -> QueuedJob:
        if self._jobs is None:
            raise TypeError("a view cannot be changed")
        job = self._jobs.pop(job_id)
        self._list = None
        queue = self._flavours[job.flavour]
        queue.remove(job)
        if not queue:
            del self._flavours[job.flavour]
        return job

    def flavours(self) -> dict[str, FlavourQueue]:
        """Flavour name → its queue (only flavours with queued jobs). Read only."""
        return self._flavours

    def view(self, flavours: Iterable[str]) -> QueueIndex:
        """The jobs of some flavours only, sharing this index's structures (do not change it while
        the view is in use)."""
        view = QueueIndex()
        view._jobs = None
        for name in flavours:
            queue = self._flavours.get(name)
            if queue is not None:
                view._flavours[name] = queue
        return view

    def __len__(self) -> int:
        if self._jobs is None:
            return sum(len(queue) for queue in self._flavours.values())
        return len(self._jobs)

    def __iter__(self) -> Iterator[QueuedJob]:
        if self._jobs is None:
            return (job for queue in self._flavours.values() for _, job in queue.fifo)
        return iter(self._jobs.values())

    @overload
    def __getitem__(self, i: int) -> QueuedJob: ...

    @overload
    def __getitem__(self, i: slice) -> Sequence[QueuedJob]: ...

    def __getitem__(self, i: int | slice) -> QueuedJob | Sequence[QueuedJob]:
        if self._list is None:
            self._list = list(self)
        return self._list[i]

    def __contains__(self, job: object) -> bool:
        if not isinstance(job, QueuedJob):
            return False
        queue = self._flavours.get(job.flavour)
        return queue is not None and any(j == job for _, j in queue.by_org.get(job.org, ()))


def as_queue_index(queued: Sequence[QueuedJob]) -> QueueIndex:
    return queued if isinstance(queued, QueueIndex) else QueueIndex(queued)


K = TypeVar("K", OrgKey, ArrivalKey)


def _discard(items: list[tuple[K, QueuedJob]], item: tuple[K, QueuedJob]) -> None:
    i = bisect_left(items, item)
    if i < len(items) and items[i][1] == item[1]:
        del items[i]
    else:
        raise KeyError(item[1].id)
