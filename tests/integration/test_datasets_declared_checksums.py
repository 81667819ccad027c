"""Files planned without a sha256 and declared at completion: what `datasets push` does so that it
can hash while it sends. Nothing is decided on the client's word: the background step checks."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.fixtures.datasets_processing import process_completed
from tests.integration.test_datasets_api import API, CSV_CLEAN, dataset_body, put_parts

FILES = {"train.csv": CSV_CLEAN, "docs/README.md": b"# signals\n"}


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _plan_unhashed(api: TestClient, files: dict[str, bytes], number: int = 1) -> dict[str, Any]:
    body = {"files": [{"path": p, "size": len(b)} for p, b in files.items()]}
    plan = api.post(f"{API}/datasets/signals/versions/{number}/uploads", json=body)
    assert plan.status_code == 200, plan.text
    return dict(plan.json())


def _complete(api: TestClient, declared: dict[str, str], number: int = 1) -> Any:
    return api.post(f"{API}/datasets/signals/versions/{number}/complete", json={"files": declared})


def _version(api: TestClient) -> dict[str, Any]:
    return dict(api.get(f"{API}/datasets/signals/versions/1").json())


@pytest.fixture
def uploading(api: TestClient) -> dict[str, Any]:
    assert api.post(f"{API}/datasets", json=dataset_body()).status_code == 201
    assert api.post(f"{API}/datasets/signals/versions", json={}).status_code == 201
    plan = _plan_unhashed(api, FILES)
    put_parts(api, plan, FILES)
    return plan


@pytest.mark.as_user("bob")
def test_hashes_declared_at_completion_are_verified_and_listed(
    api: TestClient, uploading: dict[str, Any]
) -> None:
    done = _complete(api, {path: _sha(data) for path, data in FILES.items()})
    assert done.status_code == 202, done.text
    assert done.json()["state"] == "validating"
    process_completed(api.app)  # type: ignore[arg-type]
    assert _version(api)["state"] == "ready"
    listed = api.get(f"{API}/datasets/signals/versions/1/manifest").json()
    assert {f["path"]: f["sha256"] for f in listed["files"]} == {p: _sha(d) for p, d in FILES.items()}


@pytest.mark.as_user("bob")
def test_a_file_left_undeclared_is_refused_and_nothing_is_assembled(
    api: TestClient, uploading: dict[str, Any]
) -> None:
    refused = _complete(api, {"train.csv": _sha(CSV_CLEAN)})
    assert refused.status_code == 422
    assert refused.json()["error"]["code"] == "dataset.checksum_not_declared"
    assert "docs/README.md" in refused.json()["error"]["message"]
    assert _version(api)["state"] == "uploading"
    # The parts are still there: declaring both now completes the same upload.
    done = _complete(api, {path: _sha(data) for path, data in FILES.items()})
    assert done.status_code == 202, done.text


@pytest.mark.as_user("bob")
def test_a_path_outside_the_upload_is_refused(api: TestClient, uploading: dict[str, Any]) -> None:
    declared = {**{p: _sha(d) for p, d in FILES.items()}, "other.csv": _sha(b"x")}
    refused = _complete(api, declared)
    assert refused.status_code == 422 and refused.json()["error"]["code"] == "dataset.not_in_upload"
    bad = _complete(api, {"train.csv": "not-a-hash", "docs/README.md": _sha(FILES["docs/README.md"])})
    assert bad.status_code == 422
    assert _version(api)["state"] == "uploading"


@pytest.mark.as_user("bob")
def test_a_wrong_declared_hash_is_found_in_the_background(api: TestClient, uploading: dict[str, Any]) -> None:
    declared = {"train.csv": _sha(b"something else"), "docs/README.md": _sha(FILES["docs/README.md"])}
    assert _complete(api, declared).status_code == 202
    process_completed(api.app)  # type: ignore[arg-type]
    version = _version(api)
    assert version["state"] == "uploading" and version["mismatched_paths"] == ["train.csv"]


@pytest.mark.as_user("bob")
def test_a_verified_file_declared_anew_with_another_hash_is_sent_again(
    api: TestClient, uploading: dict[str, Any]
) -> None:
    # First round: README verified, train.csv mismatched (a wrong hash was declared for it).
    declared = {"train.csv": _sha(b"something else"), "docs/README.md": _sha(FILES["docs/README.md"])}
    assert _complete(api, declared).status_code == 202
    process_completed(api.app)  # type: ignore[arg-type]
    # Then the README changes on disk with the same size; the client resumes without hashes.
    changed = {**FILES, "docs/README.md": b"# SIGNALS\n"}
    plan = _plan_unhashed(api, changed)
    put_parts(api, plan, changed)
    again = _complete(api, {path: _sha(data) for path, data in changed.items()})
    assert again.status_code == 202, again.text
    assert again.json()["state"] == "uploading" and again.json()["mismatched_paths"] == ["docs/README.md"]
    # Sent again, it completes and verifies.
    plan = _plan_unhashed(api, changed)
    assert [f["path"] for f in plan["files"] if f["parts"]] == ["docs/README.md"]
    put_parts(api, plan, changed)
    assert _complete(api, {path: _sha(data) for path, data in changed.items()}).status_code == 202
    process_completed(api.app)  # type: ignore[arg-type]
    assert _version(api)["state"] == "ready"
