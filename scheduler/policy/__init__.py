"""Pure decision logic of the scheduler: no database, no clock of its own, no I/O.

* ``quota``: charging rules, allocation state, debit order and split, booking capacity.
* ``admission`` and its helpers: which queued jobs start, which running jobs are preempted and why
  the others wait. The live reconcile loop and the simulator call the same functions.
"""

from .admission import plan_cycle
from .quota import (
    CHARGED_OUTCOMES,
    Outcome,
    Voucher,
    Window,
    allocation_state,
    booking_fits,
    debit_order,
    free_steps,
    gpu_seconds,
    guarantees_fit,
    hours_to_seconds,
    is_charged,
    peak_reserved,
    quota_error,
    reserved_steps,
    serves,
    split_debit,
)

__all__ = [
    "CHARGED_OUTCOMES",
    "Outcome",
    "Voucher",
    "Window",
    "allocation_state",
    "booking_fits",
    "debit_order",
    "free_steps",
    "gpu_seconds",
    "guarantees_fit",
    "hours_to_seconds",
    "is_charged",
    "peak_reserved",
    "plan_cycle",
    "quota_error",
    "reserved_steps",
    "serves",
    "split_debit",
]
