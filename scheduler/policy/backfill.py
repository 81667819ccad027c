"""EASY backfill: the first job of a flavour blocked by capacity gets a reservation at its *shadow
time* (the earliest time enough devices free up, from running jobs' ``started_at + time_limit_s``);
a later job may start now only if it fits now and either ends before the shadow time or uses only
devices the reserved job will not need then."""

from __future__ import annotations

from collections.abc import Container, Sequence
from dataclasses import dataclass


@dataclass(slots=True)
class Reservation:
    shadow: float  # when the reserved job can start
    extra: int  # devices free at the shadow time that the reserved job does not need

    def allows(self, gpus: int, end: float) -> bool:
        """May a job of ``gpus`` ending at ``end`` start now without delaying the reserved job?
        Taking the extra devices uses them up for later jobs."""
        if end <= self.shadow:
            return True
        if gpus <= self.extra:
            self.extra -= gpus
            return True
        return False


def reserve(
    now: float,
    free: int,
    gpus: int,
    ends: Sequence[tuple[float, str, int]],
    extra_ends: Sequence[tuple[float, int]],
    excluded: Container[str] = (),
) -> Reservation | None:
    """The reservation of a job needing ``gpus`` when ``free`` are free for it now and devices come
    back as running jobs end (``ends``: (end, id, gpus), earliest first, skipping ``excluded`` ids)
    and as jobs admitted in this cycle end (``extra_ends``: (end, gpus), earliest first). None when
    the ends never free enough (e.g. devices locked by guarantees): then nothing is reserved."""
    if free >= gpus:
        return Reservation(now, free - gpus)
    shadow: float | None = None
    i = j = 0
    n, m = len(ends), len(extra_ends)
    while i < n or j < m:  # merge the two by time, until past the shadow time
        if j >= m or (i < n and ends[i][0] <= extra_ends[j][0]):
            end, job_id, released = ends[i]
            i += 1
            if job_id in excluded:
                continue
        else:
            end, released = extra_ends[j]
            j += 1
        if shadow is not None and end > shadow:
            break
        free += released
        if shadow is None and free >= gpus:
            shadow = max(end, now)
    if shadow is None:
        return None
    return Reservation(shadow, free - gpus)
