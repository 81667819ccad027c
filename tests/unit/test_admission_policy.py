"""The admission policy, one rule per test: capacity and gang, quotas, balances, bookings, fair share,
priority, backfill, reclaim, reasons, positions, ETAs and the FIFO baseline (invariants and the fast
path: test_admission_invariants.py)."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import replace

import pytest

from aicommons.scheduler.policy.cluster import (
    BookingWindow,
    ClusterSnapshot,
    FlavourCapacity,
    QueuedJob,
    RunningJob,
    WaitReason,
)
from tests.unit.admission_builders import NOW, order, plan, q, quota, r, snap

pytestmark = pytest.mark.unit


# --- capacity and gang --------------------------------------------------------------------------


def test_jobs_are_admitted_while_their_gpus_fit() -> None:
    result = plan(snap(8, [q("j1", gpus=3, at=1), q("j2", gpus=3, at=2), q("j3", gpus=3, at=3)]))
    assert result.admit == ["j1", "j2"]
    assert result.waiting["j3"].reason is WaitReason.BEHIND_JOBS


def test_a_gang_job_is_admitted_whole_or_not_at_all() -> None:
    result = plan(snap(4, [q("j", gpus=2)], running=[r("r", gpus=3)]))
    assert result.admit == []
    wait = result.waiting["j"]
    assert wait.reason is WaitReason.WAITING_FOR_CAPACITY
    assert wait.params == {"flavour": "f", "free": 1, "gpus": 2}


# --- quotas -------------------------------------------------------------------------------------


def test_quota_allows_guarantee_plus_borrowing_and_no_more() -> None:
    jobs = [q("a1", gpus=2, at=1), q("a2", gpus=2, at=2), q("a3", gpus=1, at=3)]
    result = plan(snap(8, jobs, quotas=[quota("a", 2, borrow=1)]))
    assert result.admit == ["a1", "a3"]  # a3 is not held up by a2, refused for quota
    assert result.waiting["a2"].reason is WaitReason.QUOTA_FULL
    assert result.waiting["a2"].params == {"flavour": "f", "used": 2, "limit": 3}


def test_idle_guarantee_above_the_lending_limit_is_out_of_borrowers_reach() -> None:
    locked = snap(8, [q("x1", org="x", gpus=5)], quotas=[quota("b", 6, lend=2)])
    assert plan(locked).admit == []
    assert plan(locked).waiting["x1"].params == {"flavour": "f", "free": 4, "gpus": 5}
    lendable = snap(8, [q("x1", org="x", gpus=5)], quotas=[quota("b", 6, lend=6)])
    assert plan(lendable).admit == ["x1"]


def test_lending_limit_applies_to_the_idle_part_of_a_partly_used_guarantee() -> None:
    # b uses 3 of 6 guaranteed; of the 3 idle at most 2 may be lent: 1 stays locked.
    s = snap(8, [q("x1", org="x", gpus=4), q("x2", org="x", gpus=1, at=1)], running=[r("b1", "b", 3)])
    s = replace(s, quotas=[quota("b", 6, lend=2)])
    result = plan(s)
    assert result.admit == ["x1"]
    assert result.waiting["x2"].reason is WaitReason.BEHIND_JOBS


def test_an_organisation_without_quota_gets_the_default_borrowing_limit() -> None:
    jobs = [q("j1", gpus=2, at=1), q("j2", gpus=1, at=2)]
    assert plan(snap(8, jobs)).admit == ["j1", "j2"]  # default: up to capacity
    limited = plan(snap(8, jobs), default_borrow_limit=2)
    assert limited.admit == ["j1"]
    assert limited.waiting["j2"].params == {"flavour": "f", "used": 2, "limit": 2}


# --- balances -----------------------------------------------------------------------------------


def test_balance_must_cover_the_time_limit_after_running_jobs() -> None:
    running = [r("a0", "a", 1, started=NOW - 1800, tl=3600)]  # may still use 1,800 GPU-seconds
    jobs = [q("a1", tl=3600, at=1), q("a2", tl=3600, at=2)]
    result = plan(snap(8, jobs, running, balances={("a", "f"): 1800 + 3600 + 1800}))
    assert result.admit == ["a1"]
    assert result.waiting["a2"].reason is WaitReason.NO_BALANCE
    assert result.waiting["a2"].params == {"needed_hours": "1.0", "balance_hours": "0.5"}
    assert result.waiting["a2"].eta_latest is None


def test_minimum_balance_replaces_a_larger_requirement() -> None:
    s = snap(8, [q("a1", gpus=4, tl=3600)], balances={("a", "f"): 3600})
    assert plan(s).admit == []
    assert plan(s, min_balance_s=1800).admit == ["a1"]
    assert plan(s, min_balance_s=7200).admit == []


def test_a_missing_balance_blocks_only_its_organisation() -> None:
    s = snap(8, [q("a1", at=1), q("b1", org="b", at=2)], balances={("b", "f"): 3600})
    result = plan(s)
    assert result.admit == ["b1"]
    assert result.waiting["a1"].params == {"needed_hours": "1.0", "balance_hours": "0.0"}


# --- bookings -----------------------------------------------------------------------------------


def test_an_open_window_holds_its_unused_gpus_from_other_organisations() -> None:
    window = BookingWindow("b", "f", 6, NOW - 10, NOW + 10_000)
    s = snap(8, [q("a1", gpus=3, at=1), q("a2", gpus=2, at=2)], running=[r("b1", "b", 4)], bookings=[window])
    result = plan(s)
    assert result.admit == ["a2"]  # 8 - 4 used - 2 still held = 2
    assert result.waiting["a1"].reason is WaitReason.BOOKED_WINDOW
    assert result.waiting["a1"].params == {"flavour": "f", "held": 2}


def test_before_a_window_only_jobs_that_end_in_time_or_fit_beside_it_start() -> None:
    window = BookingWindow("b", "f", 6, NOW + 1000, NOW + 5000)
    short, long = q("short", gpus=4, tl=500, at=1), q("long", gpus=4, tl=2000, at=2)
    beside = q("beside", org="c", gpus=2, tl=2000, at=0.5)  # fits with the 6 held: 2 + 6 <= 8
    assert plan(snap(8, [short, long, beside], bookings=[window])).admit == ["beside", "short"]
    alone = plan(snap(8, [long], bookings=[window]))
    assert alone.admit == []  # it would still run when the window opens, and 4 + 6 > 8
    assert alone.waiting["long"].reason is WaitReason.BOOKED_WINDOW
    assert alone.waiting["long"].params == {"flavour": "f", "held": 6}
    drained = plan(snap(8, [short], bookings=[window]), booking_drain_lead_s=600)
    assert drained.admit == []  # ends at +500, after the drain point at +400
    own = plan(snap(8, [q("b1", org="b", gpus=4, tl=2000)], bookings=[window]))
    assert own.admit == ["b1"]


def test_a_window_holds_only_its_own_flavour() -> None:
    windows = [
        BookingWindow("b", "g", 8, NOW - 10, NOW + 10_000),
        BookingWindow("b", "g", 8, NOW + 10, NOW + 99),
    ]
    s = replace(
        snap(8, [q("a1", gpus=8, tl=5000)], bookings=windows),
        flavours=[FlavourCapacity("f", 8), FlavourCapacity("g", 8)],
    )
    assert plan(s).admit == ["a1"]


def test_an_open_window_preempts_other_organisations_newest_first() -> None:
    window = BookingWindow("b", "f", 6, NOW - 10, NOW + 10_000)
    running = [
        r("a10", "a", 2, started=10),
        r("a20", "a", 2, started=20),
        r("a30", "a", 2, started=30),
        r("a40", "a", 1, started=40, preemptible=False),
    ]
    result = plan(snap(8, [q("b1", org="b", gpus=6)], running, bookings=[window]))
    assert result.preempt == ["a30", "a20", "a10"]  # a40 may not be preempted
    assert result.waiting["b1"].reason is WaitReason.RECLAIMING
    assert result.waiting["b1"].params == {"flavour": "f", "preempting": 6}


# --- fair share and priority --------------------------------------------------------------------


def _full(capacity: int = 4) -> RunningJob:
    return r("hog", "hog", capacity, preemptible=False)


def test_fair_share_serves_organisations_by_weight() -> None:
    jobs = [q(f"b{i}", org="b", at=i) for i in range(1, 5)] + [
        q(f"a{i}", org="a", at=10 + i) for i in range(1, 5)
    ]
    s = snap(4, jobs, running=[_full()], quotas=[quota("a", 3, lend=3), quota("b", 1, lend=1)])
    # keys: a 0, 1/3, 2/3, 1 ; b 0, 1, 2, 3 ; ties by queued_at
    assert order(plan(s)) == ["b1", "a1", "a2", "a3", "b2", "a4", "b3", "b4"]
    assert order(plan(s, policy="fifo")) == [f"b{i}" for i in range(1, 5)] + [f"a{i}" for i in range(1, 5)]


def test_running_gpus_count_against_an_organisation() -> None:
    jobs = [q("a1", org="a", at=1), q("b1", org="b", at=2)]
    s = snap(4, jobs, running=[_full(3), r("a0", "a", 1, preemptible=False)])
    assert order(plan(s)) == ["b1", "a1"]


def test_decayed_usage_puts_a_heavy_past_user_behind() -> None:
    jobs = [q("a1", org="a", at=1), q("b1", org="b", at=2)]
    s = snap(4, jobs, running=[_full()], usage={"a": 500.0})
    assert order(plan(s)) == ["b1", "a1"]
    assert order(plan(replace(s, decayed_usage={}))) == ["a1", "b1"]


def test_priority_orders_jobs_within_an_organisation_only() -> None:
    jobs = [q("a1", at=1), q("a2", at=2, prio=5), q("b1", org="b", at=3)]
    result = plan(snap(4, jobs, running=[_full()]))
    assert order(result) == ["a2", "b1", "a1"]
    assert result.waiting["a2"].org_position == 1 and result.waiting["a1"].org_position == 2
    assert order(plan(snap(4, jobs, running=[_full()]), policy="fifo")) == ["a1", "a2", "b1"]


# --- backfill -----------------------------------------------------------------------------------


def _backfill_case(capacity: int, later: Sequence[QueuedJob]) -> ClusterSnapshot:
    running = [r("r", "x", 3, started=NOW - 1000, tl=2000)]  # ends at NOW + 1000
    return snap(capacity, [q("head", gpus=5, at=0), *later], running)


def test_backfill_starts_a_job_that_ends_before_the_shadow_time() -> None:
    s = _backfill_case(5, [q("short", tl=500, at=1), q("long", tl=5000, at=2)])
    result = plan(s)
    assert result.admit == ["short"]
    assert result.waiting["head"].reason is WaitReason.WAITING_FOR_CAPACITY
    assert result.waiting["long"].reason is WaitReason.BEHIND_JOBS  # fits now but would delay head


def test_backfill_may_use_devices_the_reserved_job_will_not_need() -> None:
    s = _backfill_case(6, [q("long1", tl=5000, at=1), q("long2", tl=5000, at=2)])
    result = plan(s)
    assert result.admit == ["long1"]  # at the shadow time 6 are free and head needs 5
    assert result.waiting["long2"].reason is WaitReason.BEHIND_JOBS


def test_without_backfill_nothing_overtakes_the_blocked_job() -> None:
    s = _backfill_case(5, [q("short", tl=500, at=1)])
    assert plan(s, backfill=False).admit == []
    assert plan(s, policy="fifo").admit == []


def test_jobs_refused_for_their_own_quota_do_not_hold_the_line() -> None:
    jobs = [q("big", gpus=3, at=1), q("small", org="b", gpus=1, at=2)]
    result = plan(snap(4, jobs, quotas=[quota("a", 0, borrow=2)]), policy="fifo")
    assert result.admit == ["small"]
    assert result.waiting["big"].reason is WaitReason.QUOTA_FULL


# --- reclaim ------------------------------------------------------------------------------------


def _borrowed() -> list[RunningJob]:
    return [r(f"b{t}", "b", 2, started=t) for t in (10, 20, 30, 40)]


def test_reclaim_preempts_borrowers_newest_first_whole_jobs_just_enough() -> None:
    s = snap(8, [q("a1", gpus=3)], _borrowed(), quotas=[quota("a", 6)])
    result = plan(s)
    assert result.preempt == ["b40", "b30"]
    assert result.admit == []
    assert result.waiting["a1"].reason is WaitReason.RECLAIMING
    assert result.waiting["a1"].params == {"flavour": "f", "preempting": 4}
    following = replace(s, running=_borrowed()[:2])  # the preempted jobs have stopped
    assert plan(following).admit == ["a1"]


def test_reclaim_never_serves_a_borrowing_job() -> None:
    s = snap(8, [q("a1", gpus=7)], _borrowed(), quotas=[quota("a", 6)])
    result = plan(s)
    assert result.preempt == []
    assert result.waiting["a1"].reason is WaitReason.WAITING_FOR_CAPACITY


def test_reclaim_stops_at_the_borrowers_guarantee_and_spares_unpreemptible_jobs() -> None:
    running = [
        r("b10", "b", 2, started=10),
        r("b20", "b", 2, started=20),
        r("b30", "b", 2, started=30, preemptible=False),
        r("b40", "b", 2, started=40),
    ]
    quotas = [quota("a", 6), quota("b", 4, lend=0)]
    assert plan(snap(8, [q("a1", gpus=4)], running, quotas)).preempt == ["b40", "b20"]
    # b borrows 4, of which b30 may not go: b10 is within b's guarantee, so 6 cannot be freed at all
    assert plan(snap(8, [q("a1", gpus=6)], running, quotas)).preempt == []


def test_fifo_never_reclaims() -> None:
    s = snap(8, [q("a1", gpus=3)], _borrowed(), quotas=[quota("a", 6)])
    assert plan(s, policy="fifo").preempt == []
    assert plan(s, reclaim=False).preempt == []
    assert plan(s, backfill=False).preempt == []  # strict order keeps no lock for owners: no reclaim


def test_a_reclaiming_job_counts_on_devices_already_stopping() -> None:
    running = [*_borrowed()[:3], r("b40", "b", 2, started=40, stopping=True)]
    s = snap(8, [q("a1", gpus=2), q("a2", gpus=1, at=1)], running, quotas=[quota("a", 6)])
    result = plan(s)
    assert result.preempt == ["b30"]  # a1 takes the stopping 2; a2 needs one more job
    assert result.waiting["a1"].params == {"flavour": "f", "preempting": 2}
    assert result.waiting["a2"].reason is WaitReason.RECLAIMING


# --- reasons, positions, ETAs -------------------------------------------------------------------


def test_every_waiting_job_has_a_reason_and_positions() -> None:
    jobs = [
        q("a1", gpus=4, at=1),
        q("a2", gpus=6, at=2),
        q("b1", org="b", gpus=2, at=3),
        q("b2", org="b", gpus=1, at=4),
    ]
    result = plan(snap(8, jobs, [r("x", "x", 6)], quotas=[quota("a", 0, borrow=5)]), policy="fifo")
    assert set(result.waiting) == {"a1", "a2", "b1", "b2"}
    assert [result.waiting[j].flavour_position for j in ("a1", "a2", "b1", "b2")] == [1, 2, 3, 4]
    assert [result.waiting[j].org_position for j in ("a1", "a2", "b1", "b2")] == [1, 2, 1, 2]
    assert result.waiting["a1"].reason is WaitReason.WAITING_FOR_CAPACITY
    assert result.waiting["a2"].reason is WaitReason.QUOTA_FULL
    assert result.waiting["b1"].reason is WaitReason.BEHIND_JOBS
    assert result.waiting["b1"].params == {"ahead": 1}


def test_positions_count_only_jobs_still_waiting() -> None:
    result = plan(snap(4, [q("a1", gpus=2, at=1), q("a2", gpus=4, at=2), q("a3", gpus=4, at=3)]))
    assert result.admit == ["a1"]
    assert (result.waiting["a2"].flavour_position, result.waiting["a3"].flavour_position) == (1, 2)


def test_eta_range_from_list_scheduling() -> None:
    running = [r("x", "x", 4, started=NOW - 100, tl=200)]  # ends at NOW + 100; at half: NOW
    jobs = [q("j1", gpus=4, tl=1000, at=1), q("j2", gpus=2, tl=500, at=2)]
    result = plan(snap(4, jobs, running, ratio={"f": 0.5}))
    j1, j2 = result.waiting["j1"], result.waiting["j2"]
    assert (j1.eta_earliest, j1.eta_latest) == (NOW, NOW + 100)
    assert (j2.eta_earliest, j2.eta_latest) == (NOW + 500, NOW + 1100)


def test_eta_earliest_never_after_latest_and_horizon_limits_etas() -> None:
    rng = random.Random(7)
    running = [
        r(f"r{i}", "x", rng.randint(1, 3), started=NOW - rng.randint(0, 900), tl=1000) for i in range(5)
    ]
    jobs = [
        q(f"j{i}", org=rng.choice("abc"), gpus=rng.randint(1, 8), tl=rng.randint(60, 4000), at=i)
        for i in range(40)
    ]
    result = plan(snap(16, jobs, running, ratio={"f": 0.3}), eta_horizon_jobs=25)
    with_eta = [w for w in result.waiting.values() if w.eta_latest is not None]
    assert with_eta and all(w.eta_earliest is not None and w.eta_earliest <= w.eta_latest for w in with_eta)
    assert all(w.flavour_position <= 25 for w in with_eta)
    assert any(w.eta_latest is None and w.flavour_position > 25 for w in result.waiting.values())


def test_jobs_on_an_unknown_flavour_wait_for_capacity() -> None:
    result = plan(snap(8, [q("j", flavour="tpu")]))
    assert result.waiting["j"].params == {"flavour": "tpu", "free": 0, "gpus": 1}
