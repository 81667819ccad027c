"""One flavour's queue taken in policy order against its ledger: the decisions of steps 1–5 in
admission.py. The loop runs once per queued job, so the common paths stay inline."""

from __future__ import annotations

from collections.abc import Container, Iterator, Mapping, Sequence
from heapq import heappop, heappush

from .backfill import Reservation, reserve
from .capacity import FlavourLedger
from .cluster import (
    AdmissionConfig,
    BookingWindow,
    ClusterSnapshot,
    FlavourCapacity,
    OrgQuota,
    QueuedJob,
    RunningJob,
    WaitReason,
)
from .fairshare import FairMerge
from .queue import FlavourQueue
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
        "held_line",
        "ledger",
        "merge",
        "now",
        "parked_needs",
        "parked_reclaimers",
        "preempt_possible",
        "preempted",
        "queue",
        "reclaim_failed",
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
        queue: FlavourQueue,
    ) -> None:
        self.snapshot, self.config, self.fifo, self.flavour = snapshot, config, fifo, flavour
        self.now = snapshot.now
        self.running = running
        self.taken = taken  # shared by the cycle's flavours
        self.queue = queue
        self.merge: FairMerge | None = None
        self.parked_reclaimers: set[str] = set()  # parked organisations that may still reclaim
        self.parked_needs: list[tuple[int, str]] = []  # heap: (unprotected devices it needs, parked org)
        self.balances = snapshot.balances
        self.balance_left: dict[str, float] = {}  # organisation -> GPU-seconds not yet spoken for
        self.ledger = FlavourLedger(
            flavour.name,
            flavour.capacity,
            quotas,
            running,
            snapshot.bookings or (),
            snapshot.now,
            config.default_borrow_limit,
            self._demand(quotas) if config.backfill and not fifo else {},  # see _demand
        )
        # Reclaim needs the owners' lock, and the lock needs backfill (see _demand): without them a
        # borrower could take back what a reclaim has just freed, and preemption would go round.
        self.reclaims = config.reclaim and config.backfill and not fifo
        self.held_line = False  # the first job blocked by capacity has been found
        self.blocked = False  # no backfill: that job holds the rest
        self.reservation: Reservation | None = None  # backfill: its shadow time (None: it has none)
        self.competing = 0  # jobs so far that passed balance and quota
        self.consumed = 0  # GPUs admitted or reclaimed in this cycle
        self.admitted: list[str] = []
        self.admitted_ends: list[tuple[float, int]] = []
        self.preempted: list[str] = []
        self.reclaimers: list[QueuedJob] = []
        self.reclaim_failed: dict[str, tuple[int, int]] = {}  # org -> (ledger version, GPUs)
        self.preempt_possible: tuple[int, bool] | None = None  # (ledger version, answer)
        self.waits: list[tuple[QueuedJob, WaitReason, Params]] = []  # in policy order

    def _demand(self, quotas: Mapping[str, OrgQuota]) -> Mapping[str, int]:
        """Queued GPUs per organisation, for the ledger's guarantee lock. An organisation whose next
        job its balance cannot pay for asks for nothing: its guarantee is not held idle for it.

        Only with backfill: in strict order (FIFO, or no backfill) a borrower's job held back by an
        owner's lock would hold back, in turn, the owner's jobs behind it, for good."""
        demand = self.queue.demand
        if self.balances is None:
            return demand
        payable = dict(demand)
        used = self.running.org_used(self.flavour.name)
        for org in demand:
            quota = quotas.get(org)
            if quota is not None and quota.guaranteed > used.get(org, 0):  # else nothing idle to lock
                first = self.queue.by_org[org][0]
                if self._balance(org) < self._needed(first):
                    payable[org] = 0
        return payable

    def run(self, order: Iterator[QueuedJob]) -> None:
        if not self.config.explain:
            self._run_fast(order)
            return
        waits, decide = self.waits, self._decide
        for job in order:
            verdict = decide(job)
            if verdict is not None:
                waits.append((job, verdict[0], verdict[1]))

    def _run_fast(self, order: Iterator[QueuedJob]) -> None:
        """The same decisions without explanations, looking at as few jobs as possible.

        Once the line is held (the first job blocked by capacity is known) or the flavour is full, a
        job that can neither start now nor reclaim changes nothing, so it is skipped, and an
        organisation none of whose jobs could is parked. What an organisation may start only shrinks
        within a cycle, and so does the backfill room of the reserved job, except when a reclaim hands
        devices over: then the parked organisations it may have helped come back
        (``_resume_after_reclaim``). The walk stops when nothing can start and nothing can be preempted."""
        ledger, decide, lead = self.ledger, self._decide, self.config.booking_drain_lead_s
        smallest, shortest = self.queue.smallest(), self.queue.shortest_limit()  # of the whole flavour
        self.merge = merge = order if isinstance(order, FairMerge) else None
        seen: tuple[int, int, bool] | None = None  # the state the flags below were computed for
        may_preempt = closed = False
        # organisation -> (GPUs, end, state) of its job last passed over without parking it: in the same
        # state, a later job of it with as many GPUs or more and no earlier end is passed over too
        passed: dict[str, tuple[int, float, tuple[int, int, bool]]] = {}
        for job in order:
            reservation = self.reservation
            state = (ledger.version, reservation.extra if reservation is not None else -1, self.blocked)
            if state != seen:  # only an admission, a reclaim or the line being held changes them
                seen = state
                may_preempt = self._may_preempt()
                closed = self.blocked or self._backfill_closed(smallest, shortest)
                if not may_preempt and (closed or ledger.best_avail() < smallest):
                    break
            org, gpus, end = job.org, job.gpus, self.now + job.time_limit_s
            before = passed.get(org)
            if before is not None and before[2] == state and gpus >= before[0] and end >= before[1]:
                continue
            if not (self.held_line or ledger.capacity - ledger.used < smallest):
                decide(job)  # until the line is held, every job may start or hold it
                continue
            room = ledger.capacity - ledger.used - ledger.protect_total + ledger.protect.get(org, 0)
            usage = ledger.org_used.get(org, 0)
            upcoming = ledger.upcoming_hold(org, usage + gpus, end, lead) if ledger.upcoming else 0
            if gpus <= room - upcoming and not (
                self.blocked
                or (reservation is not None and end > reservation.shadow and gpus > reservation.extra)
            ):
                decide(job)  # it may start now
                continue
            up_to = (ledger.limits.get(org) or ledger.terms(org))[1]
            if may_preempt and not upcoming and usage + gpus <= up_to and not self._cannot_reclaim(org, gpus):
                decide(job)  # it may reclaim
                continue
            if merge is not None and self._stuck(org, room, usage, up_to, may_preempt):
                self._park(org, usage, up_to)
            else:
                passed[org] = (gpus, end, state)

    def _backfill_closed(self, smallest: int, shortest: float) -> bool:
        """The reserved job leaves no room: every queued job ends after its shadow time and needs
        more than the devices it leaves spare."""
        reservation = self.reservation
        return (
            reservation is not None
            and self.now + shortest > reservation.shadow
            and reservation.extra < smallest
        )

    def _stuck(self, org: str, room: int, usage: int, up_to: int, may_preempt: bool) -> bool:
        """None of the organisation's queued jobs can start now or reclaim, judging by its smallest
        job and its shortest time limit (a job with more GPUs or a later end is worse off)."""
        ledger = self.ledger
        smallest, shortest = self.queue.least_of(org)
        earliest_end = self.now + shortest
        upcoming = (
            ledger.upcoming_hold(org, usage + smallest, earliest_end, self.config.booking_drain_lead_s)
            if ledger.upcoming
            else 0
        )
        reservation = self.reservation
        can_start = smallest <= room - upcoming and not (
            self.blocked
            or (
                reservation is not None and earliest_end > reservation.shadow and smallest > reservation.extra
            )
        )
        if can_start:
            return False
        return (
            not may_preempt or upcoming > 0 or usage + smallest > up_to or self._cannot_reclaim(org, smallest)
        )

    def _decide(self, job: QueuedJob) -> Verdict | None:
        ledger, org, gpus = self.ledger, job.org, job.gpus
        if self.balances is not None:  # inline: this runs for every queued job in every cycle
            left = self.balance_left.get(org)
            if left is None:
                left = self._balance(org)
            needed = gpus * job.time_limit_s
            floor = self.config.min_balance_s
            if floor is not None and floor < needed:
                needed = floor
            if left < needed:
                return self._balance_short(left, needed)
        usage = ledger.org_used.get(org, 0)
        limit, reclaim_up_to = ledger.limits.get(org) or ledger.terms(org)
        if usage + gpus > limit and limit < ledger.capacity:  # else capacity is what stops it
            return WaitReason.QUOTA_FULL, {"flavour": ledger.name, "used": usage, "limit": limit}
        ahead = self.competing
        self.competing = ahead + 1
        end = self.now + job.time_limit_s
        room = ledger.capacity - ledger.used - ledger.protect_total + ledger.protect.get(org, 0)
        if ledger.upcoming:
            upcoming = ledger.upcoming_hold(org, usage + gpus, end, self.config.booking_drain_lead_s)
            room -= upcoming
        else:
            upcoming = 0
        if gpus <= room:
            if self.blocked or (self.reservation is not None and not self.reservation.allows(gpus, end)):
                return WaitReason.BEHIND_JOBS, {"ahead": ahead}
            self._admit(job, end)
            return None
        # A job that others' upcoming windows would hold back does not reclaim: borrowers whose jobs
        # end before the window could take the room again, and preemption would go round in circles.
        if not upcoming and usage + gpus <= reclaim_up_to and (self.reclaims or ledger.booked):
            reclaimed = self._try_reclaim(job, usage)
            if reclaimed is not None:
                return WaitReason.RECLAIMING, {"flavour": ledger.name, "preempting": reclaimed}
        if not self.held_line:
            self._hold_line(job, room)
        return self._capacity_wait(job, room, upcoming, ahead)

    def _balance(self, org: str) -> float:
        left = self.balance_left.get(org)
        if left is None:
            balances = self.balances or {}
            name = self.flavour.name
            left = balances.get((org, name), 0.0) - self.running.committed(org, name, self.now)
            self.balance_left[org] = left
        return left

    def _needed(self, job: QueuedJob) -> float:
        needed = job.gpus * job.time_limit_s
        floor = self.config.min_balance_s
        return floor if floor is not None and floor < needed else needed

    @staticmethod
    def _balance_short(left: float, needed: float) -> Verdict:
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

    def _cannot_reclaim(self, org: str, gpus: int) -> bool:
        """A reclaim of at most these GPUs already failed for the organisation, nothing changed since."""
        failed = self.reclaim_failed.get(org)
        return failed is not None and failed[0] == self.ledger.version and gpus >= failed[1]

    def _try_reclaim(self, job: QueuedJob, usage: int) -> int | None:
        """Preempt for a job within its organisation's guarantee or open window; the GPUs it waits for."""
        ledger, org, gpus = self.ledger, job.org, job.gpus
        if self._cannot_reclaim(org, gpus):
            return None
        outcome = None
        taken, newest_first = self.taken, self._newest_first
        before = self._reach() if self.merge is not None else None
        if (
            self.reclaims
            and (ledger.borrowing or ledger.stopping_free)
            and usage + gpus <= ledger.guaranteed.get(org, 0)
        ):
            outcome = ledger.reclaim(org, gpus, newest_first(), taken, ledger.is_borrowing)
        if outcome is None and ledger.booked and usage + gpus <= ledger.booked.get(org, 0):
            outcome = ledger.reclaim(org, gpus, newest_first(), taken, ledger.outside_booking)
        if outcome is None:
            self.reclaim_failed[org] = (ledger.version, gpus)
            return None
        victims, from_stopping = outcome
        for victim in victims:
            self.taken.add(victim.id)
            self.preempted.append(victim.id)

        self.consumed += gpus
        self.reclaimers.append(job)
        if self.merge is not None and before is not None:
            self._resume_after_reclaim(before, victims)
        return sum(v.gpus for v in victims) or from_stopping

    def _reach(self) -> tuple[int, int, list[int]]:
        """What bounds every organisation's chances but its own usage and lock: the devices nobody
        protects, the unclaimed stopping devices, and the locks of organisations with windows ahead."""
        ledger = self.ledger
        protect = ledger.protect
        return (
            ledger.capacity - ledger.used - ledger.protect_total,
            ledger.stopping_free,
            [protect.get(w.org, 0) for w in ledger.upcoming],
        )

    def _park(self, org: str, usage: int, up_to: int) -> None:
        """Park a stuck organisation, noting what would bring it back (see _resume_after_reclaim)."""
        assert self.merge is not None
        self.merge.park(org)
        smallest = self.queue.smallest_of(org)
        if usage + smallest <= up_to:
            self.parked_reclaimers.add(org)
        else:  # its room must reach its smallest job; its lock stays put while it is parked
            heappush(self.parked_needs, (smallest - self.ledger.protect.get(org, 0), org))

    def _resume_after_reclaim(self, before: tuple[int, int, list[int]], victims: list[RunningJob]) -> None:
        """Bring back the parked organisations a reclaim may have helped.

        The victims' organisations use less: they may start or reclaim now; so may organisations with
        an open window, which may preempt anyone outside theirs (the reclaimer may now be). Any other
        one's room is ``unprotected + its own lock``; its usage and lock did not change, and the
        borrowers it could preempt only got fewer. So it stays stuck unless a lock that counts against
        a window ahead changed (all come back), or the unprotected or unclaimed stopping devices grew
        and it may still reclaim (its smallest job stays within what it may preempt for), or the
        unprotected devices grew to its smallest job's need."""
        merge, ledger = self.merge, self.ledger
        assert merge is not None
        unprotected, stopping, upcoming = self._reach()
        if upcoming != before[2]:
            merge.resume()
            self.parked_reclaimers.clear()
            self.parked_needs.clear()
            return
        helped = {v.org for v in victims}
        helped.update(ledger.booked)
        grew = unprotected > before[0]
        if grew or stopping > before[1]:
            helped |= self.parked_reclaimers
            self.parked_reclaimers.clear()
        needs = self.parked_needs
        while grew and needs and needs[0][0] <= unprotected:
            helped.add(heappop(needs)[1])
        merge.resume(helped)

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
        self.held_line = True
        if not self.config.backfill or self.fifo:
            self.blocked = True
            return
        name, running = self.flavour.name, self.running
        excluded: Container[str] = self.taken
        if running.stopping(name):  # their devices are counted in stopping_free already
            excluded = self.taken | {j.id for j in running.newest_first(name) if j.stopping}
        free += self.ledger.stopping_free
        ends = running.ends(name)
        self.reservation = reserve(self.now, free, job.gpus, ends, sorted(self.admitted_ends), excluded)

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
        """Could a job still cause preemptions (and so change what is free)? Only an organisation
        with queued jobs below its guarantee (or its open window) can, and only if someone borrows
        (or stopping devices are unclaimed). Cached until usage changes."""
        ledger = self.ledger
        known = self.preempt_possible
        if known is not None and known[0] == ledger.version:
            return known[1]
        possible = False
        if ledger.booked or (self.reclaims and (ledger.borrowing or ledger.stopping_free)):
            usage, queued = ledger.org_used, self.queue.demand
            possible = any(usage.get(org, 0) < gpus for org, gpus in ledger.booked.items() if org in queued)
            if not possible and self.reclaims and (ledger.borrowing or ledger.stopping_free):
                guaranteed = ledger.guaranteed
                for org in queued:
                    if usage.get(org, 0) < guaranteed.get(org, 0):
                        possible = True
                        break
        self.preempt_possible = (ledger.version, possible)
        return possible


def settled(
    flavour: FlavourCapacity,
    quotas: Mapping[str, OrgQuota],
    running: RunningIndex,
    queue: FlavourQueue,
    bookings: Sequence[BookingWindow],
    now: float,
    reclaims: bool,
) -> bool:
    """Nothing can start on the flavour and nothing can be preempted for: the state in which a walk
    without explanations stops before its first job (the flavour is full, and ``_may_preempt`` is
    false on the initial ledger). Checked before building a ledger, it lets a cycle pass over a full
    flavour in O(organisations)."""
    name = flavour.name
    if flavour.capacity - running.used(name) >= queue.smallest():
        return False
    usage, queued = running.org_used(name), queue.demand
    booked: dict[str, int] = {}
    for window in bookings:
        if window.flavour == name and window.starts_at <= now < window.ends_at and window.gpus > 0:
            booked[window.org] = booked.get(window.org, 0) + window.gpus
    if any(usage.get(org, 0) < gpus for org, gpus in booked.items() if org in queued):
        return False
    if not reclaims:
        return True

    def guarantee(org: str) -> int:
        quota = quotas.get(org)
        return quota.guaranteed if quota is not None else 0

    borrowing = running.stopping(name) > 0 or any(
        used > guarantee(org) and used > booked.get(org, 0) for org, used in usage.items() if used
    )
    return not (borrowing and any(usage.get(org, 0) < guarantee(org) for org in queued))
