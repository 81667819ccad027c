"""Organisations, memberships, tenancy and error mapping, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from tests.conftest import Portal


@pytest.mark.as_user("root")
def test_admin_creates_an_organisation(api: TestClient, portal: Portal) -> None:
    response = api.post("/api/v1/orgs", json={"slug": "gamma-ai", "name": "Gamma AI"})
    assert response.status_code == 201
    assert response.json()["slug"] == "gamma-ai"
    assert [o["slug"] for o in api.get("/api/v1/orgs").json()] == ["acme", "beta", "gamma-ai"]
    audit = api.get("/api/v1/audit").json()
    assert audit[0]["action"] == "org.create" and audit[0]["actor_name"] == "root"


@pytest.mark.as_user("root")
def test_duplicate_slug_is_409_and_nothing_changes(api: TestClient) -> None:
    response = api.post("/api/v1/orgs", json={"slug": "acme", "name": "Another Acme"})
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "org.slug_taken"
    assert api.get("/api/v1/orgs/acme").json()["name"] == "Acme Robotics"


@pytest.mark.as_user("alice")
def test_members_cannot_create_organisations(api: TestClient) -> None:
    assert api.post("/api/v1/orgs", json={"slug": "mine", "name": "Mine"}).status_code == 403


@pytest.mark.as_user("alice")
def test_members_see_only_their_organisations(api: TestClient) -> None:
    assert [o["slug"] for o in api.get("/api/v1/orgs").json()] == ["acme"]
    assert api.get("/api/v1/orgs/acme").status_code == 200


@pytest.mark.as_user("alice")
@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/api/v1/orgs/beta", None),
        ("PATCH", "/api/v1/orgs/beta", {"name": "x"}),
        ("GET", "/api/v1/orgs/beta/members", None),
        ("POST", "/api/v1/orgs/beta/members", {"username": "alice"}),
        ("DELETE", "/api/v1/orgs/beta/members/carol", None),
        ("GET", "/api/v1/orgs/does-not-exist", None),
    ],
)
def test_other_tenants_resources_are_404(api: TestClient, method: str, path: str, body: object) -> None:
    response = api.request(method, path, json=body)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "org.not_found"


def test_stewards_manage_members_and_members_cannot(client_for: Callable[..., TestClient]) -> None:
    bob, alice = client_for("bob"), client_for("alice")
    assert alice.post("/api/v1/orgs/acme/members", json={"username": "carol"}).status_code == 403
    added = bob.post("/api/v1/orgs/acme/members", json={"username": "carol", "role": "member"})
    assert added.status_code == 201
    assert bob.post("/api/v1/orgs/acme/members", json={"username": "carol"}).status_code == 409
    members = [m["username"] for m in bob.get("/api/v1/orgs/acme/members").json()]
    assert members == ["alice", "bob", "carol"]
    assert [o["slug"] for o in client_for("carol").get("/api/v1/orgs").json()] == ["acme", "beta"]
    assert bob.delete("/api/v1/orgs/acme/members/carol").status_code == 204
    assert bob.delete("/api/v1/orgs/acme/members/carol").status_code == 404
    assert bob.delete("/api/v1/orgs/acme/members/bob").status_code == 409, "last steward stays"
    actions = [r["action"] for r in bob.get("/api/v1/audit", params={"org": "acme"}).json()]
    assert actions[:2] == ["org.member_remove", "org.member_add"]


@pytest.mark.as_user("bob")
def test_unknown_user_cannot_be_added(api: TestClient) -> None:
    response = api.post("/api/v1/orgs/acme/members", json={"username": "ghost"})
    assert response.status_code == 422


@pytest.mark.as_user("root")
@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"slug": "Bad Slug!", "name": "x"}, "body.slug"),
        ({"slug": "ok-slug"}, "body.name"),
        ({"slug": "ok-slug", "name": ""}, "body.name"),
        ({"slug": "-dash", "name": "x"}, "body.slug"),
    ],
)
def test_invalid_input_names_the_field(api: TestClient, body: dict[str, str], field: str) -> None:
    response = api.post("/api/v1/orgs", json=body)
    assert response.status_code == 422
    assert field in [f["field"] for f in response.json()["error"]["fields"]]
    assert "Traceback" not in response.text


@pytest.mark.as_user("root")
def test_malformed_json_is_422_not_500(api: TestClient) -> None:
    response = api.post(
        "/api/v1/orgs", content=b'{"slug": "x",', headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "request.invalid"
    assert (
        api.post(
            "/api/v1/auth/token", content=b"{oops", headers={"Content-Type": "application/json"}
        ).status_code
        == 422
    )


@pytest.mark.as_user("alice")
def test_members_cannot_read_the_audit_log(api: TestClient) -> None:
    assert api.get("/api/v1/audit").status_code == 403
    assert api.get("/api/v1/audit", params={"org": "acme"}).status_code == 403
    assert api.get("/api/v1/audit", params={"org": "beta"}).status_code == 404


def test_unknown_route_is_a_clean_404(portal: Portal) -> None:
    response = portal.client().get("/api/v1/nothing-here")
    assert response.status_code == 404 and response.json()["error"]["code"] == "request.not_found"
