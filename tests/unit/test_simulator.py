"""The simulator on small workloads with known answers, its determinism, and workload loading."""

from __future__ import annotations

import gzip
import math
from pathlib import Path

import pytest

from aicommons.scheduler.policy.cluster import (
    AdmissionConfig,
    BookingWindow,
    ClusterSnapshot,
    CycleResult,
    FlavourCapacity,
    OrgQuota,
)
from aicommons.scheduler.simulator import SimOptions, compare, simulate
from aicommons.scheduler.workloads import (
    Cluster,
    JobSpec,
    Workload,
    build_workload,
    load_workload,
    read_trace,
    time_limit,
)
from tests.bench.bench_sim import Recorder

pytestmark = pytest.mark.unit

TICK = SimOptions(tick_s=10)


def job(
    job_id: str, tenant: str, gpus: int, submit: float, duration: float, limit: float | None = None
) -> JobSpec:
    return JobSpec(job_id, tenant, "f", gpus, submit, duration, limit if limit is not None else 2 * duration)


def workload(jobs: list[JobSpec], capacity: int = 4, quotas: list[OrgQuota] | None = None) -> Workload:
    return Workload(
        "test",
        Cluster([FlavourCapacity("f", capacity)], quotas or []),
        sorted(jobs, key=lambda j: j.submit_s),
    )


def ends(result) -> dict[str, float | None]:  # type: ignore[no-untyped-def]
    return {r.id: r.ended for r in result.job_results}


def test_backfill_lets_a_short_job_pass_a_blocked_one() -> None:
    jobs = [job("a", "t1", 2, 0, 1000), job("b", "t2", 4, 0, 1000), job("c", "t3", 2, 0, 500)]
    fifo, fair = compare(workload(jobs), ["fifo", "fair"], TICK)
    assert ends(fifo) == {"a": 1000, "b": 2000, "c": 2500}  # c waits behind b
    assert ends(fair) == {"a": 1000, "b": 2000, "c": 500}  # c ends before b could start anyway
    assert fifo.jct.mean == pytest.approx((1000 + 2000 + 2500) / 3)
    assert fair.jct.mean == pytest.approx((1000 + 2000 + 500) / 3)
    assert fair.wait.mean < fifo.wait.mean


def test_fair_share_serves_the_other_tenant_first() -> None:
    jobs = [job("a1", "a", 4, 0, 1000), job("a2", "a", 4, 1, 1000), job("b1", "b", 4, 2, 1000)]
    fifo, fair = compare(workload(jobs), ["fifo", "fair"], TICK)
    assert ends(fifo) == {"a1": 1000, "a2": 2000, "b1": 3000}
    assert ends(fair) == {"a1": 1000, "b1": 2000, "a2": 3000}  # a has used the flavour, b has not


def test_reclaim_preempts_the_borrower_and_requeues_it() -> None:
    quotas = [OrgQuota("a", "f", 4, 0, 4)]
    jobs = [job("b1", "b", 4, 0, 10_000), job("a1", "a", 2, 100, 500)]
    fair = simulate(workload(jobs, 4, quotas), "fair", TICK)
    results = {r.id: r for r in fair.job_results}
    assert fair.preemptions == 1 and results["b1"].preemptions == 1
    assert results["a1"].started == 100 and results["a1"].ended == 600
    assert results["b1"].ended == 600 + 10_000  # restarted from zero once a1 was done
    fifo = simulate(workload(jobs, 4, quotas), "fifo", TICK)
    assert fifo.preemptions == 0 and ends(fifo)["a1"] == 10_000 + 500
    a_fair = next(t for t in fair.tenants if t.tenant == "a")
    a_fifo = next(t for t in fifo.tenants if t.tenant == "a")
    assert a_fair.ok and a_fair.attainment == pytest.approx(1.0)
    assert not a_fifo.ok and a_fifo.attainment is not None and a_fifo.attainment < 0.1


def test_other_tenants_only_run_what_ends_before_a_booking_window() -> None:
    cluster = Cluster([FlavourCapacity("f", 4)], bookings=[BookingWindow("b", "f", 4, 1000, 5000)])
    jobs = [
        job("short", "x", 4, 0, 800, limit=900),
        job("long", "x", 4, 0, 3000),
        job("b1", "b", 4, 1000, 1000),
    ]
    result = simulate(Workload("w", cluster, jobs), "fair", TICK)
    assert ends(result) == {"short": 800, "b1": 2000, "long": 8000}  # long waits for the window to close
    assert result.preemptions == 0


def test_utilisation_and_shares() -> None:
    jobs = [job("a1", "a", 2, 0, 1000), job("b1", "b", 2, 0, 1000), job("a2", "a", 2, 1000, 10)]
    result = simulate(workload(jobs, 4), "fair", TICK)
    assert result.utilisation == {"f": pytest.approx(1.0)}  # the window is [0, 1000]
    shares = {t.tenant: t.share for t in result.tenants}
    assert shares == {"a": pytest.approx(0.5), "b": pytest.approx(0.5)}


def test_the_same_workload_gives_the_same_results() -> None:
    jobs = [job(f"j{i}", f"t{i % 3}", 1 + i % 4, i * 37.0, 100 + (i * 7919) % 900) for i in range(300)]
    quotas = [OrgQuota(f"t{i}", "f", 2, 8, 1) for i in range(3)]
    first = simulate(workload(jobs, 8, quotas), "fair", TICK).to_dict()
    second = simulate(workload(jobs, 8, quotas), "fair", TICK).to_dict()
    first.pop("wall_s"), second.pop("wall_s"), first.pop("jobs_per_s"), second.pop("jobs_per_s")
    assert first == second
    assert first["finished"] == 300


def test_recorded_decisions_replay_to_the_same_results() -> None:
    """What bench_sim's event-loop baseline relies on: the simulator does only what the planner says."""
    # t0 owns most of the flavour but comes rarely: the others borrow it and are preempted.
    tenants = ["t0" if i % 10 == 0 else f"t{1 + i % 2}" for i in range(300)]
    jobs = [job(f"j{i}", tenants[i], 1 + i % 4, i * 37.0, 100 + (i * 7919) % 900) for i in range(300)]
    quotas = [OrgQuota("t0", "f", 6, 2, 6)]
    recorder = Recorder()
    planned = simulate(workload(jobs, 8, quotas), "fair", TICK, recorder).to_dict()
    replay, asked = recorder.replayed(), []

    def counted(snapshot: ClusterSnapshot, config: AdmissionConfig) -> CycleResult:
        asked.append(snapshot.now)
        return replay(snapshot, config)

    replayed = simulate(workload(jobs, 8, quotas), "fair", TICK, counted).to_dict()
    for result in (planned, replayed):
        result.pop("wall_s"), result.pop("jobs_per_s")
    assert replayed == planned and planned["preemptions"] > 0
    assert len(asked) == len(recorder.results) == planned["cycles"]  # every decision came from the replay


def test_unknown_policy_is_refused() -> None:
    with pytest.raises(ValueError, match="policy"):
        simulate(workload([job("a", "t", 1, 0, 10)]), "lottery")


# --- workloads ----------------------------------------------------------------------------------


def _write_trace(path: Path, rows: list[tuple[str, str, float, float, int]]) -> None:
    lines = ["job_id,tenant,submit_time_s,duration_s,gpus,gpu_type,status"]
    lines += [f"{i},{t},{s},{d},{g},,Succeeded" for i, t, s, d, g in rows]
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")


def test_trace_rows_are_read_from_the_normalized_schema(tmp_path: Path) -> None:
    trace = tmp_path / "jobs.csv.gz"
    _write_trace(trace, [("p1", "", 0, 60, 1), ("p2", "vc1", 5, 4000, 8)])
    rows = read_trace(trace)
    assert [(r.job_id, r.tenant, r.submit_time_s, r.duration_s, r.gpus) for r in rows] == [
        ("p1", "", 0.0, 60.0, 1),
        ("p2", "vc1", 5.0, 4000.0, 8),
    ]


def test_a_trace_workload_assigns_tenants_caps_durations_and_drops_oversized_jobs(tmp_path: Path) -> None:
    _write_trace(
        tmp_path / "jobs.csv.gz", [("p1", "", 0, 60, 1), ("p2", "", 5, 999_999, 2), ("p3", "", 9, 10, 16)]
    )
    (tmp_path / "w.toml").write_text(
        """
name = "t"
seed = 3
[source]
kind = "trace"
trace = "jobs.csv.gz"
max_duration_s = 86400
time_limit_quantum_s = 900
time_limit_factor = 1.5
tenants = 2
[[flavours]]
name = "gpu"
capacity = 8
[quotas]
guaranteed_fraction = 0.5
"""
    )
    loaded = load_workload(tmp_path / "w.toml")
    assert [j.id for j in loaded.jobs] == ["p1", "p2"] and loaded.dropped == 1
    assert loaded.jobs[1].duration_s == 86400 and {j.tenant for j in loaded.jobs} <= {"t00", "t01"}
    assert loaded.jobs[0].time_limit_s == 1350  # 60 s → one quarter-hour × 1.5
    assert sum(q.guaranteed for q in loaded.cluster.quotas) == 4


def test_time_limit_is_the_duration_rounded_up_times_the_factor() -> None:
    assert time_limit(1, 900, 1.5) == 1350
    assert time_limit(900, 900, 1.5) == 1350
    assert time_limit(901, 900, 2.0) == 3600


def test_a_generated_workload_offers_the_load_asked_for(tmp_path: Path) -> None:
    _write_trace(tmp_path / "cal.csv.gz", [(f"c{i}", "", 0, 100 + 50 * i, 1 + i % 2) for i in range(40)])
    spec = {
        "name": "g",
        "seed": 5,
        "source": {"kind": "generate", "calibration": "cal.csv.gz", "jobs": 4000, "load": 0.8, "tenants": 6},
        "flavours": [{"name": "f", "capacity": 16}, {"name": "g", "capacity": 16}],
        "quotas": {"guaranteed_fraction": 0.75, "lend_fraction": 0.5},
        "generated_bookings": {"per_flavour": 1, "hours": 1, "gpus_fraction": 0.25},
    }
    generated = build_workload(spec, tmp_path)
    arrivals = [j for j in generated.jobs if not j.id.startswith("bk")]
    assert len(arrivals) == 4000
    span = arrivals[-1].submit_s - arrivals[0].submit_s
    offered = sum(j.gpus * j.duration_s for j in arrivals) / (32 * span)
    assert offered == pytest.approx(0.8, rel=0.1)
    for flavour in ("f", "g"):
        guaranteed = [q for q in generated.cluster.quotas if q.flavour == flavour]
        assert sum(q.guaranteed for q in guaranteed) == 12
        assert all(q.lend_limit == math.floor(0.5 * q.guaranteed) for q in guaranteed)
    assert len(generated.cluster.bookings) == 2
    booked = [j for j in generated.jobs if j.id.startswith("bk")]
    assert sum(j.gpus for j in booked) == 2 * 4  # the booking tenants fill their windows
    again = build_workload(spec, tmp_path)
    assert again.jobs == generated.jobs


# --- the command --------------------------------------------------------------------------------


def _tiny_workload(tmp_path: Path) -> Path:
    _write_trace(
        tmp_path / "jobs.csv.gz", [(f"p{i}", f"t{i % 2}", i * 10, 300 + 40 * i, 1 + i % 2) for i in range(30)]
    )
    description = tmp_path / "tiny.toml"
    description.write_text(
        'name = "tiny"\n[source]\nkind = "trace"\ntrace = "jobs.csv.gz"\n'
        '[[flavours]]\nname = "gpu"\ncapacity = 4\n[quotas]\nguaranteed_fraction = 0.5\n'
    )
    return description


def test_sim_command_prints_json(tmp_path: Path) -> None:
    import json

    from typer.testing import CliRunner

    from aicommons.portal.cli.app import app

    result = CliRunner().invoke(app, ["sim", str(_tiny_workload(tmp_path)), "--json", "--policy", "fifo"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["workload"]["jobs"] == 30
    assert [r["policy"] for r in summary["results"]] == ["fifo"]
    assert summary["results"][0]["finished"] == 30


def test_sim_command_speaks_chinese_and_refuses_unknown_policies(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from aicommons.portal.cli.app import app
    from aicommons.portal.cli.sim_messages import MESSAGES

    runner = CliRunner()
    path = str(_tiny_workload(tmp_path))
    result = runner.invoke(app, ["sim", path], env={"AICOMMONS_LANG": "zh", "COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "调度策略对比" in result.output and "fair" in result.output and "fifo" in result.output
    refused = runner.invoke(app, ["sim", path, "--policy", "lottery"], env={"AICOMMONS_LANG": "en"})
    assert refused.exit_code == 2
    for key, texts in MESSAGES.items():
        assert set(texts) == {"en", "zh"}, key
