"""The client's bulk transfers against real MinIO: parallel part uploads and checked downloads."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from aicommons.datasets.schemas import DownloadLinks, UploadPlan
from aicommons.datasets.storage import S3Store
from aicommons.portal.client.datasets import download_files, scan_folder, upload_parts
from aicommons.portal.client.http import ApiError
from tests.integration.test_datasets_api import API, complete_and_process, dataset_body
from tests.integration.test_datasets_s3 import s3_store  # noqa: F401  (fixture)

pytestmark = pytest.mark.minio
MiB = 1024 * 1024


def test_parts_up_and_files_down_with_checksums(
    s3_store: S3Store,  # noqa: F811
    client_for: Callable[..., TestClient],
    tmp_path: Path,
) -> None:
    bob = client_for("bob")
    assert bob.post(f"{API}/datasets", json=dataset_body(label_format="none")).status_code == 201
    source = tmp_path / "source"
    (source / "nested").mkdir(parents=True)
    files = {"big.bin": os.urandom(11 * MiB), "nested/small.bin": os.urandom(1000)}
    for path, data in files.items():
        (source / path).write_bytes(data)
    manifest = scan_folder(source, workers=2)
    bob.post(f"{API}/datasets/signals/versions", json={})
    body = {"files": [m.model_dump() for m in manifest]}
    plan = UploadPlan.model_validate(bob.post(f"{API}/datasets/signals/versions/1/uploads", json=body).json())
    by_path = {f.path: f for f in plan.files}
    upload_parts(source, [(by_path[f.path], p) for f in plan.files for p in f.parts], 3, None)
    assert complete_and_process(bob, "signals", 1)["state"] == "ready"
    assert bob.post(f"{API}/datasets/signals/versions/1/publish").status_code == 200

    links = DownloadLinks.model_validate(bob.post(f"{API}/datasets/signals/versions/1/download").json())
    written = download_files(links, tmp_path / "down", workers=2)
    assert sorted(p.relative_to(tmp_path / "down").as_posix() for p in written) == sorted(files)
    for path, data in files.items():
        assert (tmp_path / "down" / path).read_bytes() == data

    tampered = links.model_copy(update={"files": [links.files[0].model_copy(update={"sha256": "0" * 64})]})
    with pytest.raises(ApiError) as failed:
        download_files(tampered, tmp_path / "again")
    assert failed.value.code == "client.checksum_failed"
    assert not (tmp_path / "again" / links.files[0].path).exists()
    escaping = links.model_copy(update={"files": [links.files[0].model_copy(update={"path": "../out.bin"})]})
    with pytest.raises(ApiError) as refused:
        download_files(escaping, tmp_path / "third")
    assert refused.value.code == "client.bad_path" and not (tmp_path / "out.bin").exists()
