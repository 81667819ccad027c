"""One flavour's queue taken in policy order against its ledger: the decisions of steps 1–5 in
admission.py. The loop runs once per queued job, so the common paths stay inline."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from .backfill import Reservation, reserve
from .capacity import FlavourLedger
from .cluster import (
    AdmissionConfig,
    ClusterSnapshot,
    FlavourCapacity,
    OrgQuota,
    QueuedJob,
    RunningJob,
    WaitReason,
)
from .running import RunningIndex

Params = dict[str, int | str]
Verdict = tuple[WaitReason, Params]


class FlavourWalk:
    __slots__ = (
        "admitted",
        "admitted_ends",
        "balance_left",
        "balances",
        "blocked",
        "competing",
        "config",
        "consumed",
        "fifo",
        "flavour",
        "ledger",
        "now",
        "preempted",
        "reclaimers",
        "reclaims",
        "reservation",
        "running",
        "snapshot",
        "taken",
        "waits",
    )

    def __init__(
        self,
        snapshot: ClusterSnapshot,
        config: AdmissionConfig,
        fifo: bool,
        flavour: FlavourCapacity,
        quotas: Mapping[str, OrgQuota],
        running: RunningIndex,
        taken: set[str],
    ) -> None:
        self.snapshot, self.config, self.fifo, self.flavour = snapshot, config, fifo, flavour
        self.now = snapshot.now
        self.running = running
        self.taken = taken  # shared by the cycle's flavours
        self.ledger = FlavourLedger(
            flavour.name,
            flavour.capacity,
            quotas,
            running,
            snapshot.bookings or (),
            snapshot.now,
            config.default_borrow_limit,
        )
        self.balances = snapshot.balances
        self.balance_left: dict[str, float] = {}  # organisation -> GPU-seconds not yet spoken for
        self.reclaims = config.reclaim and not fifo
        self.blocked = False  # no backfill: the first job blocked by capacity holds the rest
        self.reservation: Reservation | None = None  # backfill: the reserved job's shadow time
        self.competing = 0  # jobs so far that passed balance and quota
        self.consumed = 0  # GPUs admitted or reclaimed in this cycle
        self.admitted: list[str] = []
        self.admitted_ends: list[tuple[float, int]] = []
        self.preempted: list[str] = []
        self.reclaimers: list[QueuedJob] = []
        self.waits: list[tuple[QueuedJob, WaitReason, Params]] = []  # in policy order

    def run(self, order: list[QueuedJob]) -> None:
        explain = self.config.explain
        smallest = 0 if explain else min(job.gpus for job in order)
        ledger, waits, decide = self.ledger, self.waits, self._decide
        for job in order:
            if not explain and ledger.best_avail() < smallest and not self._may_preempt():
                break  # nothing can start or be reclaimed any more: the rest only needs explaining
            verdict = decide(job)
            if verdict is not None and explain:
                waits.append((job, verdict[0], verdict[1]))

    def _decide(self, job: QueuedJob) -> Verdict | None:
        ledger, org, gpus = self.ledger, job.org, job.gpus
        if self.balances is not None:
            short = self._balance_short(job)
            if short is not None:
                return short
        usage = ledger.org_used.get(org, 0)
        limit, reclaim_up_to = ledger.limits.get(org) or ledger.terms(org)
        if usage + gpus > limit and limit < ledger.capacity:  # else capacity is what stops it
            return WaitReason.QUOTA_FULL, {"flavour": ledger.name, "used": usage, "limit": limit}
        ahead = self.competing
        self.competing = ahead + 1
        end = self.now + job.time_limit_s
        room = ledger.capacity - ledger.used - ledger.protect_total + ledger.protect.get(org, 0)
        upcoming = ledger.upcoming_hold(org, end, self.config.booking_drain_lead_s) if ledger.upcoming else 0
        room -= upcoming
        if gpus <= room:
            if self.blocked or (self.reservation is not None and not self.reservation.allows(gpus, end)):
                return WaitReason.BEHIND_JOBS, {"ahead": ahead}
            self._admit(job, end)
            return None
        if usage + gpus <= reclaim_up_to and (self.reclaims or ledger.booked):
            reclaimed = self._try_reclaim(job, usage)
            if reclaimed is not None:
                return WaitReason.RECLAIMING, {"flavour": ledger.name, "preempting": reclaimed}
        if not (self.blocked or self.reservation is not None):
            self._hold_line(job, room)
        return self._capacity_wait(job, room, upcoming, ahead)

    def _balance_short(self, job: QueuedJob) -> Verdict | None:
        left = self.balance_left.get(job.org)
        if left is None:
            balances = self.balances or {}
            left = balances.get((job.org, job.flavour), 0.0) - self.running.committed(
                job.org, job.flavour, self.now
            )
            self.balance_left[job.org] = left
        needed = job.gpus * job.time_limit_s
        floor = self.config.min_balance_s
        if floor is not None and floor < needed:
            needed = floor
        if left >= needed:
            return None
        params: Params = {
            "needed_hours": f"{needed / 3600:.1f}",
            "balance_hours": f"{max(0.0, left) / 3600:.1f}",
        }
        return WaitReason.NO_BALANCE, params

    def _admit(self, job: QueuedJob, end: float) -> None:
        self.ledger.admit(job.org, job.gpus)
        if job.org in self.balance_left:
            self.balance_left[job.org] -= job.gpus * job.time_limit_s
        self.admitted.append(job.id)
        self.consumed += job.gpus
        self.admitted_ends.append((end, job.gpus))

    def _try_reclaim(self, job: QueuedJob, usage: int) -> int | None:
        """Preempt for a job within its organisation's guarantee or open window; the GPUs it waits for."""
        ledger, org, gpus = self.ledger, job.org, job.gpus
        outcome = None
        if (
            self.reclaims
            and (ledger.borrowing or ledger.stopping_free)
            and usage + gpus <= ledger.guarantee(org)
        ):
            outcome = ledger.reclaim(org, gpus, self._newest_first(), self.taken, ledger.is_borrowing)
        if outcome is None and ledger.booked and usage + gpus <= ledger.booked.get(org, 0):
            outcome = ledger.reclaim(org, gpus, self._newest_first(), self.taken, ledger.outside_booking)
        if outcome is None:
            return None
        victims, from_stopping = outcome
        for victim in victims:
            self.taken.add(victim.id)
            self.preempted.append(victim.id)
        self.consumed += gpus
        self.reclaimers.append(job)
        return sum(v.gpus for v in victims) or from_stopping

    def _newest_first(self) -> Iterator[RunningJob]:
        return self.running.newest_first(self.flavour.name)

    def _capacity_wait(self, job: QueuedJob, room: int, upcoming: int, ahead: int) -> Verdict:
        """Why a job that does not fit waits; ``room`` is what its organisation may start now, after
        the ``upcoming`` hold of windows that open before it would end."""
        ledger, gpus = self.ledger, job.gpus
        held = upcoming + ledger.booking_hold(job.org) if ledger.booked else upcoming
        if held and gpus <= room + held:
            return WaitReason.BOOKED_WINDOW, {"flavour": ledger.name, "held": held}
        if ahead and gpus <= room + self.consumed:
            return WaitReason.BEHIND_JOBS, {"ahead": ahead}
        return WaitReason.WAITING_FOR_CAPACITY, {"flavour": ledger.name, "free": max(0, room), "gpus": gpus}

    def _hold_line(self, job: QueuedJob, free: int) -> None:
        """The first job blocked by capacity that could ever fit holds later jobs: entirely without
        backfill, up to its reservation with it."""
        if job.gpus > self.flavour.capacity:
            return
        if not self.config.backfill or self.fifo:
            self.blocked = True
            return
        releases = ((end, gpus) for end, _, gpus in self.alive_ends())
        free += self.ledger.stopping_free
        self.reservation = reserve(self.now, free, job.gpus, releases, sorted(self.admitted_ends))

    def alive_ends(self) -> Iterator[tuple[float, str, int]]:
        """Running jobs' (end, id, gpus), earliest first, without those stopping or preempted now."""
        running, taken = self.running, self.taken
        check_stopping = running.stopping(self.flavour.name) > 0
        for item in running.ends(self.flavour.name):
            if item[1] in taken:
                continue
            if check_stopping:
                job = running.get(item[1])
                if job is not None and job.stopping:
                    continue
            yield item

    def _may_preempt(self) -> bool:
        """Could a later job still cause preemptions (and so change what is free)?"""
        ledger = self.ledger
        if ledger.booked:
            return True
        return self.reclaims and bool(ledger.borrowing or ledger.stopping_free)
