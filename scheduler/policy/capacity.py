"""One flavour's devices during an admission cycle: who uses what, and what is out of whose reach.

Accounting (all in GPUs):

* ``used``: devices held by running jobs (stopping ones included) or promised in this cycle (jobs
  admitted now, and the part of a reclaim served from free devices). ``capacity - used`` is free now.
* ``org_used[org]``: the organisation's share of that, for quotas: its running jobs that are not
  stopping, its jobs admitted now, and the devices being reclaimed for it.
* ``stopping_free``: devices of stopping (or just preempted) jobs that no reclaiming job has claimed.
  They are not free for a job that starts now, but a reclaiming job may count on them.
* ``protect[org]``: what the organisation keeps out of others' reach, the largest of:
  the part of its idle guarantee above its lending limit (``guaranteed - org_used - lend_limit``: of
  an idle guarantee at most ``lend_limit`` GPUs may be lent, as in Kueue); the part of its idle
  guarantee its own queued jobs ask for (``min(guaranteed - org_used, demand)``: a guarantee is idle
  only while nobody who owns it waits, so borrowers never take what a reclaim has just freed, and
  preemption does not go round in circles); while its booking window is open, the booked GPUs it
  does not use yet (a booking and a guarantee of the same organisation overlap rather than add up;
  booking approval keeps the sum of windows and of others' ``guaranteed - lend_limit`` within
  capacity).

An organisation can start ``avail(org) = capacity - used - (protect of all others)`` GPUs now. Capacity
nobody guarantees, and the lendable part of idle guarantees, is what borrowers share.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence, Set

from .cluster import BookingWindow, OrgQuota, RunningJob
from .running import RunningIndex


class FlavourLedger:
    __slots__ = (
        "_hold",
        "booked",
        "borrowing",
        "capacity",
        "default_limit",
        "demand",
        "guaranteed",
        "limits",
        "max_protect",
        "name",
        "org_used",
        "protect",
        "protect_total",
        "quotas",
        "stopping_free",
        "upcoming",
        "used",
        "version",
    )

    def __init__(
        self,
        name: str,
        capacity: int,
        quotas: Mapping[str, OrgQuota],
        running: RunningIndex,
        bookings: Sequence[BookingWindow],
        now: float,
        default_borrow_limit: int | None,
        demand: Mapping[str, int],
    ) -> None:
        self.name = name
        self.demand = dict(demand)  # organisation -> GPUs its queued jobs ask for
        self.capacity = capacity
        self.quotas = quotas
        self.guaranteed = {org: quota.guaranteed for org, quota in quotas.items()}
        self.default_limit = capacity if default_borrow_limit is None else default_borrow_limit
        self.used = running.used(name)
        self.stopping_free = running.stopping(name)
        self.org_used = dict(running.org_used(name))
        self.booked: dict[str, int] = {}  # organisation -> GPUs of its windows open now
        self.upcoming: list[BookingWindow] = []  # windows not open yet, earliest start first
        for window in bookings:
            if window.flavour != name or window.ends_at <= now or window.gpus <= 0:
                continue
            if window.starts_at <= now:
                self.booked[window.org] = self.booked.get(window.org, 0) + window.gpus
            else:
                self.upcoming.append(window)
        self.upcoming.sort(key=lambda w: (w.starts_at, w.org))
        self.protect: dict[str, int] = {}
        self.protect_total = 0
        self.borrowing: set[str] = set()
        self._initial_protect_and_borrowing()
        self.limits: dict[str, tuple[int, int]] = {}
        self.version = 0  # changes whenever usage does
        self._hold: tuple[int, int] = (-1, 0)  # (version, hold of all open windows) for orgs without one

    def _initial_protect_and_borrowing(self) -> None:
        """``protect_at`` and ``is_borrowing`` for every organisation, inlined: this runs for every
        flavour of every cycle."""
        org_used, booked, demand, protect = self.org_used, self.booked, self.demand, self.protect
        for org, quota in self.quotas.items():
            usage = org_used.get(org, 0)
            idle = quota.guaranteed - usage
            amount = 0
            if idle > 0:
                amount = idle - quota.lend_limit
                wanted = demand.get(org, 0)
                if wanted > amount:
                    amount = wanted if wanted < idle else idle
            if booked and booked.get(org, 0) - usage > amount:
                amount = booked[org] - usage
            if amount > 0:
                protect[org] = amount
        for org, gpus in booked.items():
            if org not in self.quotas and gpus - org_used.get(org, 0) > 0:
                protect[org] = gpus - org_used.get(org, 0)
        self.protect_total = sum(protect.values())
        self.max_protect = max(protect.values(), default=0)  # an upper bound, never lowered
        quotas, borrowing = self.quotas, self.borrowing
        for org, usage in org_used.items():
            if usage:
                found = quotas.get(org)
                if usage > (found.guaranteed if found is not None else 0) and usage > booked.get(org, 0):
                    borrowing.add(org)

    # --- reads ----------------------------------------------------------------------------------

    def usage(self, org: str) -> int:
        return self.org_used.get(org, 0)

    def guarantee(self, org: str) -> int:
        return self.guaranteed.get(org, 0)

    def limit(self, org: str) -> int:
        return self.terms(org)[0]

    def terms(self, org: str) -> tuple[int, int]:
        """(limit, may reclaim up to): the most GPUs the organisation may hold (guarantee + borrowing
        limit, or its open booking if larger), and the most it may preempt others to reach (its
        guarantee or its open booking, whichever is larger)."""
        terms = self.limits.get(org)
        if terms is None:
            quota = self.quotas.get(org)
            own = quota.guaranteed + quota.borrow_limit if quota else self.default_limit
            booked = self.booked.get(org, 0)
            guaranteed = quota.guaranteed if quota else 0
            terms = self.limits[org] = (max(own, booked), max(guaranteed, booked))
        return terms

    def avail(self, org: str) -> int:
        return self.capacity - self.used - self.protect_total + self.protect.get(org, 0)

    def best_avail(self) -> int:
        """At least what the best-placed organisation could start now."""
        return self.capacity - self.used - self.protect_total + self.max_protect

    def protect_at(self, org: str, usage: int) -> int:
        locked = self._guarantee_lock(org, usage)
        held = self.booked.get(org, 0) - usage
        larger = locked if locked > held else held
        return larger if larger > 0 else 0

    def _guarantee_lock(self, org: str, usage: int) -> int:
        """Idle guarantee kept from borrowers: beyond the lending limit, or asked for by own jobs."""
        quota = self.quotas.get(org)
        if quota is None:
            return 0
        idle = quota.guaranteed - usage
        if idle <= 0:
            return 0
        locked = idle - quota.lend_limit
        wanted = self.demand.get(org, 0)
        if wanted > locked:
            locked = wanted if wanted < idle else idle
        return locked if locked > 0 else 0

    def booking_hold(self, org: str) -> int:
        """GPUs other organisations' open windows keep from ``org`` beyond their guarantees' lock."""
        if org not in self.booked:
            version, held = self._hold
            if version != self.version:
                held = self._booking_hold_except(None)
                self._hold = (self.version, held)
            return held
        return self._booking_hold_except(org)

    def _booking_hold_except(self, org: str | None) -> int:
        held = 0
        for other, gpus in self.booked.items():
            if other != org:
                usage = self.org_used.get(other, 0)
                held += max(0, gpus - usage - self._guarantee_lock(other, usage))
        return held

    def upcoming_hold(self, org: str, usage: int, end: float, drain_lead_s: float) -> int:
        """GPUs that windows of other organisations opening before ``end`` (+ the drain lead) will hold
        beyond what is protected already, for a job that takes the organisation to ``usage``.

        Only borrowing is held back: a job within its organisation's guarantee is not (approval keeps
        windows within what guarantees leave, and an open window preempts for itself); borrowers are
        what is drained before a window. Windows are summed, which over-counts windows that do not
        overlap each other: safe, and bookings are few."""
        if usage <= self.guaranteed.get(org, 0):
            return 0
        held = 0
        for window in self.upcoming:
            if window.starts_at - drain_lead_s >= end:
                break
            if window.org != org:
                held += max(0, window.gpus - self.protect.get(window.org, 0))
        return held

    def is_borrowing(self, org: str, usage: int) -> bool:
        """Uses more than its guarantee (or its open booking, which it may use in full)."""
        return usage > self.guaranteed.get(org, 0) and usage > self.booked.get(org, 0)

    def outside_booking(self, org: str, usage: int) -> bool:
        return usage > self.booked.get(org, 0)

    # --- changes --------------------------------------------------------------------------------

    def admit(self, org: str, gpus: int) -> None:
        self.used += gpus
        self._serve(org, gpus)

    def _serve(self, org: str, gpus: int) -> None:
        if org in self.demand:
            self.demand[org] -= gpus
        self._set_usage(org, self.org_used.get(org, 0) + gpus)

    def reclaim(
        self,
        org: str,
        gpus: int,
        candidates: Iterable[RunningJob],
        taken: Set[str],
        victim: Callable[[str, int], bool],
    ) -> tuple[list[RunningJob], int] | None:
        """Preempt just enough of ``candidates`` (in the order given, whole jobs) for ``org`` to fit
        ``gpus`` once they have stopped, and promise it those devices. Returns the victims and the
        GPUs the job waits for, or None (and changes nothing) if even all candidates would not do.

        A candidate is skipped if it is in ``taken``, not preemptible, already stopping, of ``org``
        itself, refused by ``victim(its org, its org's usage)``, or if stopping it would free nothing
        for ``org`` (its own organisation's lock would take the devices back)."""
        pool = self.stopping_free
        room = self.avail(org)
        usage_after: dict[str, int] = {}
        victims: list[RunningJob] = []
        while gpus > room + pool:
            job = _next_victim(self, org, candidates, taken, victim, usage_after)
            if job is None:
                return None
            before = usage_after.get(job.org, self.org_used.get(job.org, 0))
            lock_gain = self.protect_at(job.org, before - job.gpus) - self.protect_at(job.org, before)
            usage_after[job.org] = before - job.gpus
            victims.append(job)
            pool += job.gpus
            room -= lock_gain
        from_pool = min(gpus, pool)
        self.stopping_free = pool - from_pool
        self.used += gpus - from_pool
        for job in victims:
            self._set_usage(job.org, self.org_used.get(job.org, 0) - job.gpus)
        self._serve(org, gpus)
        return victims, from_pool

    def _set_usage(self, org: str, usage: int) -> None:
        self.org_used[org] = usage
        self.version += 1
        if self.is_borrowing(org, usage):
            self.borrowing.add(org)
        else:
            self.borrowing.discard(org)
        if org in self.quotas or org in self.booked:
            old = self.protect.get(org, 0)
            new = self.protect_at(org, usage)
            self.protect[org] = new
            self.protect_total += new - old
            if new > self.max_protect:
                self.max_protect = new


def _next_victim(
    ledger: FlavourLedger,
    org: str,
    candidates: Iterable[RunningJob],
    taken: Set[str],
    victim: Callable[[str, int], bool],
    usage_after: dict[str, int],
) -> RunningJob | None:
    for job in candidates:
        if job.org == org or not job.preemptible or job.stopping or job.id in taken:
            continue
        usage = usage_after.get(job.org, ledger.org_used.get(job.org, 0))
        if not victim(job.org, usage):
            continue
        lock_gain = ledger.protect_at(job.org, usage - job.gpus) - ledger.protect_at(job.org, usage)
        if job.gpus > lock_gain:
            return job
    return None
