"""Concurrency quotas: guarantees within capacity, lending within guarantees, audit, tenancy."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

from tests.integration.test_api_allocations import make_flavours


def quota(org: str, guaranteed: int, borrow: int = 0, lend: int = 0, **extra: Any) -> dict[str, Any]:
    return {
        "org": org,
        "flavour": "H100-80G",
        "guaranteed_gpus": guaranteed,
        "borrow_limit_gpus": borrow,
        "lend_limit_gpus": lend,
        **extra,
    }


def test_admin_sets_quotas_within_capacity(client_for: Callable[..., TestClient]) -> None:
    root, alice = client_for("root"), client_for("alice")
    make_flavours(root)
    first = root.put("/api/v1/quotas", json=quota("acme", 4, 2, 1, reason="pilot"))
    assert first.status_code == 200, first.text
    assert first.json()["org"] == "acme" and first.json()["guaranteed_gpus"] == 4
    assert root.put("/api/v1/quotas", json=quota("beta", 4)).status_code == 200
    over = root.put("/api/v1/quotas", json=quota("beta", 5))
    assert over.status_code == 409 and over.json()["error"]["code"] == "quota.over_capacity"
    assert "9" in over.json()["error"]["message"]
    # changing one's own guarantee does not count it twice
    assert root.put("/api/v1/quotas", json=quota("acme", 3, 2, 1)).json()["guaranteed_gpus"] == 3
    assert [q["guaranteed_gpus"] for q in alice.get("/api/v1/quotas").json()] == [3]
    shrink = root.patch("/api/v1/flavours/H100-80G", json={"capacity_gpus": 6})
    assert (
        shrink.status_code == 409 and shrink.json()["error"]["code"] == "flavour.capacity_below_commitments"
    )
    audit = [r for r in root.get("/api/v1/audit").json() if r["action"] == "quota.set"]
    assert len(audit) == 3 and audit[-1]["reason"] == "pilot"
    assert (
        audit[0]["data"]["before"]["guaranteed_gpus"] == 4
        and audit[0]["data"]["after"]["guaranteed_gpus"] == 3
    )


def test_bad_quotas_are_refused_and_change_nothing(client_for: Callable[..., TestClient]) -> None:
    root = client_for("root")
    make_flavours(root)
    assert root.put("/api/v1/quotas", json=quota("acme", 2)).status_code == 200
    lend = root.put("/api/v1/quotas", json=quota("acme", 2, lend=3))
    assert lend.status_code == 422 and lend.json()["error"]["code"] == "quota.lend_above_guarantee"
    assert root.put("/api/v1/quotas", json=quota("acme", -1)).status_code == 422
    unknown = root.put("/api/v1/quotas", json={**quota("acme", 1), "flavour": "Z100"})
    assert unknown.status_code == 422 and unknown.json()["error"]["code"] == "flavour.not_found"
    assert root.put("/api/v1/quotas", json=quota("nobody", 1)).status_code == 404
    assert [q["guaranteed_gpus"] for q in root.get("/api/v1/quotas").json()] == [2]


def test_members_read_only_their_quotas(client_for: Callable[..., TestClient]) -> None:
    root, bob, carol = client_for("root"), client_for("bob"), client_for("carol")
    make_flavours(root)
    root.put("/api/v1/quotas", json=quota("acme", 2))
    assert bob.put("/api/v1/quotas", json=quota("acme", 8)).status_code == 403
    assert carol.get("/api/v1/quotas").json() == []
    assert carol.get("/api/v1/quotas", params={"org": "acme"}).status_code == 404
