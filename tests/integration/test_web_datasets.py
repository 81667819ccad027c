"""The dataset pages over the real app (SQLite and PostgreSQL, embedded local store): search with
facets, dataset pages in both languages, the publish wizard with a browser-style upload through the
same-origin JSON endpoints, downloads by level, L3 access requests and decisions, usage, and the
403 / 4xx pages for stewards-only pages and bad input.
"""

from __future__ import annotations

import html
import json
import re
import urllib.parse
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from aicommons.datasets.credentials import mint_job_credentials
from aicommons.datasets.storage import build_store
from aicommons.portal.core.db import transaction
from aicommons.portal.orgs import repository as org_repository
from aicommons.portal.web.messages import MESSAGES
from tests.conftest import PASSWORD, Portal
from tests.fixtures.datasets_processing import process_completed
from tests.integration.test_datasets_api import (
    API,
    CSV_CLEAN,
    CSV_PII,
    dataset_body,
    manifest,
    upload_version,
)

CSRF_RE = re.compile(r'name="csrf_token" value="([0-9a-f]+)"')
APPROVE_RE = re.compile(r'action="/datasets/requests/([a-z0-9-]+)/([0-9a-f-]+)/approve"')
REVOKE_RE = re.compile(r'action="/datasets/requests/([a-z0-9-]+)/([0-9a-f-]+)/revoke"')
CT_SCANS = dataset_body(
    slug="ct-scans",
    org="beta",
    domain="medical",
    modality="image",
    task="image-classification",
    label_format="imagefolder",
    label_schema={"classes": ["stop", "go"]},
    title_en="Chest CT scans",
    title_zh="胸部CT影像",
    keywords=["ct", "肺"],
    description_en="Lung CT",
    description_zh="肺部CT",
)


def msg(key: str, lang: str = "en", **params: Any) -> str:
    """A catalogue string as the page shows it (HTML-escaped)."""
    text = MESSAGES[key][lang]
    return html.escape(text.format(**params) if params else text, quote=True)


def _csrf(text: str) -> str:
    match = CSRF_RE.search(text)
    assert match, "no CSRF token in the page"
    return match.group(1)


def _sign_in(portal: Portal, username: str, lang: str = "en") -> TestClient:
    client = TestClient(portal.app, raise_server_exceptions=False, follow_redirects=False)
    page = client.get("/login")
    signed_in = client.post(
        "/login", data={"username": username, "password": PASSWORD, "csrf_token": _csrf(page.text)}
    )
    assert signed_in.status_code == 303, signed_in.text
    # Explicitly: the language is remembered on the account across sign-ins.
    code = "zh-CN" if lang == "zh" else "en"
    switched = client.post(f"/lang/{code}", data={"csrf_token": _csrf(client.get("/datasets").text)})
    assert switched.status_code == 303
    return client


def _publish(api: TestClient, body: dict[str, Any], files: dict[str, bytes]) -> None:
    created = api.post(f"{API}/datasets", json=body)
    assert created.status_code == 201, created.text
    upload_version(api, body["slug"], files)
    published = api.post(f"{API}/datasets/{body['slug']}/versions/1/publish")
    assert published.status_code == 200, published.text


def _two_published(client_for: Callable[..., TestClient]) -> None:
    _publish(client_for("bob"), dataset_body(), {"train.csv": CSV_CLEAN})
    _publish(client_for("dave"), CT_SCANS, {"stop/1.png": b"png", "go/2.png": b"png", "go/3.png": b"png"})


def _local(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return f"{parts.path}?{parts.query}"


# --- search and dataset pages ---------------------------------------------------------------


def test_search_with_facets_and_a_chinese_query(
    portal: Portal, client_for: Callable[..., TestClient]
) -> None:
    _two_published(client_for)
    carol = _sign_in(portal, "carol", "zh")
    everything = carol.get("/datasets")
    assert everything.status_code == 200
    assert msg("web.datasets.results", "zh", total=2) in everything.text
    # Facets with counts, as links that keep the query; Chinese domain names in the Chinese page.
    assert "交通运输" in everything.text and "医疗健康" in everything.text
    assert 'href="/datasets?domain=medical"' in everything.text
    assert 'href="/datasets?org=beta"' in everything.text
    assert re.search(r'href="/datasets\?level=L1".*?facet-count">2<', everything.text, re.S)

    found = carol.get("/datasets", params={"q": "胸部"})
    assert found.status_code == 200
    assert msg("web.datasets.results", "zh", total=1) in found.text
    assert "胸部CT影像" in found.text and "交通信号语句" not in found.text
    # The Chinese title first, the English one after it.
    assert found.text.index("胸部CT影像") < found.text.index("Chest CT scans")

    filtered = carol.get("/datasets", params={"q": "", "domain": "transport"})
    assert "交通信号语句" in filtered.text and "胸部CT影像" not in filtered.text
    assert 'aria-current="true"' in filtered.text  # the chosen facet value
    assert 'name="domain" value="transport"' in filtered.text  # kept by the next search
    nothing = carol.get("/datasets", params={"q": "no-such-words", "org": "nobody"})
    assert msg("web.datasets.empty", "zh") in nothing.text
    english = _sign_in(portal, "carol").get("/datasets", params={"q": "traffic"})
    assert msg("web.datasets.results", total=1) in english.text
    assert english.text.index("Traffic signal phrases") < english.text.index("交通信号语句")


def test_dataset_page_in_english_and_chinese(portal: Portal, client_for: Callable[..., TestClient]) -> None:
    _two_published(client_for)
    carol = _sign_in(portal, "carol")
    page = carol.get("/datasets/signals")
    assert page.status_code == 200
    assert "<h1>Traffic signal phrases" in page.text
    assert "Sentences about traffic lights" in page.text
    assert msg("web.datasets.level.L1.explain") in page.text
    assert "CC-BY-4.0" in page.text and msg("web.datasets.state.published") in page.text
    # Label statistics from the validation report, as chart data and as a table; a preview.
    chart = re.search(r'<script type="application/json" id="label-chart-data">(.*?)</script>', page.text)
    assert chart and json.loads(chart.group(1))["labels"] == ["go", "slow", "stop"]
    assert "red light" in page.text  # the first rows of the CSV
    # The personal-data scan is for the publisher's stewards, not for carol.
    assert msg("web.datasets.scan.title") not in page.text
    assert 'href="/datasets/signals/croissant.json"' in page.text
    croissant = carol.get("/datasets/signals/croissant.json")
    assert croissant.status_code == 200 and croissant.json()["name"]

    chinese = _sign_in(portal, "carol", "zh").get("/datasets/signals")
    assert "<h1>交通信号语句" in chinese.text and "关于红绿灯的句子" in chinese.text
    assert msg("web.datasets.level.L1.explain", "zh") in chinese.text
    assert msg("web.datasets.versions", "zh") in chinese.text

    bob = _sign_in(portal, "bob").get("/datasets/signals")
    assert msg("web.datasets.scan.title") in bob.text and msg("web.datasets.scan.clean") in bob.text
    assert _sign_in(portal, "carol").get("/datasets/no-such-dataset").status_code == 404


def test_l1_download_and_l2_licence(portal: Portal, client_for: Callable[..., TestClient]) -> None:
    bob_api = client_for("bob")
    _publish(bob_api, dataset_body(), {"train.csv": CSV_CLEAN})
    _publish(bob_api, dataset_body(slug="open-l2", level="L2"), {"t.csv": CSV_CLEAN})
    carol = _sign_in(portal, "carol", "zh")
    page = carol.get("/datasets/signals")
    links = carol.post("/datasets/signals/download", data={"csrf_token": _csrf(page.text), "version": "1"})
    assert links.status_code == 200
    url = re.search(r'<a href="([^"]+)" download>train.csv</a>', links.text)
    assert url, links.text
    fetched = carol.get(_local(html.unescape(url.group(1))))
    assert fetched.status_code == 200 and fetched.content == CSV_CLEAN

    l2 = carol.get("/datasets/open-l2")
    assert msg("web.datasets.licence.accept", "zh", licence="CC-BY-4.0") in l2.text
    refused = carol.post("/datasets/open-l2/download", data={"csrf_token": _csrf(l2.text), "version": "1"})
    assert refused.status_code == 403
    assert "下载前请先接受该数据集的许可协议" in refused.text
    accepted = carol.post(
        "/datasets/open-l2/download", data={"csrf_token": _csrf(l2.text), "version": "1", "accept": "yes"}
    )
    assert accepted.status_code == 200 and "download>t.csv</a>" in accepted.text
    assert msg("web.datasets.licence.accepted", "zh") in carol.get("/datasets/open-l2").text
    missing_csrf = carol.post("/datasets/signals/download", data={"version": "1"})
    assert missing_csrf.status_code == 403


# --- the publish wizard -----------------------------------------------------------------------


def _wizard_form(csrf: str, **extra: str) -> dict[str, str]:
    return {
        "csrf_token": csrf,
        "org": "acme",
        "slug": "road-signs",
        "title_en": "Road signs",
        "title_zh": "道路标志",
        "description_en": "Short phrases about road signs",
        "description_zh": "关于道路标志的短句",
        "domain": "transport",
        "modality": "text",
        "task": "text-classification",
        "label_format": "csv",
        "classes": "stop，go\nslow",
        "label_column": "label",
        "licence_id": "CC-BY-4.0",
        "level": "L1",
        "keywords": "road, 标志",
        **extra,
    }


def _browser_upload(client: TestClient, csrf: str, base: str, files: dict[str, bytes]) -> Any:
    """What upload.js does: manifest with the CSRF header, PUT each part, then complete."""
    headers = {"X-CSRF-Token": csrf}
    plan = client.post(f"{base}/upload/plan", json={"files": manifest(files)}, headers=headers)
    assert plan.status_code == 200, plan.text
    for upload in plan.json()["files"]:
        for part in upload["parts"]:
            start = (part["number"] - 1) * upload["part_size"]
            body = files[upload["path"]][start : start + upload["part_size"]]
            assert client.put(_local(part["url"]), content=body).status_code == 200
    return client.post(f"{base}/upload/complete", headers=headers)


def test_steward_publishes_through_the_wizard(portal: Portal) -> None:
    bob = _sign_in(portal, "bob")
    form = bob.get("/datasets/new")
    assert form.status_code == 200 and msg("web.datasets.form.title_zh") in form.text
    created = bob.post("/datasets/new", data=_wizard_form(_csrf(form.text)))
    assert created.status_code == 303, created.text
    assert created.headers["location"] == "/datasets/road-signs/versions/new"
    step2 = bob.get("/datasets/road-signs/versions/new")
    version = bob.post(
        "/datasets/road-signs/versions", data={"csrf_token": _csrf(step2.text), "notes": "first"}
    )
    assert version.status_code == 303 and version.headers["location"] == "/datasets/road-signs/versions/1"
    upload_page = bob.get("/datasets/road-signs/versions/1")
    assert 'id="upload-progress"' in upload_page.text and "upload.js" in upload_page.text
    csrf = _csrf(upload_page.text)
    base = "/datasets/road-signs/versions/1"

    refused = bob.post(f"{base}/upload/plan", json={"files": manifest({"a.csv": CSV_CLEAN})})
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "web.csrf.failed"
    done = _browser_upload(bob, csrf, base, {"train.csv": CSV_CLEAN, "README.md": b"# road signs\n"})
    assert done.status_code == 200, done.text
    assert done.json()["state"] == "validating" and done.json()["next"].startswith(base)
    assert done.json()["state_label"] == msg("web.datasets.state.validating")

    # Until the background step has decided, the page says so and asks again every second.
    waiting = bob.get(base)
    assert msg("web.datasets.processing.title") in waiting.text
    assert f'hx-get="{base}/processing"' in waiting.text and 'hx-trigger="every 1s"' in waiting.text
    card = bob.get(f"{base}/processing")
    assert card.status_code == 200 and "HX-Refresh" not in card.headers
    assert 'id="version-processing"' in card.text and "<html" not in card.text
    assert process_completed(portal.app)
    decided = bob.get(f"{base}/processing")
    assert decided.status_code == 200 and decided.headers["HX-Refresh"] == "true"

    review = bob.get(base)
    assert msg("web.datasets.processing.title") not in review.text
    assert msg("web.datasets.validation.ok") in review.text and 'id="label-chart-data"' in review.text
    assert msg("web.datasets.scan.clean") in review.text
    assert msg("web.datasets.publish.submit", number=1) in review.text
    published = bob.post(f"{base}/publish", data={"csrf_token": csrf})
    assert published.status_code == 303 and published.headers["location"] == "/datasets/road-signs"
    page = bob.get("/datasets/road-signs")
    assert msg("web.datasets.publish.done", number=1) in page.text
    api = portal.client("bob").get(f"{API}/datasets/road-signs").json()
    assert api["label_schema"]["classes"] == ["stop", "go", "slow"] and api["keywords"] == ["road", "标志"]


def test_personal_data_block_and_override_in_chinese(portal: Portal) -> None:
    bob = _sign_in(portal, "bob", "zh")
    form = bob.get("/datasets/new")
    data = _wizard_form(_csrf(form.text), level="L2")
    assert bob.post("/datasets/new", data=data).status_code == 303
    step2 = bob.get("/datasets/road-signs/versions/new")
    bob.post("/datasets/road-signs/versions", data={"csrf_token": _csrf(step2.text)})
    base = "/datasets/road-signs/versions/1"
    csrf = _csrf(bob.get(base).text)
    done = _browser_upload(bob, csrf, base, {"train.csv": CSV_PII})
    assert done.status_code == 200 and done.json()["state"] == "validating"
    assert done.json()["state_label"] == MESSAGES["web.datasets.state.validating"]["zh"]
    assert msg("web.datasets.processing.title", "zh") in bob.get(base).text
    process_completed(portal.app)
    review = bob.get(base)
    assert MESSAGES["web.datasets.state.blocked"]["zh"] in review.text
    assert msg("web.datasets.block.personal_data", "zh") in review.text
    assert "138****5678" in review.text and "13812345678" not in review.text
    short = bob.post(f"{base}/override", data={"csrf_token": csrf, "justification": "太短"})
    assert short.status_code == 422 and msg("web.datasets.override.justification", "zh") in short.text
    reason = "合成的测试号码，没有真实的个人信息，可以发布。Synthetic numbers only."
    overridden = bob.post(f"{base}/override", data={"csrf_token": csrf, "justification": reason})
    assert overridden.status_code == 303
    assert msg("web.datasets.override.done", "zh") in bob.get(base).text


def test_files_that_do_not_match_are_listed_to_send_again(portal: Portal) -> None:
    bob = _sign_in(portal, "bob")
    form = bob.get("/datasets/new")
    assert bob.post("/datasets/new", data=_wizard_form(_csrf(form.text))).status_code == 303
    step2 = bob.get("/datasets/road-signs/versions/new")
    bob.post("/datasets/road-signs/versions", data={"csrf_token": _csrf(step2.text)})
    base = "/datasets/road-signs/versions/1"
    csrf = _csrf(bob.get(base).text)
    headers = {"X-CSRF-Token": csrf}
    files = {"train.csv": CSV_CLEAN, "README.md": b"# road signs\n"}
    plan = bob.post(f"{base}/upload/plan", json={"files": manifest(files)}, headers=headers).json()
    for upload in plan["files"]:
        body = files[upload["path"]].upper() if upload["path"] == "train.csv" else files[upload["path"]]
        for part in upload["parts"]:
            assert bob.put(_local(part["url"]), content=body).status_code == 200
    assert bob.post(f"{base}/upload/complete", headers=headers).json()["state"] == "validating"
    process_completed(portal.app)
    page = bob.get(base)
    assert msg("web.datasets.mismatched.title") in page.text and 'id="mismatched-files"' in page.text
    listed = page.text.split('id="mismatched-files"', 1)[1].split("</div>", 1)[0]
    assert "train.csv" in listed and "README.md" not in listed
    assert 'id="upload-progress"' in page.text  # the upload form is back, to send them again


def test_bad_input_shows_the_message_in_the_page_language(
    portal: Portal, client_for: Callable[..., TestClient]
) -> None:
    client_for("bob").post(f"{API}/datasets", json=dataset_body())
    bob = _sign_in(portal, "bob", "zh")
    form = bob.get("/datasets/new")
    duplicate = bob.post("/datasets/new", data=_wizard_form(_csrf(form.text), slug="signals"))
    assert duplicate.status_code == 409
    assert "标识为 signals 的数据集已存在" in duplicate.text and "Traceback" not in duplicate.text
    assert 'value="道路标志"' in duplicate.text  # the form keeps what was typed
    bad_level = bob.post("/datasets/new", data=_wizard_form(_csrf(form.text), level="L9"))
    assert bad_level.status_code == 422
    assert msg("web.form.invalid", "zh", fields=MESSAGES["web.datasets.form.level"]["zh"]) in bad_level.text
    custom = bob.post("/datasets/new", data=_wizard_form(_csrf(form.text), licence_id="custom"))
    assert custom.status_code == 422 and "自定义许可证需要名称和全文" in custom.text
    english = _sign_in(portal, "bob")
    bad = english.post("/datasets/new", data=_wizard_form(_csrf(form.text), level="L9"))
    assert bad.status_code in (403, 422)  # another browser: its own CSRF secret
    page = english.get("/datasets/new")
    bad = english.post("/datasets/new", data=_wizard_form(_csrf(page.text), level="L9"))
    assert bad.status_code == 422
    assert msg("web.form.invalid", fields=MESSAGES["web.datasets.form.level"]["en"]) in bad.text
    assert portal.client("bob").get(f"{API}/datasets/road-signs").status_code == 404


# --- access requests, usage, steward-only pages -------------------------------------------------


def test_l3_request_access_then_steward_approves(
    portal: Portal, client_for: Callable[..., TestClient]
) -> None:
    _publish(client_for("bob"), dataset_body(slug="closed-l3", level="L3"), {"t.csv": CSV_CLEAN})
    carol = _sign_in(portal, "carol", "zh")
    page = carol.get("/datasets/closed-l3")
    assert msg("web.datasets.level.L3.explain", "zh") in page.text
    assert 'action="/datasets/closed-l3/access"' in page.text and 'value="beta"' in page.text
    too_short = carol.post(
        "/datasets/closed-l3/access",
        data={"csrf_token": _csrf(page.text), "org": "beta", "purpose": "short", "duration_days": "30"},
    )
    assert too_short.status_code == 422 and msg("web.datasets.access.purpose", "zh") in too_short.text
    requested = carol.post(
        "/datasets/closed-l3/access",
        data={
            "csrf_token": _csrf(page.text),
            "org": "beta",
            "purpose": "训练交通信号分类模型 for research",
            "duration_days": "30",
        },
    )
    assert requested.status_code == 303, requested.text
    after = carol.get("/datasets/closed-l3")
    assert msg("web.datasets.access.requested", "zh", org="beta") in after.text
    assert msg("web.datasets.grant.requested", "zh") in after.text
    assert 'action="/datasets/closed-l3/access"' not in after.text  # beta has a pending request

    dave = _sign_in(portal, "dave")  # steward of beta, not of the publisher
    assert msg("web.datasets.requests.none_pending") in dave.get("/datasets/requests").text
    bob = _sign_in(portal, "bob")
    pending = bob.get("/datasets/requests")
    assert pending.status_code == 200 and "训练交通信号分类模型" in pending.text
    match = APPROVE_RE.search(pending.text)
    assert match and match.group(1) == "closed-l3"
    path = f"/datasets/requests/closed-l3/{match.group(2)}/approve"
    assert dave.post(path, data={"csrf_token": _csrf(dave.get("/datasets/requests").text)}).status_code == 404
    approved = bob.post(path, data={"csrf_token": _csrf(pending.text), "reason": "research use is fine"})
    assert approved.status_code == 303
    decided = bob.get("/datasets/requests")
    assert msg("web.datasets.requests.approved", slug="closed-l3") in decided.text
    assert msg("web.datasets.requests.none_pending") in decided.text and REVOKE_RE.search(decided.text)
    assert msg("web.datasets.grant.approved", "zh") in carol.get("/datasets/closed-l3").text
    grants = portal.client("carol").get(f"{API}/datasets/closed-l3/grants").json()
    assert [g["state"] for g in grants] == ["approved"]

    usage = bob.get("/datasets/usage")
    assert usage.status_code == 200
    row = re.search(r'<tr id="usage-closed-l3">(.*?)</tr>', usage.text, re.S)
    assert row
    cells = dict(re.findall(r'data-column="([a-z_]+)">(\d+)<', row.group(1)))
    assert (
        cells["grant_requests"] == "1" and cells["grants_approved"] == "1" and cells["active_grants"] == "1"
    )


def test_usage_counts_download_links(portal: Portal, client_for: Callable[..., TestClient]) -> None:
    _publish(client_for("bob"), dataset_body(), {"train.csv": CSV_CLEAN, "b.csv": CSV_CLEAN})
    carol = client_for("carol")
    for _ in range(2):
        assert carol.post(f"{API}/datasets/signals/versions/1/download").status_code == 200
    # A job of acme reading the dataset: the scheduler mints read credentials (audited).
    version_id = client_for("bob").get(f"{API}/datasets/signals/versions/1").json()["id"]
    with transaction(portal.sessionmaker) as session:
        acme = org_repository.by_slug(session, "acme")
        assert acme is not None
        store = build_store(portal.settings)
        mint_job_credentials(session, store, portal.settings, acme.id, [version_id, version_id], 600)
    usage = _sign_in(portal, "bob", "zh").get("/datasets/usage")
    row = re.search(r'<tr id="usage-signals">(.*?)</tr>', usage.text, re.S)
    assert row, usage.text
    cells = dict(re.findall(r'data-column="([a-z_]+)">(\d+)<', row.group(1)))
    assert cells["downloads"] == "2" and cells["files_linked"] == "4" and cells["job_credentials"] == "1"
    assert 'id="usage-chart-data"' in usage.text


@pytest.mark.parametrize("path", ["/datasets/new", "/datasets/requests", "/datasets/usage"])
def test_steward_pages_are_403_for_members(portal: Portal, path: str) -> None:
    alice = _sign_in(portal, "alice", "zh")
    page = alice.get(path)
    assert page.status_code == 403
    assert msg("web.error.forbidden", "zh") in page.text
    assert "仅该机构的数据管理员可执行此操作" in page.text  # auth.steward_required, in Chinese
    assert _sign_in(portal, "bob").get(path).status_code == 200
    anonymous = TestClient(portal.app, follow_redirects=False).get(path)
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/login")


def test_version_pages_are_for_the_publishers_stewards(
    portal: Portal, client_for: Callable[..., TestClient]
) -> None:
    _publish(client_for("bob"), dataset_body(), {"train.csv": CSV_CLEAN})
    assert _sign_in(portal, "alice").get("/datasets/signals/versions/1").status_code == 403
    assert _sign_in(portal, "carol").get("/datasets/signals/versions/1").status_code == 404
    dave = _sign_in(portal, "dave")
    page = dave.get("/datasets")
    refused = dave.post(
        "/datasets/signals/versions/1/upload/plan",
        json={"files": manifest({"a.csv": CSV_CLEAN})},
        headers={"X-CSRF-Token": _csrf(page.text)},
    )
    assert refused.status_code == 404 and refused.json()["error"]["code"] == "org.not_found"
    anonymous = TestClient(portal.app).post("/datasets/signals/versions/1/upload/complete")
    assert anonymous.status_code == 401
