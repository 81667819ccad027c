"""Wires the scheduler into the portal: what a job finds in its environment at launch, the launcher,
and the reconcile loop that runs inside the portal process (or alone, with `aicommons scheduler run`).

The scheduler package knows neither MLflow, nor tokens, nor datasets; this composition step hands
it a function that adds them to a job's environment.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable

import httpx
from sqlalchemy.orm import Session, sessionmaker

from aicommons.datasets.credentials import mint_job_credentials
from aicommons.datasets.storage import ObjectStore, build_store
from aicommons.portal.auth.job_tokens import MAX_TTL_S, issue_job_token
from aicommons.portal.core.errors import AppError
from aicommons.portal.core.settings import Settings
from aicommons.portal.orgs.models import Organisation
from aicommons.portal.tracking.workspaces import ensure_workspace
from aicommons.scheduler.jobs.loop import ReconcileLoop
from aicommons.scheduler.jobs.models import Job
from aicommons.scheduler.jobs.reconciler import JobEnvironment, JobVariables, Reconciler
from aicommons.scheduler.launchers import registry
from aicommons.scheduler.launchers.base import Launcher

log = logging.getLogger(__name__)


def job_environment(settings: Settings, store: Callable[[], ObjectStore]) -> JobEnvironment:
    def environment(session: Session, job: Job) -> JobVariables:
        org = session.get(Organisation, job.org_id)
        slug = org.slug if org is not None else job.org_id
        lifetime = min(MAX_TTL_S, job.time_limit_s + settings.jobs_token_ttl_extra_s)
        variables = JobVariables(
            env={"MLFLOW_TRACKING_URI": f"{settings.base_url}/mlflow", "MLFLOW_WORKSPACE": slug},
            secrets={
                "MLFLOW_TRACKING_TOKEN": issue_job_token(
                    session,
                    settings,
                    user_id=job.submitted_by,
                    org_id=job.org_id,
                    job_id=job.id,
                    ttl_s=lifetime,
                )
            },
        )
        _ensure_workspace(settings, slug)
        if job.dataset_version_ids:
            _add_dataset_variables(session, settings, store(), job, variables)
        return variables

    return environment


def _ensure_workspace(settings: Settings, slug: str) -> None:
    """Best effort: the job's first MLflow call finds its workspace ready. MLflow being down is no
    reason not to start the job; the job's own MLflow calls will say so."""
    try:
        # MLflow's client retries an absent server for minutes; a launch must not wait on that.
        httpx.get(f"{settings.mlflow_url}/health", timeout=2).raise_for_status()
    except httpx.HTTPError as exc:
        log.warning("MLflow at %s not reachable before launch: %s", settings.mlflow_url, exc)
        return
    try:
        ensure_workspace(settings.mlflow_url, slug)
    except AppError as exc:
        log.warning("MLflow workspace %s not ensured before launch: %s", slug, exc)


def _add_dataset_variables(
    session: Session, settings: Settings, store: ObjectStore, job: Job, variables: JobVariables
) -> None:
    """Read-only credentials for exactly the job's dataset versions, for standard S3 tools."""
    creds = mint_job_credentials(
        session, store, settings, job.org_id, job.dataset_version_ids, job.time_limit_s, job_id=job.id
    )
    variables.env.update(
        {
            "AICOMMONS_DATASETS": json.dumps([d.model_dump(mode="json") for d in creds.datasets]),
            "AICOMMONS_DATASET_VERSIONS": ",".join(f"{d.dataset}@{d.version}" for d in creds.datasets),
            "AICOMMONS_DATASET_CREDENTIALS_EXPIRE_AT": creds.expires_at.isoformat(),
        }
    )
    if creds.kind == "s3":
        variables.env.update(
            {
                "AWS_ENDPOINT_URL": creds.endpoint or "",
                "AWS_DEFAULT_REGION": creds.region or settings.s3_region,
            }
        )
        variables.secrets.update(
            {
                "AWS_ACCESS_KEY_ID": creds.access_key or "",
                "AWS_SECRET_ACCESS_KEY": creds.secret_key or "",
                "AWS_SESSION_TOKEN": creds.session_token or "",
            }
        )


def make_launcher(settings: Settings) -> Launcher:
    return registry.create(settings.jobs_launcher, settings=settings)


def make_loop(sessions: sessionmaker[Session], settings: Settings, launcher: Launcher) -> ReconcileLoop:
    store: list[ObjectStore] = []

    def lazy_store() -> ObjectStore:
        if not store:
            store.append(build_store(settings))
        return store[0]

    reconciler = Reconciler(sessions, settings, launcher, job_environment(settings, lazy_store))
    return ReconcileLoop(reconciler, settings.scheduler_period_s)
