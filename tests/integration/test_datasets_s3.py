"""Datasets against the real MinIO: direct multipart uploads, downloads, job-scoped STS credentials.

Each test gets its own bucket, removed at the end.
"""

from __future__ import annotations

import io
import os
import uuid
from collections.abc import Callable, Iterator

import httpx
import pytest
from fastapi.testclient import TestClient
from minio import Minio
from minio.error import S3Error

from aicommons.datasets.credentials import mint_job_credentials
from aicommons.datasets.storage import S3Store
from aicommons.portal.core.db import transaction
from aicommons.portal.core.errors import AppError
from aicommons.portal.orgs import repository as orgs
from tests.conftest import Portal
from tests.fixtures.services import S3Service
from tests.integration.test_datasets_api import (
    API,
    CSV_CLEAN,
    complete_and_process,
    dataset_body,
    manifest,
    put_parts,
    upload_version,
)

pytestmark = pytest.mark.minio
MiB = 1024 * 1024


@pytest.fixture
def s3_store(portal: Portal, s3_service: S3Service) -> Iterator[S3Store]:
    store = S3Store(
        s3_service.endpoint,
        s3_service.access_key,
        s3_service.secret_key,
        f"ds-test-{uuid.uuid4().hex[:12]}",
        s3_service.region,
    )
    portal.app.state.dataset_store = store
    portal.settings.datasets_part_size = 5 * MiB
    yield store
    client = store.client
    if client.bucket_exists(store.bucket):
        for upload in client._list_multipart_uploads(store.bucket).uploads:
            client._abort_multipart_upload(store.bucket, upload.object_name, upload.upload_id)
        for obj in client.list_objects(store.bucket, recursive=True):
            client.remove_object(store.bucket, obj.object_name)
        client.remove_bucket(store.bucket)


def _keys(store: S3Store, prefix: str = "") -> list[str]:
    return sorted(
        o.object_name or "" for o in store.client.list_objects(store.bucket, prefix=prefix, recursive=True)
    )


def test_multipart_upload_resume_publish_and_download(
    s3_store: S3Store, client_for: Callable[..., TestClient]
) -> None:
    bob, carol = client_for("bob"), client_for("carol")
    assert bob.post(f"{API}/datasets", json=dataset_body()).status_code == 201
    big = os.urandom(11 * MiB)  # three parts of 5 MiB, 5 MiB and 1 MiB
    files = {"train.csv": CSV_CLEAN, "blobs/big.bin": big}
    bob.post(f"{API}/datasets/signals/versions", json={})
    plan = bob.post(f"{API}/datasets/signals/versions/1/uploads", json={"files": manifest(files)}).json()
    big_plan = next(f for f in plan["files"] if f["path"] == "blobs/big.bin")
    assert big_plan["part_count"] == 3 and all(
        p["url"].startswith("http://127.0.0.1") for p in big_plan["parts"]
    )
    with httpx.Client() as http:
        # Interrupted after the first part of the big file.
        first_only = {**plan, "files": [{**big_plan, "parts": big_plan["parts"][:1]}]}
        put_parts(http, first_only, files)
        resumed = bob.post(
            f"{API}/datasets/signals/versions/1/uploads", json={"files": manifest(files)}
        ).json()
        resumed_big = next(f for f in resumed["files"] if f["path"] == "blobs/big.bin")
        assert resumed_big["done_parts"] == [1] and [p["number"] for p in resumed_big["parts"]] == [2, 3]
        put_parts(http, resumed, files)
    done = complete_and_process(bob, "signals", 1)
    assert done["state"] == "ready" and done["total_bytes"] == len(big) + len(CSV_CLEAN)
    prefix = f"datasets/{done['dataset_id']}/v1"
    assert _keys(s3_store, prefix) == [
        f"{prefix}/_aicommons/manifest.json",
        f"{prefix}/data/blobs/big.bin",
        f"{prefix}/data/train.csv",
    ]
    assert bob.post(f"{API}/datasets/signals/versions/1/publish").status_code == 200
    links = carol.post(f"{API}/datasets/signals/versions/1/download").json()
    by_path = {f["path"]: f["url"] for f in links["files"]}
    fetched = httpx.get(by_path["blobs/big.bin"], timeout=60)
    assert fetched.status_code == 200 and fetched.content == big


def test_checksum_mismatch_is_refused_and_the_object_removed(
    s3_store: S3Store, client_for: Callable[..., TestClient]
) -> None:
    bob = client_for("bob")
    bob.post(f"{API}/datasets", json=dataset_body())
    bob.post(f"{API}/datasets/signals/versions", json={})
    files = {"train.csv": CSV_CLEAN}
    plan = bob.post(f"{API}/datasets/signals/versions/1/uploads", json={"files": manifest(files)}).json()
    with httpx.Client() as http:
        put_parts(http, plan, {"train.csv": CSV_CLEAN.upper()})
    assert [k for k in _keys(s3_store) if k.endswith("train.csv")] == []  # parts only, not assembled
    version = complete_and_process(bob, "signals", 1)  # assembled, then found wrong in the background
    assert version["state"] == "uploading" and version["mismatched_paths"] == ["train.csv"]
    assert not [k for k in _keys(s3_store) if k.endswith("train.csv")]


def test_abandoned_upload_is_discarded_with_its_multipart_uploads(
    s3_store: S3Store, client_for: Callable[..., TestClient]
) -> None:
    bob = client_for("bob")
    bob.post(f"{API}/datasets", json=dataset_body())
    bob.post(f"{API}/datasets/signals/versions", json={})
    bob.post(f"{API}/datasets/signals/versions/1/uploads", json={"files": manifest({"a.csv": CSV_CLEAN})})
    assert s3_store.client._list_multipart_uploads(s3_store.bucket).uploads
    assert bob.delete(f"{API}/datasets/signals/versions/1/uploads").json()["state"] == "draft"
    assert not s3_store.client._list_multipart_uploads(s3_store.bucket).uploads
    assert _keys(s3_store) == []


def _scoped_client(store: S3Store, creds: object) -> Minio:
    return Minio(
        store.client._base_url.host,
        access_key=creds.access_key,
        secret_key=creds.secret_key,  # type: ignore[attr-defined]
        session_token=creds.session_token,
        secure=False,
        region=store.region,
    )  # type: ignore[attr-defined]


def test_job_credentials_read_only_those_versions(
    portal: Portal, s3_store: S3Store, client_for: Callable[..., TestClient]
) -> None:
    bob, dave, carol = client_for("bob"), client_for("dave"), client_for("carol")
    for slug, level in (("open-one", "L1"), ("closed-two", "L3")):
        bob.post(f"{API}/datasets", json=dataset_body(slug=slug, level=level))
        upload_version(bob, slug, {"train.csv": CSV_CLEAN}, http=httpx.Client())
        bob.post(f"{API}/datasets/{slug}/versions/1/publish")
    open_v = bob.get(f"{API}/datasets/open-one/versions/1").json()
    closed_v = bob.get(f"{API}/datasets/closed-two/versions/1").json()
    with transaction(portal.sessionmaker) as session:
        beta = orgs.by_slug(session, "beta")
        assert beta is not None
        # Without a grant, beta's job may not mount the L3 dataset.
        with pytest.raises(AppError) as refused:
            mint_job_credentials(
                session, s3_store, portal.settings, beta.id, [open_v["id"], closed_v["id"]], 900
            )
        assert refused.value.code == "dataset.no_grant"
        creds = mint_job_credentials(
            session, s3_store, portal.settings, beta.id, [open_v["id"]], 900, job_id="job-1"
        )
    assert creds.kind == "s3" and creds.session_token and creds.datasets[0].uri.startswith("s3://")
    scoped = _scoped_client(s3_store, creds)
    open_prefix = f"datasets/{open_v['dataset_id']}/v1"
    closed_prefix = f"datasets/{closed_v['dataset_id']}/v1"
    response = scoped.get_object(s3_store.bucket, f"{open_prefix}/data/train.csv")
    assert response.read() == CSV_CLEAN
    response.close()
    listed = [
        o.object_name for o in scoped.list_objects(s3_store.bucket, prefix=f"{open_prefix}/", recursive=True)
    ]
    assert f"{open_prefix}/_aicommons/manifest.json" in listed
    with pytest.raises(S3Error) as other:
        scoped.get_object(s3_store.bucket, f"{closed_prefix}/data/train.csv")
    assert other.value.code == "AccessDenied"
    for key in (f"{open_prefix}/data/new.csv", f"{closed_prefix}/x", "elsewhere"):
        with pytest.raises(S3Error) as write:
            scoped.put_object(s3_store.bucket, key, io.BytesIO(b"x"), 1)
        assert write.value.code == "AccessDenied"
    # With an approved grant the L3 version can be mounted too; the audit log records it.
    grant = carol.post(
        f"{API}/datasets/closed-two/grants",
        json={"org": "beta", "purpose": "Evaluate a model", "duration_days": 7},
    ).json()
    assert bob.post(f"{API}/datasets/closed-two/grants/{grant['id']}/approve").status_code == 200
    with transaction(portal.sessionmaker) as session:
        creds = mint_job_credentials(
            session, s3_store, portal.settings, beta.id, [closed_v["id"]], 900, job_id="job-2"
        )
    reader = _scoped_client(s3_store, creds)
    assert reader.get_object(s3_store.bucket, f"{closed_prefix}/data/train.csv").read() == CSV_CLEAN
    audit = bob.get(f"{API}/audit", params={"org_id": closed_v["dataset_id"]})
    assert audit.status_code in (200, 403, 404, 422)
    assert dave.get(f"{API}/datasets/closed-two").status_code == 200
