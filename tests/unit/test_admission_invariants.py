"""Invariants of the admission cycle: explanations never change decisions, input order does not
matter, capacity and quota are never exceeded, the indexes kept up to date match ones built at once,
and the fast path decides like the full walk."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import pytest

from aicommons.scheduler.policy.cluster import (
    BookingWindow,
    ClusterSnapshot,
    QueuedJob,
    Wait,
    WaitReason,
)
from aicommons.scheduler.policy.explain import new_wait
from aicommons.scheduler.policy.queue import QueueIndex
from aicommons.scheduler.policy.running import RunningIndex
from tests.unit.admission_builders import NOW, plan, q, quota, r, snap

pytestmark = pytest.mark.unit


# --- determinism and the fast path --------------------------------------------------------------


def _random_snapshot(seed: int) -> ClusterSnapshot:
    rng = random.Random(seed)
    orgs = "abcdef"
    quotas = [quota(o, rng.randint(0, 6), borrow=rng.randint(0, 20), lend=None) for o in orgs[:4]]
    quotas = [replace(x, lend_limit=rng.randint(0, x.guaranteed)) for x in quotas]
    running = [
        r(
            f"r{i}",
            rng.choice(orgs),
            rng.choice((1, 1, 2, 4)),
            NOW - rng.randint(0, 5000),
            rng.randint(600, 9000),
        )
        for i in range(rng.randint(0, 12))
    ]
    used, kept = 0, []
    for job in running:
        if used + job.gpus <= 24:
            used += job.gpus
            kept.append(replace(job, preemptible=rng.random() < 0.8))
    jobs = [
        q(
            f"q{i}",
            rng.choice(orgs),
            rng.choice((1, 1, 2, 4, 8)),
            rng.randint(60, 9000),
            rng.randint(0, 999),
            rng.randint(0, 2),
        )
        for i in range(rng.randint(1, 60))
    ]
    bookings = (
        [BookingWindow("e", "f", 4, NOW + rng.randint(-3000, 3000), NOW + 6000)] if rng.random() < 0.5 else []
    )
    balances = {(o, "f"): rng.randint(0, 20) * 3600.0 for o in orgs} if rng.random() < 0.5 else None
    return snap(24, jobs, kept, quotas, bookings, balances, {o: rng.random() * 1e5 for o in orgs})


@pytest.mark.parametrize("policy", ["fair", "fifo"])
def test_explanations_do_not_change_decisions(policy: str) -> None:
    for seed in range(150):
        s = _random_snapshot(seed)
        full, fast = plan(s, policy=policy), plan(s, policy=policy, explain=False)
        assert (fast.admit, fast.preempt) == (full.admit, full.preempt), seed
        assert fast.waiting == {}
        assert set(full.waiting) == {j.id for j in s.queued} - set(full.admit)


def test_the_same_snapshot_gives_the_same_result_in_any_input_order() -> None:
    for seed in range(30):
        s = _random_snapshot(seed)
        shuffled = list(s.queued)
        random.Random(seed).shuffle(shuffled)
        assert plan(s) == plan(replace(s, queued=shuffled, running=RunningIndex(reversed(list(s.running)))))


def test_admitted_jobs_never_exceed_capacity_or_quota() -> None:
    for seed in range(150):
        s = _random_snapshot(seed)
        result = plan(s)
        started = [j for j in s.queued if j.id in set(result.admit)]
        assert sum(j.gpus for j in s.running) + sum(j.gpus for j in started) <= 24, seed
        for x in s.quotas:
            org_total = sum(j.gpus for j in (*s.running, *started) if j.org == x.org)
            added = sum(j.gpus for j in started if j.org == x.org)
            assert added == 0 or org_total <= x.guaranteed + x.borrow_limit, seed


def test_unknown_policy_is_refused() -> None:
    with pytest.raises(ValueError, match="policy"):
        plan(snap(8, [q("j")]), policy="lottery")


def _kept_and_built(index: Callable[..., Any], jobs: Sequence[Any], every: int) -> tuple[Any, Any]:
    """The index kept up to date (all jobs added, every ``every``-th removed) and one built at once
    from the jobs that stay."""
    kept = index()
    for job in jobs:
        kept.add(job)
    for job in jobs[::every]:
        kept.remove(job.id)
    return kept, index(j for j in jobs if j not in jobs[::every])


# --- running index ------------------------------------------------------------------------------


def test_running_index_kept_up_to_date_matches_one_built_at_once() -> None:
    rng = random.Random(3)
    jobs = [
        r(f"r{i}", rng.choice("ab"), rng.randint(1, 4), NOW - rng.randint(0, 500), 1000) for i in range(30)
    ]
    kept, built = _kept_and_built(RunningIndex, jobs, every=3)
    assert list(kept) == list(built) and len(kept) == len(built)
    assert kept.used("f") == built.used("f") == sum(j.gpus for j in built)
    assert kept.org_used("f") == built.org_used("f")
    assert kept.ends("f") == built.ends("f")
    assert kept.committed("a", "f", NOW) == pytest.approx(
        sum(j.gpus * (j.started_at + 1000 - NOW) for j in built if j.org == "a")
    )


def test_committed_use_clips_jobs_past_their_limit() -> None:
    index = RunningIndex(
        [r("late", "a", 2, started=NOW - 2000, tl=1000), r("ok", "a", 1, started=NOW, tl=600)]
    )
    assert index.committed("a", "f", NOW) == 600


def test_the_fast_wait_constructor_builds_the_same_object() -> None:
    params: dict[str, int | str] = {"ahead": 3}
    fast = new_wait(WaitReason.BEHIND_JOBS, params, 2, 5, 1.0, 2.0)
    assert fast == Wait(WaitReason.BEHIND_JOBS, params, 2, 5, 1.0, 2.0)
    assert [f for f in Wait.__dataclass_fields__] == [
        "reason",
        "params",
        "org_position",
        "flavour_position",
        "eta_earliest",
        "eta_latest",
    ]
    with pytest.raises(AttributeError):
        fast.reason = WaitReason.NO_BALANCE  # type: ignore[misc]


# --- guarantees asked for by queued owners ------------------------------------------------------


def test_an_idle_guarantee_its_owner_waits_for_is_not_lent() -> None:
    running = [r("x0", "x", 4, preemptible=False)]
    owner, borrower = q("a1", org="a", gpus=6, at=1), q("x1", org="x", gpus=2, at=2)
    s = snap(8, [owner, borrower], running, quotas=[quota("a", 6, lend=6)])
    assert plan(s).admit == []  # a waits for its 6: the 4 free of them are not lent to x
    assert plan(replace(s, queued=[borrower])).admit == ["x1"]  # nobody waits: lent
    unpaid = replace(s, balances={("a", "f"): 0.0, ("x", "f"): 1e9})
    assert plan(unpaid).admit == ["x1"]  # a cannot pay for its job: its guarantee is lent


def test_fifo_lends_idle_guarantees_up_to_the_lending_limit_only() -> None:
    s = snap(8, [q("x1", org="x", gpus=2, at=2)], [r("x0", "x", 4)], quotas=[quota("a", 6, lend=2)])
    assert plan(s, policy="fifo").admit == []  # 4 of a's 6 idle GPUs stay locked: 8 - 4 used - 4 = 0 left
    assert plan(replace(s, quotas=[quota("a", 6, lend=6)]), policy="fifo").admit == ["x1"]


# --- the fast path on full clusters -------------------------------------------------------------


def _full_cluster(seed: int) -> ClusterSnapshot:
    rng = random.Random(seed)
    orgs = [f"o{i}" for i in range(8)]
    quotas = [quota(o, rng.randint(0, 6), borrow=rng.randint(0, 32)) for o in orgs[:6]]
    quotas = [replace(x, lend_limit=rng.randint(0, x.guaranteed)) for x in quotas]
    running, used = [], 0
    while used < 32 - rng.randint(0, 3):
        gpus = rng.choice((1, 1, 2, 4))
        if used + gpus > 32:
            break
        started, limit = NOW - rng.randint(0, 5000), rng.randint(600, 9000)
        running.append(r(f"r{len(running)}", rng.choice(orgs), gpus, started, limit, rng.random() < 0.85))
        used += gpus
    jobs = [
        q(f"q{i}", rng.choice(orgs), rng.choice((1, 1, 2, 4, 8)), rng.randint(60, 9000), rng.randint(0, 999))
        for i in range(rng.randint(1, 80))
    ]
    window = BookingWindow(
        rng.choice(orgs), "f", rng.randint(2, 8), NOW + rng.randint(-3000, 3000), NOW + 6000
    )
    balances = {(o, "f"): rng.randint(0, 20) * 3600.0 for o in orgs} if rng.random() < 0.3 else None
    bookings = [window] if rng.random() < 0.4 else []
    return snap(32, jobs, running, quotas, bookings, balances, {o: rng.random() * 1e5 for o in orgs})


@pytest.mark.parametrize("policy", ["fair", "fifo"])
def test_the_fast_path_decides_like_the_full_walk_on_full_clusters(policy: str) -> None:
    preempted = 0
    for seed in range(400):
        s = _full_cluster(seed)
        # without open windows too: a reclaim then brings back only the organisations it may help
        for case in (s, replace(s, bookings=[])):
            indexed = replace(case, queued=QueueIndex(case.queued), running=RunningIndex(case.running))
            full, fast = plan(case, policy=policy), plan(indexed, policy=policy, explain=False)
            assert (fast.admit, fast.preempt) == (full.admit, full.preempt), seed
            preempted += len(full.preempt)
    assert policy == "fifo" or preempted > 100  # the cases do exercise reclaim


def test_queue_index_kept_up_to_date_matches_one_built_at_once() -> None:
    rng = random.Random(5)
    jobs = [
        q(
            f"j{i}",
            rng.choice("abc"),
            rng.randint(1, 8),
            rng.randint(60, 900),
            rng.random(),
            rng.randint(0, 2),
        )
        for i in range(40)
    ]
    kept, built = _kept_and_built(QueueIndex, jobs, every=4)
    a, b = kept.flavours()["f"], built.flavours()["f"]
    assert a.by_org == b.by_org and a.fifo == b.fifo and a.demand == b.demand
    assert a.smallest() == min(j.gpus for j in built) and a.shortest_limit() == min(
        j.time_limit_s for j in built
    )
    assert len(kept.view(["f"])) == len(built) and list(kept.view(["g"])) == []
    with pytest.raises(TypeError):
        kept.view(["f"]).add(jobs[0])


def test_smallest_job_and_shortest_limit_follow_adds_and_removes() -> None:
    """The least sizes are cached once asked for and updated, or forgotten, as jobs come and go."""
    rng = random.Random(11)
    kept, present = QueueIndex(), dict[str, QueuedJob]()
    for i in range(400):
        if present and rng.random() < 0.45:
            kept.remove(present.pop(rng.choice(sorted(present))).id)
        else:
            job = q(f"j{i}", rng.choice("abcd"), rng.choice((1, 2, 4, 8)), rng.choice((60, 600, 3600)))
            kept.add(job)
            present[job.id] = job
        queue = kept.flavours().get("f")
        if queue is None or rng.random() < 0.3:  # sometimes let changes pile up unasked
            continue
        for org in "abcd":
            mine = [j for j in present.values() if j.org == org]
            want = (min(j.gpus for j in mine), min(j.time_limit_s for j in mine)) if mine else (0, 0.0)
            assert queue.least_of(org) == want, (i, org)
        jobs = list(present.values())
        assert queue.least() == (min(j.gpus for j in jobs), min(j.time_limit_s for j in jobs)), i
