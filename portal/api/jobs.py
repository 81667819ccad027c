"""Training jobs: working-directory archives, submission, queue explanations, logs, cancellation."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Path, Query, Request, UploadFile
from fastapi.responses import PlainTextResponse, StreamingResponse
from sqlalchemy.orm import Session

from aicommons.datasets.credentials import resolve_job_datasets
from aicommons.portal.core.errors import Conflict, Unavailable
from aicommons.portal.core.i18n import Lang
from aicommons.portal.core.time import utcnow
from aicommons.scheduler import metering
from aicommons.scheduler import repository as quota_repository
from aicommons.scheduler.jobs import archives, repository, service
from aicommons.scheduler.jobs.models import Job
from aicommons.scheduler.jobs.reconciler import run_id
from aicommons.scheduler.jobs.schemas import ArchiveOut, JobCreate, JobEventOut, JobList, JobOut, WaitOut
from aicommons.scheduler.launchers.base import Launcher, LauncherError
from aicommons.scheduler.schemas import SLUG_PATTERN, UsageOut

from .allocations import OrgQuery, org_id_of, org_slugs
from .datasets import StoreDep
from .deps import PrincipalDep, SessionDep, SettingsDep, get_lang

router = APIRouter(tags=["jobs"])
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such job, or not visible to the caller"}
}
JobId = Path(max_length=36)
LangDep = Annotated[Lang, Depends(get_lang)]


def get_launcher(request: Request) -> Launcher:
    launcher: Launcher | None = getattr(request.app.state, "launcher", None)
    if launcher is None:
        from aicommons.portal.scheduling import make_launcher

        launcher = make_launcher(request.app.state.settings)
        request.app.state.launcher = launcher
    return launcher


def _nudge(request: Request) -> None:
    loop = getattr(request.app.state, "scheduler_loop", None)
    if loop is not None:
        loop.nudge()


def _outs(session: Session, jobs: list[Job], lang: Lang) -> list[JobOut]:
    names, slugs = quota_repository.flavour_names(session), org_slugs(session)
    used = service.gpu_seconds_by_job(session, [j.id for j in jobs])
    now = utcnow()
    return [service.to_out(j, names, slugs, used.get(j.id, 0), lang, now) for j in jobs]


@router.post("/jobs/archives", response_model=ArchiveOut, status_code=201, responses=NOT_FOUND)
def upload_archive(
    principal: PrincipalDep,
    session: SessionDep,
    settings: SettingsDep,
    org: Annotated[str, Form(max_length=64, pattern=SLUG_PATTERN)],
    file: Annotated[UploadFile, File(description="the working directory as a .zip archive")],
    sha256: Annotated[str | None, Form(pattern=r"^[0-9a-fA-F]{64}$")] = None,
) -> ArchiveOut:
    """Upload a working directory (zip); it is kept by content hash and named in a job by `workdir_sha256`."""
    org_id = org_id_of(session, principal, org)
    assert org_id is not None
    row = archives.store(session, principal, settings, org_id, file.file, sha256)
    return ArchiveOut(sha256=row.sha256, size_bytes=row.size_bytes)


@router.post("/jobs", response_model=JobOut, status_code=201, responses=NOT_FOUND)
def submit_job(
    request: Request,
    principal: PrincipalDep,
    session: SessionDep,
    settings: SettingsDep,
    store: StoreDep,
    lang: LangDep,
    body: JobCreate,
) -> JobOut:
    org_id = org_id_of(session, principal, body.org)
    assert org_id is not None
    principal.require_member(org_id)
    datasets: list[dict[str, Any]] = []
    if body.dataset_version_ids:
        resolved, _ = resolve_job_datasets(session, store, org_id, body.dataset_version_ids)
        datasets = [d.model_dump(mode="json") for d in resolved]
    job = service.submit(session, principal, settings, org_id, body, datasets)
    session.commit()
    _nudge(request)
    return _outs(session, [job], lang)[0]


@router.get("/jobs", response_model=JobList, responses=NOT_FOUND)
def list_jobs(
    principal: PrincipalDep,
    session: SessionDep,
    lang: LangDep,
    org: str | None = OrgQuery,
    state: Annotated[list[str] | None, Query(max_length=9)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> JobList:
    total, jobs = service.visible(
        session, principal, org_id_of(session, principal, org), state, limit, offset
    )
    return JobList(items=_outs(session, jobs, lang), total=total)


@router.get("/jobs/{job_id}", response_model=JobOut, responses=NOT_FOUND)
def get_job(principal: PrincipalDep, session: SessionDep, lang: LangDep, job_id: str = JobId) -> JobOut:
    return _outs(session, [service.get(session, principal, job_id)], lang)[0]


@router.get(
    "/jobs/{job_id}/why", response_model=WaitOut, responses={**NOT_FOUND, 409: {"description": "not queued"}}
)
def why_waiting(principal: PrincipalDep, session: SessionDep, lang: LangDep, job_id: str = JobId) -> WaitOut:
    """Why a queued job waits: reason, position in its organisation's and its flavour's line, ETA range."""
    job = service.get(session, principal, job_id)
    wait = service.wait_of(job, lang)
    if wait is None:
        raise Conflict("job.not_waiting", state=job.state)
    return wait


@router.get("/jobs/{job_id}/events", response_model=list[JobEventOut], responses=NOT_FOUND)
def job_events(principal: PrincipalDep, session: SessionDep, job_id: str = JobId) -> list[JobEventOut]:
    service.get(session, principal, job_id)
    return [JobEventOut.model_validate(e) for e in repository.events(session, job_id)]


@router.get("/jobs/{job_id}/usage", response_model=list[UsageOut], responses=NOT_FOUND)
def job_usage(principal: PrincipalDep, session: SessionDep, job_id: str = JobId) -> list[UsageOut]:
    """The job's run intervals as metered: GPU-seconds, how each ended, what was charged."""
    job = service.get(session, principal, job_id)
    names, slug = quota_repository.flavour_names(session), org_slugs(session).get(job.org_id)
    intervals = repository.usage_of(session, job_id)
    return [metering.to_out(u, names).model_copy(update={"org": slug}) for u in intervals]


@router.post(
    "/jobs/{job_id}/cancel", response_model=JobOut, responses={**NOT_FOUND, 409: {"description": "ended"}}
)
def cancel_job(
    request: Request, principal: PrincipalDep, session: SessionDep, lang: LangDep, job_id: str = JobId
) -> JobOut:
    job = service.cancel(session, principal, job_id)
    session.commit()
    _nudge(request)
    return _outs(session, [job], lang)[0]


@router.get("/jobs/{job_id}/logs", response_class=PlainTextResponse, responses=NOT_FOUND)
def job_logs(
    request: Request,
    principal: PrincipalDep,
    session: SessionDep,
    job_id: str = JobId,
    follow: bool = Query(default=False, description="stream until the job ends"),
) -> Any:
    job = service.get(session, principal, job_id)
    if job.admitted_at is None and job.started_at is None:
        return PlainTextResponse("")
    launcher = get_launcher(request)
    if follow:
        return StreamingResponse(
            _follow(launcher, run_id(job, launcher)), media_type="text/plain; charset=utf-8"
        )
    try:
        return PlainTextResponse(launcher.logs(run_id(job, launcher)))
    except LauncherError as exc:
        raise Unavailable("job.logs_unavailable", detail=str(exc)[:300]) from exc


def _follow(launcher: Launcher, job_id: str) -> Iterator[str]:
    try:
        yield from launcher.follow_logs(job_id)
    except LauncherError as exc:
        yield f"\n[aicommons] {exc}\n"
