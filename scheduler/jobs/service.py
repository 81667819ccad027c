"""Use cases of the job domain: submit, read, explain, cancel. Services never commit."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from aicommons.portal.core.errors import Conflict, InvalidInput, NotFound
from aicommons.portal.core.i18n import Lang, translate
from aicommons.portal.core.principal import Principal
from aicommons.portal.core.settings import Settings
from aicommons.portal.core.time import utcnow

from .. import flavours
from ..models import UsageRecord
from . import messages as _messages  # noqa: F401  (registers the catalogue)
from . import repository
from .models import Job
from .schemas import JobCreate, JobOut, WaitOut
from .states import TERMINAL, JobState, transition


def submit(
    session: Session,
    principal: Principal,
    settings: Settings,
    org_id: str,
    data: JobCreate,
    datasets: Sequence[dict[str, Any]] = (),
) -> Job:
    """Queue a job. ``datasets`` are the locations of ``data.dataset_version_ids``, resolved (and
    access-checked) by the caller, since this package does not know the datasets domain."""
    principal.require_member(org_id)
    flavour = flavours.resolve(session, data.flavour)
    gpus = data.gpus_per_worker * data.workers
    if gpus > flavour.capacity_gpus:
        raise InvalidInput(
            "job.gpus_over_capacity", gpus=gpus, flavour=flavour.name, capacity=flavour.capacity_gpus
        )
    if data.time_limit_s > settings.jobs_max_time_limit_s:
        raise InvalidInput("job.time_limit_over_max", max_hours=settings.jobs_max_time_limit_s / 3600)
    if data.workdir_sha256 and repository.archive(session, data.workdir_sha256, org_id) is None:
        raise InvalidInput("job.archive_not_found", sha256=data.workdir_sha256)
    now = utcnow()
    job = Job(
        name=data.name,
        org_id=org_id,
        project=data.project,
        submitted_by=principal.user_id,
        entrypoint=data.entrypoint,
        workdir_sha256=data.workdir_sha256,
        pip=list(data.pip),
        flavour_id=flavour.id,
        gpus_per_worker=data.gpus_per_worker,
        workers=data.workers,
        cpus=data.cpus,
        memory_mb=data.memory_mb,
        time_limit_s=data.time_limit_s,
        priority=data.priority,
        preemptible=data.preemptible,
        dataset_version_ids=list(data.dataset_version_ids),
        datasets=list(datasets),
        mlflow_experiment=data.mlflow_experiment,
        state=JobState.QUEUED.value,
        attempt=0,
        submitted_at=now,
        queued_at=now,
        wait_params={},
    )
    session.add(job)
    session.flush()
    return job


def get(session: Session, principal: Principal, job_id: str, lock: bool = False) -> Job:
    job = repository.job(session, job_id, lock=lock)
    if job is None or not principal.can_read(job.org_id):
        raise NotFound("job.not_found")
    return job


def visible(
    session: Session,
    principal: Principal,
    org_id: str | None,
    states: Sequence[str] | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[int, list[Job]]:
    if org_id is not None:
        principal.require_member(org_id)
        org_ids: list[str] | None = [org_id]
    else:
        org_ids = None if principal.is_admin else list(principal.memberships)
    bad = [s for s in states or () if s not in JobState.__members__]
    if bad:
        raise InvalidInput("job.state_unknown", state=bad[0])
    return repository.jobs(session, org_ids, states, min(max(limit, 1), 200), max(offset, 0))


def cancel(session: Session, principal: Principal, job_id: str) -> Job:
    """Queued jobs end at once; admitted and running ones are stopped by the loop, then marked CANCELLED."""
    job = get(session, principal, job_id, lock=True)
    state = JobState(job.state)
    if state in TERMINAL:
        raise Conflict("job.already_ended", state=state.value)
    if state in (JobState.QUEUED, JobState.PREEMPTED):
        if state is JobState.PREEMPTED:
            session.add(transition(job, JobState.QUEUED, utcnow()))
        session.add(transition(job, JobState.CANCELLED, utcnow()))
        job.message_code, job.message_params = "job.message.cancelled", {"user": principal.username}
    else:
        job.stop_requested = "cancel"
    session.flush()
    return job


def wait_of(job: Job, lang: Lang) -> WaitOut | None:
    if job.state != JobState.QUEUED.value:
        return None
    # Queued since the last admission cycle ran: the next one will explain it.
    reason = job.wait_reason or "pending"
    return WaitOut(
        reason=reason,
        message=translate(f"job.reason.{reason}", lang, job.wait_params or {}),
        org_position=job.org_position,
        flavour_position=job.flavour_position,
        eta_earliest=job.eta_earliest,
        eta_latest=job.eta_latest,
    )


def gpu_seconds_by_job(session: Session, job_ids: Sequence[str]) -> dict[str, int]:
    """GPU-seconds of the finished run intervals of each job (charged or not)."""
    if not job_ids:
        return {}
    query = (
        select(UsageRecord.job_id, func.coalesce(func.sum(UsageRecord.gpu_seconds), 0))
        .where(UsageRecord.job_id.in_(job_ids))
        .group_by(UsageRecord.job_id)
    )
    return {job_id: int(total) for job_id, total in session.execute(query)}


def to_out(
    job: Job, flavour_names: dict[str, str], org_slugs: dict[str, str], used: int, lang: Lang, now: datetime
) -> JobOut:
    running = job.state in (JobState.RUNNING.value, JobState.STARTING.value) and job.started_at is not None
    so_far = used + (job.gpus * max(0, int((now - job.started_at).total_seconds())) if running else 0)  # type: ignore[operator]
    return JobOut(
        id=job.id,
        name=job.name,
        org=org_slugs.get(job.org_id, job.org_id),
        project=job.project,
        submitted_by=job.submitted_by,
        entrypoint=job.entrypoint,
        workdir_sha256=job.workdir_sha256,
        pip=list(job.pip or []),
        flavour=flavour_names.get(job.flavour_id, job.flavour_id),
        gpus_per_worker=job.gpus_per_worker,
        workers=job.workers,
        gpus=job.gpus,
        cpus=job.cpus,
        memory_mb=job.memory_mb,
        time_limit_s=job.time_limit_s,
        priority=job.priority,
        preemptible=job.preemptible,
        dataset_version_ids=list(job.dataset_version_ids or []),
        datasets=list(job.datasets or []),
        mlflow_experiment=job.mlflow_experiment,
        state=job.state,
        attempt=job.attempt,
        submitted_at=job.submitted_at,
        queued_at=job.queued_at,
        admitted_at=job.admitted_at,
        started_at=job.started_at,
        ended_at=job.ended_at,
        message=job.message,
        note=translate(job.message_code, lang, job.message_params or {}) if job.message_code else None,
        stop_requested=job.stop_requested,
        wait=wait_of(job, lang),
        gpu_seconds_so_far=so_far,
    )
