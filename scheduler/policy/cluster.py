"""What an admission cycle sees and what it decides: plain data shared by the live loop and the simulator.

Times are seconds on one clock (epoch seconds in the live loop, virtual seconds in the simulator).
GPU counts are whole devices; a job's ``gpus`` is GPUs per worker × workers, admitted all at once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum


class WaitReason(StrEnum):
    """Why a queued job is not admitted; each has a message ``job.reason.<value>`` in zh and en."""

    NO_BALANCE = "no_balance"  # the organisation's GPU-hours do not cover the time limit (or minimum)
    QUOTA_FULL = "quota_full"  # the organisation uses its guarantee plus borrowing limit on the flavour
    WAITING_FOR_CAPACITY = "waiting_for_capacity"  # the flavour has too few free devices
    BOOKED_WINDOW = "booked_window"  # free devices are held for another organisation's booking
    BEHIND_JOBS = "behind_jobs"  # jobs ahead in line (fair share, priority) come first
    RECLAIMING = "reclaiming"  # borrowers are being preempted to give back this organisation's guarantee


@dataclass(frozen=True, slots=True)
class FlavourCapacity:
    name: str
    capacity: int


@dataclass(frozen=True, slots=True)
class OrgQuota:
    """Concurrency quota of an organisation on a flavour: it may run ``guaranteed + borrow_limit`` GPUs;
    of its guarantee, at most ``lend_limit`` idle GPUs may be lent to others."""

    org: str
    flavour: str
    guaranteed: int
    borrow_limit: int
    lend_limit: int


@dataclass(frozen=True, slots=True)
class BookingWindow:
    org: str
    flavour: str
    gpus: int
    starts_at: float
    ends_at: float


@dataclass(frozen=True, slots=True)
class QueuedJob:
    id: str
    org: str
    flavour: str
    gpus: int
    time_limit_s: float
    priority: int = 0  # within the organisation; higher first
    queued_at: float = 0.0  # first submission; a preempted job keeps it, and with it its place in line
    preemptible: bool = True


@dataclass(frozen=True, slots=True)
class RunningJob:
    id: str
    org: str
    flavour: str
    gpus: int
    started_at: float  # start of the current run
    time_limit_s: float
    preemptible: bool = True
    # Preemption already asked for: the job still holds its devices until it stops, is not chosen again,
    # and its devices go to the job that reclaims them (added for the live loop; default keeps old callers).
    stopping: bool = False


@dataclass(frozen=True)
class ClusterSnapshot:
    """``running`` may be a plain sequence or a ``RunningIndex`` (policy/running.py): a caller that keeps
    one up to date between cycles (the simulator) saves the cycle from re-indexing every running job."""

    now: float
    flavours: Sequence[FlavourCapacity]
    quotas: Sequence[OrgQuota]
    bookings: Sequence[BookingWindow]  # confirmed bookings that have not ended
    running: Sequence[RunningJob]  # admitted, starting and running jobs: they hold their devices
    queued: Sequence[QueuedJob]
    # GPU-seconds each organisation may still spend on a flavour (its flavour-specific plus its
    # any-flavour allocations), before what running jobs may still use; None: balances not enforced.
    balances: Mapping[tuple[str, str], float] | None = None
    # Decayed past use per organisation in GPU-seconds (half-life applied by the caller).
    decayed_usage: Mapping[str, float] = field(default_factory=dict)
    # Typical fraction of the time limit that finished jobs used, per flavour (from history), for the
    # optimistic end of ETA ranges; 1.0 where there is no history.
    runtime_ratio: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class AdmissionConfig:
    policy: str = "fair"  # "fair" (ours) or "fifo" (the baseline)
    # An organisation without a quota row on a flavour: nothing guaranteed, this much borrowing
    # (None: up to the flavour's capacity), so that a platform with no quotas configured still runs jobs.
    default_borrow_limit: int | None = None
    # Balance needed to admit: the job's whole time limit, or at least this many GPU-seconds if set.
    min_balance_s: float | None = None
    backfill: bool = True
    reclaim: bool = True  # used only with backfill (strict order keeps no lock for owners; walk.py)
    # How long before a booking window starts other organisations' jobs must be able to end by it.
    booking_drain_lead_s: float = 0.0
    # ETA ranges are computed for at most this many queued jobs per flavour (the rest: position only).
    eta_horizon_jobs: int = 1000
    # Fair share weighs past use against current use: an organisation's standing is its running GPUs
    # plus decayed_usage / usage_horizon_s (GPU-seconds → GPUs averaged over this horizon); see fairshare.py.
    usage_horizon_s: float = 86_400.0
    # False: admit and preempt exactly as with True, but leave ``waiting`` empty and stop looking at a
    # flavour once nothing more can start there (the simulator's fast path; explanations cost O(queue)).
    explain: bool = True


@dataclass(frozen=True, slots=True)
class Wait:
    """The explanation a queued job carries until the next cycle."""

    reason: WaitReason
    params: Mapping[str, int | str] = field(default_factory=dict)  # message placeholders, e.g. {"ahead": 3}
    org_position: int = 0  # 1-based place among the organisation's queued jobs on the flavour
    flavour_position: int = 0  # 1-based place in the flavour's queue in the order the policy serves it
    eta_earliest: float | None = None  # absolute times on the snapshot's clock; None: unknown
    eta_latest: float | None = None


@dataclass(frozen=True)
class CycleResult:
    admit: list[str]  # job ids to move QUEUED → ADMITTED, in admission order
    preempt: list[str]  # running job ids to stop (whole jobs) to reclaim guarantees or clear a booking
    waiting: dict[str, Wait]  # every queued job not admitted
