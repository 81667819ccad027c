"""`aicommons datasets` against a real portal process: create, push (blocked by personal data),
mask, push again, publish, download with checksum verification; with the local store and MinIO."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import pytest
from minio import Minio

from tests.fixtures.portal_server import ServedPortal, serve_portal
from tests.fixtures.services import S3Service

DATASET = {
    "org": "acme",
    "slug": "signals",
    "title_en": "Traffic signal phrases",
    "title_zh": "交通信号语句",
    "domain": "transport",
    "modality": "text",
    "task": "text-classification",
    "label_format": "csv",
    "label_schema": {"classes": ["stop", "go"]},
    "licence_id": "CC-BY-4.0",
    "level": "L1",
}


def _run_flow(served: ServedPortal, tmp: Path) -> None:
    def ok(*args: str, lang: str = "en") -> str:
        result = served.cli(*args, lang=lang, timeout=120)
        assert result.returncode == 0, f"{args}: {result.stdout}\n{result.stderr}"
        return result.stdout + result.stderr

    ok("login", "--username", "admin", "--password", served.admin_password, "--server", served.url)
    ok("orgs", "create", "acme", "Acme Robotics")
    (tmp / "dataset.json").write_text(json.dumps(DATASET))
    assert "signals" in ok("datasets", "create", str(tmp / "dataset.json"))
    raw = tmp / "raw"
    (raw / "nested").mkdir(parents=True)
    (raw / "train.csv").write_text("text,label\ncall 13812345678,stop\nall clear,go\n")
    (raw / "nested" / "blob.bin").write_bytes(bytes(range(256)) * 100)
    blocked = ok("datasets", "push", "signals", str(raw), "--workers", "3")
    assert "blocked" in blocked and "138****5678" in blocked and "13812345678" not in blocked
    masked = ok("datasets", "mask", str(raw), str(tmp / "clean"), lang="zh")
    assert "脱敏 1 处" in masked
    assert "13812345678" not in (tmp / "clean" / "train.csv").read_text()
    assert (tmp / "clean" / "nested" / "blob.bin").read_bytes() == (raw / "nested" / "blob.bin").read_bytes()
    pushed = ok("datasets", "push", "signals", str(tmp / "clean"), "--version", "1")
    assert "ready" in pushed and "sha256:" in pushed
    ok("datasets", "publish", "signals", "1")
    again = served.cli("datasets", "push", "signals", str(tmp / "clean"), "--version", "1")
    assert again.returncode == 1 and "immutable" in again.stderr
    ok("datasets", "download", "signals", "1", str(tmp / "down"))
    assert (tmp / "down" / "train.csv").read_bytes() == (tmp / "clean" / "train.csv").read_bytes()
    assert "signals" in ok("datasets", "search", "交通")
    # --no-wait: back as soon as the upload is complete; the portal's worker decides it by itself.
    queued = ok("datasets", "push", "signals", str(tmp / "clean"), "--no-wait", lang="zh")
    assert "signals v2：validating" in queued and "aicommons datasets status signals 2" in queued
    deadline = time.monotonic() + 60
    while "validating" in (status := ok("datasets", "status", "signals", "2")):
        assert time.monotonic() < deadline, status
        time.sleep(0.2)
    assert "signals v2: ready" in status and "sha256:" in status


def test_push_mask_publish_download_with_the_local_store(tmp_path: Path) -> None:
    with serve_portal(tmp_path / "served") as served:
        _run_flow(served, tmp_path)
    assert any((tmp_path / "served" / "data" / "datasets").rglob("train.csv"))


@pytest.mark.minio
def test_push_mask_publish_download_with_minio(tmp_path: Path, s3_service: S3Service) -> None:
    bucket = f"ds-cli-{uuid.uuid4().hex[:12]}"
    env = {
        "AICOMMONS_DATASETS_STORAGE": "s3",
        "AICOMMONS_S3_ENDPOINT": s3_service.endpoint,
        "AICOMMONS_S3_ACCESS_KEY": s3_service.access_key,
        "AICOMMONS_S3_SECRET_KEY": s3_service.secret_key,
        "AICOMMONS_S3_REGION": s3_service.region,
        "AICOMMONS_S3_BUCKET": bucket,
    }
    client = Minio(s3_service.host, s3_service.access_key, s3_service.secret_key, secure=s3_service.secure)
    try:
        with serve_portal(tmp_path / "served", extra_env=env) as served:
            _run_flow(served, tmp_path)
        names = [o.object_name for o in client.list_objects(bucket, recursive=True)]
        assert any(n and n.endswith("/data/train.csv") for n in names)
    finally:
        if client.bucket_exists(bucket):
            for obj in client.list_objects(bucket, recursive=True):
                client.remove_object(bucket, obj.object_name or "")
            client.remove_bucket(bucket)
