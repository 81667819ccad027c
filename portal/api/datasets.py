"""Datasets: catalogue and search, versions, direct uploads, publishing, downloads and access grants."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.orm import Session

from aicommons.datasets import exports, grants, repository, service, uploads
from aicommons.datasets.policy import DOWNLOADABLE
from aicommons.datasets.schemas import (
    SLUG_PATTERN,
    CompleteRequest,
    DatasetCreate,
    DatasetOut,
    DatasetUpdate,
    DomainIn,
    DomainOut,
    DownloadLinks,
    GrantDecision,
    GrantOut,
    GrantRequest,
    Manifest,
    ManifestEntry,
    OverrideRequest,
    SearchResult,
    UploadPlan,
    UploadRequest,
    VersionCreate,
    VersionOut,
)
from aicommons.datasets.storage import ObjectStore, build_store
from aicommons.portal.core.errors import NotFound
from aicommons.portal.core.principal import Principal
from aicommons.portal.core.settings import Settings
from aicommons.portal.orgs import repository as orgs
from aicommons.portal.orgs.models import Organisation

from .deps import PrincipalDep, SessionDep, SettingsDep

router = APIRouter(tags=["datasets"])

NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such dataset or version, or not visible"}
}
Slug = Path(max_length=64, pattern=SLUG_PATTERN)
Number = Path(ge=1, le=1_000_000)


def get_store(request: Request) -> ObjectStore:
    store: ObjectStore | None = getattr(request.app.state, "dataset_store", None)
    if store is None:
        store = build_store(request.app.state.settings)
        request.app.state.dataset_store = store
    return store


StoreDep = Annotated[ObjectStore, Depends(get_store)]


def _org_id(session: Session, slug: str) -> str:
    org = orgs.by_slug(session, slug)
    if org is None:
        raise NotFound("org.not_found")
    return org.id


@router.get("/dataset-domains", response_model=list[DomainOut])
def list_domains(principal: PrincipalDep, session: SessionDep) -> list[DomainOut]:
    return [DomainOut.model_validate(d) for d in service.list_domains(session)]


@router.post("/dataset-domains", response_model=DomainOut, status_code=201)
def add_domain(principal: PrincipalDep, session: SessionDep, body: DomainIn) -> DomainOut:
    return DomainOut.model_validate(service.add_domain(session, principal, body))


@router.get("/datasets", response_model=SearchResult)
def search_datasets(
    principal: PrincipalDep,
    session: SessionDep,
    q: Annotated[str | None, Query(max_length=200, description="words in Chinese or English")] = None,
    domain: Annotated[str | None, Query(max_length=64)] = None,
    modality: Annotated[str | None, Query(max_length=32)] = None,
    task: Annotated[str | None, Query(max_length=64)] = None,
    licence: Annotated[str | None, Query(max_length=100)] = None,
    level: Annotated[str | None, Query(pattern=r"^L[1-4]$")] = None,
    org: Annotated[str | None, Query(max_length=64, description="organisation slug")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> SearchResult:
    org_id = None
    if org:
        found = orgs.by_slug(session, org)
        org_id = found.id if found else "-"
    filters = {
        "domain": domain,
        "modality": modality,
        "task": task,
        "licence": licence,
        "level": level,
        "org": org_id,
    }
    return service.search(session, principal, q, filters, limit, offset)


class SweptOut(BaseModel):
    dataset: str
    number: int
    upload_started_at: datetime | None


@router.post("/dataset-uploads/sweep", response_model=list[SweptOut])
def sweep_abandoned_uploads(
    principal: PrincipalDep, session: SessionDep, settings: SettingsDep, store: StoreDep
) -> list[SweptOut]:
    """Administrators: reset versions stuck in `uploading` past `datasets_upload_abandon_after_s`."""
    return [
        SweptOut(dataset=s.dataset, number=s.number, upload_started_at=s.started_at)
        for s in uploads.sweep_as(session, store, settings, principal)
    ]


@router.post(
    "/datasets", response_model=DatasetOut, status_code=201, responses={409: {"description": "Slug taken"}}
)
def create_dataset(principal: PrincipalDep, session: SessionDep, body: DatasetCreate) -> DatasetOut:
    return DatasetOut.model_validate(service.create(session, principal, _org_id(session, body.org), body))


@router.get("/datasets/{slug}", response_model=DatasetOut, responses=NOT_FOUND)
def get_dataset(principal: PrincipalDep, session: SessionDep, slug: str = Slug) -> DatasetOut:
    return DatasetOut.model_validate(service.get(session, principal, slug))


def _export_source(
    session: Session, principal: Principal, settings: Settings, store: ObjectStore, slug: str
) -> exports.ExportSource:
    rows = exports.load(session, principal, slug)
    ds, version = rows.dataset, rows.version
    org = session.get(Organisation, ds.org_id)
    base = settings.base_url
    publisher = exports.Publisher(
        name=org.name if org else ds.org_id,
        slug=org.slug if org else ds.org_id,
        url=f"{base}/api/v1/orgs/{org.slug}" if org else None,
    )
    content_url = None
    if version is not None and store.kind == "s3" and ds.level in DOWNLOADABLE:
        # Only the object's location in the bucket; reading it still takes a grant-checked link.
        content_url = lambda path: store.uri(uploads.data_key(ds, version, path))  # noqa: E731
    return exports.ExportSource(
        dataset=ds,
        version=version,
        files=rows.files,
        domain=rows.domain,
        publisher=publisher,
        landing_url=f"{base}/api/v1/datasets/{ds.slug}",
        content_url=content_url,
    )


@router.get("/datasets/{slug}/croissant", responses=NOT_FOUND)
def export_croissant(
    principal: PrincipalDep, session: SessionDep, settings: SettingsDep, store: StoreDep, slug: str = Slug
) -> JSONResponse:
    """MLCommons Croissant 1.0 (JSON-LD) of the dataset and its latest published version."""
    doc = exports.build_croissant(_export_source(session, principal, settings, store, slug))
    return JSONResponse(doc, media_type="application/ld+json")


@router.get("/datasets/{slug}/dcat", responses=NOT_FOUND)
def export_dcat(
    principal: PrincipalDep, session: SessionDep, settings: SettingsDep, store: StoreDep, slug: str = Slug
) -> JSONResponse:
    """DCAT-AP style JSON-LD (dcat:Dataset) with titles and descriptions in English and Chinese."""
    doc = exports.build_dcat(_export_source(session, principal, settings, store, slug))
    return JSONResponse(doc, media_type="application/ld+json")


@router.patch("/datasets/{slug}", response_model=DatasetOut, responses=NOT_FOUND)
def update_dataset(
    principal: PrincipalDep, session: SessionDep, body: DatasetUpdate, slug: str = Slug
) -> DatasetOut:
    return DatasetOut.model_validate(service.update(session, principal, slug, body))


@router.get("/datasets/{slug}/versions", response_model=list[VersionOut], responses=NOT_FOUND)
def list_versions(principal: PrincipalDep, session: SessionDep, slug: str = Slug) -> list[VersionOut]:
    return [VersionOut.model_validate(v) for v in service.list_versions(session, principal, slug)]


@router.post("/datasets/{slug}/versions", response_model=VersionOut, status_code=201, responses=NOT_FOUND)
def create_version(
    principal: PrincipalDep, session: SessionDep, body: VersionCreate | None = None, slug: str = Slug
) -> VersionOut:
    return VersionOut.model_validate(
        service.create_version(session, principal, slug, body or VersionCreate())
    )


@router.get("/datasets/{slug}/versions/{number}", response_model=VersionOut, responses=NOT_FOUND)
def get_version(
    principal: PrincipalDep, session: SessionDep, slug: str = Slug, number: int = Number
) -> VersionOut:
    return VersionOut.model_validate(service.get_version(session, principal, slug, number)[1])


@router.get("/datasets/{slug}/versions/{number}/manifest", response_model=Manifest, responses=NOT_FOUND)
def get_manifest(
    principal: PrincipalDep, session: SessionDep, store: StoreDep, slug: str = Slug, number: int = Number
) -> Manifest:
    ds, version = service.get_version(session, principal, slug, number)
    files = [
        ManifestEntry(path=f.path, size=f.size, sha256=f.sha256)
        for f in repository.files(session, version.id)
    ]
    return Manifest(
        dataset=ds.slug,
        version=version.number,
        digest=version.digest,
        uri=store.uri(uploads.data_key(ds, version, "")),
        files=files,
    )


@router.post("/datasets/{slug}/versions/{number}/uploads", response_model=UploadPlan, responses=NOT_FOUND)
def plan_upload(
    principal: PrincipalDep,
    session: SessionDep,
    settings: SettingsDep,
    store: StoreDep,
    body: UploadRequest,
    slug: str = Slug,
    number: int = Number,
) -> UploadPlan:
    """Start or resume an upload: presigned URLs for every part not yet stored."""
    return uploads.plan(session, store, settings, principal, slug, number, body)


@router.delete("/datasets/{slug}/versions/{number}/uploads", response_model=VersionOut, responses=NOT_FOUND)
def discard_upload(
    principal: PrincipalDep, session: SessionDep, store: StoreDep, slug: str = Slug, number: int = Number
) -> VersionOut:
    return VersionOut.model_validate(uploads.discard(session, store, principal, slug, number))


@router.post(
    "/datasets/{slug}/versions/{number}/complete",
    response_model=VersionOut,
    status_code=202,
    responses={
        **NOT_FOUND,
        409: {"description": "Parts are missing, or the version is not being uploaded"},
    },
)
def complete_upload(
    request: Request,
    principal: PrincipalDep,
    session: SessionDep,
    store: StoreDep,
    slug: str = Slug,
    number: int = Number,
    body: CompleteRequest | None = None,
) -> VersionOut:
    """Every part is stored: assemble the files and verify, scan and validate them in the background.

    The body declares the sha256 of files planned without one (`{"files": {path: sha256}}`); a file
    verified earlier whose hash is declared different has changed: the version stays `uploading`
    with it in `mismatched_paths`.

    Answers 202 with the version in `validating`; poll the version until it leaves that state:
    `ready` or `blocked`, or back to `uploading` with `mismatched_paths` (files whose bytes did not
    match the manifest were discarded: plan the upload again and send only those).
    """
    declared = body.files if body is not None else None
    version = uploads.complete(session, store, principal, slug, number, declared)
    out = VersionOut.model_validate(version)
    session.commit()  # before the nudge, so that the worker's next cycle sees the version
    worker = getattr(request.app.state, "datasets_worker", None)
    if worker is not None:
        worker.nudge()
    return out


@router.post("/datasets/{slug}/versions/{number}/override", response_model=VersionOut, responses=NOT_FOUND)
def override_block(
    principal: PrincipalDep,
    session: SessionDep,
    body: OverrideRequest,
    slug: str = Slug,
    number: int = Number,
) -> VersionOut:
    return VersionOut.model_validate(service.override(session, principal, slug, number, body.justification))


@router.post("/datasets/{slug}/versions/{number}/publish", response_model=VersionOut, responses=NOT_FOUND)
def publish_version(
    principal: PrincipalDep, session: SessionDep, slug: str = Slug, number: int = Number
) -> VersionOut:
    return VersionOut.model_validate(service.publish(session, principal, slug, number))


@router.post("/datasets/{slug}/versions/{number}/deprecate", response_model=VersionOut, responses=NOT_FOUND)
def deprecate_version(
    principal: PrincipalDep, session: SessionDep, slug: str = Slug, number: int = Number
) -> VersionOut:
    return VersionOut.model_validate(service.deprecate(session, principal, slug, number))


@router.post("/datasets/{slug}/versions/{number}/download", response_model=DownloadLinks, responses=NOT_FOUND)
def download_links(
    principal: PrincipalDep,
    session: SessionDep,
    settings: SettingsDep,
    store: StoreDep,
    slug: str = Slug,
    number: int = Number,
) -> DownloadLinks:
    """Short-lived presigned links (L1; L2 after accepting the licence). L3 and L4: never."""
    return grants.download_links(session, store, settings, principal, slug, number)


@router.post("/datasets/{slug}/licence/accept", status_code=204, responses=NOT_FOUND)
def accept_licence(principal: PrincipalDep, session: SessionDep, slug: str = Slug) -> None:
    grants.accept_licence(session, principal, slug)


@router.get("/datasets/{slug}/grants", response_model=list[GrantOut], responses=NOT_FOUND)
def list_grants(principal: PrincipalDep, session: SessionDep, slug: str = Slug) -> list[GrantOut]:
    return [grants.grant_out(g) for g in grants.list_grants(session, principal, slug)]


@router.post("/datasets/{slug}/grants", response_model=GrantOut, status_code=201, responses=NOT_FOUND)
def request_access(
    principal: PrincipalDep, session: SessionDep, body: GrantRequest, slug: str = Slug
) -> GrantOut:
    org = orgs.by_slug(session, body.org)
    org_id = org.id if org else "-"
    return grants.grant_out(grants.request_access(session, principal, slug, org_id, body))


GrantId = Path(max_length=36)


@router.post("/datasets/{slug}/grants/{grant_id}/approve", response_model=GrantOut, responses=NOT_FOUND)
def approve_grant(
    principal: PrincipalDep,
    session: SessionDep,
    body: GrantDecision | None = None,
    slug: str = Slug,
    grant_id: str = GrantId,
) -> GrantOut:
    reason = body.reason if body else None
    return grants.grant_out(grants.decide(session, principal, slug, grant_id, True, reason))


@router.post("/datasets/{slug}/grants/{grant_id}/reject", response_model=GrantOut, responses=NOT_FOUND)
def reject_grant(
    principal: PrincipalDep,
    session: SessionDep,
    body: GrantDecision | None = None,
    slug: str = Slug,
    grant_id: str = GrantId,
) -> GrantOut:
    reason = body.reason if body else None
    return grants.grant_out(grants.decide(session, principal, slug, grant_id, False, reason))


@router.post("/datasets/{slug}/grants/{grant_id}/revoke", response_model=GrantOut, responses=NOT_FOUND)
def revoke_grant(
    principal: PrincipalDep,
    session: SessionDep,
    body: GrantDecision | None = None,
    slug: str = Slug,
    grant_id: str = GrantId,
) -> GrantOut:
    return grants.grant_out(grants.revoke(session, principal, slug, grant_id, body.reason if body else None))
