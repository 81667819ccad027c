"""Direct uploads: presigned multipart URLs, resumption, completion (every part stored, with the
right sizes), discarding, and the sweep of abandoned uploads.

The portal never carries the bytes of an upload: clients PUT parts straight to the object store.
Verifying the stored bytes (sha256), the personal-data scan and validation happen afterwards, in
the background step of `processing`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from aicommons.portal.core.audit import AuditEvent, record
from aicommons.portal.core.errors import Conflict, InvalidInput
from aicommons.portal.core.principal import Principal
from aicommons.portal.core.settings import Settings
from aicommons.portal.core.time import utcnow

from . import policy, repository, service
from .models import Dataset, DatasetVersion, VersionFile
from .schemas import FileIn, FileUpload, PartUrl, UploadPlan, UploadRequest
from .storage import ObjectStore, PartInfo, version_prefix

MANIFEST_KEY = "_aicommons/manifest.json"


def data_key(ds: Dataset, version: DatasetVersion, path: str) -> str:
    return f"{version_prefix(ds.id, version.number)}/data/{path}"


def manifest_key(ds: Dataset, version: DatasetVersion) -> str:
    return f"{version_prefix(ds.id, version.number)}/{MANIFEST_KEY}"


def check_manifest(files: list[FileIn], settings: Settings) -> None:
    """Refuse the whole manifest before anything is written."""
    if not files:
        raise InvalidInput("dataset.empty_manifest")
    if len(files) > settings.datasets_max_files:
        raise InvalidInput("dataset.too_many_files", count=len(files), limit=settings.datasets_max_files)
    seen: set[str] = set()
    for entry in files:
        policy.check_relative_path(entry.path)
        if entry.path in seen:
            raise InvalidInput("dataset.duplicate_path", path=entry.path)
        seen.add(entry.path)
        if entry.size > settings.datasets_max_file_bytes:
            raise InvalidInput(
                "dataset.file_too_large",
                path=entry.path,
                size=entry.size,
                limit=settings.datasets_max_file_bytes,
            )


def _require_mutable(version: DatasetVersion) -> None:
    if version.state == "validating":  # the background step holds it for now
        raise Conflict("dataset.validating", number=version.number)
    if version.state not in policy.MUTABLE_STATES:
        raise Conflict("dataset.immutable", number=version.number, state=version.state)


def _discard(store: ObjectStore, key: str, row: VersionFile) -> None:
    if row.upload_id:
        store.abort_multipart(key, row.upload_id)
    store.delete_object(key)
    row.upload_id, row.verified = None, False


def plan(
    session: Session,
    store: ObjectStore,
    settings: Settings,
    principal: Principal,
    slug: str,
    number: int,
    request: UploadRequest,
) -> UploadPlan:
    """Start or resume the upload of a version: presigned URLs for every part still missing."""
    ds, version = service.steward_version(session, principal, slug, number)
    _require_mutable(version)
    check_manifest(request.files, settings)
    store.ensure_ready()
    existing = {f.path: f for f in repository.files(session, version.id)}
    wanted = {f.path: f for f in request.files}
    for path, row in existing.items():
        if path not in wanted:
            _discard(store, data_key(ds, version, path), row)
            session.delete(row)
    ttl = timedelta(seconds=settings.datasets_upload_url_ttl_s)
    uploads = [
        _plan_file(session, store, settings, ds, version, entry, existing.get(entry.path), ttl)
        for entry in request.files
    ]
    if version.state != "uploading":
        version.state = policy.transition(version.state, "uploading")
    version.upload_started_at = utcnow()
    version.file_count = len(request.files)
    version.total_bytes = sum(f.size for f in request.files)
    version.blocked_reasons, version.scan_report, version.validation_report = [], None, None
    version.override_justification = version.override_by = None
    session.flush()
    return UploadPlan(version=version.number, state="uploading", files=uploads, expires_at=utcnow() + ttl)


def _plan_file(
    session: Session,
    store: ObjectStore,
    settings: Settings,
    ds: Dataset,
    version: DatasetVersion,
    entry: FileIn,
    row: VersionFile | None,
    ttl: timedelta,
) -> FileUpload:
    key = data_key(ds, version, entry.path)
    part_size = policy.part_size_for(entry.size, settings.datasets_part_size)
    declared = entry.sha256 or ""
    if row is not None and _changed(row, entry.size, declared, part_size):
        _discard(store, key, row)
        row.size, row.sha256, row.part_size = entry.size, declared, part_size
    elif row is not None and declared:
        row.sha256 = declared
    if row is None:
        row = VersionFile(
            version_id=version.id,
            path=entry.path,
            size=entry.size,
            sha256=declared,
            part_size=part_size,
            verified=False,
        )
        session.add(row)
    count = policy.part_count(entry.size, part_size)
    if row.verified:
        return FileUpload(
            path=entry.path,
            size=entry.size,
            part_size=part_size,
            part_count=count,
            done_parts=list(range(1, count + 1)),
            parts=[],
        )
    parts = store.list_parts(key, row.upload_id) if row.upload_id else None
    if parts is None:
        row.upload_id = store.start_multipart(key)
        parts = []
    done = sorted(p.number for p in parts if p.size == _expected_part_size(entry.size, part_size, p.number))
    upload_id = row.upload_id
    assert upload_id is not None
    urls = [
        PartUrl(number=n, url=store.presign_part(key, upload_id, n, ttl))
        for n in range(1, count + 1)
        if n not in set(done)
    ]
    return FileUpload(
        path=entry.path, size=entry.size, part_size=part_size, part_count=count, done_parts=done, parts=urls
    )


def _changed(row: VersionFile, size: int, sha256: str, part_size: int) -> bool:
    """The stored upload cannot be kept for this entry. Without a declared sha256 the sizes decide;
    the hash declared at completion (and the background check) will tell a changed file."""
    if (row.size, row.part_size) != (size, part_size):
        return True
    return bool(sha256 and row.sha256 and row.sha256 != sha256)


def _expected_part_size(size: int, part_size: int, number: int) -> int:
    count = policy.part_count(size, part_size)
    if number < count:
        return part_size
    return size - part_size * (count - 1)


def complete(
    session: Session,
    store: ObjectStore,
    principal: Principal,
    slug: str,
    number: int,
    declared: Mapping[str, str] | None = None,
) -> DatasetVersion:
    """Assemble every upload whose parts are all stored with the right sizes, and hand the version
    to the background step (`processing`): `validating` until its bytes are verified and validated.

    `declared` gives the sha256 of files planned without one. No object is read here: the request
    answers at once, whatever the size of the version.
    """
    ds, version = service.steward_version(session, principal, slug, number)
    if version.state != "uploading":
        raise Conflict("dataset.bad_transition", current=version.state, target="validating")
    rows = repository.files(session, version.id)
    changed = _declare_checksums(store, ds, version, rows, declared or {})
    if changed:  # still `uploading`: the client sends those files again, as after a mismatch
        version.mismatched_paths = changed
        session.flush()
        return version
    pending = [
        (row, _complete_parts(store, data_key(ds, version, row.path), row))
        for row in rows
        if not row.verified
    ]
    incomplete = [row.path for row, parts in pending if parts is None]
    if incomplete:
        raise Conflict(
            "dataset.upload_incomplete", detail=f"{len(incomplete)} file(s) lack parts, e.g. {incomplete[0]}"
        )
    for row, parts in pending:
        assert parts is not None and row.upload_id is not None
        store.complete_multipart(data_key(ds, version, row.path), row.upload_id, parts)
        row.upload_id = None
    version.state = policy.transition(version.state, "validating")
    version.mismatched_paths = []
    version.lease_owner = version.lease_expires_at = None
    record(
        session,
        principal,
        AuditEvent(
            "dataset.upload_complete",
            "dataset_version",
            version.id,
            org_id=ds.org_id,
            data={"slug": ds.slug, "number": number, "files": len(rows)},
        ),
    )
    session.flush()
    return version


def _declare_checksums(
    store: ObjectStore,
    ds: Dataset,
    version: DatasetVersion,
    rows: list[VersionFile],
    declared: Mapping[str, str],
) -> list[str]:
    """Record the sha256s declared at completion; every file must have one by now. A file verified
    by an earlier completion whose hash is now declared different has changed since: its object is
    discarded and its path returned, to be sent again. Checks everything before changing anything."""
    known = {row.path for row in rows}
    unknown = sorted(set(declared) - known)
    if unknown:
        raise InvalidInput("dataset.not_in_upload", path=unknown[0])
    missing = [row.path for row in rows if not row.sha256 and row.path not in declared]
    if missing:
        raise InvalidInput("dataset.checksum_not_declared", count=len(missing), path=missing[0])
    changed: list[str] = []
    for row in rows:
        sha256 = declared.get(row.path)
        if sha256 is None or sha256 == row.sha256:
            continue
        if row.verified:
            _discard(store, data_key(ds, version, row.path), row)
            changed.append(row.path)
        row.sha256 = sha256
    return changed


def _complete_parts(store: ObjectStore, key: str, row: VersionFile) -> list[PartInfo] | None:
    if not row.upload_id:
        return None
    parts = store.list_parts(key, row.upload_id)
    if parts is None:
        return None
    count = policy.part_count(row.size, row.part_size)
    by_number = {p.number: p for p in parts}
    if set(by_number) != set(range(1, count + 1)):
        return None
    if any(p.size != _expected_part_size(row.size, row.part_size, p.number) for p in parts):
        return None
    return [by_number[n] for n in range(1, count + 1)]


def discard(
    session: Session, store: ObjectStore, principal: Principal, slug: str, number: int
) -> DatasetVersion:
    """Abandon an unpublished version's upload: every object and open multipart upload goes."""
    ds, version = service.steward_version(session, principal, slug, number)
    _require_mutable(version)
    _reset(session, store, ds, version)
    record(
        session,
        principal,
        AuditEvent(
            "dataset.upload_discard",
            "dataset_version",
            version.id,
            org_id=ds.org_id,
            data={"slug": ds.slug, "number": number},
        ),
    )
    return version


def _reset(session: Session, store: ObjectStore, ds: Dataset, version: DatasetVersion) -> None:
    for row in repository.files(session, version.id):
        if row.upload_id:  # some stores (MinIO) list open uploads only by exact key
            store.abort_multipart(data_key(ds, version, row.path), row.upload_id)
        session.delete(row)
    store.delete_prefix(version_prefix(ds.id, version.number))
    version.state, version.file_count, version.total_bytes, version.digest = "draft", 0, 0, None
    version.scan_report = version.validation_report = None
    version.blocked_reasons, version.mismatched_paths = [], []


@dataclass(frozen=True)
class SweptVersion:
    dataset: str
    number: int
    started_at: datetime | None


def abandon_cutoff(settings: Settings, now: datetime) -> datetime:
    """Uploads started before this are abandoned: never while their part URLs may still be used."""
    age = max(settings.datasets_upload_abandon_after_s, settings.datasets_upload_url_ttl_s)
    return now - timedelta(seconds=age)


def sweep_abandoned(
    session: Session,
    store: ObjectStore,
    settings: Settings,
    now: datetime | None = None,
    actor: Principal | None = None,
) -> list[SweptVersion]:
    """Reset versions stuck in `uploading` since before the cutoff, as `discard` would.

    Their open multipart uploads are aborted and every object under the version's prefix is
    deleted; the version goes back to `draft` (the reset that `discard` performs on a mutable
    version, so that the steward can plan a new upload) and each reset is audited, with no actor
    when run by the system.
    Only `uploading` is ever selected: ready, blocked, published and deprecated versions are
    never touched. The caller commits.
    """
    cutoff = abandon_cutoff(settings, now or utcnow())
    stale = session.execute(
        select(DatasetVersion, Dataset)
        .join(Dataset, Dataset.id == DatasetVersion.dataset_id)
        .where(
            DatasetVersion.state == "uploading",
            DatasetVersion.upload_started_at.is_not(None),
            DatasetVersion.upload_started_at < cutoff,
        )
        .order_by(DatasetVersion.upload_started_at)
        .with_for_update(of=DatasetVersion, skip_locked=True)
    ).all()
    swept = []
    for version, ds in stale:
        started = version.upload_started_at
        _reset(session, store, ds, version)
        version.upload_started_at = None
        record(
            session,
            actor,
            AuditEvent(
                "dataset.upload_abandoned",
                "dataset_version",
                version.id,
                org_id=ds.org_id,
                data={
                    "slug": ds.slug,
                    "number": version.number,
                    "upload_started_at": started.isoformat() if started else None,
                },
            ),
        )
        swept.append(SweptVersion(ds.slug, version.number, started))
    session.flush()
    return swept


def sweep_as(
    session: Session, store: ObjectStore, settings: Settings, principal: Principal
) -> list[SweptVersion]:
    """An administrator runs the sweep now (audited under their name)."""
    principal.require_admin()
    return sweep_abandoned(session, store, settings, utcnow(), actor=principal)
