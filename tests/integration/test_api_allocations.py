"""Flavours, allocation requests and decisions, balances and tenancy, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import Portal

NOW = datetime.now(UTC).replace(microsecond=0)


def iso(moment: datetime) -> str:
    return moment.isoformat()


def make_flavours(root: TestClient) -> None:
    for name, pool, capacity in (
        ("H100-80G", "nvidia", 8),
        ("A100-40G", "nvidia", 16),
        ("Ascend-910B", "npu", 8),
    ):
        response = root.post("/api/v1/flavours", json={"name": name, "pool": pool, "capacity_gpus": capacity})
        assert response.status_code == 201, response.text


def request_body(**overrides: Any) -> dict[str, Any]:
    body = {
        "org": "acme",
        "flavour": "H100-80G",
        "gpu_hours": 100,
        "valid_from": iso(NOW - timedelta(days=1)),
        "valid_until": iso(NOW + timedelta(days=30)),
        "purpose": "train a detector",
    }
    body.update(overrides)
    return body


def granted(root: TestClient, member: TestClient, **overrides: Any) -> dict[str, Any]:
    """Request as ``member`` and approve as ``root``: the approved allocation."""
    created = member.post("/api/v1/allocations", json=request_body(**overrides))
    assert created.status_code == 201, created.text
    approved = root.post(f"/api/v1/allocations/{created.json()['id']}/approve", json={"reason": "ok"})
    assert approved.status_code == 200, approved.text
    return dict(approved.json())


def test_admins_define_flavours_and_everyone_reads_them(client_for: Callable[..., TestClient]) -> None:
    root, alice = client_for("root"), client_for("alice")
    make_flavours(root)
    assert [f["name"] for f in alice.get("/api/v1/flavours").json()] == [
        "Ascend-910B",
        "A100-40G",
        "H100-80G",
    ]
    pools = {p["name"]: p for p in alice.get("/api/v1/pools").json()}
    assert pools["nvidia"]["capacity_gpus"] == 24 and pools["npu"]["flavours"] == ["Ascend-910B"]
    assert alice.post("/api/v1/flavours", json={"name": "cpu", "capacity_gpus": 1}).status_code == 403
    duplicate = root.post("/api/v1/flavours", json={"name": "H100-80G", "capacity_gpus": 1})
    assert duplicate.status_code == 409 and duplicate.json()["error"]["code"] == "flavour.name_taken"
    assert root.patch("/api/v1/flavours/H100-80G", json={"capacity_gpus": 10}).json()["capacity_gpus"] == 10
    assert alice.get("/api/v1/flavours/nope").status_code == 404


def test_request_approve_with_adjustments_and_balance(client_for: Callable[..., TestClient]) -> None:
    root, alice = client_for("root"), client_for("alice")
    make_flavours(root)
    created = alice.post("/api/v1/allocations", json=request_body())
    assert created.status_code == 201
    assert created.json()["state"] == "requested" and created.json()["requested_gpu_seconds"] == 360_000
    until = NOW + timedelta(days=10)
    approved = root.post(
        f"/api/v1/allocations/{created.json()['id']}/approve",
        json={"gpu_hours": 50, "valid_until": iso(until), "reason": "half for now"},
    )
    assert approved.status_code == 200, approved.text
    body = approved.json()
    assert body["state"] == "active" and body["granted_gpu_seconds"] == 180_000
    assert datetime.fromisoformat(body["valid_until"]) == until
    balance = alice.get("/api/v1/balance", params={"org": "acme"}).json()
    assert balance["remaining_gpu_seconds"] == 180_000 and balance["remaining_gpu_hours"] == 50
    assert balance["lines"][0]["flavour"] == "H100-80G"
    audit = root.get("/api/v1/audit").json()
    decision = next(r for r in audit if r["action"] == "allocation.approve")
    assert decision["reason"] == "half for now" and decision["actor_name"] == "root"
    assert decision["data"]["gpu_seconds"] == 180_000


def test_reject_needs_a_reason_and_decisions_happen_once(client_for: Callable[..., TestClient]) -> None:
    root, alice = client_for("root"), client_for("alice")
    make_flavours(root)
    first = alice.post("/api/v1/allocations", json=request_body()).json()["id"]
    assert root.post(f"/api/v1/allocations/{first}/reject", json={}).status_code == 422
    rejected = root.post(f"/api/v1/allocations/{first}/reject", json={"reason": "budget spent"})
    assert rejected.json()["state"] == "rejected" and rejected.json()["decision_reason"] == "budget spent"
    again = root.post(f"/api/v1/allocations/{first}/approve", json={})
    assert again.status_code == 409 and again.json()["error"]["code"] == "allocation.not_pending"
    second = granted(root, alice)["id"]
    double = root.post(f"/api/v1/allocations/{second}/approve", json={})
    assert double.status_code == 409
    assert alice.get("/api/v1/balance", params={"org": "acme"}).json()["remaining_gpu_seconds"] == 360_000
    actions = [r["action"] for r in root.get("/api/v1/audit").json()]
    assert "allocation.reject" in actions


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"gpu_hours": 0}, "request.invalid"),
        ({"gpu_hours": -5}, "request.invalid"),
        ({"valid_until": iso(NOW - timedelta(days=2))}, "allocation.period_invalid"),
        ({"flavour": "Z100"}, "flavour.not_found"),
        ({"purpose": ""}, "request.invalid"),
    ],
)
def test_bad_requests_are_422_and_write_nothing(
    client_for: Callable[..., TestClient], overrides: dict[str, Any], code: str
) -> None:
    root, alice = client_for("root"), client_for("alice")
    make_flavours(root)
    response = alice.post("/api/v1/allocations", json=request_body(**overrides))
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == code
    assert alice.get("/api/v1/allocations").json() == []


def test_approval_cannot_shrink_to_nothing_or_invert_dates(client_for: Callable[..., TestClient]) -> None:
    root, alice = client_for("root"), client_for("alice")
    make_flavours(root)
    pending = alice.post("/api/v1/allocations", json=request_body()).json()["id"]
    assert root.post(f"/api/v1/allocations/{pending}/approve", json={"gpu_hours": 0}).status_code == 422
    inverted = root.post(
        f"/api/v1/allocations/{pending}/approve", json={"valid_until": iso(NOW - timedelta(days=5))}
    )
    assert inverted.status_code == 422 and inverted.json()["error"]["code"] == "allocation.period_invalid"
    assert alice.get(f"/api/v1/allocations/{pending}").json()["state"] == "requested"


def test_admins_cannot_approve_their_own_organisation(
    client_for: Callable[..., TestClient], portal: Portal
) -> None:
    root, alice = client_for("root"), client_for("alice")
    make_flavours(root)
    assert root.post("/api/v1/orgs/acme/members", json={"username": "root"}).status_code == 201
    root = client_for("root")  # a fresh token carries the new membership
    pending = alice.post("/api/v1/allocations", json=request_body()).json()["id"]
    refused = root.post(f"/api/v1/allocations/{pending}/approve", json={})
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "allocation.self_approval"
    assert alice.get(f"/api/v1/allocations/{pending}").json()["state"] == "requested"
    portal.settings.allow_self_approval = True
    assert root.post(f"/api/v1/allocations/{pending}/approve", json={}).status_code == 200


def test_members_cannot_decide(client_for: Callable[..., TestClient]) -> None:
    root, bob = client_for("root"), client_for("bob")
    make_flavours(root)
    pending = bob.post("/api/v1/allocations", json=request_body()).json()["id"]
    assert bob.post(f"/api/v1/allocations/{pending}/approve", json={}).status_code == 403


def test_other_tenants_allocations_are_404(client_for: Callable[..., TestClient]) -> None:
    root, alice, carol = client_for("root"), client_for("alice"), client_for("carol")
    make_flavours(root)
    mine = granted(root, alice)["id"]
    assert carol.get(f"/api/v1/allocations/{mine}").status_code == 404
    assert carol.get("/api/v1/allocations").json() == []
    assert carol.get("/api/v1/allocations", params={"org": "acme"}).status_code == 404
    assert carol.get("/api/v1/balance", params={"org": "acme"}).status_code == 404
    assert carol.post("/api/v1/allocations", json=request_body()).status_code == 404
    assert carol.get(f"/api/v1/reports/burndown/{mine}").status_code == 404
    assert [a["org"] for a in root.get("/api/v1/allocations").json()] == ["acme"]


def test_renewal_references_an_approved_allocation_of_the_same_org(
    client_for: Callable[..., TestClient],
) -> None:
    root, alice, carol = client_for("root"), client_for("alice"), client_for("carol")
    make_flavours(root)
    old = granted(root, alice)["id"]
    later = {"valid_from": iso(NOW + timedelta(days=30)), "valid_until": iso(NOW + timedelta(days=60))}
    renewal = alice.post("/api/v1/allocations", json=request_body(renews=old, **later))
    assert renewal.status_code == 201 and renewal.json()["renews_id"] == old
    assert (
        root.post(f"/api/v1/allocations/{renewal.json()['id']}/approve", json={}).json()["state"]
        == "approved"
    )
    foreign = carol.post("/api/v1/allocations", json=request_body(org="beta", renews=old))
    assert foreign.status_code == 422 and foreign.json()["error"]["code"] == "allocation.renewal_invalid"


def test_states_follow_time(client_for: Callable[..., TestClient]) -> None:
    root, alice = client_for("root"), client_for("alice")
    make_flavours(root)
    past = granted(
        root, alice, valid_from=iso(NOW - timedelta(days=9)), valid_until=iso(NOW - timedelta(days=1))
    )
    future = granted(
        root, alice, valid_from=iso(NOW + timedelta(days=1)), valid_until=iso(NOW + timedelta(days=9))
    )
    anyflavour = granted(root, alice, flavour=None, gpu_hours=1)
    assert (past["state"], future["state"], anyflavour["state"]) == ("expired", "approved", "active")
    balance = alice.get("/api/v1/balance", params={"org": "acme"}).json()
    assert balance["remaining_gpu_seconds"] == 3600 and balance["lines"][0]["flavour"] is None


def test_cli_quota_journey(tmp_path_factory: pytest.TempPathFactory) -> None:
    """The CLI through portal.client against a portal served by uvicorn (SQLite)."""
    from tests.fixtures.portal_server import serve_portal

    env = {"AICOMMONS_ALLOW_SELF_APPROVAL": "true"}  # the admin requests and approves here
    with serve_portal(tmp_path_factory.mktemp("cli-quota"), extra_env=env) as served:
        login = served.cli(
            "login", "--username", "admin", "--password", served.admin_password, "--server", served.url
        )
        assert login.returncode == 0, login.stderr
        assert served.cli("orgs", "create", "acme", "Acme").returncode == 0
        assert served.cli("flavours", "create", "H100-80G", "8", "--pool", "nvidia").returncode == 0
        assert "H100-80G" in served.cli("flavours", "list").stdout
        start, end = iso(NOW - timedelta(days=1)), iso(NOW + timedelta(days=9))
        requested = served.cli("allocations", "request", "--org", "acme", "10", start, end, "pilot")
        assert requested.returncode == 0, requested.stderr
        allocation_id = requested.stdout.split()[1]
        approved = served.cli("allocations", "approve", allocation_id, "--gpu-hours", "5", "--reason", "ok")
        assert approved.returncode == 0 and "active" in approved.stdout, approved.stderr
        shown = served.cli("quota", "show", "--org", "acme", lang="zh")
        assert "5 GPU 时" in shown.stdout, shown.stdout + shown.stderr
        assert served.cli("quota", "set", "--org", "acme", "H100-80G", "9").returncode == 1, "over capacity"
        assert served.cli("quota", "set", "--org", "acme", "H100-80G", "4", "--lend", "1").returncode == 0
        booked = served.cli(
            "bookings",
            "request",
            "--org",
            "acme",
            "H100-80G",
            "2",
            iso(NOW + timedelta(days=1)),
            iso(NOW + timedelta(days=2)),
        )
        assert booked.returncode == 0 and "confirmed" in booked.stdout, booked.stderr
        assert "confirmed" in served.cli("bookings", "list").stdout
        assert served.cli("bookings", "cancel", booked.stdout.split()[1].rstrip(":")).returncode == 0
        free = served.cli(
            "bookings", "free", "H100-80G", iso(NOW + timedelta(days=1)), iso(NOW + timedelta(days=2))
        )
        assert free.returncode == 0 and "8" in free.stdout
        usage = served.cli("usage", "--csv")
        assert usage.returncode == 0 and usage.stdout.startswith("day,org,flavour")
