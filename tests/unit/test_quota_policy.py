"""The pure quota rules: charging, allocation state, debit order and split, quotas, booking sweep."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from aicommons.scheduler import policy
from aicommons.scheduler.policy import Outcome, Voucher, Window

T0 = datetime(2030, 1, 1, tzinfo=UTC)


def h(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


@pytest.mark.parametrize(
    ("outcome", "charged"),
    [
        (Outcome.SUCCEEDED, True),
        (Outcome.FAILED_USER, True),
        (Outcome.CANCELLED, True),
        (Outcome.TIMED_OUT, True),
        (Outcome.PREEMPTED, False),
        (Outcome.PLATFORM_FAILURE, False),
        (Outcome.NODE_LOST, False),
    ],
)
def test_charging_rule_per_outcome(outcome: Outcome, charged: bool) -> None:
    assert policy.is_charged(outcome) is charged
    assert policy.is_charged(outcome.value) is charged


def test_every_outcome_has_a_rule() -> None:
    assert {o for o in Outcome} == policy.CHARGED_OUTCOMES | {
        Outcome.PREEMPTED,
        Outcome.PLATFORM_FAILURE,
        Outcome.NODE_LOST,
    }
    with pytest.raises(ValueError):
        policy.is_charged("vanished")


def test_gpu_seconds_are_whole_seconds_times_gpus() -> None:
    assert policy.gpu_seconds(4, h(0), h(1.5)) == 4 * 5400
    assert policy.gpu_seconds(2, h(0), h(0) + timedelta(seconds=1.9)) == 2
    assert policy.gpu_seconds(2, h(1), h(0)) == 0
    assert policy.hours_to_seconds(1.5) == 5400


@pytest.mark.parametrize(
    ("status", "used", "now", "state"),
    [
        ("requested", 0, h(1), "requested"),
        ("rejected", 0, h(1), "rejected"),
        ("approved", 0, h(-1), "approved"),
        ("approved", 0, h(1), "active"),
        ("approved", 100, h(1), "exhausted"),
        ("approved", 10, h(10), "expired"),
        ("approved", 100, h(10), "exhausted"),
    ],
)
def test_allocation_state_is_derived(status: str, used: int, now: datetime, state: str) -> None:
    assert policy.allocation_state(status, h(0), h(10), 100, used, now) == state


def test_split_takes_earliest_expiring_first_and_spills_over() -> None:
    vouchers = [Voucher("late", "h100", h(0), h(30), 100), Voucher("soon", "h100", h(0), h(10), 50)]
    assert policy.split_debit(120, vouchers, "h100", h(1)) == ([("soon", 50), ("late", 70)], 0)


def test_flavour_specific_vouchers_pay_before_any_flavour_ones() -> None:
    vouchers = [Voucher("any", None, h(0), h(5), 100), Voucher("h100", "h100", h(0), h(50), 100)]
    assert policy.split_debit(150, vouchers, "h100", h(1)) == ([("h100", 100), ("any", 50)], 0)
    # another flavour: only the any-flavour voucher serves
    assert policy.split_debit(150, vouchers, "a100", h(1)) == ([("any", 100)], 50)


def test_vouchers_outside_their_period_or_empty_do_not_pay() -> None:
    vouchers = [
        Voucher("future", "h100", h(5), h(9), 100),
        Voucher("past", "h100", h(-9), h(0), 100),
        Voucher("empty", "h100", h(0), h(9), 0),
    ]
    assert policy.split_debit(10, vouchers, "h100", h(1)) == ([], 10)
    with pytest.raises(ValueError):
        policy.split_debit(0, vouchers, "h100", h(1))


def test_split_never_takes_more_than_left() -> None:
    parts, uncovered = policy.split_debit(1000, [Voucher("a", None, h(0), h(9), 300)], "x", h(1))
    assert parts == [("a", 300)] and uncovered == 700


@pytest.mark.parametrize(
    ("numbers", "error"),
    [((4, 2, 2), None), ((4, 0, 5), "quota.lend_above_guarantee"), ((-1, 0, 0), "quota.negative")],
)
def test_quota_numbers(numbers: tuple[int, int, int], error: str | None) -> None:
    assert policy.quota_error(*numbers) == error


def test_guarantees_must_fit_capacity() -> None:
    assert policy.guarantees_fit(8, 4, 4)
    assert not policy.guarantees_fit(8, 4, 5)


def test_sweep_finds_the_peak_only_where_windows_overlap() -> None:
    windows = [Window(h(0), h(4), 3), Window(h(2), h(6), 4), Window(h(5), h(8), 2)]
    assert policy.peak_reserved(windows, h(0), h(10)) == 7
    assert policy.peak_reserved(windows, h(4), h(5)) == 4
    assert policy.peak_reserved(windows, h(8), h(10)) == 0
    assert policy.reserved_steps(windows, h(0), h(10)) == [
        (h(0), 3),
        (h(2), 7),
        (h(4), 4),
        (h(5), 6),
        (h(6), 2),
        (h(8), 0),
    ]


def test_touching_windows_do_not_overlap() -> None:
    windows = [Window(h(0), h(2), 8)]
    assert policy.booking_fits(8, 0, windows, h(2), h(4), 8)
    assert not policy.booking_fits(8, 0, windows, h(1), h(3), 1)


def test_booking_fits_counts_held_back_guarantees() -> None:
    assert policy.booking_fits(8, 3, [], h(0), h(1), 5)
    assert not policy.booking_fits(8, 3, [], h(0), h(1), 6)
    assert not policy.booking_fits(8, 0, [], h(1), h(1), 1)
    assert not policy.booking_fits(8, 0, [], h(0), h(1), 0)


def test_free_steps_never_go_below_zero() -> None:
    assert policy.free_steps(4, 2, [Window(h(1), h(2), 3)], h(0), h(3)) == [(h(0), 2), (h(1), 0), (h(2), 2)]
