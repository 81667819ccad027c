"""Authorization matrix over every API route × caller × object owned by organisation A (acme).

The operations come from the served OpenAPI document, so a new route is covered the day it is
added: a path parameter this file cannot resolve to an acme-owned object fails the test until it
is declared below. Outsiders (anonymous, a member and a steward of organisation B) must get no
successful write, must never see acme's identifiers in a response, and acme's rows must be
byte-for-byte unchanged afterwards. Insiders must be able to read every object the matrix uses, so
the matrix cannot pass merely because its objects do not exist.
"""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import bindparam, inspect, select, text

from aicommons.portal.core.time import utcnow
from aicommons.portal.orgs.models import Organisation
from tests.conftest import Portal

PUBLIC = {
    ("GET", "/api/v1/health"),
    ("POST", "/api/v1/auth/token"),
    ("GET", "/api/v1/auth/config"),
    ("GET", "/api/v1/auth/jwks"),
}
# Catalogue-wide data every signed-in user may read, and operations on the caller's own account.
SHARED_READS = {"/api/v1/flavours", "/api/v1/flavours/{name}", "/api/v1/pools", "/api/v1/dataset-domains"}
OUTSIDERS = ["carol", "dave"]


def _iso(delta: timedelta) -> str:
    return (utcnow() + delta).isoformat()


# Reads answered by a live MLflow server (absent here; tests/integration/test_models_views.py covers them):
# outsiders are still checked, the insider's existence check is not.
NEEDS_MLFLOW = (
    "/api/v1/orgs/{slug}/experiments",
    "/api/v1/orgs/{slug}/runs",
    "/api/v1/orgs/{slug}/registered-models",
)
# Reads of objects the matrix's dataset cannot have: it is L3, and L3 versions have no thumbnails
# (tests/integration/test_dataset_previews.py covers the route); outsiders are still checked.
NO_MATRIX_OBJECT = ("/api/v1/datasets/{slug}/versions/{number}/thumbnails/{index}",)


def _seed_acme(portal: Portal) -> dict[str, str]:
    """Objects owned by acme, created through the API as acme's own people would."""
    root, alice, bob = portal.client("root"), portal.client("alice"), portal.client("bob")
    ids: dict[str, str] = {}
    _ok(root.post("/api/v1/flavours", json={"name": "H100-80G", "capacity_gpus": 8}))
    _ok(root.put("/api/v1/quotas", json={"org": "acme", "flavour": "H100-80G", "guaranteed_gpus": 2}))
    allocation = _ok(
        alice.post(
            "/api/v1/allocations",
            json={
                "org": "acme",
                "flavour": "H100-80G",
                "gpu_hours": 100,
                "purpose": "pretraining acme-model",
                "valid_from": _iso(timedelta(days=-1)),
                "valid_until": _iso(timedelta(days=30)),
            },
        )
    )
    ids["allocation_id"] = allocation["id"]
    booking = _ok(
        alice.post(
            "/api/v1/bookings",
            json={
                "org": "acme",
                "flavour": "H100-80G",
                "gpus": 1,
                "starts_at": _iso(timedelta(days=2)),
                "ends_at": _iso(timedelta(days=3)),
            },
        )
    )
    ids["booking_id"] = booking["id"]
    dataset = _ok(
        bob.post(
            "/api/v1/datasets",
            json={
                "org": "acme",
                "slug": "acme-private-scans",
                "title_en": "Acme private scans",
                "title_zh": "Acme 私有扫描",
                "domain": "medical",
                "modality": "image",
                "task": "classification",
                "label_format": "imagefolder",
                "licence_id": "CC-BY-4.0",
                "level": "L3",
            },
        )
    )
    ids["dataset_id"] = dataset["id"]
    ids["dataset_slug"] = "acme-private-scans"
    version = _ok(bob.post("/api/v1/datasets/acme-private-scans/versions", json={"notes": "first"}))
    ids["version_number"] = str(version["number"])
    grant = _ok(
        alice.post(
            "/api/v1/datasets/acme-private-scans/grants",
            json={
                "org": "acme",
                "purpose": "train a model inside platform jobs",
                "duration_days": 30,
            },
        )
    )
    ids["grant_id"] = grant["id"]
    token = _ok(alice.post("/api/v1/tokens", json={"name": "acme-ci"}))
    ids["token_id"] = token["id"]
    job = {"name": "acme-train", "org": "acme", "entrypoint": "python train.py", "flavour": "H100-80G",
           "gpus_per_worker": 1, "time_limit_s": 600}  # fmt: skip
    ids["job_id"] = _ok(alice.post("/api/v1/jobs", json=job))["id"]
    return ids


def _ok(response: Any) -> dict[str, Any]:
    assert response.status_code < 300, (
        f"seeding failed: {response.request.method} {response.request.url}: {response.text}"
    )
    return dict(response.json())


def _resolve(path: str, ids: dict[str, str]) -> str:
    values = {
        "slug": ids["dataset_slug"] if path.startswith("/api/v1/datasets/") else "acme",
        "username": "alice",
        "token_id": ids["token_id"],
        "allocation_id": ids["allocation_id"],
        "booking_id": ids["booking_id"],
        "grant_id": ids["grant_id"],
        "number": ids["version_number"],
        "name": "H100-80G",
        "job_id": ids["job_id"],
        # model views: the organisation is checked before MLflow is asked for these
        "experiment_id": "0",
        "run_id": "acme-run",
        "key": "loss",
        "index": "0",
    }

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        assert name in values, f"declare how {{{name}}} in {path} resolves to an acme-owned object"
        return values[name]

    return re.sub(r"\{(\w+)\}", value, path)


def _body(operation: dict[str, Any]) -> dict[str, Any] | None:
    """A plausible body aimed at acme: every required field filled, organisation set to acme."""
    content = operation.get("requestBody", {}).get("content", {})
    if "application/json" not in content:
        return None
    return {
        "org": "acme",
        "slug": "acme",
        "username": "carol",
        "name": "x",
        "role": "steward",
        "gpu_hours": 10,
        "gpus": 1,
        "flavour": "H100-80G",
        "guaranteed_gpus": 8,
        "reason": "matrix",
        "purpose": "cross-tenant attempt",
        "duration_days": 1,
        "justification": "x" * 30,
        "accept": True,
        "notes": "x",
    }


def _acme_fingerprint(portal: Portal, acme_id: str, acme_user_ids: list[str]) -> str:
    """A hash of every row that belongs to acme or its people, in every table."""
    digest = hashlib.sha256()
    with portal.sessionmaker() as session:
        inspector = inspect(session.connection())
        for table in sorted(inspector.get_table_names()):
            columns = {c["name"] for c in inspector.get_columns(table)}
            clauses = []
            if "org_id" in columns:
                clauses.append("org_id = :org")
            if "user_id" in columns:
                clauses.append("user_id IN :users")
            if table == "organisations":
                clauses.append("id = :org")
            if not clauses:
                continue
            query = text(f'SELECT * FROM "{table}" WHERE {" OR ".join(clauses)} ORDER BY 1')
            params: dict[str, Any] = {"org": acme_id}
            if "user_id" in columns:
                query = query.bindparams(bindparam("users", expanding=True))
                params["users"] = acme_user_ids
            for row in session.execute(query, params):
                digest.update(repr((table, tuple(row))).encode())
    return digest.hexdigest()


def _operations(client: TestClient) -> list[tuple[str, str, dict[str, Any]]]:
    paths = client.get("/api/v1/openapi.json").json()["paths"]
    return [(method.upper(), path, op) for path, ops in paths.items() for method, op in ops.items()]


def test_authorization_matrix(portal: Portal) -> None:
    ids = _seed_acme(portal)
    with portal.sessionmaker() as session:
        acme_id = session.scalars(select(Organisation.id).where(Organisation.slug == "acme")).one()
    acme_users = [portal.principal(name).user_id for name in ("alice", "bob")]
    secrets = {
        acme_id,
        ids["allocation_id"],
        ids["booking_id"],
        ids["dataset_id"],
        ids["grant_id"],
        ids["token_id"],
        ids["job_id"],
        "acme-private-scans",
        "pretraining acme-model",
    }
    before = _acme_fingerprint(portal, acme_id, acme_users)

    operations = _operations(portal.client())
    assert len(operations) >= 40
    callers = {None: portal.client(), **{name: portal.client(name) for name in OUTSIDERS}}
    insider = portal.client("root")
    problems: list[str] = []
    for method, path, op in operations:
        url = _resolve(path, ids)
        for name, client in callers.items():
            response = client.request(method, url, json=_body(op))
            label = f"{name or 'anonymous'}: {method} {path} -> {response.status_code}"
            if response.status_code >= 500:
                problems.append(f"{label} (server error)")
            if name is None:
                if (method, path) not in PUBLIC and response.status_code != 401:
                    problems.append(f"{label} (anonymous must get 401)")
                continue
            if response.status_code < 300:
                if method != "GET" and "{" in path:
                    problems.append(f"{label} (an outsider changed an acme object)")
                leaked = [s for s in secrets if s in response.text]
                if leaked:
                    problems.append(f"{label} (leaked {leaked})")
            elif method == "GET" and "{" in path and path not in SHARED_READS and response.status_code != 404:
                problems.append(f"{label} (another tenant's object must look absent: 404)")
        if method == "GET" and "{" in path and not path.startswith(NEEDS_MLFLOW + NO_MATRIX_OBJECT):
            seen = insider.get(url)
            if seen.status_code != 200:
                problems.append(f"root: GET {path} -> {seen.status_code} (the matrix object must exist)")

    assert not problems, "\n".join(problems)
    assert _acme_fingerprint(portal, acme_id, acme_users) == before, "an outsider changed acme's data"
