"""Sweeping abandoned uploads, on SQLite and PostgreSQL, with the local store and with MinIO."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from aicommons.datasets import repository, uploads
from aicommons.datasets.models import Dataset, DatasetVersion
from aicommons.datasets.storage import ObjectStore, S3Store, build_store
from aicommons.portal.audit.models import AuditRecord
from aicommons.portal.core.db import transaction
from aicommons.portal.core.time import utcnow
from tests.conftest import Portal
from tests.integration.test_datasets_api import (
    API,
    CSV_CLEAN,
    dataset_body,
    manifest,
    put_parts,
    upload_version,
)
from tests.integration.test_datasets_s3 import _keys, s3_store  # noqa: F401  (fixture)

DAY = timedelta(days=1)


def _start_upload(bob: TestClient, http: Any, files: dict[str, bytes]) -> int:
    number: int = bob.post(f"{API}/datasets/signals/versions", json={}).json()["number"]
    plan = bob.post(f"{API}/datasets/signals/versions/{number}/uploads", json={"files": manifest(files)})
    assert plan.status_code == 200, plan.text
    put_parts(http, plan.json(), files)  # every part sent, but never completed
    return number


def _age(portal: Portal, numbers: list[int], by: timedelta) -> None:
    with transaction(portal.sessionmaker) as session:
        ds = session.scalars(select(Dataset).where(Dataset.slug == "signals")).one()
        for number in numbers:
            version = repository.version(session, ds.id, number)
            assert version is not None
            version.upload_started_at = utcnow() - by


def _open_parts(portal: Portal, store: ObjectStore, number: int) -> list[int]:
    """How many parts each file of the version has stored in its open multipart upload."""
    with transaction(portal.sessionmaker) as session:
        ds = session.scalars(select(Dataset).where(Dataset.slug == "signals")).one()
        version = repository.version(session, ds.id, number)
        assert version is not None
        counts = []
        for row in repository.files(session, version.id):
            parts = store.list_parts(uploads.data_key(ds, version, row.path), row.upload_id or "-")
            counts.append(len(parts or []))
        return counts


def _sweep(portal: Portal, store: ObjectStore) -> list[uploads.SweptVersion]:
    with transaction(portal.sessionmaker) as session:
        return uploads.sweep_abandoned(session, store, portal.settings, utcnow())


def _scenario(portal: Portal, bob: TestClient, http: Any, store: ObjectStore) -> tuple[int, int]:
    assert bob.post(f"{API}/datasets", json=dataset_body()).status_code == 201
    upload_version(bob, "signals", {"t.csv": CSV_CLEAN}, http=http)
    assert bob.post(f"{API}/datasets/signals/versions/1/publish").status_code == 200
    upload_version(bob, "signals", {"r.csv": CSV_CLEAN}, http=http)  # v2: ready, never published
    stale = _start_upload(bob, http, {"a.csv": CSV_CLEAN})  # v3
    fresh = _start_upload(bob, http, {"b.csv": CSV_CLEAN})  # v4
    _age(portal, [1, 2, stale], 3 * DAY)
    assert _open_parts(portal, store, stale) == [1] and _open_parts(portal, store, fresh) == [1]
    return stale, fresh


def _check(portal: Portal, bob: TestClient, store: ObjectStore, stale: int, fresh: int) -> None:
    states = {v["number"]: v["state"] for v in bob.get(f"{API}/datasets/signals/versions").json()}
    assert states == {1: "published", 2: "ready", stale: "draft", fresh: "uploading"}
    assert _open_parts(portal, store, stale) == []  # its manifest rows are gone too
    assert _open_parts(portal, store, fresh) == [1]  # untouched
    assert bob.get(f"{API}/datasets/signals/versions/1/manifest").json()["files"][0]["path"] == "t.csv"
    with transaction(portal.sessionmaker) as session:
        audited = session.scalars(
            select(AuditRecord).where(AuditRecord.action == "dataset.upload_abandoned")
        ).all()
        assert [(a.actor_id, a.data["number"]) for a in audited] == [(None, stale)]
        v = session.scalars(select(DatasetVersion).where(DatasetVersion.number == stale)).one()
        assert v.file_count == 0 and v.upload_started_at is None
    # The steward can start the upload again, from a clean draft.
    again = bob.post(
        f"{API}/datasets/signals/versions/{stale}/uploads", json={"files": manifest({"a.csv": CSV_CLEAN})}
    )
    assert again.status_code == 200 and again.json()["files"][0]["done_parts"] == []


def test_sweep_resets_only_abandoned_uploads_local(
    portal: Portal, client_for: Callable[..., TestClient]
) -> None:
    bob = client_for("bob")
    store = build_store(portal.settings)
    assert store.kind == "local"
    portal.app.state.dataset_store = store
    stale, fresh = _scenario(portal, bob, bob, store)
    root = portal.settings.data_dir / "datasets"
    published_files = sorted(p for p in root.rglob("*") if p.is_file() and "/v1/" in p.as_posix())
    swept = _sweep(portal, store)
    assert [(s.dataset, s.number) for s in swept] == [("signals", stale)]
    assert sorted(p for p in root.rglob("*") if p.is_file() and "/v1/" in p.as_posix()) == published_files
    assert not [p for p in root.rglob("*") if f"/v{stale}/" in p.as_posix() and p.is_file()]
    _check(portal, bob, store, stale, fresh)
    assert _sweep(portal, store) == []  # idempotent


def test_the_cutoff_never_undercuts_the_upload_url_lifetime(portal: Portal) -> None:
    now = utcnow()
    portal.settings.datasets_upload_abandon_after_s = 60
    portal.settings.datasets_upload_url_ttl_s = 3600
    assert uploads.abandon_cutoff(portal.settings, now) == now - timedelta(seconds=3600)
    portal.settings.datasets_upload_abandon_after_s = 7200
    assert uploads.abandon_cutoff(portal.settings, now) == now - timedelta(seconds=7200)


@pytest.mark.minio
def test_sweep_aborts_multipart_uploads_on_minio(
    portal: Portal,
    s3_store: S3Store,  # noqa: F811
    client_for: Callable[..., TestClient],
) -> None:
    bob = client_for("bob")
    with httpx.Client() as http:
        stale, fresh = _scenario(portal, bob, http, s3_store)
    open_before = s3_store.client._list_multipart_uploads(s3_store.bucket).uploads
    assert len(open_before) == 2
    swept = _sweep(portal, s3_store)
    assert [s.number for s in swept] == [stale]
    remaining = s3_store.client._list_multipart_uploads(s3_store.bucket).uploads
    assert [u.object_name.rsplit("/", 1)[-1] for u in remaining] == ["b.csv"]
    assert not [k for k in _keys(s3_store) if f"/v{stale}/" in k]
    assert [k for k in _keys(s3_store) if "/v1/" in k]
    _check(portal, bob, s3_store, stale, fresh)


def test_administrators_can_run_the_sweep(portal: Portal, client_for: Callable[..., TestClient]) -> None:
    bob, root = client_for("bob"), client_for("root")
    assert bob.post(f"{API}/datasets", json=dataset_body()).status_code == 201
    stale = _start_upload(bob, bob, {"a.csv": CSV_CLEAN})
    _age(portal, [stale], 3 * DAY)
    assert bob.post(f"{API}/dataset-uploads/sweep").status_code == 403
    swept = root.post(f"{API}/dataset-uploads/sweep")
    assert swept.status_code == 200, swept.text
    assert [(s["dataset"], s["number"]) for s in swept.json()] == [("signals", stale)]
    assert bob.get(f"{API}/datasets/signals/versions/{stale}").json()["state"] == "draft"
    with transaction(portal.sessionmaker) as session:
        audited = session.scalars(
            select(AuditRecord).where(AuditRecord.action == "dataset.upload_abandoned")
        ).all()
        assert [a.actor_name for a in audited] == ["root"]
    assert root.post(f"{API}/dataset-uploads/sweep").json() == []
