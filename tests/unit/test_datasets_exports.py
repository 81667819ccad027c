"""Croissant and DCAT builders: structure, bilingual titles, checksums, no locations for L3/L4."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from aicommons.datasets import exports
from aicommons.datasets.models import Dataset, DatasetDomain, DatasetVersion, VersionFile

SHA_A = "a" * 64
SHA_B = "b" * 64
LANDING = "https://portal.example/api/v1/datasets/signals"


def _source(
    level: str = "L1", classes: list[str] | None = None, with_urls: bool = True
) -> exports.ExportSource:
    ds = Dataset(
        org_id="org-1",
        slug="signals",
        title_en="Traffic signal phrases",
        title_zh="交通信号语句",
        description_en="Sentences about traffic lights",
        description_zh="关于红绿灯的句子",
        domain="transport",
        modality="text",
        task="text-classification",
        label_format="csv",
        label_schema={"classes": ["stop", "go", "slow"] if classes is None else classes},
        licence_id="CC-BY-4.0",
        licence_name=None,
        level=level,
        keywords=["traffic", "红绿灯"],
        provenance="Collected by hand",
        contact="data@acme.example",
        updated_at=datetime(2026, 1, 2, tzinfo=UTC),
    )
    version = DatasetVersion(
        number=3,
        state="published",
        digest="sha256:" + "c" * 64,
        published_at=datetime(2026, 1, 1, tzinfo=UTC),
    )
    files = [
        VersionFile(path="train.csv", size=120, sha256=SHA_A, part_size=1),
        VersionFile(path="labels/test.jsonl", size=7, sha256=SHA_B, part_size=1),
    ]
    return exports.ExportSource(
        dataset=ds,
        version=version,
        files=files,
        domain=DatasetDomain(slug="transport", name_en="Transport", name_zh="交通运输"),
        publisher=exports.Publisher(name="Acme Corp", slug="acme"),
        landing_url=LANDING,
        content_url=(lambda p: f"s3://bucket/datasets/x/v3/data/{p}") if with_urls else None,
    )


def _strings(doc: object) -> list[str]:
    if isinstance(doc, str):
        return [doc]
    if isinstance(doc, dict):
        return [s for k, v in doc.items() for s in [k, *_strings(v)]]
    if isinstance(doc, list):
        return [s for v in doc for s in _strings(v)]
    return []


def test_croissant_structure() -> None:
    doc = exports.build_croissant(_source())
    json.dumps(doc)  # plain JSON
    ctx = doc["@context"]
    assert ctx["@vocab"] == "https://schema.org/" and ctx["cr"] == "http://mlcommons.org/croissant/"
    assert ctx["sc"] == "https://schema.org/" and ctx["dct"] == "http://purl.org/dc/terms/"
    assert doc["@type"] == "sc:Dataset" and doc["conformsTo"] == "http://mlcommons.org/croissant/1.0"
    assert doc["name"] == "Traffic signal phrases" and "交通信号语句" in doc["alternateName"]
    assert doc["description"] == "Sentences about traffic lights"
    assert doc["license"] == "https://spdx.org/licenses/CC-BY-4.0.html"
    assert doc["url"] == LANDING and doc["version"] == "3.0.0"
    files = {f["name"]: f for f in doc["distribution"]}
    assert set(files) == {"train.csv", "labels/test.jsonl"}
    assert all(f["@type"] == "cr:FileObject" for f in files.values())
    assert files["train.csv"]["sha256"] == SHA_A and files["train.csv"]["contentSize"] == "120 B"
    assert files["labels/test.jsonl"]["sha256"] == SHA_B
    assert files["train.csv"]["encodingFormat"] == "text/csv"
    assert files["train.csv"]["contentUrl"] == "s3://bucket/datasets/x/v3/data/train.csv"
    (record_set,) = doc["recordSet"]
    assert record_set["@type"] == "cr:RecordSet" and record_set["key"] == {"@id": "classes/name"}
    assert record_set["field"][0]["@id"] == "classes/name"
    assert [d["classes/name"] for d in record_set["data"]] == ["stop", "go", "slow"]


def test_croissant_without_classes_or_published_version() -> None:
    src = _source(classes=[])
    src = exports.ExportSource(**{**src.__dict__, "version": None, "files": []})
    doc = exports.build_croissant(src)
    assert "recordSet" not in doc and doc["distribution"] == [] and "version" not in doc


def test_dcat_structure_and_bilingual_titles() -> None:
    doc = exports.build_dcat(_source())
    json.dumps(doc)
    assert doc["@type"] == "dcat:Dataset" and doc["@context"]["dcat"] == "http://www.w3.org/ns/dcat#"
    titles = {t["@language"]: t["@value"] for t in doc["dct:title"]}
    assert titles == {"en": "Traffic signal phrases", "zh": "交通信号语句"}
    descriptions = {t["@language"]: t["@value"] for t in doc["dct:description"]}
    assert descriptions == {"en": "Sentences about traffic lights", "zh": "关于红绿灯的句子"}
    assert doc["dcat:keyword"] == ["traffic", "红绿灯"]
    assert doc["dct:license"]["@id"] == "https://spdx.org/licenses/CC-BY-4.0.html"
    assert doc["dct:publisher"]["foaf:name"] == "Acme Corp"
    theme = {t["@language"]: t["@value"] for t in doc["dcat:theme"]["skos:prefLabel"]}
    assert doc["dcat:theme"]["skos:notation"] == "transport" and theme["zh"] == "交通运输"
    dists = doc["dcat:distribution"]
    assert [d["spdx:checksum"]["spdx:checksumValue"] for d in dists] == [SHA_A, SHA_B]
    assert all(d["@type"] == "dcat:Distribution" for d in dists)
    assert dists[0]["dcat:byteSize"]["@value"] == "120"
    assert dists[0]["dcat:downloadURL"]["@id"].startswith("s3://")
    assert doc["dct:accessRights"]["@id"].endswith("/PUBLIC")


@pytest.mark.parametrize("level", ["L3", "L4"])
def test_no_locations_for_restricted_levels(level: str) -> None:
    src = _source(level=level)  # even when the caller passes a location function
    croissant, dcat = exports.build_croissant(src), exports.build_dcat(src)
    assert all("contentUrl" not in f for f in croissant["distribution"])
    assert all("dcat:downloadURL" not in d for d in dcat["dcat:distribution"])
    for doc in (croissant, dcat):
        assert not [s for s in _strings(doc) if s.startswith("s3://") or "/data/" in s]
    # the checksums are still published
    assert {f["sha256"] for f in croissant["distribution"]} == {SHA_A, SHA_B}
    assert dcat["dct:accessRights"]["@id"].endswith("RESTRICTED" if level == "L3" else "NON_PUBLIC")


def test_custom_licence() -> None:
    src = _source()
    src.dataset.licence_id, src.dataset.licence_name = "custom", "Acme data licence"
    assert exports.build_croissant(src)["license"] == "Acme data licence"
    assert exports.build_dcat(src)["dct:license"]["dct:title"] == "Acme data licence"
