"""EASY backfill: the first job of a flavour blocked by capacity gets a reservation at its *shadow
time* (the earliest time enough devices free up, from running jobs' ``started_at + time_limit_s``);
a later job may start now only if it fits now and either ends before the shadow time or uses only
devices the reserved job will not need then."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from heapq import merge


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
    ends: Iterable[tuple[float, int]],
    extra_ends: Iterable[tuple[float, int]],
) -> Reservation | None:
    """The reservation of a job needing ``gpus`` when ``free`` are free for it now and jobs release
    devices at ``ends`` and ``extra_ends`` (both (time, gpus), earliest first). None when the running
    jobs' ends never free enough (e.g. devices locked by guarantees): then nothing is reserved."""
    if free >= gpus:
        return Reservation(now, free - gpus)
    shadow: float | None = None
    for end, released in merge(ends, extra_ends):
        if shadow is not None and end > shadow:
            break
        free += released
        if shadow is None and free >= gpus:
            shadow = max(end, now)
    if shadow is None:
        return None
    return Reservation(shadow, free - gpus)
