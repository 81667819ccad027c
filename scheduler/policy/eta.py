"""ETA ranges by list scheduling.

Queued jobs are placed in the order the policy serves them, each at the earliest time, not before
the job ahead of it, when enough devices are free, given the running jobs' ends and the ends of the
jobs placed before it. The latest estimate uses time limits; the earliest uses time limits × the
flavour's typical runtime ratio (≤ 1). Shorter durations never delay a start in this in-order
placement, so earliest ≤ latest.
"""

from __future__ import annotations

from collections.abc import Sequence
from heapq import heappop, heappush


def list_schedule(
    now: float,
    capacity: int,
    free: int,
    releases: Sequence[tuple[float, int]],
    jobs: Sequence[tuple[int, float]],
) -> list[float | None]:
    """Start times of ``jobs`` ((gpus, duration) in order). ``free`` devices are free at ``now``;
    ``releases`` ((time, gpus), earliest first) are when held devices come back. None for a job
    that can never fit the flavour."""
    starts: list[float | None] = []
    placed: list[tuple[float, int]] = []  # heap of (end, gpus) of jobs placed here
    i, n = 0, len(releases)
    t = now
    for gpus, duration in jobs:
        if gpus > capacity:
            starts.append(None)
            continue
        while free < gpus:
            if i < n and (not placed or releases[i][0] <= placed[0][0]):
                at, back = releases[i]
                i += 1
            elif placed:
                at, back = heappop(placed)
            else:
                break
            free += back
            if at > t:
                t = at
        if free < gpus:  # nothing left to wait for: devices held for good (should not happen)
            starts.append(None)
            continue
        free -= gpus
        starts.append(t)
        heappush(placed, (t + duration, gpus))
    return starts
