"""Job-scoped credentials: short-lived, read-only, narrowed to exactly the named version prefixes.

The scheduler calls `mint_job_credentials` when it admits a job that names dataset versions and
stores the result in the job's spec; job code reads with standard S3 tools, never with our SDK.
Each mint for a job also records which versions the job used (lineage, `DatasetVersionUse`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy.orm import Session

from aicommons.portal.core.audit import AuditEvent, record
from aicommons.portal.core.errors import Forbidden, InvalidInput, NotFound
from aicommons.portal.core.principal import Principal
from aicommons.portal.core.settings import Settings
from aicommons.portal.core.time import utcnow

from . import policy, repository
from .schemas import JobCredentials, JobDataset
from .storage import ObjectStore, version_prefix
from .uploads import MANIFEST_KEY


def resolve_job_datasets(
    session: Session, store: ObjectStore, org_id: str, version_ids: Sequence[str]
) -> tuple[list[JobDataset], list[str]]:
    """Where a job of ``org_id`` reads each named version, and the prefixes to grant; refuses what
    the organisation may not read in a job. Called at submission (to refuse early) and at launch."""
    if not version_ids:
        raise InvalidInput("dataset.empty_manifest")
    found = {v.id: (v, d) for v, d in repository.versions_by_ids(session, list(dict.fromkeys(version_ids)))}
    now = utcnow()
    datasets: list[JobDataset] = []
    prefixes: list[str] = []
    for version_id in dict.fromkeys(version_ids):
        if version_id not in found:
            raise NotFound("dataset.not_found")
        version, ds = found[version_id]
        if version.state not in ("published", "deprecated"):
            raise NotFound("dataset.not_published", number=version.number)
        has_grant = repository.active_grant(session, ds.id, org_id, now) is not None
        refusal = policy.job_access_refusal(ds.level, ds.org_id, org_id, has_grant)
        if refusal is not None:
            error = NotFound if refusal == "dataset.not_found" else Forbidden
            raise error(refusal, slug=ds.slug)
        prefix = version_prefix(ds.id, version.number)
        prefixes.append(prefix)
        datasets.append(
            JobDataset(
                version_id=version.id,
                dataset=ds.slug,
                version=version.number,
                uri=store.uri(f"{prefix}/data/"),
                manifest_uri=store.uri(f"{prefix}/{MANIFEST_KEY}"),
                digest=version.digest,
            )
        )
    return datasets, prefixes


def mint_job_credentials(
    session: Session,
    store: ObjectStore,
    settings: Settings,
    org_id: str,
    version_ids: Sequence[str],
    duration_s: int,
    actor: Principal | None = None,
    job_id: str | None = None,
) -> JobCredentials:
    datasets, prefixes = resolve_job_datasets(session, store, org_id, version_ids)
    seconds = max(60, min(duration_s, settings.datasets_job_credential_max_s))
    creds = store.read_credentials(prefixes, timedelta(seconds=seconds))
    if job_id is not None:
        _record_lineage(session, job_id, org_id, [d.version_id for d in datasets])
    record(
        session,
        actor,
        AuditEvent(
            "dataset.job_credentials",
            "job",
            job_id or "-",
            org_id=org_id,
            data={
                "versions": [d.version_id for d in datasets],
                "datasets": [f"{d.dataset}@{d.version}" for d in datasets],
                "expires_at": creds.expires_at.isoformat(),
            },
        ),
    )
    return JobCredentials(
        kind="s3" if creds.kind == "s3" else "local",
        endpoint=creds.endpoint,
        bucket=creds.bucket,
        region=creds.region,
        access_key=creds.access_key,
        secret_key=creds.secret_key,
        session_token=creds.session_token,
        expires_at=creds.expires_at,
        datasets=datasets,
    )


def _record_lineage(session: Session, job_id: str, org_id: str, version_ids: list[str]) -> None:
    """Lineage read from the dataset side: the job used these versions. Minting again for the same
    job (a relaunch after preemption) keeps the first use."""
    found = repository.versions_by_ids(session, version_ids)
    repository.record_version_uses(session, job_id, org_id, [(d.id, v.id) for v, d in found], utcnow())
