"""Full-text catalogue search on SQLite (FTS5) and PostgreSQL (tsvector + GIN), through the API.

Chinese substrings, English words, mixed queries, facet counts over the matches, visibility,
relevance (titles first) and hostile query text.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from alembic import command
from fastapi.testclient import TestClient
from sqlalchemy import inspect, text
from sqlalchemy.orm import Session

from aicommons.datasets import service
from aicommons.portal.core.db import make_engine, transaction
from aicommons.portal.core.principal import Principal
from aicommons.portal.server import migrate
from tests.conftest import Portal
from tests.integration.test_datasets_api import CSV_CLEAN, dataset_body, upload_version

API = "/api/v1"

TRAFFIC = {
    "slug": "city-traffic",
    "title_en": "Urban traffic flow sensors",
    "title_zh": "城市交通流量监测数据",
    "description_en": "Loop detector counts from arterial roads",
    "description_zh": "主干道线圈检测器计数",
    "keywords": ["GPS", "拥堵"],
}
CT = {
    "slug": "ct-scans",
    "org": "beta",
    "domain": "medical",
    "modality": "image",
    "task": "image-classification",
    "label_format": "imagefolder",
    "title_en": "Chest CT scans",
    "title_zh": "胸部CT影像",
    "description_en": "Lung CT slices; traffic accident victims excluded",
    "description_zh": "肺部CT切片",
    "keywords": ["ct", "肺"],
}
# Mentions traffic only in its description, many times: a title match must still rank above it.
NOISY = {
    "slug": "road-notes",
    "title_en": "Road maintenance notes",
    "title_zh": "道路养护记录",
    "description_en": "traffic traffic traffic: notes on traffic cones, traffic lanes and traffic flow",
    "description_zh": "养护",
}


def publish(client: TestClient, files: dict[str, bytes] | None = None, **fields: Any) -> None:
    body = dataset_body(**fields)
    created = client.post(f"{API}/datasets", json=body)
    assert created.status_code == 201, created.text
    upload_version(client, body["slug"], files or {"t.csv": CSV_CLEAN})
    published = client.post(f"{API}/datasets/{body['slug']}/versions/1/publish")
    assert published.status_code == 200, published.text


def slugs(client: TestClient, **params: Any) -> list[str]:
    response = client.get(f"{API}/datasets", params=params)
    assert response.status_code == 200, response.text
    return [d["slug"] for d in response.json()["items"]]


@pytest.fixture
def catalogue(client_for: Callable[..., TestClient]) -> dict[str, TestClient]:
    """acme: two published datasets and an unpublished one; beta: one published dataset."""
    bob, dave = client_for("bob"), client_for("dave")
    publish(bob, **TRAFFIC)
    publish(bob, **NOISY)
    publish(dave, files={"stop/1.png": b"png", "go/2.png": b"png"}, **CT)
    hidden = dataset_body(slug="hidden-traffic", title_en="Secret traffic cameras", title_zh="保密交通摄像头")
    assert bob.post(f"{API}/datasets", json=hidden).status_code == 201
    return {"bob": bob, "dave": dave, "carol": client_for("carol"), "alice": client_for("alice")}


def test_chinese_substrings_and_single_characters_match(catalogue: dict[str, TestClient]) -> None:
    carol = catalogue["carol"]
    assert slugs(carol, q="交通流") == ["city-traffic"]  # substring spanning two words
    assert slugs(carol, q="通流量") == ["city-traffic"]
    assert slugs(carol, q="交通 流量") == ["city-traffic"]
    assert slugs(carol, q="量") == ["city-traffic"]  # the last character of a run
    assert slugs(carol, q="胸部") == ["ct-scans"]
    assert slugs(carol, q="拥堵") == ["city-traffic"]  # keyword
    assert slugs(carol, q="医疗") == ["ct-scans"]  # the domain's Chinese name
    assert slugs(carol, q="交通流水") == []  # not a substring: bigrams must be consecutive


def test_english_words_plural_and_case(catalogue: dict[str, TestClient]) -> None:
    carol = catalogue["carol"]
    assert slugs(carol, q="traffic flow") == ["city-traffic", "road-notes"]
    assert slugs(carol, q="SENSOR") == ["city-traffic"]  # "sensors" in the title
    assert slugs(carol, q="detectors") == ["city-traffic"]
    assert slugs(carol, q="lung") == ["ct-scans"]
    assert slugs(carol, q="traf") == []  # whole words, not prefixes


def test_mixed_language_queries(catalogue: dict[str, TestClient]) -> None:
    carol = catalogue["carol"]
    assert slugs(carol, q="traffic 交通流") == ["city-traffic"]
    assert slugs(carol, q="GPS交通") == ["city-traffic"]
    assert slugs(carol, q="CT影像") == ["ct-scans"]
    assert slugs(carol, q="ct 交通") == []  # every term must match


def test_title_matches_rank_first(catalogue: dict[str, TestClient]) -> None:
    carol = catalogue["carol"]
    ranked = slugs(carol, q="traffic")
    assert ranked == ["city-traffic", "road-notes", "ct-scans"]
    assert slugs(carol, q="traffic", limit=1, offset=1) == ["road-notes"]


def test_facet_counts_cover_the_matches(catalogue: dict[str, TestClient]) -> None:
    result = catalogue["carol"].get(f"{API}/datasets", params={"q": "traffic"}).json()
    assert result["total"] == 3
    facets = {name: {f["value"]: f["count"] for f in rows} for name, rows in result["facets"].items()}
    assert facets["domain"] == {"transport": 2, "medical": 1}
    assert facets["modality"] == {"text": 2, "image": 1}
    assert facets["level"] == {"L1": 3}
    assert sum(facets["org"].values()) == 3
    filtered = catalogue["carol"].get(f"{API}/datasets", params={"q": "traffic", "domain": "medical"}).json()
    assert filtered["total"] == 1 and [d["slug"] for d in filtered["items"]] == ["ct-scans"]
    assert {f["value"]: f["count"] for f in filtered["facets"]["domain"]} == {"medical": 1}


def test_no_query_lists_everything_visible_newest_first(catalogue: dict[str, TestClient]) -> None:
    result = catalogue["carol"].get(f"{API}/datasets", params={"modality": "text"}).json()
    assert [d["slug"] for d in result["items"]] == ["road-notes", "city-traffic"]
    assert result["total"] == 2
    assert {f["value"]: f["count"] for f in result["facets"]["modality"]} == {"text": 2}
    everything = catalogue["alice"].get(f"{API}/datasets").json()
    assert everything["total"] == 4 and everything["items"][0]["slug"] == "hidden-traffic"


def test_unpublished_datasets_are_found_only_by_their_organisation(catalogue: dict[str, TestClient]) -> None:
    assert "hidden-traffic" not in slugs(catalogue["carol"], q="traffic")
    assert slugs(catalogue["carol"], q="保密") == []
    assert slugs(catalogue["alice"], q="保密") == ["hidden-traffic"]
    assert slugs(catalogue["alice"], q="traffic")[0] == "hidden-traffic"  # title match, newest
    dave = catalogue["dave"]
    secret = dataset_body(slug="beta-secret", org="beta", level="L4", title_en="Beta traffic lidar sweeps")
    assert dave.post(f"{API}/datasets", json=secret).status_code == 201
    assert slugs(catalogue["alice"], q="lidar") == []  # another organisation's L4
    assert slugs(catalogue["carol"], q="lidar") == ["beta-secret"]
    assert "beta-secret" not in slugs(catalogue["alice"], q="traffic")
    assert "beta-secret" in slugs(catalogue["carol"], q="traffic")  # same organisation


def test_updates_are_searchable_at_once(catalogue: dict[str, TestClient]) -> None:
    bob = catalogue["bob"]
    changed = bob.patch(
        f"{API}/datasets/road-notes", json={"title_en": "Pavement survey", "title_zh": "路面巡检"}
    )
    assert changed.status_code == 200, changed.text
    assert slugs(catalogue["carol"], q="巡检") == ["road-notes"]
    assert slugs(catalogue["carol"], q="养护记录") == []
    assert slugs(catalogue["carol"], q="pavement") == ["road-notes"]


HOSTILE = [
    ('"traffic', True),
    ("traffic'", True),
    ("traffic & | ! ( ) <-> :* * ^", True),
    ("traffic -flow", True),
    ("NEAR(traffic flow) AND OR NOT", False),  # "near" and "not" are words like any other
    ("title:traffic", False),
    ("'); DROP TABLE datasets; --", False),
    ("%_\\", False),
    ("!!!", False),
    ("交" * 200, False),
    ("x" * 200, False),
]


def test_hostile_queries_are_plain_text(catalogue: dict[str, TestClient]) -> None:
    for q, finds_traffic in HOSTILE:
        response = catalogue["carol"].get(f"{API}/datasets", params={"q": q})
        assert response.status_code == 200, (q, response.text)
        found = [d["slug"] for d in response.json()["items"]]
        assert ("city-traffic" in found) is finds_traffic, q
        assert finds_traffic or (found == [] and response.json()["total"] == 0), q


@pytest.mark.parametrize("portal", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)
def test_search_restores_the_planner_setting_it_changes(portal: Portal) -> None:
    """PostgreSQL searches turn sequential scans off for their own statements only (a setting
    SQLite does not have, so this runs on PostgreSQL alone)."""
    carol = portal.principal("carol")
    with transaction(portal.sessionmaker) as session:
        session.execute(text("SET LOCAL enable_seqscan = on"))
        service.search(session, carol, "traffic", {})
        assert session.scalar(text("SHOW enable_seqscan")) == "on"
        session.execute(text("SET LOCAL enable_seqscan = off"))
        service.search(session, carol, "traffic", {})
        assert session.scalar(text("SHOW enable_seqscan")) == "off"


EXISTING_ROW = """INSERT INTO datasets (id, org_id, slug, title_en, title_zh, description_en, description_zh,
 domain, modality, task, label_format, label_schema, licence_id, level, keywords, provenance, contact,
 search_text, has_published, created_at, updated_at) VALUES ('d-1', 'o-1', 'city-traffic',
 'Urban traffic flow', '城市交通流量', 'Loop counts', '线圈计数', 'transport', 'text', 'ner', 'csv',
 '{}', 'MIT', 'L1', '["GPS"]', '', '', '', true, '2026-01-01 00:00:00+00', '2026-01-01 00:00:00+00')"""


def test_migration_indexes_existing_datasets_and_downgrades(empty_database: str) -> None:
    migrate.upgrade(empty_database, "0003")
    engine = make_engine(empty_database)
    try:
        with engine.begin() as conn:
            conn.execute(text(EXISTING_ROW))
        migrate.upgrade(empty_database)
        root = Principal(user_id="root", username="root", is_admin=True)
        with Session(engine) as session:
            for q in ("交通流", "traffic", "GPS", "线圈", "交通运输"):  # the last: the domain's Chinese name
                assert [d.slug for d in service.search(session, root, q, {}).items] == ["city-traffic"], q
        command.downgrade(migrate.alembic_config(empty_database), "0005-1")
        with engine.connect() as conn:
            columns = {c["name"] for c in inspect(conn).get_columns("datasets")}
            assert not {"search_title", "search_body", "search_vector"} & columns
            assert not inspect(conn).has_table("datasets_fts")
            assert conn.scalar(text("SELECT slug FROM datasets")) == "city-traffic"
        migrate.upgrade(empty_database)
        with Session(engine) as session:
            assert service.search(session, root, "城市", {}).total == 1
    finally:
        engine.dispose()
