"""`aicommons jobs …`: submit training jobs, watch the queue, stream logs, cancel (via portal.client)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from aicommons.portal.client import jobs as api
from aicommons.scheduler.jobs.schemas import JobCreate, JobOut

from .jobs_messages import say

jobs_app = typer.Typer(help="Training jobs · 训练作业", no_args_is_help=True)
DURATION = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")
UNITS = (86400, 3600, 60, 1)


def parse_duration(value: str, lang: str = "en") -> int:
    """Seconds from "3600", "90m", "2h", "1h30m", "1d"."""
    text = value.strip().lower()
    if text.isdigit():
        return int(text)
    match = DURATION.match(text)
    if not text or match is None:
        raise typer.BadParameter(say("bad_duration", lang, value=value))
    return sum(int(part or 0) * unit for part, unit in zip(match.groups(), UNITS, strict=True))


def _row(job: JobOut) -> list[str]:
    reason = (
        job.wait.message
        if job.wait
        else (job.note or ("" if job.state == "SUCCEEDED" else job.message or ""))
    )
    eta = job.wait.eta_latest.strftime("%m-%d %H:%M") if job.wait and job.wait.eta_latest else ""
    return [job.id, job.name, job.org, job.flavour, str(job.gpus), job.state, reason[:60], eta]


@jobs_app.command("submit")
def submit(
    entrypoint: Annotated[list[str], typer.Argument(help="command to run, e.g. -- python train.py")],
    org: Annotated[str, typer.Option(help="organisation slug")],
    flavour: Annotated[str, typer.Option(help="accelerator flavour, e.g. H100-80G")],
    time_limit: Annotated[str, typer.Option(help="e.g. 2h, 90m, 3600 (required)")],
    name: Annotated[str | None, typer.Option(help="job name; default: the entrypoint")] = None,
    gpus: Annotated[int, typer.Option(help="GPUs per worker")] = 1,
    workers: Annotated[int, typer.Option(help="workers, admitted all at once")] = 1,
    cpus: Annotated[float, typer.Option(help="CPUs for the entrypoint")] = 1.0,
    memory_mb: Annotated[int | None, typer.Option(help="memory for the entrypoint")] = None,
    workdir: Annotated[Path | None, typer.Option(help="directory shipped with the job")] = None,
    pip: Annotated[list[str] | None, typer.Option(help="pip requirement (repeatable)")] = None,
    dataset: Annotated[list[str] | None, typer.Option(help="dataset version id (repeatable)")] = None,
    experiment: Annotated[str | None, typer.Option(help="MLflow experiment")] = None,
    project: Annotated[str | None, typer.Option()] = None,
    priority: Annotated[int, typer.Option(help="within the organisation; higher first")] = 0,
    preemptible: Annotated[bool, typer.Option(help="may be preempted when borrowing")] = True,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="stream the logs until the job ends")
    ] = False,
) -> None:
    """Submit a training job · 提交训练作业."""
    from .app import _client, console

    with _client() as (client, lang):
        sha = None
        if workdir is not None:
            if not workdir.is_dir():
                raise typer.BadParameter(say("not_a_directory", lang, path=workdir))
            console.print(say("packing", lang, path=workdir))
            archive = api.upload_archive(client, org, api.pack_directory(workdir))
            sha = archive.sha256
            console.print(say("uploaded", lang, size=archive.size_bytes, sha=sha[:12]))
        command = " ".join(entrypoint)
        job = api.submit(
            client,
            JobCreate(
                name=name or command[:128],
                org=org,
                project=project,
                entrypoint=command,
                workdir_sha256=sha,
                pip=pip or [],
                flavour=flavour,
                gpus_per_worker=gpus,
                workers=workers,
                cpus=cpus,
                memory_mb=memory_mb,
                time_limit_s=parse_duration(time_limit, lang),
                priority=priority,
                preemptible=preemptible,
                dataset_version_ids=dataset or [],
                mlflow_experiment=experiment,
            ),
        )
        console.print(say("submitted", lang, id=job.id, state=job.state))
        if follow:
            _follow(client, job.id, lang)


def _follow(client: api.AicommonsClient, job_id: str, lang: str) -> None:
    import sys
    import time

    from .app import console

    while True:
        job = api.get(client, job_id)
        if job.state not in ("QUEUED", "ADMITTED", "PREEMPTED"):
            break
        time.sleep(1.0)
    for chunk in api.follow_logs(client, job_id):
        sys.stdout.write(chunk)
        sys.stdout.flush()
    console.print(say("finished", lang, id=job_id, state=api.get(client, job_id).state))


@jobs_app.command("list")
def list_jobs(
    org: Annotated[str | None, typer.Option(help="organisation slug")] = None,
    state: Annotated[list[str] | None, typer.Option(help="QUEUED, RUNNING, … (repeatable)")] = None,
    limit: int = 50,
) -> None:
    """List jobs · 列出作业."""
    from .app import _client, console

    with _client() as (client, _lang):
        result = api.list_jobs(client, org, state, limit)
        table = Table(title=f"jobs ({result.total})")
        for column in ["id", "name", "org", "flavour", "GPUs", "state", "reason", "ETA"]:
            table.add_column(column, no_wrap=column == "id")
        for job in result.items:
            table.add_row(*_row(job))
        console.print(table)


@jobs_app.command("show")
def show(job_id: str) -> None:
    """Show a job and its history · 查看作业及其状态历史."""
    from .app import _client, console

    with _client() as (client, _lang):
        job = api.get(client, job_id)
        console.print_json(job.model_dump_json())
        for event in api.events(client, job_id):
            console.print(
                f"{event.at:%Y-%m-%d %H:%M:%S} #{event.attempt} {event.from_state} → {event.to_state}"
            )


@jobs_app.command("why")
def why(job_id: str) -> None:
    """Why a job waits: reason, position, ETA · 作业为何排队：原因、位置、预计时间."""
    from .app import _client, console

    with _client() as (client, lang):
        job = api.get(client, job_id)
        if job.wait is None:
            console.print(say("not_waiting", lang, id=job_id, state=job.state))
            return
        wait = job.wait
        console.print(say("why", lang, id=job_id, message=wait.message))
        console.print(
            say("position", lang, org=wait.org_position or "?", flavour=wait.flavour_position or "?")
        )
        if wait.eta_earliest and wait.eta_latest:
            fmt = "%Y-%m-%d %H:%M"
            console.print(
                say(
                    "eta",
                    lang,
                    earliest=wait.eta_earliest.strftime(fmt),
                    latest=wait.eta_latest.strftime(fmt),
                )
            )
        else:
            console.print(say("eta_unknown", lang))


@jobs_app.command("logs")
def logs(
    job_id: str,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="stream until the job ends")] = False,
) -> None:
    """Print a job's logs · 查看作业日志."""
    import sys

    from .app import _client

    with _client() as (client, _lang):
        if follow:
            for chunk in api.follow_logs(client, job_id):
                sys.stdout.write(chunk)
                sys.stdout.flush()
        else:
            sys.stdout.write(api.logs(client, job_id))


@jobs_app.command("cancel")
def cancel(job_id: str) -> None:
    """Cancel a job · 取消作业."""
    from .app import _client, console

    with _client() as (client, lang):
        job = api.cancel(client, job_id)
        console.print(say("cancelled", lang, id=job.id, state=job.state, stop=job.stop_requested or "-"))


def register(app: typer.Typer) -> None:
    app.add_typer(jobs_app, name="jobs")
