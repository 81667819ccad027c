"""`aicommons datasets …`: find, create, push (parallel, resumable, with a progress bar), mask,
publish, download and request access."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    SpinnerColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from aicommons.portal.client.datasets import DatasetsClient, MismatchedFiles, StillValidating, mask_folder

from .datasets_messages import say

datasets_app = typer.Typer(
    help="Datasets: catalogue, uploads, access · 数据集：目录、上传与访问", no_args_is_help=True
)


def _ctx() -> Any:
    from .app import _client

    return _client()


def _out() -> tuple[Any, Any]:
    from .app import console, err

    return console, err


@datasets_app.command("search")
def search(
    q: Annotated[str | None, typer.Argument(help="words in Chinese or English")] = None,
    domain: Annotated[str | None, typer.Option()] = None,
    modality: Annotated[str | None, typer.Option()] = None,
    task: Annotated[str | None, typer.Option()] = None,
    level: Annotated[str | None, typer.Option()] = None,
    org: Annotated[str | None, typer.Option()] = None,
) -> None:
    """Search the catalogue · 搜索数据集."""
    console, _ = _out()
    with _ctx() as (client, lang):
        result = DatasetsClient(client).search(
            q, domain=domain, modality=modality, task=task, level=level, org=org
        )
        table = Table(title=say("results", lang, total=result.total))
        for key in ("col_slug", "col_title", "col_domain", "col_level", "col_licence"):
            table.add_column(say(key, lang))
        for d in result.items:
            table.add_row(d.slug, d.title_zh if lang == "zh" else d.title_en, d.domain, d.level, d.licence_id)
        console.print(table)
        for name, counts in result.facets.items():
            if counts:
                console.print(f"[dim]{name}:[/dim] " + ", ".join(f"{c.value} ({c.count})" for c in counts))


@datasets_app.command("create")
def create(file: Annotated[Path, typer.Argument(help="JSON file with the dataset's metadata")]) -> None:
    """Create a dataset from a JSON description · 根据 JSON 描述创建数据集."""
    from aicommons.datasets.schemas import DatasetCreate

    console, _ = _out()
    with _ctx() as (client, lang):
        created = DatasetsClient(client).create(DatasetCreate.model_validate(json.loads(file.read_text())))
        console.print(say("created", lang, slug=created.slug))


@datasets_app.command("versions")
def versions(slug: str) -> None:
    """List a dataset's versions · 列出数据集版本."""
    console, _ = _out()
    with _ctx() as (client, lang):
        table = Table()
        for key in ("col_version", "col_state", "col_files"):
            table.add_column(say(key, lang))
        for v in DatasetsClient(client).versions(slug):
            table.add_row(str(v.number), v.state, str(v.file_count))
        console.print(table)


@datasets_app.command("push")
def push(
    slug: str,
    folder: Annotated[Path, typer.Argument(exists=True, file_okay=False, help="folder to upload")],
    version: Annotated[int | None, typer.Option(help="resume or replace this unpublished version")] = None,
    workers: Annotated[int, typer.Option(min=1, max=64, help="parallel part uploads")] = 4,
    notes: Annotated[str, typer.Option()] = "",
    wait: Annotated[
        bool, typer.Option("--wait/--no-wait", help="wait for verification and validation · 等待校验结果")
    ] = True,
) -> None:
    """Upload a folder as a version straight to storage; run again to resume · 上传目录，可断点续传."""
    console, err = _out()
    with _ctx() as (client, lang):
        datasets = DatasetsClient(client)
        number = version or datasets.new_version(slug, notes).number
        console.print(say("hashing", lang, folder=folder))
        with _PushDisplay(console, lang) as display:
            try:
                result = datasets.push(
                    slug,
                    number,
                    folder,
                    workers,
                    on_total=display.total,
                    on_progress=display.advance,
                    wait=wait,
                    on_state=display.state,
                )
            except MismatchedFiles as failed:
                message = say("resend_failed", lang, count=len(failed.paths), paths=_some(failed.paths))
                err.print(f"[red]{message}[/red]")
                raise typer.Exit(1) from None
            except StillValidating:
                err.print(f"[yellow]{say('still_validating', lang, slug=slug, number=number)}[/yellow]")
                raise typer.Exit(1) from None
        _print_version(slug, result, lang)
        if result.state == "validating":
            console.print(say("validating_later", lang, slug=slug, number=number))


class _PushDisplay:
    """The push's Rich progress: a bar for the bytes sent, then a spinner while the portal verifies."""

    def __init__(self, console: Any, lang: str) -> None:
        self.lang = lang
        self.progress = Progress(
            SpinnerColumn(),
            "[progress.description]{task.description}",
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=console,
        )
        self.task = self.progress.add_task(say("uploading", lang), total=None)
        self.waiting: Any = None

    def __enter__(self) -> _PushDisplay:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.waiting is not None:
            self.progress.update(self.waiting, total=1, completed=1)
        self.progress.stop()

    def total(self, total: int) -> None:
        self.progress.update(self.task, total=total)

    def advance(self, sent: int) -> None:
        self.progress.advance(self.task, sent)

    def state(self, state: str, paths: list[str]) -> None:
        """("validating", []) once the upload is complete; ("resend", paths) before a resend."""
        if self.waiting is not None:
            self.progress.remove_task(self.waiting)
            self.waiting = None
        if state == "validating":
            self.progress.update(self.task, description=say("uploaded", self.lang))
            self.waiting = self.progress.add_task(say("validating", self.lang), total=None)
            return
        message = say("resending", self.lang, count=len(paths), paths=_some(paths))
        self.progress.console.print(f"[yellow]{message}[/yellow]")
        self.progress.reset(self.task, description=say("uploading", self.lang), total=None)


def _some(paths: list[str], shown: int = 10) -> str:
    more = f" (+{len(paths) - shown})" if len(paths) > shown else ""
    return ", ".join(paths[:shown]) + more


def _print_version(slug: str, v: Any, lang: str) -> None:
    console, err = _out()
    console.print(
        say(
            "pushed",
            lang,
            slug=slug,
            number=v.number,
            state=v.state,
            files=v.file_count,
            bytes=v.total_bytes,
            digest=v.digest or "-",
        )
    )
    if v.state == "blocked":
        err.print(f"[yellow]{say('blocked', lang, reasons=', '.join(v.blocked_reasons))}[/yellow]")
    scan = v.scan_report or {}
    if scan.get("total"):
        counts = ", ".join(f"{k}={n}" for k, n in scan["counts"].items() if n)
        err.print(say("findings", lang, counts=counts))
        for sample in scan.get("samples", [])[:10]:
            err.print(f"  • {sample['path']}:{sample['line']} {sample['kind']} {sample['masked']}")
        if v.state == "blocked":
            err.print(say("mask_hint", lang))
    errors = (v.validation_report or {}).get("errors") or []
    if errors:
        err.print(say("validation_errors", lang))
        for message in errors[:10]:
            err.print(f"  • {message}")


@datasets_app.command("status")
def status(slug: str, number: int) -> None:
    """Show a version's state, scan and validation reports · 查看版本状态与报告."""
    with _ctx() as (client, lang):
        _print_version(slug, DatasetsClient(client).version(slug, number), lang)


@datasets_app.command("mask")
def mask(
    source: Annotated[Path, typer.Argument(exists=True, file_okay=False)],
    target: Annotated[Path, typer.Argument(help="new folder for the masked copy")],
) -> None:
    """Copy a folder with personal data masked in its text files · 复制目录并对文本中的个人信息脱敏."""
    from .messages import current_lang

    console, _ = _out()
    lang = current_lang()
    found = mask_folder(source, target)
    console.print(say("masked", lang, count=sum(found.values()), files=len(found), target=target))


@datasets_app.command("override")
def override(
    slug: str,
    number: int,
    justification: Annotated[str, typer.Option(prompt=True, help="recorded in the audit log")],
) -> None:
    """Override a personal-data block with a justification · 填写理由豁免个人信息阻断."""
    console, _ = _out()
    with _ctx() as (client, lang):
        v = DatasetsClient(client).override(slug, number, justification)
        console.print(say("state", lang, slug=slug, number=number, state=v.state))


@datasets_app.command("publish")
def publish(slug: str, number: int) -> None:
    """Publish a ready version; it becomes immutable · 发布版本（发布后不可修改）."""
    console, _ = _out()
    with _ctx() as (client, lang):
        DatasetsClient(client).publish(slug, number)
        console.print(say("published", lang, slug=slug, number=number))


@datasets_app.command("deprecate")
def deprecate(slug: str, number: int) -> None:
    """Deprecate a published version · 弃用已发布版本."""
    console, _ = _out()
    with _ctx() as (client, lang):
        v = DatasetsClient(client).deprecate(slug, number)
        console.print(say("state", lang, slug=slug, number=number, state=v.state))


@datasets_app.command("accept-licence")
def accept_licence(slug: str) -> None:
    """Accept an L2 dataset's licence · 接受 L2 数据集的许可协议."""
    console, _ = _out()
    with _ctx() as (client, lang):
        DatasetsClient(client).accept_licence(slug)
        console.print(say("licence_accepted", lang, slug=slug))


@datasets_app.command("download")
def download(slug: str, number: int, target: Path) -> None:
    """Download an L1/L2 version through short-lived links, verifying checksums · 下载并校验."""
    console, err = _out()
    with _ctx() as (client, lang):
        links = DatasetsClient(client).download_links(slug, number)
        with httpx.Client(timeout=300) as http:
            for link in links.files:
                out = target / link.path
                out.parent.mkdir(parents=True, exist_ok=True)
                digest = hashlib.sha256()
                with http.stream("GET", link.url) as response, out.open("wb") as fh:
                    response.raise_for_status()
                    for chunk in response.iter_bytes():
                        digest.update(chunk)
                        fh.write(chunk)
                if digest.hexdigest() != link.sha256:
                    err.print(f"[red]{say('checksum_failed', lang, path=link.path)}[/red]")
                    raise typer.Exit(1)
        console.print(say("downloaded", lang, files=len(links.files), target=target))


@datasets_app.command("request-access")
def request_access(
    slug: str,
    org: Annotated[str, typer.Option(help="your organisation's slug")],
    purpose: Annotated[str, typer.Option()],
    days: Annotated[int, typer.Option(min=1, max=3650)] = 90,
) -> None:
    """Request access to an L3 dataset for your organisation · 为机构申请 L3 数据集访问."""
    from aicommons.datasets.schemas import GrantRequest

    console, _ = _out()
    with _ctx() as (client, lang):
        grant = DatasetsClient(client).request_access(
            slug, GrantRequest(org=org, purpose=purpose, duration_days=days)
        )
        console.print(say("grant", lang, id=grant.id, state=grant.state))


@datasets_app.command("grants")
def grants(slug: str) -> None:
    """List access grants · 列出访问授权."""
    console, _ = _out()
    with _ctx() as (client, lang):
        table = Table()
        for key in ("col_org", "col_state", "col_purpose", "col_expires"):
            table.add_column(say(key, lang))
        table.add_column("id")
        for g in DatasetsClient(client).grants(slug):
            table.add_row(g.org_id, g.state, g.purpose[:60], str(g.expires_at or ""), g.id)
        console.print(table)


def _decide(action: str, slug: str, grant_id: str, reason: str | None) -> None:
    console, _ = _out()
    with _ctx() as (client, lang):
        grant = DatasetsClient(client).decide(slug, grant_id, action, reason)
        console.print(say("grant", lang, id=grant.id, state=grant.state))


@datasets_app.command("approve")
def approve(slug: str, grant_id: str, reason: Annotated[str | None, typer.Option()] = None) -> None:
    """Approve an access request · 批准访问申请."""
    _decide("approve", slug, grant_id, reason)


@datasets_app.command("reject")
def reject(slug: str, grant_id: str, reason: Annotated[str | None, typer.Option()] = None) -> None:
    """Reject an access request · 拒绝访问申请."""
    _decide("reject", slug, grant_id, reason)


@datasets_app.command("revoke")
def revoke(slug: str, grant_id: str, reason: Annotated[str | None, typer.Option()] = None) -> None:
    """Revoke an access grant · 吊销访问授权."""
    _decide("revoke", slug, grant_id, reason)


def _dataset_ref(ref: str, lang: str) -> tuple[str, int | None]:
    """SLUG or SLUG@N."""
    slug, at, number = ref.partition("@")
    if not at:
        return slug, None
    if not number.isdigit() or int(number) < 1:
        raise typer.BadParameter(say("bad_ref", lang, ref=ref))
    return slug, int(number)


@datasets_app.command("uses")
def uses(
    ref: Annotated[str, typer.Argument(metavar="SLUG[@N]", help="a dataset, or one version of it")],
    limit: Annotated[int, typer.Option(min=1, max=200)] = 50,
    offset: Annotated[int, typer.Option(min=0)] = 0,
) -> None:
    """Jobs that used a dataset or one version (lineage) · 使用过数据集或其版本的作业（血缘）."""
    from .messages import current_lang

    console, _ = _out()
    slug, number = _dataset_ref(ref, current_lang())
    with _ctx() as (client, lang):
        page = DatasetsClient(client).uses(slug, number, limit, offset)
        table = Table(title=say("uses_title", lang, ref=ref, total=page.total))
        for key in ("col_version", "col_org", "col_job", "col_used_at"):
            table.add_column(say(key, lang))
        for use in page.items:
            org = f"{use.org_name} ({use.org_slug})" if use.org_name else use.org_id
            used_at = use.used_at.strftime("%Y-%m-%d %H:%M:%S UTC")
            table.add_row(f"{use.dataset}@{use.version}", org, use.job_id, used_at)
        console.print(table)
        if page.offset + len(page.items) < page.total:
            console.print(
                say(
                    "uses_more",
                    lang,
                    shown=len(page.items),
                    total=page.total,
                    next=page.offset + len(page.items),
                )
            )


def register(app: typer.Typer) -> None:
    app.add_typer(datasets_app, name="datasets")
