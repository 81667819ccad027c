"""Datasets through the API on SQLite and PostgreSQL, with the embedded local-directory store.

Catalogue, versions, direct uploads (presigned part URLs, resumption, checksum verification),
the personal-data gate, publishing, downloads by level, access grants and search.
"""

from __future__ import annotations

import hashlib
import urllib.parse
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from tests.conftest import Portal
from tests.fixtures.datasets_processing import process_completed

API = "/api/v1"
ID_OK = "11010519491231002X"  # GB 11643 check digit X
CSV_CLEAN = b"text,label\nred light,stop\ngreen light,go\nyellow light,slow\n"
CSV_PII = b"text,label\ncall 13812345678 now,stop\nid 11010519491231002X,go\n"


def dataset_body(
    slug: str = "signals", level: str = "L1", label_format: str = "csv", **extra: Any
) -> dict[str, Any]:
    return {
        "org": "acme",
        "slug": slug,
        "title_en": "Traffic signal phrases",
        "title_zh": "交通信号语句",
        "description_en": "Sentences about traffic lights",
        "description_zh": "关于红绿灯的句子",
        "domain": "transport",
        "modality": "text",
        "task": "text-classification",
        "label_format": label_format,
        "label_schema": {"classes": ["stop", "go", "slow"], "label_column": "label"},
        "licence_id": "CC-BY-4.0",
        "level": level,
        "keywords": ["traffic", "红绿灯"],
        **extra,
    }


def manifest(files: dict[str, bytes]) -> list[dict[str, Any]]:
    return [{"path": p, "size": len(b), "sha256": hashlib.sha256(b).hexdigest()} for p, b in files.items()]


def put_parts(
    http: httpx.Client, plan: dict[str, Any], files: dict[str, bytes], only: set[str] | None = None
) -> None:
    """What `datasets push` does: PUT each missing part to its presigned URL."""
    for upload in plan["files"]:
        if only is not None and upload["path"] not in only:
            continue
        data = files[upload["path"]]
        for part in upload["parts"]:
            start = (part["number"] - 1) * upload["part_size"]
            url = part["url"]
            if isinstance(http, TestClient):
                parts = urllib.parse.urlsplit(url)
                url = f"{parts.path}?{parts.query}"
            response = http.put(url, content=data[start : start + upload["part_size"]])
            assert response.status_code == 200, response.text


def upload_version(
    api: TestClient,
    slug: str,
    files: dict[str, bytes],
    http: httpx.Client | None = None,
    number: int | None = None,
) -> dict[str, Any]:
    if number is None:
        number = api.post(f"{API}/datasets/{slug}/versions", json={}).json()["number"]
    plan = api.post(f"{API}/datasets/{slug}/versions/{number}/uploads", json={"files": manifest(files)})
    assert plan.status_code == 200, plan.text
    put_parts(http or api, plan.json(), files)
    return complete_and_process(api, slug, number)


def complete_and_process(api: TestClient, slug: str, number: int) -> dict[str, Any]:
    """Complete the upload (202, `validating`), run the background step, read the decided version."""
    done = api.post(f"{API}/datasets/{slug}/versions/{number}/complete")
    assert done.status_code == 202, done.text
    assert done.json()["state"] == "validating" and done.json()["mismatched_paths"] == []
    assert done.json()["id"] in process_completed(api.app)  # type: ignore[arg-type]
    version = api.get(f"{API}/datasets/{slug}/versions/{number}")
    assert version.status_code == 200, version.text
    return dict(version.json())


@pytest.mark.as_user("bob")
def test_steward_publishes_a_clean_csv_dataset(api: TestClient) -> None:
    created = api.post(f"{API}/datasets", json=dataset_body())
    assert created.status_code == 201, created.text
    version = upload_version(api, "signals", {"train.csv": CSV_CLEAN, "docs/README.md": b"# signals\n"})
    assert version["state"] == "ready"
    assert version["digest"].startswith("sha256:")
    assert version["scan_report"]["total"] == 0
    report = version["validation_report"]
    assert report["ok"] and report["record_count"] == 3
    assert report["class_distribution"] == {"go": 1, "slow": 1, "stop": 1}
    assert report["chart"]["labels"] == ["go", "slow", "stop"]
    published = api.post(f"{API}/datasets/signals/versions/1/publish")
    assert published.status_code == 200 and published.json()["state"] == "published"
    # Immutable: no new upload into a published version.
    again = api.post(f"{API}/datasets/signals/versions/1/uploads", json={"files": manifest({"x.csv": b"a"})})
    assert again.status_code == 409 and again.json()["error"]["code"] == "dataset.immutable"
    files = api.get(f"{API}/datasets/signals/versions/1/manifest").json()["files"]
    assert [f["path"] for f in files] == ["docs/README.md", "train.csv"]
    assert api.post(f"{API}/datasets/signals/versions/1/deprecate").json()["state"] == "deprecated"


@pytest.mark.as_user("bob")
def test_personal_data_blocks_publishing_until_override(api: TestClient) -> None:
    api.post(f"{API}/datasets", json=dataset_body(level="L2"))
    version = upload_version(api, "signals", {"train.csv": CSV_PII})
    assert version["state"] == "blocked" and version["blocked_reasons"] == ["personal_data"]
    scan = version["scan_report"]
    assert scan["counts"]["mobile"] == 1 and scan["counts"]["cn_id"] == 1
    masked = {s["masked"] for s in scan["samples"]}
    assert "138****5678" in masked and "110105********002X" in masked
    assert ID_OK not in str(version)
    refused = api.post(f"{API}/datasets/signals/versions/1/publish")
    assert refused.status_code == 409
    short = api.post(f"{API}/datasets/signals/versions/1/override", json={"justification": "ok"})
    assert short.status_code == 422
    reason = "Synthetic numbers generated for the test; no real person behind them."
    overridden = api.post(f"{API}/datasets/signals/versions/1/override", json={"justification": reason})
    assert overridden.status_code == 200 and overridden.json()["state"] == "ready"
    assert api.post(f"{API}/datasets/signals/versions/1/publish").status_code == 200
    audit = api.get(f"{API}/audit", params={"org": "acme"})
    if audit.status_code == 200:
        assert any(r["action"] == "dataset.scan_override" for r in audit.json())


@pytest.mark.as_user("bob")
def test_resumed_upload_sends_only_missing_files_and_checksums_are_verified(api: TestClient) -> None:
    api.post(f"{API}/datasets", json=dataset_body())
    files = {"a.csv": CSV_CLEAN, "b.csv": CSV_CLEAN.replace(b"red", b"Red")}
    api.post(f"{API}/datasets/signals/versions", json={})
    plan = api.post(f"{API}/datasets/signals/versions/1/uploads", json={"files": manifest(files)}).json()
    put_parts(api, plan, files, only={"a.csv"})  # interrupted after the first file
    incomplete = api.post(f"{API}/datasets/signals/versions/1/complete")
    assert incomplete.status_code == 409 and incomplete.json()["error"]["code"] == "dataset.upload_incomplete"
    resumed = api.post(f"{API}/datasets/signals/versions/1/uploads", json={"files": manifest(files)}).json()
    by_path = {f["path"]: f for f in resumed["files"]}
    assert by_path["a.csv"]["parts"] == [] and by_path["a.csv"]["done_parts"] == [1]
    assert len(by_path["b.csv"]["parts"]) == 1
    # The second file's bytes differ from its declared checksum: found by the background step.
    put_parts(api, resumed, {**files, "b.csv": b"tampered" + files["b.csv"][8:]})
    mismatch = complete_and_process(api, "signals", 1)
    assert mismatch["state"] == "uploading" and mismatch["mismatched_paths"] == ["b.csv"]
    assert mismatch["digest"] is None and mismatch["validation_report"] is None
    retry = api.post(f"{API}/datasets/signals/versions/1/uploads", json={"files": manifest(files)}).json()
    assert [f["path"] for f in retry["files"] if f["parts"]] == ["b.csv"]
    put_parts(api, retry, files)
    done = complete_and_process(api, "signals", 1)
    assert done["state"] == "ready" and done["mismatched_paths"] == []


@pytest.mark.as_user("bob")
@pytest.mark.parametrize(
    "path", ["../escape.csv", "/etc/passwd", "a/../../b.csv", "C:/win.csv", "a\\b.csv", "a//b.csv", "./a.csv"]
)
def test_bad_paths_are_refused_and_nothing_is_written(api: TestClient, path: str) -> None:
    api.post(f"{API}/datasets", json=dataset_body())
    api.post(f"{API}/datasets/signals/versions", json={})
    files = {"ok.csv": CSV_CLEAN, path: b"x"}
    response = api.post(f"{API}/datasets/signals/versions/1/uploads", json={"files": manifest(files)})
    assert response.status_code == 422 and response.json()["error"]["code"] == "dataset.bad_path"
    assert api.get(f"{API}/datasets/signals/versions/1").json()["state"] == "draft"


@pytest.mark.as_user("bob")
def test_discarding_an_abandoned_upload_cleans_up(api: TestClient, portal: Portal) -> None:
    api.post(f"{API}/datasets", json=dataset_body())
    api.post(f"{API}/datasets/signals/versions", json={})
    files = {"a.csv": CSV_CLEAN}
    plan = api.post(f"{API}/datasets/signals/versions/1/uploads", json={"files": manifest(files)}).json()
    put_parts(api, plan, files)
    discarded = api.delete(f"{API}/datasets/signals/versions/1/uploads")
    assert discarded.status_code == 200 and discarded.json()["state"] == "draft"
    root = portal.settings.data_dir / "datasets"
    assert not any(p.is_file() for p in root.rglob("*") if ".uploads" in p.parts or "data" in p.parts)


@pytest.mark.as_user("bob")
def test_validation_errors_block_and_cannot_be_overridden(api: TestClient) -> None:
    api.post(f"{API}/datasets", json=dataset_body(label_format="jsonl"))
    version = upload_version(api, "signals", {"d.jsonl": b'{"text": "a", "label": "stop"}\nnot json\n'})
    assert version["state"] == "blocked" and version["blocked_reasons"] == ["validation"]
    assert "not valid JSON" in version["validation_report"]["errors"][0]
    reason = "We really want to publish this even though it is broken."
    response = api.post(f"{API}/datasets/signals/versions/1/override", json={"justification": reason})
    assert response.status_code == 409


def test_members_and_other_orgs(portal: Portal, client_for: Callable[..., TestClient]) -> None:
    bob, alice, carol = client_for("bob"), client_for("alice"), client_for("carol")
    assert alice.post(f"{API}/datasets", json=dataset_body()).status_code == 403  # member, not steward
    assert carol.post(f"{API}/datasets", json=dataset_body()).status_code == 404  # not in acme
    assert bob.post(f"{API}/datasets", json=dataset_body()).status_code == 201
    assert bob.post(f"{API}/datasets", json=dataset_body()).status_code == 409
    assert carol.get(f"{API}/datasets/signals").status_code == 404  # unpublished: invisible to others
    assert alice.get(f"{API}/datasets/signals").status_code == 200
    upload_version(bob, "signals", {"t.csv": CSV_CLEAN})
    bob.post(f"{API}/datasets/signals/versions/1/publish")
    assert carol.get(f"{API}/datasets/signals").status_code == 200
    links = carol.post(f"{API}/datasets/signals/versions/1/download")
    assert links.status_code == 200, links.text
    url = urllib.parse.urlsplit(links.json()["files"][0]["url"])
    fetched = carol.get(f"{url.path}?{url.query}")
    assert fetched.status_code == 200 and fetched.content == CSV_CLEAN
    tampered = carol.get(f"{url.path}?{url.query.replace('t.csv', 'x.csv')}")
    assert tampered.status_code == 422


def test_l2_needs_licence_and_l3_is_never_downloadable(client_for: Callable[..., TestClient]) -> None:
    bob, carol, dave = client_for("bob"), client_for("carol"), client_for("dave")
    for slug, level in (("open-l2", "L2"), ("closed-l3", "L3")):
        assert bob.post(f"{API}/datasets", json=dataset_body(slug=slug, level=level)).status_code == 201
        upload_version(bob, slug, {"t.csv": CSV_CLEAN})
        assert bob.post(f"{API}/datasets/{slug}/versions/1/publish").status_code == 200
    refused = carol.post(f"{API}/datasets/open-l2/versions/1/download")
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "dataset.licence_not_accepted"
    assert carol.post(f"{API}/datasets/open-l2/licence/accept").status_code == 204
    assert carol.post(f"{API}/datasets/open-l2/versions/1/download").status_code == 200
    for who in (carol, bob):
        closed = who.post(f"{API}/datasets/closed-l3/versions/1/download")
        assert closed.status_code == 403 and closed.json()["error"]["code"] == "dataset.not_downloadable"

    # L3 access: requested by a beta member for beta, decided by acme's steward.
    purpose = {"org": "beta", "purpose": "Train a signal classifier", "duration_days": 30}
    assert carol.post(f"{API}/datasets/closed-l3/grants", json={**purpose, "org": "acme"}).status_code == 404
    assert carol.post(f"{API}/datasets/open-l2/grants", json=purpose).status_code == 409
    requested = carol.post(f"{API}/datasets/closed-l3/grants", json=purpose)
    assert requested.status_code == 201 and requested.json()["state"] == "requested"
    assert carol.post(f"{API}/datasets/closed-l3/grants", json=purpose).status_code == 409
    grant_id = requested.json()["id"]
    assert dave.post(f"{API}/datasets/closed-l3/grants/{grant_id}/approve").status_code == 404
    approved = bob.post(f"{API}/datasets/closed-l3/grants/{grant_id}/approve", json={"reason": "fine"})
    assert approved.status_code == 200 and approved.json()["state"] == "approved"
    assert approved.json()["expires_at"] is not None
    assert [g["state"] for g in carol.get(f"{API}/datasets/closed-l3/grants").json()] == ["approved"]
    revoked = bob.post(f"{API}/datasets/closed-l3/grants/{grant_id}/revoke")
    assert revoked.status_code == 200 and revoked.json()["state"] == "revoked"
    assert bob.post(f"{API}/datasets/closed-l3/grants/{grant_id}/approve").status_code == 409


def test_l4_cannot_be_published(client_for: Callable[..., TestClient]) -> None:
    bob = client_for("bob")
    bob.post(f"{API}/datasets", json=dataset_body(slug="secret", level="L4"))
    upload_version(bob, "secret", {"t.csv": CSV_CLEAN})
    refused = bob.post(f"{API}/datasets/secret/versions/1/publish")
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "dataset.not_publishable"


def test_search_with_facets_in_both_languages(client_for: Callable[..., TestClient]) -> None:
    bob, dave, carol = client_for("bob"), client_for("dave"), client_for("carol")
    bob.post(f"{API}/datasets", json=dataset_body())
    body = dataset_body(
        slug="ct-scans",
        org="beta",
        domain="medical",
        modality="image",
        task="image-classification",
        label_format="imagefolder",
        title_en="Chest CT scans",
        title_zh="胸部CT影像",
        keywords=["ct", "肺"],
        level="L1",
        description_en="Lung CT",
        description_zh="肺部CT",
    )
    assert dave.post(f"{API}/datasets", json=body).status_code == 201
    for client, slug, files in (
        (bob, "signals", {"t.csv": CSV_CLEAN}),
        (dave, "ct-scans", {"stop/1.png": b"png", "go/2.png": b"png"}),
    ):
        upload_version(client, slug, files)
        client.post(f"{API}/datasets/{slug}/versions/1/publish")
    found = carol.get(f"{API}/datasets", params={"q": "胸部"}).json()
    assert [d["slug"] for d in found["items"]] == ["ct-scans"]
    assert carol.get(f"{API}/datasets", params={"q": "traffic"}).json()["total"] == 1
    everything = carol.get(f"{API}/datasets").json()
    assert everything["total"] == 2
    assert {f["value"]: f["count"] for f in everything["facets"]["domain"]} == {"medical": 1, "transport": 1}
    medical = carol.get(f"{API}/datasets", params={"domain": "medical", "org": "beta"}).json()
    assert [d["slug"] for d in medical["items"]] == ["ct-scans"]
    assert carol.get(f"{API}/datasets", params={"q": "100%_"}).json()["total"] == 0


@pytest.mark.as_user("bob")
def test_names_of_the_catalogue_pages_are_not_dataset_slugs(api: TestClient) -> None:
    for reserved in ("new", "requests", "usage"):
        refused = api.post(f"{API}/datasets", json=dataset_body(slug=reserved))
        assert refused.status_code == 422 and "reserved" in refused.text
    assert api.get(f"{API}/datasets").json()["total"] == 0
