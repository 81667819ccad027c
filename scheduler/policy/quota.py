"""Pure decision logic of the quota domain: no database, no clock, no I/O.

* Charging rules: which ways a job run can end are charged to the organisation.
* Allocation state: derived from the decision, the validity period, the use and the time.
* Debit order and split: which allocations pay for a charge, and how much each.
* Booking capacity: a sweep over interval endpoints.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class Outcome(StrEnum):
    SUCCEEDED = "succeeded"
    FAILED_USER = "failed_user"
    CANCELLED = "cancelled"
    TIMED_OUT = "timed_out"
    PREEMPTED = "preempted"
    PLATFORM_FAILURE = "platform_failure"
    NODE_LOST = "node_lost"


# The user's code, the user's decision or the user's time limit ended the run: charged.
# The platform ended it (preemption, its own failure, a lost node): not charged.
CHARGED_OUTCOMES = frozenset({Outcome.SUCCEEDED, Outcome.FAILED_USER, Outcome.CANCELLED, Outcome.TIMED_OUT})


def is_charged(outcome: Outcome | str) -> bool:
    return Outcome(outcome) in CHARGED_OUTCOMES


def gpu_seconds(gpus: int, started_at: datetime, ended_at: datetime) -> int:
    """GPU-seconds of an interval, whole seconds (fractions of a second are not charged)."""
    return gpus * max(0, int((ended_at - started_at).total_seconds()))


def hours_to_seconds(gpu_hours: float) -> int:
    return round(gpu_hours * 3600)


# --- allocations -------------------------------------------------------------------------------


def allocation_state(
    status: str,
    valid_from: datetime,
    valid_until: datetime,
    granted: int | None,
    used: int,
    now: datetime,
) -> str:
    """requested | rejected | approved (not yet valid) | active | exhausted | expired."""
    if status != "approved":
        return status
    if granted is not None and used >= granted:
        return "exhausted"
    if now >= valid_until:
        return "expired"
    if now < valid_from:
        return "approved"
    return "active"


@dataclass(frozen=True)
class Voucher:
    """What the debit split needs to know of an allocation."""

    id: str
    flavour_id: str | None
    valid_from: datetime
    valid_until: datetime
    remaining: int


def serves(voucher: Voucher, flavour_id: str | None, at: datetime) -> bool:
    """A voucher pays for use of its flavour (or any flavour if it has none) inside its period."""
    flavour_ok = voucher.flavour_id is None or voucher.flavour_id == flavour_id
    return flavour_ok and voucher.valid_from <= at < voucher.valid_until and voucher.remaining > 0


def debit_order(voucher: Voucher) -> tuple[int, datetime, datetime, str]:
    """Flavour-specific vouchers first (they cannot pay for anything else), any-flavour ones after;
    within each group the earliest-expiring first, then the oldest, then by id for determinism."""
    return (0 if voucher.flavour_id is not None else 1, voucher.valid_until, voucher.valid_from, voucher.id)


def split_debit(
    amount: int, vouchers: Iterable[Voucher], flavour_id: str | None, at: datetime
) -> tuple[list[tuple[str, int]], int]:
    """Spread ``amount`` over the vouchers that serve this use, in debit order.

    Returns the (voucher id, GPU-seconds) parts and the uncovered rest. Never takes more from a
    voucher than it has left, so balances never go negative.
    """
    if amount <= 0:
        raise ValueError("amount must be positive")
    parts: list[tuple[str, int]] = []
    left = amount
    for voucher in sorted((v for v in vouchers if serves(v, flavour_id, at)), key=debit_order):
        if left == 0:
            break
        take = min(left, voucher.remaining)
        parts.append((voucher.id, take))
        left -= take
    return parts, left


# --- quotas ------------------------------------------------------------------------------------


def quota_error(guaranteed: int, borrow_limit: int, lend_limit: int) -> str | None:
    """The code of what is wrong with a quota on its own, or None."""
    if min(guaranteed, borrow_limit, lend_limit) < 0:
        return "quota.negative"
    if lend_limit > guaranteed:
        return "quota.lend_above_guarantee"
    return None


def guarantees_fit(capacity: int, other_guarantees: int, guaranteed: int) -> bool:
    return other_guarantees + guaranteed <= capacity


# --- bookings ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Window:
    starts_at: datetime
    ends_at: datetime
    gpus: int


def reserved_steps(windows: Sequence[Window], start: datetime, end: datetime) -> list[tuple[datetime, int]]:
    """The GPUs reserved by ``windows`` as a step function over [start, end).

    Returns (instant, reserved from this instant on) pairs, starting at ``start``; a sweep over the
    clipped interval endpoints, O(n log n).
    """
    events: dict[datetime, int] = {start: 0}
    for w in windows:
        lo, hi = max(w.starts_at, start), min(w.ends_at, end)
        if lo >= hi:
            continue
        events[lo] = events.get(lo, 0) + w.gpus
        events[hi] = events.get(hi, 0) - w.gpus
    steps: list[tuple[datetime, int]] = []
    level = 0
    for instant in sorted(events):
        if instant >= end:
            break
        level += events[instant]
        steps.append((instant, level))
    return steps


def peak_reserved(windows: Sequence[Window], start: datetime, end: datetime) -> int:
    return max((level for _, level in reserved_steps(windows, start, end)), default=0)


def booking_fits(
    capacity: int, held_back: int, others: Sequence[Window], start: datetime, end: datetime, gpus: int
) -> bool:
    """True if ``gpus`` fit at every instant of [start, end).

    ``held_back`` is what other organisations' guarantees keep out of reach (guaranteed minus
    lending limit); ``others`` are the other live bookings of the flavour.
    """
    if gpus <= 0 or end <= start:
        return False
    return capacity - held_back - peak_reserved(others, start, end) >= gpus


def free_steps(
    capacity: int, held_back: int, windows: Sequence[Window], start: datetime, end: datetime
) -> list[tuple[datetime, int]]:
    """Bookable GPUs over [start, end) as a step function (never below zero)."""
    return [(t, max(0, capacity - held_back - level)) for t, level in reserved_steps(windows, start, end)]
