"""Bookings: never over capacity, held-back guarantees, approval, cancellation, free calendar."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import Portal
from tests.integration.test_api_allocations import make_flavours

T0 = (datetime.now(UTC) + timedelta(days=2)).replace(minute=0, second=0, microsecond=0)


def at(hours: float) -> str:
    return (T0 + timedelta(hours=hours)).isoformat()


def booking(org: str, gpus: int, start: float, end: float, **extra: Any) -> dict[str, Any]:
    return {
        "org": org,
        "flavour": "H100-80G",
        "gpus": gpus,
        "starts_at": at(start),
        "ends_at": at(end),
        **extra,
    }


def test_capacity_is_never_over_booked(client_for: Callable[..., TestClient]) -> None:
    root, alice, carol = client_for("root"), client_for("alice"), client_for("carol")
    make_flavours(root)  # H100-80G x 8
    first = alice.post("/api/v1/bookings", json=booking("acme", 5, 0, 4))
    assert first.status_code == 201 and first.json()["status"] == "confirmed"
    assert carol.post("/api/v1/bookings", json=booking("beta", 3, 2, 6)).status_code == 201
    full = carol.post("/api/v1/bookings", json=booking("beta", 1, 3, 5))
    assert full.status_code == 409 and full.json()["error"]["code"] == "booking.over_capacity"
    assert "0" in full.json()["error"]["message"]
    assert carol.post("/api/v1/bookings", json=booking("beta", 5, 4, 6)).status_code == 201, (
        "after the first ends"
    )
    assert len(root.get("/api/v1/bookings").json()) == 3
    assert [b["org"] for b in alice.get("/api/v1/bookings").json()] == ["acme"]


def test_other_orgs_non_lendable_guarantees_are_held_back(client_for: Callable[..., TestClient]) -> None:
    root, alice, carol = client_for("root"), client_for("alice"), client_for("carol")
    make_flavours(root)
    body = {"org": "beta", "flavour": "H100-80G", "guaranteed_gpus": 4, "lend_limit_gpus": 1}
    assert root.put("/api/v1/quotas", json=body).status_code == 200
    assert alice.post("/api/v1/bookings", json=booking("acme", 6, 0, 2)).status_code == 409
    assert alice.post("/api/v1/bookings", json=booking("acme", 5, 0, 2)).status_code == 201
    assert carol.post("/api/v1/bookings", json=booking("beta", 3, 0, 2)).status_code == 201, "own guarantee"
    free = alice.get(
        "/api/v1/bookings/free", params={"flavour": "H100-80G", "start": at(-1), "end": at(3), "org": "acme"}
    )
    assert free.status_code == 200
    assert free.json()["series"][0]["data"] == [5.0, 0.0, 5.0, 5.0]
    assert len(free.json()["x"]) == 4


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (booking("acme", 1, 2, 1), 422, "booking.window_invalid"),
        (booking("acme", 1, 2, 2), 422, "booking.window_invalid"),
        (booking("acme", 0, 0, 1), 422, "request.invalid"),
        (booking("acme", 9, 0, 1), 409, "booking.over_capacity"),
        ({**booking("acme", 1, 0, 1), "flavour": "Z100"}, 422, "flavour.not_found"),
        (booking("beta", 1, 0, 1), 404, "org.not_found"),
    ],
)
def test_bad_bookings_write_nothing(
    client_for: Callable[..., TestClient], body: dict[str, Any], status: int, code: str
) -> None:
    root, alice = client_for("root"), client_for("alice")
    make_flavours(root)
    response = alice.post("/api/v1/bookings", json=body)
    assert response.status_code == status and response.json()["error"]["code"] == code
    assert root.get("/api/v1/bookings").json() == []


def test_approval_when_policy_says_so(client_for: Callable[..., TestClient], portal: Portal) -> None:
    portal.settings.booking_requires_approval = True
    root, alice, carol = client_for("root"), client_for("alice"), client_for("carol")
    make_flavours(root)
    pending = alice.post("/api/v1/bookings", json=booking("acme", 6, 0, 2)).json()
    assert pending["status"] == "requested"
    assert carol.post("/api/v1/bookings", json=booking("beta", 3, 0, 2)).status_code == 409, (
        "requests hold capacity"
    )
    assert alice.post(f"/api/v1/bookings/{pending['id']}/approve", json={}).status_code == 403
    approved = root.post(f"/api/v1/bookings/{pending['id']}/approve", json={"reason": "fine"})
    assert approved.json()["status"] == "confirmed"
    assert root.post(f"/api/v1/bookings/{pending['id']}/approve", json={}).status_code == 409
    other = carol.post("/api/v1/bookings", json=booking("beta", 2, 0, 2)).json()
    rejected = root.post(f"/api/v1/bookings/{other['id']}/reject", json={"reason": "maintenance"})
    assert rejected.json()["status"] == "rejected" and rejected.json()["reason"] == "maintenance"
    actions = [r["action"] for r in root.get("/api/v1/audit").json()]
    assert {"booking.request", "booking.approve", "booking.reject"} <= set(actions)


def test_cancellation_frees_capacity(client_for: Callable[..., TestClient]) -> None:
    root, alice, carol = client_for("root"), client_for("alice"), client_for("carol")
    make_flavours(root)
    mine = alice.post("/api/v1/bookings", json=booking("acme", 8, 0, 2)).json()["id"]
    assert carol.post(f"/api/v1/bookings/{mine}/cancel", json={}).status_code == 404
    assert carol.get(f"/api/v1/bookings/{mine}").status_code == 404
    assert (
        alice.post(f"/api/v1/bookings/{mine}/cancel", json={"reason": "done early"}).json()["status"]
        == "cancelled"
    )
    assert alice.post(f"/api/v1/bookings/{mine}/cancel", json={}).status_code == 409
    assert carol.post("/api/v1/bookings", json=booking("beta", 8, 0, 2)).status_code == 201


def test_free_capacity_rejects_bad_ranges(client_for: Callable[..., TestClient]) -> None:
    root, alice = client_for("root"), client_for("alice")
    make_flavours(root)
    params = {"flavour": "H100-80G", "start": at(2), "end": at(1)}
    assert alice.get("/api/v1/bookings/free", params=params).status_code == 422
    params = {"flavour": "H100-80G", "start": at(0), "end": at(24 * 400)}
    assert alice.get("/api/v1/bookings/free", params=params).status_code == 422
    params = {"flavour": "Z100", "start": at(0), "end": at(1)}
    assert alice.get("/api/v1/bookings/free", params=params).status_code == 404
