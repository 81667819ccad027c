"""The background step of an upload: verify every stored object against the manifest (size and
sha256), scan it for personal data and validate its labels, in one pass, then decide the version.

`uploads.complete` only assembles the parts and moves the version to `validating`; a worker then
claims the version by lease (`claim`) and calls `process`. Reading the bytes can take minutes, so it
happens outside any database transaction: on SQLite (the embedded default) a write transaction held
that long would stall every other write of the portal. The result is written in a short transaction
that first checks the lease is still ours, so that two replicas never both decide one version.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from aicommons.portal.core.audit import AuditEvent, record
from aicommons.portal.core.db import transaction

from . import policy, repository
from .models import Dataset, DatasetVersion, VersionFile
from .scan import ScanReport, StreamScanner, is_text_path
from .storage import ObjectStore, version_prefix
from .uploads import data_key, manifest_key
from .validation import MAX_LABEL_FILE_BYTES, Validator, validator_for

log = logging.getLogger(__name__)
CLAIM_BATCH = 8


def artifact_key(ds: Dataset, version: DatasetVersion, name: str) -> str:
    return f"{version_prefix(ds.id, version.number)}/_aicommons/{name}"


# --- leases ----------------------------------------------------------------------------------


def claim(session: Session, owner: str, lease_s: float, now: datetime, limit: int = CLAIM_BATCH) -> list[str]:
    """Lease versions waiting in `validating` whose lease is free or expired; their ids.

    `SKIP LOCKED` lets replicas claim different versions at once; SQLite ignores the clause and
    serialises writers itself. The caller commits, at once: the lease is what protects the work.
    """
    query = (
        select(DatasetVersion)
        .where(
            DatasetVersion.state == "validating",
            or_(DatasetVersion.lease_expires_at.is_(None), DatasetVersion.lease_expires_at < now),
        )
        .order_by(DatasetVersion.upload_started_at, DatasetVersion.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
        .execution_options(populate_existing=True)
    )
    claimed = list(session.scalars(query))
    until = now + timedelta(seconds=lease_s)
    for version in claimed:
        version.lease_owner, version.lease_expires_at = owner, until
    session.flush()
    return [v.id for v in claimed]


def renew(session: Session, owner: str, version_ids: list[str], until: datetime) -> int:
    """Extend the leases `owner` still holds (the worker's heartbeat); how many it still holds."""
    if not version_ids:
        return 0
    result = session.execute(
        update(DatasetVersion)
        .where(DatasetVersion.id.in_(version_ids), DatasetVersion.lease_owner == owner)
        .values(lease_expires_at=until)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def _hold(session: Session, version_id: str, owner: str) -> DatasetVersion | None:
    """The version, write-locked for this transaction, if `owner` still leases it in `validating`.

    The UPDATE comes first: on PostgreSQL it locks the row, on SQLite it opens the write
    transaction, so nobody can take the version between this check and the commit.
    """
    touched = session.execute(
        update(DatasetVersion)
        .where(
            DatasetVersion.id == version_id,
            DatasetVersion.lease_owner == owner,
            DatasetVersion.state == "validating",
        )
        .values(lease_owner=None, lease_expires_at=None)  # released when this transaction commits
        .execution_options(synchronize_session=False)
    )
    if not touched.rowcount:  # type: ignore[attr-defined]
        return None
    query = select(DatasetVersion).where(DatasetVersion.id == version_id)
    return session.scalars(query.execution_options(populate_existing=True)).one()


# --- the pass over the stored objects --------------------------------------------------------


@dataclass(frozen=True)
class FileEntry:
    path: str
    size: int
    sha256: str


@dataclass
class Snapshot:
    """What the pass needs, read in a short transaction and detached from it."""

    dataset: Dataset
    version: DatasetVersion
    files: list[FileEntry]


@dataclass
class PassResult:
    mismatched: list[str] = field(default_factory=list)
    scan: dict[str, object] = field(default_factory=dict)
    validator: Validator | None = None


def _snapshot(session_factory: sessionmaker[Session], version_id: str, owner: str) -> Snapshot | None:
    with transaction(session_factory) as session:
        version = session.get(DatasetVersion, version_id, populate_existing=True)
        if version is None or version.state != "validating" or version.lease_owner != owner:
            return None
        ds = session.get(Dataset, version.dataset_id)
        assert ds is not None
        files = [FileEntry(r.path, r.size, r.sha256) for r in repository.files(session, version.id)]
        session.expunge(version)
        session.expunge(ds)
        return Snapshot(ds, version, files)


def read_pass(store: ObjectStore, snap: Snapshot) -> PassResult:
    """One read of every stored object: sha256 and size, the scan, the label files for validation."""
    ds, version = snap.dataset, snap.version
    report = ScanReport()
    # With the level: no thumbnails are even made where the level forbids showing them (L3).
    validator = validator_for(ds.label_format, [f.path for f in snap.files], ds.label_schema or {}, ds.level)
    result = PassResult(validator=validator)
    for entry in snap.files:
        key = data_key(ds, version, entry.path)
        if store.size_of(key) != entry.size:  # missing or truncated: no need to read it
            result.mismatched.append(entry.path)
            continue
        digest, size = hashlib.sha256(), 0
        scanner = StreamScanner(report, entry.path) if is_text_path(entry.path) else None
        keep = validator.wants(entry.path) and entry.size <= MAX_LABEL_FILE_BYTES
        kept: list[bytes] = []
        for chunk in store.iter_bytes(key):
            digest.update(chunk)
            size += len(chunk)
            if scanner is not None:
                scanner.feed(chunk)
            if keep:
                kept.append(chunk)
        if scanner is not None:
            scanner.close()
        if size != entry.size or digest.hexdigest() != entry.sha256:
            result.mismatched.append(entry.path)
        elif keep:
            validator.add(entry.path, b"".join(kept))
    result.scan = report.as_dict()
    return result


def process(
    session_factory: sessionmaker[Session], store: ObjectStore, version_id: str, owner: str
) -> str | None:
    """Verify, scan and validate one leased version; its new state, or None if the lease was lost
    (another replica carries on) or the version left `validating` meanwhile."""
    snap = _snapshot(session_factory, version_id, owner)
    if snap is None:
        return None
    result = read_pass(store, snap)  # no transaction open: this may take minutes
    with transaction(session_factory) as session:
        version = _hold(session, version_id, owner)
        if version is None:
            log.warning("lost the lease on dataset version %s; another replica decides it", version_id)
            return None
        ds = session.get(Dataset, version.dataset_id)
        assert ds is not None
        rows = repository.files(session, version.id)
        if result.mismatched:
            _send_back(session, store, ds, version, rows, result.mismatched)
        else:
            assert result.validator is not None
            for row in rows:
                row.verified = True
            finish(store, ds, version, rows, result.scan, result.validator)
        _audit(session, ds, version)
        return version.state


def _send_back(
    session: Session,
    store: ObjectStore,
    ds: Dataset,
    version: DatasetVersion,
    rows: list[VersionFile],
    mismatched: list[str],
) -> None:
    """Discard the files whose bytes do not match; the client re-plans and sends only those."""
    wrong = set(mismatched)
    for row in rows:
        if row.path in wrong:
            store.delete_object(data_key(ds, version, row.path))
            row.verified = False
        else:
            row.verified = True
    version.mismatched_paths = sorted(wrong)
    # validating → uploading is not a steward's transition, only this step's: set, not guarded.
    version.state = "uploading"
    session.flush()


def finish(
    store: ObjectStore,
    ds: Dataset,
    version: DatasetVersion,
    rows: list[VersionFile],
    scan: dict[str, object],
    validator: Validator,
) -> None:
    """Every file matches: manifest and digest, reports, the validator's artifacts, ready or blocked."""
    validation = validator.report()
    entries = [{"path": r.path, "size": r.size, "sha256": r.sha256} for r in rows]
    version.digest = policy.manifest_digest(entries)
    version.scan_report, version.validation_report = scan, validation
    version.mismatched_paths = []
    errors = len(validation.get("errors") or [])
    version.blocked_reasons = policy.block_reasons(ds.level, int(scan["total"]), errors)  # type: ignore[call-overload]
    for name, (data, content_type) in validator.artifacts().items():
        store.put_bytes(artifact_key(ds, version, name), data, content_type)
    manifest = {"dataset": ds.slug, "version": version.number, "digest": version.digest, "files": entries}
    store.put_bytes(
        manifest_key(ds, version), json.dumps(manifest, ensure_ascii=False).encode(), "application/json"
    )
    version.state = policy.transition(version.state, "blocked" if version.blocked_reasons else "ready")


def _audit(session: Session, ds: Dataset, version: DatasetVersion) -> None:
    record(
        session,
        None,  # the system decides, not the steward who completed the upload
        AuditEvent(
            "dataset.upload_verified",
            "dataset_version",
            version.id,
            org_id=ds.org_id,
            data={
                "slug": ds.slug,
                "number": version.number,
                "state": version.state,
                "digest": version.digest,
                "mismatched": list(version.mismatched_paths or []),
            },
        ),
    )
