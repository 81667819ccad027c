"""Pure decisions of the datasets domain: states, paths, access, digests, validation."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from aicommons.datasets import policy
from aicommons.datasets.validation import validator_for
from aicommons.portal.core.errors import Conflict, InvalidInput
from aicommons.portal.core.principal import Principal

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def test_only_legal_transitions() -> None:
    assert policy.transition("draft", "uploading") == "uploading"
    assert policy.transition("ready", "published") == "published"
    for current, target in (
        ("blocked", "published"),
        ("published", "uploading"),
        ("deprecated", "published"),
    ):
        with pytest.raises(Conflict):
            policy.transition(current, target)


@pytest.mark.parametrize("path", ["a.csv", "train/cat/1.jpg", "数据/标签.csv", "a..b/c"])
def test_good_paths(path: str) -> None:
    assert policy.check_relative_path(path) == path


@pytest.mark.parametrize(
    "path",
    [
        "",
        "/abs",
        "../x",
        "a/../b",
        "a/./b",
        "a//b",
        "a/",
        "C:/x",
        "a\\b",
        "x\x00y",
        "_aicommons/manifest.json",
    ],
)
def test_bad_paths(path: str) -> None:
    with pytest.raises(InvalidInput):
        policy.check_relative_path(path)


def test_part_sizes_respect_s3_limits() -> None:
    mib = 1024 * 1024
    assert policy.part_size_for(10, 16 * mib) == 16 * mib
    assert policy.part_size_for(1, mib) == 5 * mib
    big = 1024**4  # 1 TiB needs parts above 100 MiB
    size = policy.part_size_for(big, 16 * mib)
    assert policy.part_count(big, size) <= policy.MAX_PARTS
    assert policy.part_count(0, 5 * mib) == 1


def test_digest_ignores_order() -> None:
    a = [{"path": "a", "size": 1, "sha256": "0" * 64}, {"path": "b", "size": 2, "sha256": "1" * 64}]
    assert policy.manifest_digest(a) == policy.manifest_digest(list(reversed(a)))
    assert policy.manifest_digest(a) != policy.manifest_digest(a[:1])


def test_blocking() -> None:
    assert policy.block_reasons("L1", 3, 0) == ["personal_data"]
    assert policy.block_reasons("L3", 3, 0) == []  # usable but not visible: only inside jobs
    assert policy.block_reasons("L2", 0, 2) == ["validation"]
    assert policy.can_override(["personal_data"]) and not policy.can_override(["validation", "personal_data"])
    assert not policy.can_publish("L4")


def test_visibility_download_and_jobs() -> None:
    outsider = Principal("u", "u", memberships={"other": "member"})
    assert policy.can_see(outsider, "owner", "L3", True)
    assert not policy.can_see(outsider, "owner", "L1", False)
    assert not policy.can_see(outsider, "owner", "L4", True)
    assert policy.download_refusal("L1", False) is None
    assert policy.download_refusal("L2", False) == "dataset.licence_not_accepted"
    assert policy.download_refusal("L2", True) is None
    assert policy.download_refusal("L3", True) == "dataset.not_downloadable"
    assert policy.job_access_refusal("L3", "owner", "other", False) == "dataset.no_grant"
    assert policy.job_access_refusal("L3", "owner", "other", True) is None
    assert policy.job_access_refusal("L3", "owner", "owner", False) is None
    assert policy.job_access_refusal("L4", "owner", "other", True) == "dataset.not_found"


def test_grant_expiry() -> None:
    assert policy.grant_active("approved", NOW + timedelta(days=1), NOW)
    assert not policy.grant_active("approved", NOW - timedelta(seconds=1), NOW)
    assert not policy.grant_active("revoked", None, NOW)


def _report(fmt: str, files: dict[str, bytes], classes: list[str] | None = None) -> dict:
    validator = validator_for(fmt, list(files), {"classes": classes or []})
    for path, data in files.items():
        if validator.wants(path):
            validator.add(path, data)
    return validator.report()


def test_imagefolder() -> None:
    report = _report("imagefolder", {"train/cat/1.jpg": b"", "train/cat/2.jpg": b"", "train/dog/3.png": b""})
    assert report["ok"] and report["class_distribution"] == {"cat": 2, "dog": 1}
    assert not _report("imagefolder", {"train/1.jpg": b""})["ok"]


def test_coco() -> None:
    doc = {
        "images": [{"id": 1, "file_name": "1.jpg"}],
        "categories": [{"id": 3, "name": "car"}],
        "annotations": [{"image_id": 1, "category_id": 3}, {"image_id": 2, "category_id": 3}],
    }
    report = _report("coco", {"ann.json": json.dumps(doc).encode(), "1.jpg": b""})
    assert report["class_distribution"] == {"car": 1}
    assert not report["ok"] and "unknown image_id" in report["errors"][0]


def test_yolo() -> None:
    files = {"classes.txt": b"car\nbus\n", "labels/1.txt": b"0 0.5 0.5 0.1 0.1\n1 0.2 0.2 0.1 0.1\n"}
    report = _report("yolo", files)
    assert report["ok"] and report["class_distribution"] == {"bus": 1, "car": 1}
    assert not _report("yolo", {"labels/1.txt": b"0 1.5 0.5 0.1 0.1\n"})["ok"]


def test_csv_and_jsonl() -> None:
    report = _report("csv", {"t.csv": b"text,label\na,x\nb,y\nc,x\n"}, classes=["x", "y"])
    assert report["ok"] and report["record_count"] == 3 and report["chart"]["values"] == [2, 1]
    assert not _report("csv", {"t.csv": b"text,cls\na,x\n"})["ok"]
    assert not _report("csv", {"t.csv": b"text,label\na,z\n"}, classes=["x"])["ok"]
    jsonl = _report("jsonl", {"d.jsonl": b'{"label": ["a", "b"]}\n{"label": "a"}\n'})
    assert jsonl["ok"] and jsonl["class_distribution"] == {"a": 2, "b": 1}


def test_unknown_format() -> None:
    with pytest.raises(InvalidInput):
        validator_for("parquet-magic", [], {})
