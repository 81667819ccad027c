"""Metering of job runs through the quota domain's usage records (idempotent per run interval)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from .. import metering
from .. import repository as quota_repository
from ..policy import Outcome
from ..schemas import UsageCreate
from .models import Job


def record_run(session: Session, job: Job, ended_at: datetime, outcome: Outcome) -> None:
    """Record the interval the job's current attempt held its devices; charged or not by its outcome."""
    started = job.started_at
    if started is None or ended_at <= started:
        return
    flavour_names = quota_repository.flavour_names(session)
    # The org slug is for the API's wire type only; metering takes the id.
    data = UsageCreate.model_construct(
        org="",
        flavour=flavour_names[job.flavour_id],
        job_id=job.id,
        attempt=job.attempt,
        started_at=started,
        ended_at=ended_at,
        gpus=job.gpus,
        outcome=outcome,
    )
    metering.record_usage(session, None, job.org_id, data)
