"""Running jobs indexed the way an admission cycle reads them.

A cycle needs totals (GPUs used per flavour, per organisation), end times in order (backfill shadow
times, ETAs), start times in order (newest first for preemption) and the GPU-seconds running jobs may
still spend (balances). Building this from a plain list costs O(running log running) per cycle; a
caller that keeps a ``RunningIndex`` up to date between cycles (the simulator) pays O(log running) per
start or stop instead and passes the index itself as ``ClusterSnapshot.running``.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, overload

from .cluster import RunningJob


class RunningIndex(Sequence[RunningJob]):
    """A sequence of running jobs with the aggregates admission needs, updated by ``add``/``remove``.

    Jobs marked ``stopping`` hold devices (``used``) but belong to no organisation's usage: their
    devices are already promised back.
    """

    __slots__ = (
        "_ends",
        "_gpu_end",
        "_jobs",
        "_list",
        "_org_total",
        "_org_used",
        "_starts",
        "_stopping",
        "_used",
    )

    def __init__(self, jobs: Iterable[RunningJob] = ()) -> None:
        self._jobs: dict[str, RunningJob] = {}
        self._list: list[RunningJob] | None = None
        self._used: dict[str, int] = {}  # flavour -> GPUs held
        self._stopping: dict[str, int] = {}  # flavour -> GPUs held by stopping jobs
        self._org_used: dict[str, dict[str, int]] = {}  # flavour -> org -> GPUs (not stopping)
        self._org_total: dict[str, int] = {}  # org -> GPUs across flavours (not stopping)
        self._ends: dict[str, list[tuple[float, str, int]]] = {}  # flavour -> sorted (end, id, gpus)
        self._starts: dict[str, list[tuple[float, str]]] = {}  # flavour -> sorted (started_at, id)
        self._gpu_end: dict[tuple[str, str], list[float]] = {}  # (org, flavour) -> [Σ gpus·end, Σ gpus]
        self._build(jobs)

    def _build(self, jobs: Iterable[RunningJob]) -> None:
        """``add`` for each job, with the end and start lists sorted once at the end (a cycle builds
        this from every running job)."""
        ends, starts = self._ends, self._starts
        for job in jobs:
            self._count(job)
            ends.setdefault(job.flavour, []).append((job.started_at + job.time_limit_s, job.id, job.gpus))
            starts.setdefault(job.flavour, []).append((job.started_at, job.id))
        for end_list in ends.values():
            end_list.sort()
        for start_list in starts.values():
            start_list.sort()

    # --- Sequence -------------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._jobs)

    def __iter__(self) -> Iterator[RunningJob]:
        return iter(self._jobs.values())

    @overload
    def __getitem__(self, i: int) -> RunningJob: ...

    @overload
    def __getitem__(self, i: slice) -> Sequence[RunningJob]: ...

    def __getitem__(self, i: int | slice) -> RunningJob | Sequence[RunningJob]:
        if self._list is None:
            self._list = list(self._jobs.values())
        return self._list[i]

    def __contains__(self, job: object) -> bool:
        return isinstance(job, RunningJob) and self._jobs.get(job.id) == job

    # --- updates --------------------------------------------------------------------------------

    def add(self, job: RunningJob) -> None:
        self._count(job)
        self._list = None
        f = job.flavour
        insort(self._ends.setdefault(f, []), (job.started_at + job.time_limit_s, job.id, job.gpus))
        insort(self._starts.setdefault(f, []), (job.started_at, job.id))

    def _count(self, job: RunningJob) -> None:
        """The job in the totals (``add`` and ``_build`` differ only in how they keep the lists sorted)."""
        if job.id in self._jobs:
            raise ValueError(f"job {job.id} is already running")
        self._jobs[job.id] = job
        f = job.flavour
        self._used[f] = self._used.get(f, 0) + job.gpus
        if job.stopping:
            self._stopping[f] = self._stopping.get(f, 0) + job.gpus
        else:
            self._shift_usage(job, job.gpus)

    def remove(self, job_id: str) -> RunningJob:
        job = self._jobs.pop(job_id)
        self._list = None
        f = job.flavour
        self._used[f] -= job.gpus
        _discard(self._ends[f], (job.started_at + job.time_limit_s, job.id, job.gpus))
        _discard(self._starts[f], (job.started_at, job.id))
        if job.stopping:
            self._stopping[f] -= job.gpus
        else:
            self._shift_usage(job, -job.gpus)
        return job

    def _shift_usage(self, job: RunningJob, gpus: int) -> None:
        per_org = self._org_used.setdefault(job.flavour, {})
        per_org[job.org] = per_org.get(job.org, 0) + gpus
        self._org_total[job.org] = self._org_total.get(job.org, 0) + gpus
        sums = self._gpu_end.setdefault((job.org, job.flavour), [0.0, 0.0])
        sums[0] += gpus * (job.started_at + job.time_limit_s)
        sums[1] += gpus

    # --- reads ----------------------------------------------------------------------------------

    def get(self, job_id: str) -> RunningJob | None:
        return self._jobs.get(job_id)

    def used(self, flavour: str) -> int:
        """GPUs held on the flavour, stopping jobs included."""
        return self._used.get(flavour, 0)

    def stopping(self, flavour: str) -> int:
        return self._stopping.get(flavour, 0)

    def org_used(self, flavour: str) -> dict[str, int]:
        """Organisation → GPUs its (not stopping) jobs hold on the flavour. Read only."""
        return self._org_used.get(flavour, {})

    def org_total(self, org: str) -> int:
        return self._org_total.get(org, 0)

    def org_totals(self) -> dict[str, int]:
        """Organisation → GPUs its (not stopping) jobs hold, all flavours. Read only."""
        return self._org_total

    def ends(self, flavour: str) -> list[tuple[float, str, int]]:
        """(started_at + time_limit_s, id, gpus) of the flavour's jobs, earliest first. Read only."""
        return self._ends.get(flavour, [])

    def newest_first(self, flavour: str) -> Iterator[RunningJob]:
        """The flavour's running jobs, latest start first (ties: larger id first)."""
        jobs = self._jobs
        for _, job_id in reversed(self._starts.get(flavour, [])):
            yield jobs[job_id]

    def committed(self, org: str, flavour: str, now: float) -> float:
        """GPU-seconds the organisation's running jobs on the flavour may still use before their limits."""
        sums = self._gpu_end.get((org, flavour))
        if not sums or sums[1] <= 0:
            return 0.0
        ends = self._ends.get(flavour)
        if ends and ends[0][0] < now:  # a job ran past its limit: sum exactly, clipping it at zero
            return float(
                sum(
                    j.gpus * max(0.0, j.started_at + j.time_limit_s - now)
                    for j in self._jobs.values()
                    if j.org == org and j.flavour == flavour and not j.stopping
                )
            )
        return max(0.0, sums[0] - now * sums[1])


def as_index(running: Sequence[RunningJob]) -> RunningIndex:
    return running if isinstance(running, RunningIndex) else RunningIndex(running)


def _discard(items: list[Any], key: tuple[Any, ...]) -> None:
    i = bisect_left(items, key)
    if i < len(items) and items[i] == key:
        del items[i]
    else:
        raise KeyError(key)
