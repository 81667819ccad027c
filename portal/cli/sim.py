"""`aicommons sim WORKLOAD`: replay a workload through the admission policy, offline.

The simulator runs here, in the command's process: nothing is sent to a portal. WORKLOAD is a
description (examples/workloads/*.toml) or a normalized trace table (.csv / .csv.gz).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from aicommons.scheduler.simulator import POLICIES, SimOptions, SimResult, compare
from aicommons.scheduler.workloads import Workload, load_workload

from .messages import current_lang
from .sim_messages import say

HOUR = 3600.0


def sim(
    workload: Annotated[
        Path, typer.Argument(help="workload description (.toml) or normalized trace (.csv[.gz])")
    ],
    policy: Annotated[
        list[str] | None,
        typer.Option("--policy", help=f"policy to replay, repeatable: {', '.join(POLICIES)}"),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the results as JSON")] = False,
    tick: Annotated[float, typer.Option(help="scheduling period in virtual seconds")] = 30.0,
    tenants: Annotated[bool, typer.Option(help="show each tenant's share and guarantee attainment")] = True,
) -> None:
    """Replay a workload through the admission policies and compare them · 回放工作负载并对比调度策略."""
    lang = current_lang()
    out, err = Console(), Console(stderr=True)
    policies = policy or ["fair", "fifo"]
    for name in policies:
        if name not in POLICIES:
            err.print(f"[red]{say('unknown_policy', lang, policy=name, choices=', '.join(POLICIES))}[/red]")
            raise typer.Exit(2)
    try:
        loaded = load_workload(workload)
    except (OSError, ValueError, KeyError) as exc:
        err.print(f"[red]{say('bad_workload', lang, error=exc)}[/red]")
        raise typer.Exit(2) from None
    results = compare(loaded, policies, SimOptions(tick_s=tick))
    if as_json:
        summary = {"workload": _describe(loaded), "results": [r.to_dict() for r in results]}
        typer.echo(json.dumps(summary, ensure_ascii=False))
        return
    _print_workload(out, loaded, lang)
    out.print(_results_table(results, lang))
    if tenants:
        for result in results:
            out.print(_tenants_table(result, lang))
            starved = [t.tenant for t in result.tenants if not t.ok]
            out.print(
                say("starved", lang, tenants=", ".join(starved)) if starved else say("not_starved", lang)
            )


def _describe(workload: Workload) -> dict[str, object]:
    cluster = workload.cluster
    return {
        "name": workload.name,
        "jobs": len(workload.jobs),
        "dropped": workload.dropped,
        "flavours": {f.name: f.capacity for f in cluster.flavours},
        "tenants": len(workload.tenants),
        "bookings": len(cluster.bookings),
    }


def _print_workload(out: Console, workload: Workload, lang: str) -> None:
    cluster = workload.cluster
    out.print(
        say(
            "loaded",
            lang,
            name=workload.name,
            jobs=len(workload.jobs),
            flavours=len(cluster.flavours),
            gpus=sum(f.capacity for f in cluster.flavours),
            tenants=len(workload.tenants),
            bookings=len(cluster.bookings),
        )
    )
    if workload.dropped:
        out.print(say("dropped", lang, count=workload.dropped))


def _results_table(results: list[SimResult], lang: str) -> Table:
    """Mean and p95 JCT and queueing in hours; their means as ratios to the baseline's (FIFO)."""
    baseline = next((r for r in results if r.policy == "fifo"), results[0])
    table = Table(title=say("results", lang))
    table.add_column(say("col_policy", lang))
    for key in ("col_finished", "col_jct", "col_jct_p95", "col_wait", "col_wait_p95"):
        table.add_column(say(key, lang), justify="right")
    table.add_column(say("col_vs", lang, baseline=baseline.policy), justify="right")
    for key in ("col_util", "col_preempt", "col_speed"):
        table.add_column(say(key, lang), justify="right")
    for r in results:
        jct_ratio = r.jct.mean / baseline.jct.mean if baseline.jct.mean else 0.0
        wait_ratio = r.wait.mean / baseline.wait.mean if baseline.wait.mean else 0.0
        table.add_row(
            r.policy,
            f"{r.finished}/{r.jobs}",
            f"{r.jct.mean / HOUR:.2f}",
            f"{r.jct.p95 / HOUR:.1f}",
            f"{r.wait.mean / HOUR:.2f}",
            f"{r.wait.p95 / HOUR:.1f}",
            f"{jct_ratio:.2f} · {wait_ratio:.2f}",
            " ".join(f"{value:.0%}" for value in r.utilisation.values()),
            str(r.preemptions),
            f"{r.jobs_per_s:,.0f}",
        )
    return table


def _tenants_table(result: SimResult, lang: str) -> Table:
    table = Table(title=say("tenants", lang, policy=result.policy))
    table.add_column(say("col_tenant", lang))
    for key in ("col_entitled", "col_demand", "col_share", "col_attained"):
        table.add_column(say(key, lang), justify="right")
    for t in result.tenants:
        attained = "—" if t.attainment is None else f"{t.attainment:.1%}"
        style = "" if t.ok else "red"
        table.add_row(
            t.tenant, f"{t.entitlement:.1%}", f"{t.demand:.1%}", f"{t.share:.1%}", attained, style=style
        )
    return table


def register(app: typer.Typer) -> None:
    app.command("sim")(sim)
