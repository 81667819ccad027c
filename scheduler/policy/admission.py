"""One admission cycle: which queued jobs start, which running jobs are preempted, why the others wait.

``plan_cycle`` is pure and deterministic: no I/O, no clock (``snapshot.now`` is the time), ties broken
by ``queued_at`` then ``id``. The live reconcile loop and the simulator call it alike.

Per flavour, jobs are taken in policy order (fairshare.py) and each is, in turn (walk.py):

1. refused for **balance** if the organisation's GPU-seconds on the flavour, minus what its running
   jobs (and jobs admitted earlier in the cycle) may still use, do not cover gpus × time limit (or
   ``min_balance_s`` if that is set and smaller);
2. refused for **quota** if it would take the organisation above guarantee + borrowing limit (no
   quota row: nothing guaranteed, ``default_borrow_limit``; an open booking raises the limit to the
   booked GPUs). Jobs refused for balance or quota never hold others up;
3. **admitted** if all its GPUs fit now (gang) in what its organisation may use (capacity.py), also
   counting the windows of other organisations' bookings that open before it would end (plus the
   drain lead), and no job ahead in line holds a reservation it would delay (backfill.py; without
   backfill, and under FIFO, nothing overtakes the first job blocked by capacity);
4. otherwise, if it fits within its organisation's guarantee (or its open booking window) but not in
   free capacity, **borrowers are preempted** for it, newest started first, whole jobs, just enough,
   and it waits with RECLAIMING; a borrowing job never causes a preemption;
5. otherwise it waits: BOOKED_WINDOW (others' windows hold what it needs), BEHIND_JOBS (it would have
   fit but jobs ahead took the devices), WAITING_FOR_CAPACITY.

Then every waiting job gets its positions and, for the first ``eta_horizon_jobs`` of each flavour, an
ETA range (explain.py, eta.py). FIFO: arrival order, no backfill, no reclaim; bookings are honoured
all the same.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence

from .cluster import AdmissionConfig, ClusterSnapshot, CycleResult, OrgQuota, QueuedJob, Wait
from .explain import explain_flavour, explain_unknown_flavour
from .fairshare import FairMerge, fair_order, weights
from .queue import FlavourQueue, as_queue_index
from .running import RunningIndex, as_index
from .walk import FlavourWalk, settled

POLICIES = ("fair", "fifo")
Ordering = Callable[[FlavourQueue], Iterator[QueuedJob]]


def plan_cycle(snapshot: ClusterSnapshot, config: AdmissionConfig = AdmissionConfig()) -> CycleResult:
    if config.policy not in POLICIES:
        raise ValueError(f"unknown admission policy {config.policy!r} (one of {', '.join(POLICIES)})")
    fifo = config.policy == "fifo"
    running = as_index(snapshot.running)
    queues = as_queue_index(snapshot.queued).flavours()
    quotas, weight = _quota_tables(snapshot.quotas)
    order: Ordering = FlavourQueue.arrival_order if fifo else _fair(snapshot, config, running, weight)
    admitted: list[str] = []
    preempted: list[str] = []
    taken: set[str] = set()  # running jobs chosen for preemption in this cycle
    waiting: dict[str, Wait] = {}
    bookings, now = snapshot.bookings or (), snapshot.now
    for flavour in sorted(snapshot.flavours, key=lambda f: f.name):
        queue = queues.get(flavour.name)
        if not queue:
            continue
        flavour_quotas = quotas.get(flavour.name, {})
        reclaims = config.reclaim and not fifo
        if not config.explain and settled(flavour, flavour_quotas, running, queue, bookings, now, reclaims):
            continue
        walk = FlavourWalk(snapshot, config, fifo, flavour, flavour_quotas, running, taken, queue)
        walk.run(order(queue))
        admitted += walk.admitted
        preempted += walk.preempted
        if config.explain:
            explain_flavour(walk, waiting)
    if config.explain:
        known = {f.name for f in snapshot.flavours}
        for name in sorted(set(queues) - known):  # flavours the cluster does not have
            explain_unknown_flavour(name, list(queues[name].arrival_order()), waiting)
    return CycleResult(admit=admitted, preempt=preempted, waiting=waiting)


QuotaTables = tuple[dict[str, dict[str, OrgQuota]], dict[str, float]]
_last_tables: tuple[tuple[OrgQuota, ...], QuotaTables] | None = None


def _quota_tables(quotas: Sequence[OrgQuota]) -> QuotaTables:
    """Quotas per flavour and organisation, and fair-share weights. A caller that passes the same
    tuple every cycle (the simulator) gets them built once: a tuple of frozen quotas cannot change."""
    global _last_tables
    if _last_tables is not None and _last_tables[0] is quotas:
        return _last_tables[1]
    by_flavour: dict[str, dict[str, OrgQuota]] = {}
    for quota in quotas:
        by_flavour.setdefault(quota.flavour, {})[quota.org] = quota
    tables = (by_flavour, weights(quotas))
    if isinstance(quotas, tuple):
        _last_tables = (quotas, tables)
    return tables


def _fair(
    snapshot: ClusterSnapshot, config: AdmissionConfig, running: RunningIndex, weight: Mapping[str, float]
) -> Ordering:
    usage: Mapping[str, float] = snapshot.decayed_usage
    horizon = config.usage_horizon_s

    def standing(org: str) -> float:
        return running.org_total(org) + usage.get(org, 0.0) / horizon

    def order(queue: FlavourQueue) -> Iterator[QueuedJob]:
        if config.explain:  # every job will be looked at
            return iter(fair_order(queue, standing, weight, usage))
        return FairMerge(queue, standing, weight, usage)

    return order
