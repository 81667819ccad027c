"""Job pages: the jobs of the caller's organisations with live states, the submit form (with a
working-directory upload), a job's page (spec, history, why it waits, cost, live logs, cancel), and
the dashboard's job and balance summary.

Like every page, these call the services the REST API calls (`aicommons.scheduler.jobs.service`,
`.archives`, `aicommons.datasets.credentials`) in the request transaction; nothing is decided here.
Live parts (the jobs table, a job's status and its logs) are fragments that htmx polls; a fragment
stops the polling by leaving out `hx-trigger` once nothing in it can change any more.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, File, Form, Path, Query, Request, Response, UploadFile
from sqlalchemy.orm import Session

from aicommons.datasets import policy as dataset_policy
from aicommons.datasets import repository as dataset_repository
from aicommons.datasets import service as dataset_service
from aicommons.datasets.credentials import resolve_job_datasets
from aicommons.datasets.schemas import DatasetOut
from aicommons.portal.api.allocations import org_slugs
from aicommons.portal.api.datasets import get_store
from aicommons.portal.api.deps import SessionDep
from aicommons.portal.api.jobs import get_launcher
from aicommons.portal.auth import service as auth_service
from aicommons.portal.core.errors import AppError
from aicommons.portal.core.i18n import Lang, translate
from aicommons.portal.core.principal import Principal
from aicommons.portal.core.time import utcnow
from aicommons.portal.orgs import repository as org_repository
from aicommons.portal.orgs import service as orgs_service
from aicommons.scheduler import allocations, flavours
from aicommons.scheduler import repository as quota_repository
from aicommons.scheduler.jobs import archives, repository, service
from aicommons.scheduler.jobs.models import Job
from aicommons.scheduler.jobs.reconciler import run_id
from aicommons.scheduler.jobs.schemas import JobCreate, JobOut
from aicommons.scheduler.jobs.states import HOLDING, TERMINAL, JobState
from aicommons.scheduler.launchers.base import LauncherError

from .rendering import (
    CsrfDep,
    Page,
    SignedInPageDep,
    WebRoute,
    form_refusal,
    parse_form,
    redirect,
    render,
    success,
)

log = logging.getLogger(__name__)
router = APIRouter(route_class=WebRoute, include_in_schema=False)
FormStr = Annotated[str, Form()]
JobId = Path(max_length=36)
PAGE_SIZE = 50
LOG_TAIL_LINES = 200
LOG_TAIL_CHARS = 64 * 1024
DATASET_CHOICES = 100
RUNNING_STATES = [s.value for s in HOLDING]
# Hooks for the state badge colours: the stylesheet's existing badge classes, plus one per state.
BADGE_CLASS = {
    "QUEUED": "badge-state-requested",
    "ADMITTED": "badge-member",
    "STARTING": "badge-member",
    "RUNNING": "badge-active",
    "SUCCEEDED": "badge-steward",
    "FAILED": "badge-revoked",
    "CANCELLED": "badge-action",
    "TIMED_OUT": "badge-revoked",
    "PREEMPTED": "badge-soon",
}
JOB_LABELS = {
    "org": "web.jobs.form.org",
    "name": "web.jobs.form.name",
    "entrypoint": "web.jobs.form.entrypoint",
    "pip": "web.jobs.form.pip",
    "flavour": "web.jobs.form.flavour",
    "gpus_per_worker": "web.jobs.form.gpus_per_worker",
    "workers": "web.jobs.form.workers",
    "time_limit_s": "web.jobs.form.time_limit",
    "priority": "web.jobs.form.priority",
    "preemptible": "web.jobs.form.preemptible",
    "dataset_version_ids": "web.jobs.form.datasets",
    "mlflow_experiment": "web.jobs.form.mlflow",
}


@dataclass
class JobView:
    """A job as the pages show it: the API's view plus one line, in the page's language, of why it
    waits, how it is stopping or how it ended."""

    out: JobOut
    note: str | None
    badge: str

    @property
    def terminal(self) -> bool:
        return JobState(self.out.state) in TERMINAL


def _note(job: Job, out: JobOut, lang: Lang) -> str | None:
    if out.wait is not None:
        return out.wait.message
    if job.stop_requested and JobState(job.state) not in TERMINAL:
        return translate(f"web.jobs.stopping.{job.stop_requested}", lang, None, job.stop_requested)
    if job.message_code:
        return translate(job.message_code, lang, job.message_params or {}, job.message)
    # The backend's own words explain failures; on success they add nothing (and are English only).
    return None if job.state == JobState.SUCCEEDED.value else job.message


def job_views(session: Session, jobs: list[Job], lang: Lang) -> list[JobView]:
    names, slugs = quota_repository.flavour_names(session), org_slugs(session)
    used = service.gpu_seconds_by_job(session, [j.id for j in jobs])
    now = utcnow()
    views = []
    for job in jobs:
        out = service.to_out(job, names, slugs, used.get(job.id, 0), lang, now)
        views.append(JobView(out, _note(job, out, lang), BADGE_CLASS.get(job.state, "badge-member")))
    return views


def _nudge(request: Request) -> None:
    """Wake the reconcile loop, as the API does after a submit or a cancel."""
    loop = getattr(request.app.state, "scheduler_loop", None)
    if loop is not None:
        loop.nudge()


def _org_choices(session: Session, principal: Principal) -> list[tuple[str, str]]:
    """(slug, name) of the organisations the caller may submit for: all of them for administrators."""
    if principal.is_admin:
        return [(o.slug, o.name) for o in org_repository.list_all(session)]
    return [(m.org_slug, m.org_name) for m in auth_service.memberships_view(session, principal.user_id)]


# --- the list: /jobs ----------------------------------------------------------------------


def _listing(page: Page, session: Session, state: str | None, org: str | None, offset: int) -> dict[str, Any]:
    assert page.principal is not None
    org_id = orgs_service.get(session, page.principal, org).id if org else None
    states = [state] if state else None
    total, jobs = service.visible(session, page.principal, org_id, states, PAGE_SIZE, offset)
    filters = {k: v for k, v in (("state", state), ("org", org)) if v}

    def link(at: int) -> str:
        return urlencode({**filters, **({"offset": at} if at else {})})

    return {
        "jobs": job_views(session, jobs, page.lang),
        "total": total,
        "filters": filters,
        "table_query": link(offset),
        "newer_query": link(max(0, offset - PAGE_SIZE)) if offset > 0 else None,
        "older_query": link(offset + PAGE_SIZE) if offset + PAGE_SIZE < total else None,
        "orgs": _org_choices(session, page.principal),
        "states": [s.value for s in JobState],
    }


@router.get("/jobs")
def jobs_page(
    page: SignedInPageDep,
    session: SessionDep,
    state: Annotated[str | None, Query(max_length=16)] = None,
    org: Annotated[str | None, Query(max_length=64)] = None,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> Response:
    return render(page, "jobs.html", **_listing(page, session, state or None, org or None, offset))


@router.get("/jobs/table")
def jobs_table(
    page: SignedInPageDep,
    session: SessionDep,
    state: Annotated[str | None, Query(max_length=16)] = None,
    org: Annotated[str | None, Query(max_length=64)] = None,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> Response:
    """The table alone, polled by the list page."""
    return render(page, "jobs_table.html", **_listing(page, session, state or None, org or None, offset))


# --- the submit form: /jobs/new -------------------------------------------------------------


def _usable_in_a_job(session: Session, principal: Principal, ds: DatasetOut, now: datetime) -> bool:
    """Whether a job of one of the caller's organisations may read the dataset (the datasets policy)."""
    if principal.is_admin:
        return True
    for org_id in principal.memberships:
        granted = dataset_repository.active_grant(session, ds.id, org_id, now) is not None
        if dataset_policy.job_access_refusal(ds.level, ds.org_id, org_id, granted) is None:
            return True
    return False


def _dataset_choices(session: Session, principal: Principal, lang: Lang) -> list[tuple[str, str]]:
    """(version id, label) of published versions some organisation of the caller may read in a job.

    The submit re-checks the chosen ones for the chosen organisation (`resolve_job_datasets`)."""
    found = dataset_service.search(session, principal, None, {}, DATASET_CHOICES, 0)
    now, choices = utcnow(), []
    for ds in found.items:
        if not ds.has_published or not _usable_in_a_job(session, principal, ds, now):
            continue
        title = ds.title_zh if lang == "zh" else ds.title_en
        for version in dataset_repository.versions(session, ds.id):
            if version.state in ("published", "deprecated"):
                label = translate(
                    "web.jobs.form.dataset_option", lang,
                    {"title": title, "slug": ds.slug, "number": version.number, "level": ds.level},
                )  # fmt: skip
                choices.append((version.id, label))
    return choices


def _new_page(
    page: Page, session: Session, form: dict[str, Any], status: int = 200, **extra: Any
) -> Response:
    assert page.principal is not None
    usable = [f for f in flavours.list_all(session) if f.capacity_gpus > 0]
    return render(
        page,
        "jobs_new.html",
        status,
        form=form,
        orgs=_org_choices(session, page.principal),
        flavours=usable,
        dataset_choices=_dataset_choices(session, page.principal, page.lang),
        max_hours=round(page.settings.jobs_max_time_limit_s / 3600, 2),
        **extra,
    )


def _default_form(org: str | None) -> dict[str, Any]:
    return {
        "org": org or "",
        "gpus_per_worker": "1",
        "workers": "1",
        "time_limit_hours": "1",
        "time_limit_minutes": "0",
        "priority": "0",
        "preemptible": True,
        "pip": "",
        "dataset_version_ids": [],
    }


@router.get("/jobs/new")
def new_job_page(
    page: SignedInPageDep, session: SessionDep, org: Annotated[str | None, Query(max_length=64)] = None
) -> Response:
    return _new_page(page, session, _default_form(org))


def _time_limit_s(hours: str, minutes: str) -> int | None:
    """Seconds from the two fields; None (a validation error on the time limit) when not whole numbers."""
    try:
        return int(hours.strip() or 0) * 3600 + int(minutes.strip() or 0) * 60
    except ValueError:
        return None


def _job_create(form: dict[str, Any], lang: Lang) -> JobCreate:
    def blank(key: str) -> str | None:
        return str(form[key]).strip() or None

    return parse_form(
        JobCreate,
        JOB_LABELS,
        lang,
        org=str(form["org"]).strip(),
        name=str(form["name"]).strip(),
        entrypoint=str(form["entrypoint"]).strip(),
        pip=[line.strip() for line in str(form["pip"]).splitlines() if line.strip()],
        flavour=str(form["flavour"]).strip(),
        gpus_per_worker=blank("gpus_per_worker"),
        workers=blank("workers") or 1,
        time_limit_s=_time_limit_s(form["time_limit_hours"], form["time_limit_minutes"]),
        priority=blank("priority") or 0,
        preemptible=bool(form["preemptible"]),
        dataset_version_ids=list(form["dataset_version_ids"]),
        mlflow_experiment=blank("mlflow_experiment"),
    )


def _submit(page: Page, session: Session, form: dict[str, Any], workdir: UploadFile | None) -> Job:
    """Validate, store the archive, resolve the datasets and queue the job, all in this transaction."""
    assert page.principal is not None
    data = _job_create(form, page.lang)
    org_id = orgs_service.get(session, page.principal, data.org).id
    page.principal.require_member(org_id)
    if workdir is not None and workdir.filename:
        stored = archives.store(session, page.principal, page.settings, org_id, workdir.file)
        data = data.model_copy(update={"workdir_sha256": stored.sha256})
    datasets: list[dict[str, Any]] = []
    if data.dataset_version_ids:
        store = get_store(page.request)
        resolved, _ = resolve_job_datasets(session, store, org_id, data.dataset_version_ids)
        datasets = [d.model_dump(mode="json") for d in resolved]
    return service.submit(session, page.principal, page.settings, org_id, data, datasets)


@router.post("/jobs/new", dependencies=[CsrfDep])
def submit_job(
    page: SignedInPageDep,
    session: SessionDep,
    org: FormStr = "",
    name: FormStr = "",
    entrypoint: FormStr = "",
    pip: FormStr = "",
    flavour: FormStr = "",
    gpus_per_worker: FormStr = "",
    workers: FormStr = "",
    time_limit_hours: FormStr = "",
    time_limit_minutes: FormStr = "",
    priority: FormStr = "",
    preemptible: FormStr = "",
    mlflow_experiment: FormStr = "",
    dataset_version_ids: Annotated[list[str] | None, Form()] = None,
    workdir: Annotated[UploadFile | None, File()] = None,
) -> Response:
    form: dict[str, Any] = {
        "org": org, "name": name, "entrypoint": entrypoint, "pip": pip, "flavour": flavour,
        "gpus_per_worker": gpus_per_worker, "workers": workers, "time_limit_hours": time_limit_hours,
        "time_limit_minutes": time_limit_minutes, "priority": priority, "preemptible": bool(preemptible),
        "mlflow_experiment": mlflow_experiment,
        "dataset_version_ids": [v[:36] for v in dataset_version_ids or []],
    }  # fmt: skip
    try:
        job = _submit(page, session, form, workdir)
        # Committed before the nudge, so that the loop's next cycle sees the job.
        session.commit()
    except AppError as error:
        refused = form_refusal(page, session, error)
        reattach = workdir is not None and bool(workdir.filename)
        return _new_page(page, session, form, **refused, reattach=reattach)
    _nudge(page.request)
    return redirect(page, f"/jobs/{job.id}", success("web.jobs.submitted", name=job.name))


# --- one job: /jobs/{id} ----------------------------------------------------------------------


def _tail(text: str) -> str:
    lines = text[-LOG_TAIL_CHARS:].splitlines()
    return "\n".join(lines[-LOG_TAIL_LINES:])


def _logs(page: Page, job: Job) -> dict[str, Any]:
    """The logs panel: the tail of what the job printed, or why there is nothing to show."""
    context: dict[str, Any] = {"job_id": job.id, "live": JobState(job.state) not in TERMINAL, "text": ""}
    if job.admitted_at is None and job.started_at is None:
        return {**context, "note": page.t("web.jobs.logs.not_started")}
    try:
        launcher = get_launcher(page.request)
        text = launcher.logs(run_id(job, launcher))
    except LauncherError as exc:
        detail = translate(exc.code, page.lang, exc.params, str(exc))
        return {**context, "note": page.t("web.jobs.logs.unavailable", detail=detail)}
    except Exception:
        # A backend client may fail in ways its adapter does not wrap; the page must still render.
        log.exception("logs of job %s", job.id)
        return {**context, "note": page.t("web.jobs.logs.failed")}
    tail = _tail(text)
    return {**context, "text": tail, "note": None if tail else page.t("web.jobs.logs.empty")}


def _status(page: Page, session: Session, job: Job) -> dict[str, Any]:
    """The live part of a job's page: state, why it waits, cost, history and the cancel button."""
    view = job_views(session, [job], page.lang)[0]
    can_cancel = not view.terminal and job.stop_requested is None
    return {"job": view, "events": repository.events(session, job.id), "can_cancel": can_cancel}


def _job_page(page: Page, session: Session, job_id: str, status: int = 200, **extra: Any) -> Response:
    assert page.principal is not None
    job = service.get(session, page.principal, job_id)
    context = _status(page, session, job)
    slug = context["job"].out.org
    org = org_repository.by_slug(session, slug)
    return render(
        page,
        "jobs_detail.html",
        status,
        **context,
        logs=_logs(page, job),
        org_name=org.name if org else slug,
        models_link=f"/orgs/{slug}/models",
        time_limit={"hours": job.time_limit_s // 3600, "minutes": job.time_limit_s % 3600 // 60},
        **extra,
    )


@router.get("/jobs/{job_id}")
def job_page(page: SignedInPageDep, session: SessionDep, job_id: str = JobId) -> Response:
    return _job_page(page, session, job_id)


@router.get("/jobs/{job_id}/status")
def job_status(page: SignedInPageDep, session: SessionDep, job_id: str = JobId) -> Response:
    """The status card alone, polled by the job's page until the job has ended."""
    assert page.principal is not None
    job = service.get(session, page.principal, job_id)
    return render(page, "jobs_status.html", **_status(page, session, job))


@router.get("/jobs/{job_id}/logs")
def job_logs(page: SignedInPageDep, session: SessionDep, job_id: str = JobId) -> Response:
    """The logs panel alone, polled by the job's page until the job has ended."""
    assert page.principal is not None
    job = service.get(session, page.principal, job_id)
    return render(page, "jobs_logs.html", logs=_logs(page, job))


@router.post("/jobs/{job_id}/cancel", dependencies=[CsrfDep])
def cancel_job(page: SignedInPageDep, session: SessionDep, job_id: str = JobId) -> Response:
    assert page.principal is not None
    try:
        job = service.cancel(session, page.principal, job_id)
        session.commit()
    except AppError as error:
        refused = form_refusal(page, session, error, not_found_page=True)
        return _job_page(page, session, job_id, **refused)
    _nudge(page.request)
    code = "web.jobs.cancelled" if job.state == JobState.CANCELLED.value else "web.jobs.cancel_requested"
    return redirect(page, f"/jobs/{job.id}", success(code, name=job.name))


# --- the dashboard ----------------------------------------------------------------------------


def dashboard_summary(page: Page, session: Session, memberships: list[Any]) -> dict[str, Any]:
    """Balances of the caller's organisations, running and queued job counts, the newest jobs."""
    assert page.principal is not None
    principal = page.principal
    balances = [(m, allocations.balance(session, principal, m.org_id)) for m in memberships]
    running, _ = service.visible(session, principal, None, RUNNING_STATES, limit=1)
    queued, _ = service.visible(session, principal, None, [JobState.QUEUED.value], limit=1)
    _, recent = service.visible(session, principal, None, None, limit=5)
    return {
        "balances": balances,
        "running_jobs": running,
        "queued_jobs": queued,
        "recent_jobs": job_views(session, recent, page.lang),
    }
