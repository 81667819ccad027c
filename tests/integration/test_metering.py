"""Metering: charged outcomes debit the ledger once, in the same transaction; others are free."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.integration.test_api_allocations import NOW, granted, iso, make_flavours


def usage(job: str, outcome: str, hours: float = 1, gpus: int = 2, **extra: Any) -> dict[str, Any]:
    start = NOW - timedelta(hours=3)
    return {
        "org": "acme",
        "flavour": "H100-80G",
        "job_id": job,
        "attempt": 0,
        "started_at": iso(start),
        "ended_at": iso(start + timedelta(hours=hours)),
        "gpus": gpus,
        "outcome": outcome,
        **extra,
    }


def remaining(client: TestClient) -> int:
    return int(client.get("/api/v1/balance", params={"org": "acme"}).json()["remaining_gpu_seconds"])


@pytest.mark.parametrize(
    ("outcome", "charged"),
    [
        ("succeeded", True),
        ("failed_user", True),
        ("cancelled", True),
        ("timed_out", True),
        ("preempted", False),
        ("platform_failure", False),
        ("node_lost", False),
    ],
)
def test_charging_follows_the_outcome(
    client_for: Callable[..., TestClient], outcome: str, charged: bool
) -> None:
    root, alice = client_for("root"), client_for("alice")
    make_flavours(root)
    granted(root, alice, gpu_hours=10)
    response = root.post("/api/v1/usage", json=usage("job-1", outcome))
    assert response.status_code == 201, response.text
    assert response.json()["gpu_seconds"] == 7200 and response.json()["charged"] is charged
    assert remaining(alice) == 36_000 - (7200 if charged else 0)


def test_recording_twice_charges_once_and_conflicts_are_refused(
    client_for: Callable[..., TestClient],
) -> None:
    root, alice = client_for("root"), client_for("alice")
    make_flavours(root)
    granted(root, alice, gpu_hours=10)
    first = root.post("/api/v1/usage", json=usage("job-1", "succeeded")).json()
    again = root.post("/api/v1/usage", json=usage("job-1", "succeeded"))
    assert again.status_code == 201 and again.json()["id"] == first["id"]
    assert remaining(alice) == 36_000 - 7200
    different = root.post("/api/v1/usage", json=usage("job-1", "succeeded", gpus=4))
    assert different.status_code == 409 and different.json()["error"]["code"] == "usage.conflict"
    retry = root.post("/api/v1/usage", json=usage("job-1", "succeeded", attempt=1))
    assert retry.status_code == 201 and remaining(alice) == 36_000 - 2 * 7200


def test_debits_split_over_allocations_and_never_go_negative(client_for: Callable[..., TestClient]) -> None:
    root, alice = client_for("root"), client_for("alice")
    make_flavours(root)
    soon = granted(root, alice, gpu_hours=1, valid_until=iso(NOW + timedelta(days=2)))
    late = granted(root, alice, gpu_hours=1, valid_until=iso(NOW + timedelta(days=20)))
    anyf = granted(root, alice, gpu_hours=1, flavour=None, valid_until=iso(NOW + timedelta(days=1)))
    big = root.post("/api/v1/usage", json=usage("job-big", "succeeded", hours=2, gpus=2)).json()
    assert big["charged_gpu_seconds"] == 3 * 3600 and big["uncovered_gpu_seconds"] == 3600
    states = {a["id"]: a for a in alice.get("/api/v1/allocations").json()}
    assert [states[x["id"]]["state"] for x in (soon, late, anyf)] == ["exhausted"] * 3
    assert remaining(alice) == 0
    burn = alice.get(f"/api/v1/reports/burndown/{soon['id']}").json()
    assert burn["series"][0]["data"] == [1.0, 0.0]


def test_flavour_specific_allocations_pay_first(client_for: Callable[..., TestClient]) -> None:
    root, alice = client_for("root"), client_for("alice")
    make_flavours(root)
    anyf = granted(root, alice, gpu_hours=5, flavour=None, valid_until=iso(NOW + timedelta(days=1)))
    h100 = granted(root, alice, gpu_hours=5, valid_until=iso(NOW + timedelta(days=20)))
    root.post("/api/v1/usage", json=usage("job-1", "succeeded"))
    by_id = {a["id"]: a["used_gpu_seconds"] for a in alice.get("/api/v1/allocations").json()}
    assert (by_id[h100["id"]], by_id[anyf["id"]]) == (7200, 0)
    root.post("/api/v1/usage", json={**usage("job-2", "succeeded"), "flavour": "A100-40G"})
    by_id = {a["id"]: a["used_gpu_seconds"] for a in alice.get("/api/v1/allocations").json()}
    assert by_id[anyf["id"]] == 7200, "other flavours draw on the any-flavour voucher"


@pytest.mark.parametrize(
    ("overrides", "status"),
    [
        ({"ended_at": iso(NOW - timedelta(hours=4))}, 422),
        ({"gpus": 0}, 422),
        ({"outcome": "vanished"}, 422),
        ({"flavour": "Z100"}, 422),
        ({"org": "nobody"}, 404),
    ],
)
def test_bad_usage_is_refused(
    client_for: Callable[..., TestClient], overrides: dict[str, Any], status: int
) -> None:
    root, alice = client_for("root"), client_for("alice")
    make_flavours(root)
    granted(root, alice, gpu_hours=10)
    assert root.post("/api/v1/usage", json={**usage("job-1", "succeeded"), **overrides}).status_code == status
    assert remaining(alice) == 36_000


def test_only_admins_record_usage(client_for: Callable[..., TestClient]) -> None:
    root, bob = client_for("root"), client_for("bob")
    make_flavours(root)
    assert bob.post("/api/v1/usage", json=usage("job-1", "succeeded")).status_code == 403
