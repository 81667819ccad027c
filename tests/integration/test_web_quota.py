"""The GPU-quota pages over the real app: balances, requests, decisions, bookings, usage, both languages."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient

from aicommons.portal.web.messages import MESSAGES
from tests.conftest import PASSWORD, Portal

CSRF_RE = re.compile(r'name="csrf_token" value="([0-9a-f]+)"')
APPROVE_RE = re.compile(r'action="/admin/allocations/([0-9a-f-]+)/approve"')
CANCEL_RE = re.compile(r'action="/quota/bookings/([0-9a-f-]+)/cancel"')
NOW = datetime.now(UTC).replace(microsecond=0)


def _csrf(html: str) -> str:
    match = CSRF_RE.search(html)
    assert match, "no CSRF token in the page"
    return match.group(1)


def _sign_in(portal: Portal, username: str, lang: str | None = None) -> TestClient:
    client = TestClient(portal.app, raise_server_exceptions=False, follow_redirects=False)
    if lang:
        client.headers["Accept-Language"] = lang
    page = client.get("/login")
    response = client.post(
        "/login", data={"username": username, "password": PASSWORD, "csrf_token": _csrf(page.text)}
    )
    assert response.status_code == 303, response.text
    return client


def _to_chinese(client: TestClient) -> None:
    page = client.get("/quota")
    switched = client.post("/lang/zh-CN", data={"csrf_token": _csrf(page.text), "next": "/quota"})
    assert switched.status_code == 303


def _flavours(portal: Portal) -> TestClient:
    root = portal.client("root")
    response = root.post("/api/v1/flavours", json={"name": "H100-80G", "pool": "nvidia", "capacity_gpus": 8})
    assert response.status_code == 201, response.text
    return root


def _grant(portal: Portal, root: TestClient, username: str, org: str, hours: float) -> str:
    member = portal.client(username)
    body = {
        "org": org,
        "flavour": "H100-80G",
        "gpu_hours": hours,
        "valid_from": (NOW - timedelta(days=1)).isoformat(),
        "valid_until": (NOW + timedelta(days=30)).isoformat(),
        "purpose": f"work of {org}",
    }
    created = member.post("/api/v1/allocations", json=body)
    assert created.status_code == 201, created.text
    approved = root.post(f"/api/v1/allocations/{created.json()['id']}/approve", json={})
    assert approved.status_code == 200, approved.text
    return str(created.json()["id"])


def _request_form(client: TestClient, hours: str, purpose: str = "fine-tune a VLM") -> tuple[int, str]:
    page = client.get("/quota")
    assert page.status_code == 200
    data = {
        "csrf_token": _csrf(page.text),
        "org": "acme",
        "flavour": "H100-80G",
        "gpu_hours": hours,
        "valid_from": (NOW - timedelta(days=1)).date().isoformat(),
        "valid_until": (NOW + timedelta(days=60)).date().isoformat(),
        "purpose": purpose,
    }
    response = client.post("/quota/allocations", data=data)
    return response.status_code, response.text


def test_member_sees_only_their_organisations_balance(portal: Portal) -> None:
    root = _flavours(portal)
    _grant(portal, root, "alice", "acme", 123.25)
    _grant(portal, root, "carol", "beta", 987.5)
    alice = _sign_in(portal, "alice")
    page = alice.get("/quota")
    assert page.status_code == 200
    assert "Acme Robotics" in page.text and "123.25" in page.text
    assert "Beta Vision" not in page.text and "987.5" not in page.text
    assert 'href="/quota"' in page.text and 'aria-current="page"' in page.text
    # The most recent active allocation gets a burn-down chart.
    assert 'data-chart="line"' in page.text and 'id="burndown-data"' in page.text


def test_request_approve_and_balance_through_the_pages(portal: Portal) -> None:
    _flavours(portal)
    alice = _sign_in(portal, "alice")
    status, _ = _request_form(alice, "42.5")
    assert status == 303
    page = alice.get("/quota")
    assert MESSAGES["web.quota.requested"]["en"].split("{")[0] in page.text  # the flash
    assert "fine-tune a VLM" in page.text
    assert MESSAGES["web.quota.state.requested"]["en"] in page.text

    root = _sign_in(portal, "root")
    pending = root.get("/admin/allocations")
    assert pending.status_code == 200
    assert "fine-tune a VLM" in pending.text
    match = APPROVE_RE.search(pending.text)
    assert match
    approved = root.post(
        f"/admin/allocations/{match.group(1)}/approve",
        data={"csrf_token": _csrf(pending.text), "gpu_hours": "40", "reason": "trimmed"},
    )
    assert approved.status_code == 303, approved.text
    after = root.get("/admin/allocations")
    assert "fine-tune a VLM" not in after.text
    assert MESSAGES["web.admin.allocations.empty"]["en"] in after.text

    balance = alice.get("/quota")
    assert MESSAGES["web.quota.balance_total"]["en"].format(hours=40.0) in balance.text
    assert MESSAGES["web.quota.state.active"]["en"] in balance.text
    api = portal.client("alice").get("/api/v1/balance", params={"org": "acme"})
    assert api.json()["remaining_gpu_hours"] == 40.0


def test_reject_needs_a_reason(portal: Portal) -> None:
    _flavours(portal)
    alice = _sign_in(portal, "alice")
    assert _request_form(alice, "10")[0] == 303
    root = _sign_in(portal, "root")
    pending = root.get("/admin/allocations")
    allocation_id = APPROVE_RE.search(pending.text).group(1)  # type: ignore[union-attr]
    refused = root.post(
        f"/admin/allocations/{allocation_id}/reject", data={"csrf_token": _csrf(pending.text), "reason": " "}
    )
    assert refused.status_code == 422
    assert "alert-error" in refused.text
    rejected = root.post(
        f"/admin/allocations/{allocation_id}/reject",
        data={"csrf_token": _csrf(pending.text), "reason": "no budget left"},
    )
    assert rejected.status_code == 303
    page = alice.get("/quota")
    assert MESSAGES["web.quota.state.rejected"]["en"] in page.text and "no budget left" in page.text


def test_bad_form_shows_an_error_and_stores_nothing(portal: Portal) -> None:
    _flavours(portal)
    alice = _sign_in(portal, "alice")
    status, html = _request_form(alice, "-5")
    assert status == 422
    assert "alert-error" in html
    assert MESSAGES["web.quota.gpu_hours"]["en"] in html
    assert 'value="-5"' in html  # the form keeps what was typed
    status, html = _request_form(alice, "5", purpose="")
    assert status == 422 and "alert-error" in html
    assert portal.client("alice").get("/api/v1/allocations").json() == []


def test_admin_pages_are_for_administrators(portal: Portal) -> None:
    for username in ("alice", "bob"):
        client = _sign_in(portal, username)
        for path in ("/admin/allocations", "/admin/usage", "/admin/usage.csv"):
            assert client.get(path).status_code == 403, (username, path)
        page = client.get("/quota")
        assert 'href="/admin/allocations"' not in page.text


def test_usage_page_chart_table_and_csv(portal: Portal) -> None:
    root_api = _flavours(portal)
    _grant(portal, root_api, "alice", "acme", 100)
    usage = {
        "org": "acme",
        "flavour": "H100-80G",
        "job_id": "job-1",
        "started_at": (NOW - timedelta(hours=3)).isoformat(),
        "ended_at": (NOW - timedelta(hours=1)).isoformat(),
        "gpus": 2,
        "outcome": "succeeded",
    }
    recorded = root_api.post("/api/v1/usage", json=usage)
    assert recorded.status_code == 201, recorded.text
    root = _sign_in(portal, "root")
    page = root.get("/admin/usage")
    assert page.status_code == 200
    assert 'data-chart="line"' in page.text and "H100-80G" in page.text
    assert "acme" in page.text and ">4.0<" in page.text
    assert 'href="/admin/usage.csv"' in page.text
    csv = root.get("/admin/usage.csv")
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    assert csv.text.splitlines()[0] == "day,org,flavour,gpu_seconds,gpu_hours,charged_gpu_seconds"
    assert "acme,H100-80G" in csv.text


def test_bookings_request_and_cancel(portal: Portal) -> None:
    _flavours(portal)
    alice = _sign_in(portal, "alice")
    page = alice.get("/quota")
    start = (NOW + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
    end = (NOW + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M")
    data = {"csrf_token": _csrf(page.text), "org": "acme", "flavour": "H100-80G", "gpus": "2"}
    booked = alice.post("/quota/bookings", data={**data, "starts_at": start, "ends_at": end})
    assert booked.status_code == 303, booked.text
    page = alice.get("/quota")
    match = CANCEL_RE.search(page.text)
    assert match
    too_many = alice.post("/quota/bookings", data={**data, "gpus": "9", "starts_at": start, "ends_at": end})
    assert too_many.status_code == 409 and "alert-error" in too_many.text
    cancelled = alice.post(f"/quota/bookings/{match.group(1)}/cancel", data={"csrf_token": _csrf(page.text)})
    assert cancelled.status_code == 303
    page = alice.get("/quota")
    assert MESSAGES["web.quota.booking.cancelled"]["en"] in page.text
    assert CANCEL_RE.search(page.text) is None


def test_quota_pages_in_chinese(portal: Portal) -> None:
    root = _flavours(portal)
    _grant(portal, root, "alice", "acme", 8)
    alice = _sign_in(portal, "alice")
    _to_chinese(alice)
    page = alice.get("/quota")
    assert 'lang="zh-CN"' in page.text
    assert page.status_code == 200
    for key in ("web.quota.title", "web.quota.request", "web.quota.state.active", "web.nav.quota"):
        assert MESSAGES[key]["zh"] in page.text, key
    status, html = _request_form(alice, "-1")
    assert status == 422 and MESSAGES["web.quota.gpu_hours"]["zh"] in html
    admin = _sign_in(portal, "root")
    _to_chinese(admin)
    for path, key in (
        ("/admin/allocations", "web.admin.allocations.title"),
        ("/admin/usage", "web.admin.usage.chart"),
    ):
        assert MESSAGES[key]["zh"] in admin.get(path).text, path
