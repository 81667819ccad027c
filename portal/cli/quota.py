"""`aicommons flavours|allocations|quota|bookings|usage`: GPU quota through portal.client only."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer
from rich.table import Table

from aicommons.portal.client import quota as api
from aicommons.scheduler.schemas import (
    AllocationApprove,
    AllocationReject,
    AllocationRequest,
    BookingCreate,
    FlavourCreate,
    QuotaSet,
)

from .quota_messages import say

flavours_app = typer.Typer(help="Accelerator flavours · 算力规格", no_args_is_help=True)
allocations_app = typer.Typer(help="GPU-hour allocations · 算力配额（GPU 时）", no_args_is_help=True)
quota_app = typer.Typer(help="Concurrency quotas and balance · 并发配额与余额", no_args_is_help=True)
bookings_app = typer.Typer(help="GPU bookings · GPU 预约", no_args_is_help=True)
Org = Annotated[str, typer.Option(help="organisation slug")]


def _table(title: str, columns: list[str], rows: list[list[str]]) -> Table:
    table = Table(title=title)
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*row)
    return table


@flavours_app.command("list")
def flavours_list() -> None:
    """List flavours · 列出算力规格."""
    from .app import _client, console

    with _client() as (client, _lang):
        rows = [[f.name, f.pool, str(f.capacity_gpus)] for f in api.list_flavours(client)]
        console.print(_table("flavours", ["name", "pool", "capacity"], rows))


@flavours_app.command("create")
def flavours_create(name: str, capacity: int, pool: str = "default") -> None:
    """Create a flavour (administrators) · 创建算力规格."""
    from .app import _client, console

    with _client() as (client, lang):
        flavour = api.create_flavour(client, FlavourCreate(name=name, pool=pool, capacity_gpus=capacity))
        console.print(say("flavour_created", lang, name=flavour.name))


@allocations_app.command("request")
def allocations_request(
    org: Org,
    gpu_hours: float,
    valid_from: datetime,
    valid_until: datetime,
    purpose: str,
    flavour: Annotated[str | None, typer.Option(help="flavour name; none: any")] = None,
    renews: Annotated[str | None, typer.Option(help="allocation id this renews")] = None,
) -> None:
    """Request GPU-hours for an organisation · 申请 GPU 时."""
    from .app import _client, console

    body = AllocationRequest(
        org=org,
        flavour=flavour,
        gpu_hours=gpu_hours,
        valid_from=valid_from,
        valid_until=valid_until,
        purpose=purpose,
        renews=renews,
    )
    with _client() as (client, lang):
        console.print(say("allocation_requested", lang, id=api.request_allocation(client, body).id))


@allocations_app.command("list")
def allocations_list(org: Annotated[str | None, typer.Option()] = None) -> None:
    """List allocations · 列出配额."""
    from .app import _client, console

    with _client() as (client, _lang):
        rows = [
            [a.id, a.org or a.org_id, a.flavour or "*", a.state, f"{a.remaining_gpu_hours:g}"]
            for a in api.list_allocations(client, org)
        ]
        console.print(_table("allocations", ["id", "org", "flavour", "state", "GPU-h left"], rows))


@allocations_app.command("approve")
def allocations_approve(
    allocation_id: str,
    gpu_hours: Annotated[float | None, typer.Option()] = None,
    valid_until: Annotated[datetime | None, typer.Option()] = None,
    reason: Annotated[str | None, typer.Option()] = None,
) -> None:
    """Approve, possibly adjusting amount and end (administrators) · 批准."""
    from .app import _client, console

    body = AllocationApprove(gpu_hours=gpu_hours, valid_until=valid_until, reason=reason)
    with _client() as (client, lang):
        out = api.approve_allocation(client, allocation_id, body)
        console.print(say("allocation_decided", lang, id=out.id, state=out.state))


@allocations_app.command("reject")
def allocations_reject(allocation_id: str, reason: str) -> None:
    """Reject with a reason (administrators) · 驳回."""
    from .app import _client, console

    with _client() as (client, lang):
        out = api.reject_allocation(client, allocation_id, AllocationReject(reason=reason))
        console.print(say("allocation_decided", lang, id=out.id, state=out.state))


@quota_app.command("show")
def quota_show(org: Org) -> None:
    """Balance and concurrency quota of an organisation · 查看余额与配额."""
    from .app import _client, console

    with _client() as (client, lang):
        balance = api.balance(client, org)
        console.print(say("balance", lang, org=org, hours=f"{balance.remaining_gpu_hours:g}"))
        rows = [
            [q.flavour, str(q.guaranteed_gpus), str(q.borrow_limit_gpus), str(q.lend_limit_gpus)]
            for q in api.list_quotas(client, org)
        ]
        console.print(_table("quota", ["flavour", "guaranteed", "borrow", "lend"], rows))


@quota_app.command("set")
def quota_set(
    org: Org,
    flavour: str,
    guaranteed: int,
    borrow: int = 0,
    lend: int = 0,
    reason: Annotated[str | None, typer.Option()] = None,
) -> None:
    """Set a quota (administrators) · 设置配额."""
    from .app import _client, console

    body = QuotaSet(
        org=org,
        flavour=flavour,
        guaranteed_gpus=guaranteed,
        borrow_limit_gpus=borrow,
        lend_limit_gpus=lend,
        reason=reason,
    )
    with _client() as (client, lang):
        api.set_quota(client, body)
        console.print(say("quota_set", lang, org=org, flavour=flavour))


@bookings_app.command("request")
def bookings_request(org: Org, flavour: str, gpus: int, starts_at: datetime, ends_at: datetime) -> None:
    """Book GPUs for a window · 预约 GPU."""
    from .app import _client, console

    body = BookingCreate(org=org, flavour=flavour, gpus=gpus, starts_at=starts_at, ends_at=ends_at)
    with _client() as (client, lang):
        out = api.request_booking(client, body)
        console.print(say("booking_made", lang, id=out.id, status=out.status))


@bookings_app.command("list")
def bookings_list(org: Annotated[str | None, typer.Option()] = None) -> None:
    """List bookings · 列出预约."""
    from .app import _client, console

    with _client() as (client, _lang):
        rows = [
            [
                b.id,
                b.org or b.org_id,
                b.flavour,
                str(b.gpus),
                b.starts_at.isoformat(),
                b.ends_at.isoformat(),
                b.status,
            ]
            for b in api.list_bookings(client, org)
        ]
        console.print(_table("bookings", ["id", "org", "flavour", "gpus", "start", "end", "status"], rows))


@bookings_app.command("cancel")
def bookings_cancel(booking_id: str, reason: Annotated[str | None, typer.Option()] = None) -> None:
    """Cancel a booking · 取消预约."""
    from .app import _client, console

    with _client() as (client, lang):
        out = api.cancel_booking(client, booking_id, reason)
        console.print(say("booking_made", lang, id=out.id, status=out.status))


@bookings_app.command("free")
def bookings_free(flavour: str, start: datetime, end: datetime) -> None:
    """Free GPUs of a flavour over a window · 查看空闲容量."""
    from .app import _client, console

    with _client() as (client, _lang):
        series = api.free_capacity(client, flavour, start, end)
        rows = [[x, f"{v:g}"] for x, v in zip(series.x, series.series[0].data, strict=True)]
        console.print(_table(flavour, ["from", "free GPUs"], rows))


def usage(
    csv: Annotated[bool, typer.Option("--csv", help="print CSV")] = True,
    org: Annotated[str | None, typer.Option()] = None,
    start: Annotated[datetime | None, typer.Option()] = None,
    end: Annotated[datetime | None, typer.Option()] = None,
) -> None:
    """Usage per organisation, flavour and day as CSV · 用量（CSV）."""
    from .app import _client

    with _client() as (client, _lang):
        typer.echo(api.usage_csv(client, org, start, end), nl=False)


def register(app: typer.Typer) -> None:
    app.add_typer(flavours_app, name="flavours")
    app.add_typer(allocations_app, name="allocations")
    app.add_typer(quota_app, name="quota")
    app.add_typer(bookings_app, name="bookings")
    app.command("usage")(usage)
