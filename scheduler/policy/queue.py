"""Queued jobs indexed the way an admission cycle reads them.

Per flavour: each organisation's jobs in its own order (priority, then ``queued_at``, then ``id``),
all jobs in arrival order (FIFO), the GPUs each organisation has queued (its demand), and the
smallest job and shortest time limit of each organisation and of the flavour. A cycle builds this
from a plain sequence in O(queue log queue); a caller that keeps a ``QueueIndex`` up to date between
cycles (the simulator) passes it as ``ClusterSnapshot.queued``, and a cycle then reads only the jobs
it needs: with the fair-share merge (fairshare.py) a flavour that is full costs O(organisations),
not O(queue).
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import overload

from .cluster import QueuedJob

OrgKey = tuple[int, float, str]  # (-priority, queued_at, id)


def org_key(job: QueuedJob) -> OrgKey:
    """A job's place among its organisation's queued jobs."""
    return (-job.priority, job.queued_at, job.id)


ArrivalKey = tuple[float, str]  # (queued_at, id)


def arrival_key(job: QueuedJob) -> ArrivalKey:
    return (job.queued_at, job.id)


Least = tuple[int, float]  # (fewest GPUs, shortest time limit)
_NONE, _NEVER = 1 << 62, float("inf")


class FlavourQueue:
    """One flavour's queue. The arrival order and the smallest sizes and time limits are derived on
    first use (a queue built once for one cycle may never need them) and kept up to date from then on."""

    __slots__ = ("_fifo", "_least", "_org_least", "by_org", "count", "demand")

    def __init__(self) -> None:
        self.by_org: dict[str, list[QueuedJob]] = {}
        self.demand: dict[str, int] = {}  # organisation -> queued GPUs
        self.count = 0
        self._fifo: list[QueuedJob] | None = None
        self._org_least: dict[str, Least] = {}  # organisation -> (fewest GPUs, shortest limit), when known
        self._least: Least | None = None  # the same over the flavour, when known

    def __len__(self) -> int:
        return self.count

    def add(self, job: QueuedJob) -> None:
        insort(self.by_org.setdefault(job.org, []), job, key=org_key)
        self._count(job, 1)
        if self._fifo is not None:
            insort(self._fifo, job, key=arrival_key)
        known = self._org_least.get(job.org)
        if known is not None:
            self._org_least[job.org] = (min(known[0], job.gpus), min(known[1], job.time_limit_s))
        elif len(self.by_org[job.org]) == 1:
            self._org_least[job.org] = (job.gpus, job.time_limit_s)
        if self._least is not None:
            self._least = (min(self._least[0], job.gpus), min(self._least[1], job.time_limit_s))

    @classmethod
    def of_groups(cls, by_org: dict[str, list[QueuedJob]]) -> FlavourQueue:
        """A queue of each organisation's jobs, in any order."""
        queue = cls()
        queue.by_org = by_org
        demand, least = queue.demand, queue._org_least
        for org, org_jobs in by_org.items():
            if len(org_jobs) > 1:
                org_jobs.sort(key=org_key)
            queue.count += len(org_jobs)
            gpus, fewest, shortest = 0, _NONE, _NEVER
            for job in org_jobs:  # one pass for the three: this runs for every queued job
                size, limit = job.gpus, job.time_limit_s
                gpus += size
                if size < fewest:
                    fewest = size
                if limit < shortest:
                    shortest = limit
            if gpus:
                demand[org] = gpus
            least[org] = (fewest, shortest)
        return queue

    def remove(self, job: QueuedJob) -> None:
        org_jobs = self.by_org[job.org]
        _discard(org_jobs, job, org_key)
        if not org_jobs:
            del self.by_org[job.org]
        self._count(job, -1)
        if self._fifo is not None:
            _discard(self._fifo, job, arrival_key)
        known = self._org_least.get(job.org)
        if known is not None and (job.gpus <= known[0] or job.time_limit_s <= known[1]):
            del self._org_least[job.org]  # worked out again when asked
        least = self._least
        if least is not None and (job.gpus <= least[0] or job.time_limit_s <= least[1]):
            self._least = None

    def _count(self, job: QueuedJob, sign: int) -> None:
        self.count += sign
        demand = self.demand.get(job.org, 0) + sign * job.gpus
        if demand:
            self.demand[job.org] = demand
        else:
            del self.demand[job.org]

    @property
    def fifo(self) -> list[QueuedJob]:
        if self._fifo is None:
            self._fifo = sorted((job for jobs in self.by_org.values() for job in jobs), key=arrival_key)
        return self._fifo

    def least_of(self, org: str) -> Least:
        """(fewest GPUs, shortest time limit) among the organisation's queued jobs; (0, 0.0) if none."""
        least = self._org_least.get(org)
        if least is None:
            jobs = self.by_org.get(org)
            if not jobs:
                return (0, 0.0)
            least = (min(job.gpus for job in jobs), min(job.time_limit_s for job in jobs))
            self._org_least[org] = least
        return least

    def least(self) -> Least:
        """(fewest GPUs, shortest time limit) over the flavour; (0, 0.0) if it has no queued job."""
        least = self._least
        if least is None:
            if not self.by_org:
                return (0, 0.0)
            each = [self.least_of(org) for org in self.by_org]
            least = self._least = (min(x[0] for x in each), min(x[1] for x in each))
        return least

    def smallest(self) -> int:
        return self.least()[0]

    def shortest_limit(self) -> float:
        return self.least()[1]

    def smallest_of(self, org: str) -> int:
        return self.least_of(org)[0]

    def shortest_limit_of(self, org: str) -> float:
        return self.least_of(org)[1]

    def arrival_order(self) -> Iterator[QueuedJob]:
        yield from self.fifo


class QueueIndex(Sequence[QueuedJob]):
    """A sequence of queued jobs, grouped per flavour; ``add``/``remove`` keep it up to date."""

    __slots__ = ("_flavours", "_jobs", "_list")

    def __init__(self, jobs: Iterable[QueuedJob] = ()) -> None:
        self._flavours: dict[str, FlavourQueue] = {}
        self._jobs: dict[str, QueuedJob] | None = {}  # None: a read-only view
        self._list: list[QueuedJob] | None = None
        self._build(jobs)

    def _build(self, jobs: Iterable[QueuedJob]) -> None:
        """Group and sort once (inserting one by one would move each list O(n) times). A cycle
        builds this for every queued job, so the loop does no more than group."""
        if not isinstance(jobs, list | tuple):
            jobs = list(jobs)  # read twice when there is a duplicate
        known: dict[str, QueuedJob] = {}
        groups: dict[str, dict[str, list[QueuedJob]]] = {}
        count = 0
        for job in jobs:
            known[job.id] = job
            count += 1
            by_org = groups.get(job.flavour)
            if by_org is None:
                by_org = groups[job.flavour] = {}
            org_jobs = by_org.get(job.org)
            if org_jobs is None:
                org_jobs = by_org[job.org] = []
            org_jobs.append(job)
        if count != len(known):
            seen: set[str] = set()
            for job in jobs:
                if job.id in seen:
                    raise ValueError(f"job {job.id} is already queued")
                seen.add(job.id)
        for name, by_org in groups.items():
            self._flavours[name] = FlavourQueue.of_groups(by_org)
        self._jobs = known

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
            return (job for queue in self._flavours.values() for job in queue.fifo)
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
        return queue is not None and any(j == job for j in queue.by_org.get(job.org, ()))


def as_queue_index(queued: Sequence[QueuedJob]) -> QueueIndex:
    return queued if isinstance(queued, QueueIndex) else QueueIndex(queued)


def _discard(items: list[QueuedJob], job: QueuedJob, key: Callable[[QueuedJob], OrgKey | ArrivalKey]) -> None:
    i = bisect_left(items, key(job), key=key)
    if i < len(items) and items[i] == job:
        del items[i]
    else:
        raise KeyError(job.id)
