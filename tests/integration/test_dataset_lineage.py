"""Lineage read from the dataset side: jobs that were given credentials for dataset versions, over
the REST API, the CLI and the steward pages (SQLite and PostgreSQL, embedded local store).

Scenario: acme publishes `signals` (v1, v2). A job of beta reads v1 and is launched twice (a
relaunch after preemption mints credentials again); a later job of acme reads v1 and v2. acme's
stewards see every use; a member of beta sees beta's own; gamma, which never used it, sees none.
"""

from __future__ import annotations

import html
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from aicommons.datasets import repository
from aicommons.datasets.models import Dataset, DatasetVersion, DatasetVersionUse
from aicommons.datasets.storage import build_store
from aicommons.portal import scheduling
from aicommons.portal.cli import app as cli_app
from aicommons.portal.client import AicommonsClient
from aicommons.portal.core.db import make_engine, transaction
from aicommons.portal.core.ids import new_id
from aicommons.portal.core.time import utcnow
from aicommons.portal.web.messages import MESSAGES
from aicommons.scheduler.jobs.models import Job
from aicommons.scheduler.jobs.reconciler import JobVariables
from tests.conftest import PASSWORD, Portal
from tests.integration.test_api_allocations import make_flavours
from tests.integration.test_api_jobs import spec
from tests.integration.test_datasets_api import API, CSV_CLEAN, dataset_body, upload_version
from tests.integration.test_web_datasets import _sign_in


@dataclass
class Lineage:
    versions: dict[int, str]  # number -> version id of `signals`
    beta_job: str
    acme_job: str


def _publish_version(bob: TestClient, slug: str, files: dict[str, bytes]) -> str:
    done = upload_version(bob, slug, files)
    published = bob.post(f"{API}/datasets/{slug}/versions/{done['number']}/publish")
    assert published.status_code == 200, published.text
    return str(published.json()["id"])


def _launch(portal: Portal, job_id: str) -> JobVariables:
    """What the reconciler does when it starts a job: build its environment (credentials included).
    No MLflow runs here: the launch's workspace step finds none and goes on, as it does in production."""
    store = build_store(portal.settings)
    environment = scheduling.job_environment(portal.settings, lambda: store)
    with transaction(portal.sessionmaker) as session:
        job = session.get(Job, job_id)
        assert job is not None
        return environment(session, job)


def _uses_in_table(portal: Portal, job_id: str) -> list[tuple[str, str]]:
    with transaction(portal.sessionmaker) as session:
        rows = session.execute(
            select(DatasetVersionUse.version_id, DatasetVersionUse.org_id).where(
                DatasetVersionUse.job_id == job_id
            )
        )
        return sorted((str(v), str(o)) for v, o in rows)


@pytest.fixture
def lineage(portal: Portal) -> Lineage:
    root, bob = portal.client("root"), portal.client("bob")
    make_flavours(root)
    assert bob.post(f"{API}/datasets", json=dataset_body()).status_code == 201
    versions = {n: _publish_version(bob, "signals", {f"v{n}.csv": CSV_CLEAN}) for n in (1, 2)}
    job = spec(gpus_per_worker=1, workers=1, time_limit_s=600)
    carol, alice = portal.client("carol"), portal.client("alice")
    beta = carol.post(f"{API}/jobs", json={**job, "org": "beta", "dataset_version_ids": [versions[1]]})
    assert beta.status_code == 201, beta.text
    beta_job = beta.json()["id"]
    first = _launch(portal, beta_job)
    assert first.env["AICOMMONS_DATASET_VERSIONS"] == "signals@1"
    # Tokens and keys travel apart, so that a launcher can keep them out of what it shows of the job.
    assert first.secrets["MLFLOW_TRACKING_TOKEN"].count(".") == 2  # a JWT
    assert not {"MLFLOW_TRACKING_TOKEN", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"} & set(first.env)
    _launch(portal, beta_job)  # relaunched after preemption: credentials minted again
    acme = alice.post(f"{API}/jobs", json={**job, "dataset_version_ids": [versions[1], versions[2]]})
    assert acme.status_code == 201, acme.text
    acme_job = acme.json()["id"]
    _launch(portal, acme_job)
    # gamma: a third organisation with a member, which never used the dataset.
    assert root.post(f"{API}/orgs", json={"slug": "gamma", "name": "Gamma Labs"}).status_code == 201
    assert root.post(f"{API}/users", json={"username": "erin", "password": PASSWORD}).status_code == 201
    added = root.post(f"{API}/orgs/gamma/members", json={"username": "erin", "role": "member"})
    assert added.status_code == 201, added.text
    return Lineage(versions, beta_job, acme_job)


def _uses(client: TestClient, path: str, **params: Any) -> dict[str, Any]:
    response = client.get(f"{API}/datasets/{path}/uses", params=params)
    assert response.status_code == 200, response.text
    return dict(response.json())


def _pairs(page: dict[str, Any]) -> list[tuple[str, int, str | None]]:
    return [(u["job_id"], u["version"], u["org_slug"]) for u in page["items"]]


def test_a_relaunch_records_one_use_per_version(portal: Portal, lineage: Lineage) -> None:
    beta_id = portal.principal("carol").memberships
    assert len(beta_id) == 1
    assert _uses_in_table(portal, lineage.beta_job) == [(lineage.versions[1], next(iter(beta_id)))]
    acme_versions = [v for v, _ in _uses_in_table(portal, lineage.acme_job)]
    assert acme_versions == sorted(lineage.versions.values())
    with transaction(portal.sessionmaker) as session:
        assert session.scalar(select(func.count()).select_from(DatasetVersionUse)) == 3


def test_stewards_and_admins_see_every_use_newest_first(portal: Portal, lineage: Lineage) -> None:
    expected = {
        (lineage.acme_job, 2, "acme"),
        (lineage.acme_job, 1, "acme"),
        (lineage.beta_job, 1, "beta"),
    }
    for name in ("bob", "root"):
        page = _uses(portal.client(name), "signals")
        assert page["total"] == 3 and set(_pairs(page)) == expected, name
        # The acme job was launched last: its uses come first.
        assert [u["job_id"] for u in page["items"]][:2] == [lineage.acme_job] * 2
        assert {u["org_name"] for u in page["items"]} == {"Acme Robotics", "Beta Vision"}
    bob = portal.client("bob")
    v1 = _uses(bob, "signals/versions/1")
    assert v1["total"] == 2 and {u["job_id"] for u in v1["items"]} == {lineage.acme_job, lineage.beta_job}
    v2 = _uses(bob, "signals/versions/2")
    assert _pairs(v2) == [(lineage.acme_job, 2, "acme")]
    second = _uses(bob, "signals", limit=1, offset=1)
    assert second["total"] == 3 and len(second["items"]) == 1 and second["offset"] == 1
    assert _uses(bob, "signals", offset=3)["items"] == []
    assert bob.get(f"{API}/datasets/signals/uses", params={"limit": 201}).status_code == 422
    assert bob.get(f"{API}/datasets/signals/uses", params={"offset": -1}).status_code == 422


def test_other_organisations_see_only_their_own_uses(portal: Portal, lineage: Lineage) -> None:
    for name in ("carol", "dave"):  # member and steward of beta, which did not publish it
        client = portal.client(name)
        page = _uses(client, "signals")
        assert _pairs(page) == [(lineage.beta_job, 1, "beta")] and page["total"] == 1, name
        assert lineage.acme_job not in client.get(f"{API}/datasets/signals/uses").text
        assert _uses(client, "signals/versions/2") == {"total": 0, "limit": 50, "offset": 0, "items": []}
    # alice is a member (not a steward) of the publisher: her own organisation's uses only.
    alice = _uses(portal.client("alice"), "signals")
    assert alice["total"] == 2 and {u["org_slug"] for u in alice["items"]} == {"acme"}
    erin = portal.client("erin")
    assert _uses(erin, "signals") == {"total": 0, "limit": 50, "offset": 0, "items": []}
    assert lineage.beta_job not in erin.get(f"{API}/datasets/signals/uses").text


def test_hidden_datasets_and_versions_are_404(portal: Portal, lineage: Lineage) -> None:
    bob = portal.client("bob")
    vault = bob.post(f"{API}/datasets", json=dataset_body(slug="vault", level="L4"))
    assert vault.status_code == 201, vault.text
    assert bob.post(f"{API}/datasets/signals/versions", json={}).status_code == 201  # v3: a draft
    erin, carol = portal.client("erin"), portal.client("carol", lang="zh-CN")
    for path in ("vault/uses", "nothing-here/uses", "signals/versions/3/uses", "signals/versions/9/uses"):
        response = erin.get(f"{API}/datasets/{path}")
        assert response.status_code == 404, (path, response.text)
    refused = carol.get(f"{API}/datasets/vault/uses")
    assert refused.status_code == 404 and refused.json()["error"]["code"] == "dataset.not_found"
    assert _uses(bob, "vault")["total"] == 0
    assert _uses(bob, "signals/versions/3")["total"] == 0  # the publisher's stewards see drafts
    assert TestClient(portal.app).get(f"{API}/datasets/signals/uses").status_code == 401


# --- CLI ------------------------------------------------------------------------------------


def _cli(portal: Portal, username: str, lang: str, monkeypatch: pytest.MonkeyPatch, *args: str) -> Any:
    """`aicommons …` in process, its HTTP client talking to the test app as `username`."""
    token = portal.client(username).headers["Authorization"].split(" ", 1)[1]

    @contextmanager
    def client(require_token: bool = True) -> Iterator[tuple[AicommonsClient, str]]:
        api = AicommonsClient("http://testserver", token, lang="zh-CN" if lang == "zh" else "en")
        api._http.close()
        api._http = TestClient(portal.app, base_url="http://testserver/api/v1", headers=api._http.headers)
        try:
            yield api, lang
        finally:
            api.close()

    monkeypatch.setattr(cli_app, "_client", client)
    monkeypatch.setattr(cli_app.console, "width", 200)
    monkeypatch.setenv("AICOMMONS_LANG", lang)
    return CliRunner().invoke(cli_app.app, list(args))


def test_cli_prints_the_uses_in_english_and_chinese(
    portal: Portal, lineage: Lineage, monkeypatch: pytest.MonkeyPatch
) -> None:
    en = _cli(portal, "bob", "en", monkeypatch, "datasets", "uses", "signals")
    assert en.exit_code == 0, en.output
    assert "Jobs that used signals: 3" in en.output and "organisation" in en.output
    assert lineage.acme_job in en.output and lineage.beta_job in en.output
    assert "Beta Vision (beta)" in en.output and "signals@2" in en.output

    zh = _cli(portal, "bob", "zh", monkeypatch, "datasets", "uses", "signals@2")
    assert zh.exit_code == 0, zh.output
    assert "使用过 signals@2 的作业：共 1 个" in zh.output and "使用时间" in zh.output
    assert lineage.acme_job in zh.output and lineage.beta_job not in zh.output

    paged = _cli(portal, "bob", "en", monkeypatch, "datasets", "uses", "signals", "--limit", "1")
    assert paged.exit_code == 0 and "Showing 1 of 3; the next page: --offset 1" in paged.output

    carol = _cli(portal, "carol", "en", monkeypatch, "datasets", "uses", "signals")
    assert carol.exit_code == 0 and lineage.beta_job in carol.output and lineage.acme_job not in carol.output

    bad = _cli(portal, "bob", "zh", monkeypatch, "datasets", "uses", "signals@x")
    assert bad.exit_code == 2 and "版本号" in bad.output


# --- web ------------------------------------------------------------------------------------


def _text(key: str, lang: str = "en", **params: Any) -> str:
    text = MESSAGES[key][lang]
    return html.escape(text.format(**params) if params else text, quote=True)


def test_steward_pages_show_the_jobs(portal: Portal, lineage: Lineage) -> None:
    bob = _sign_in(portal, "bob")
    usage = bob.get("/datasets/usage")
    assert usage.status_code == 200
    section = re.search(r'<section class="card" id="lineage".*?</section>', usage.text, re.S)
    assert section, usage.text
    rows = re.findall(
        r'<tr class="lineage-row" data-dataset="signals" data-org="(\w+)">(.*?)</tr>', section[0], re.S
    )
    assert [org for org, _ in rows] == ["acme", "acme", "beta"]
    # bob may open acme's job, not beta's: beta's row names the organisation only.
    assert all(f'href="/jobs/{lineage.acme_job}"' in row for org, row in rows if org == "acme")
    beta_row = rows[2][1]
    assert "Beta Vision" in beta_row and lineage.beta_job not in beta_row
    assert _text("web.datasets.lineage.other_job") in beta_row
    assert lineage.beta_job not in usage.text

    detail = bob.get("/datasets/signals")
    assert 'hx-get="/datasets/signals/lineage"' in detail.text
    card = _sign_in(portal, "bob", "zh").get("/datasets/signals/lineage", headers={"HX-Request": "true"})
    assert card.status_code == 200
    assert _text("web.datasets.lineage.version", "zh", number=2) in card.text
    assert _text("web.datasets.lineage.version", "zh", number=1) in card.text
    assert card.text.count(f'href="/jobs/{lineage.acme_job}"') == 2 and "Beta Vision" in card.text

    root = _sign_in(portal, "root").get("/datasets/signals/lineage")
    assert f'href="/jobs/{lineage.beta_job}"' in root.text and f'href="/jobs/{lineage.acme_job}"' in root.text


def test_the_lineage_card_is_for_the_publishers_stewards(portal: Portal, lineage: Lineage) -> None:
    alice = _sign_in(portal, "alice")
    assert "/datasets/signals/lineage" not in alice.get("/datasets/signals").text
    assert alice.get("/datasets/signals/lineage").status_code == 403
    assert _sign_in(portal, "carol").get("/datasets/signals/lineage").status_code == 404
    dave_usage = _sign_in(portal, "dave").get("/datasets/usage")
    assert dave_usage.status_code == 200 and "lineage-row" not in dave_usage.text
    assert _text("web.datasets.usage.lineage_empty") in dave_usage.text


# --- concurrency ----------------------------------------------------------------------------


@pytest.mark.postgres
def test_concurrent_launches_record_one_use(postgres_test_url: str) -> None:
    """Two transactions recording the same (version, job) at once, on real PostgreSQL with committed
    rows: the second waits for the first, then skips; neither fails, one row remains."""
    engine = make_engine(postgres_test_url)
    body = {
        k: v for k, v in dataset_body(slug=f"race-{new_id()[:8]}").items() if k not in ("org", "label_schema")
    }
    with Session(engine) as session:
        ds = Dataset(org_id=new_id(), **body)
        session.add(ds)
        session.flush()
        version = DatasetVersion(dataset_id=ds.id, number=1, state="published")
        session.add(version)
        session.commit()
        pair, job_id = (ds.id, version.id), new_id()
    try:
        first = Session(engine)
        repository.record_version_uses(first, job_id, "org", [pair], utcnow())
        first.flush()  # holds the unique key until it commits
        errors: list[BaseException] = []

        def second() -> None:
            try:
                with Session(engine) as other:
                    repository.record_version_uses(other, job_id, "org", [pair], utcnow())
                    other.commit()
            except BaseException as exc:  # reported below, in the test's thread
                errors.append(exc)

        racer = threading.Thread(target=second)
        racer.start()
        racer.join(timeout=1.0)
        assert racer.is_alive(), "the second insert should wait for the first transaction"
        first.commit()
        first.close()
        racer.join(timeout=30)
        assert not racer.is_alive() and not errors, errors
        with Session(engine) as session:
            count = session.scalar(
                select(func.count()).select_from(DatasetVersionUse).where(DatasetVersionUse.job_id == job_id)
            )
            assert count == 1
    finally:
        with Session(engine) as session:
            session.query(Dataset).filter(Dataset.id == pair[0]).delete()
            session.commit()
        engine.dispose()
