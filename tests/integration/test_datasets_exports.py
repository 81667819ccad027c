"""Croissant and DCAT exports through the API, on SQLite and PostgreSQL, with the local store."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

from tests.integration.test_datasets_api import API, CSV_CLEAN, dataset_body, manifest, upload_version

SHA = manifest({"t.csv": CSV_CLEAN})[0]["sha256"]


def test_exports_of_a_published_dataset(client_for: Callable[..., TestClient]) -> None:
    bob, carol = client_for("bob"), client_for("carol")
    assert bob.post(f"{API}/datasets", json=dataset_body()).status_code == 201
    upload_version(bob, "signals", {"t.csv": CSV_CLEAN})
    assert bob.post(f"{API}/datasets/signals/versions/1/publish").status_code == 200
    upload_version(bob, "signals", {"t.csv": CSV_CLEAN, "u.csv": CSV_CLEAN})  # newer, unpublished

    response = carol.get(f"{API}/datasets/signals/croissant")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/ld+json")
    doc = response.json()
    assert doc["@type"] == "sc:Dataset" and doc["@context"]["cr"] == "http://mlcommons.org/croissant/"
    assert doc["version"] == "1.0.0"  # the latest *published* version
    assert [(f["name"], f["sha256"], f["contentSize"]) for f in doc["distribution"]] == [
        ("t.csv", SHA, f"{len(CSV_CLEAN)} B")
    ]
    assert doc["publisher"]["name"] and doc["url"].endswith("/api/v1/datasets/signals")
    assert [d["classes/name"] for d in doc["recordSet"][0]["data"]] == ["stop", "go", "slow"]

    dcat = carol.get(f"{API}/datasets/signals/dcat")
    assert dcat.status_code == 200, dcat.text
    body = dcat.json()
    titles = {t["@language"]: t["@value"] for t in body["dct:title"]}
    assert titles == {"en": "Traffic signal phrases", "zh": "交通信号语句"}
    assert body["dcat:theme"]["skos:notation"] == "transport"
    assert body["dct:publisher"]["dct:identifier"] == "acme"
    assert [d["spdx:checksum"]["spdx:checksumValue"] for d in body["dcat:distribution"]] == [SHA]
    assert "file:" not in dcat.text and "file:" not in response.text  # local paths never leak


def test_exports_follow_visibility(client_for: Callable[..., TestClient]) -> None:
    bob, alice, carol = client_for("bob"), client_for("alice"), client_for("carol")
    bob.post(f"{API}/datasets", json=dataset_body())
    upload_version(bob, "signals", {"t.csv": CSV_CLEAN})  # not published: only acme sees it
    for kind in ("croissant", "dcat"):
        hidden = carol.get(f"{API}/datasets/signals/{kind}")
        assert hidden.status_code == 404 and hidden.json()["error"]["code"] == "dataset.not_found"
        assert carol.get(f"{API}/datasets/nothing-here/{kind}").status_code == 404
        own = alice.get(f"{API}/datasets/signals/{kind}")
        assert own.status_code == 200
    assert alice.get(f"{API}/datasets/signals/croissant").json()["distribution"] == []

    bob.post(f"{API}/datasets", json=dataset_body(slug="secret", level="L4"))
    upload_version(bob, "secret", {"t.csv": CSV_CLEAN})
    assert carol.get(f"{API}/datasets/secret/croissant").status_code == 404
    assert alice.get(f"{API}/datasets/secret/dcat").status_code == 200


def test_l3_exports_carry_checksums_but_no_locations(client_for: Callable[..., TestClient]) -> None:
    bob, carol = client_for("bob"), client_for("carol")
    bob.post(f"{API}/datasets", json=dataset_body(slug="closed", level="L3"))
    upload_version(bob, "closed", {"t.csv": CSV_CLEAN})
    assert bob.post(f"{API}/datasets/closed/versions/1/publish").status_code == 200
    croissant = carol.get(f"{API}/datasets/closed/croissant").json()
    dcat = carol.get(f"{API}/datasets/closed/dcat").json()
    assert croissant["distribution"][0]["sha256"] == SHA and "contentUrl" not in croissant["distribution"][0]
    assert "dcat:downloadURL" not in dcat["dcat:distribution"][0]
    assert dcat["dct:accessRights"]["@id"].endswith("RESTRICTED")
