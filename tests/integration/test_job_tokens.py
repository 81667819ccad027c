"""Short-lived per-job tokens: one organisation, member rights only, refused when expired or forged.

Every test runs on SQLite and PostgreSQL (the `portal` fixture); one goes through the real MLflow
gateway to a real MLflow server with workspaces.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete

from aicommons.portal.auth import job_tokens, tokens
from aicommons.portal.auth import repository as users
from aicommons.portal.auth import service as auth_service
from aicommons.portal.core.db import transaction
from aicommons.portal.core.errors import Unauthenticated
from aicommons.portal.core.time import utcnow
from aicommons.portal.orgs import repository as orgs
from aicommons.portal.orgs.models import Membership
from tests.conftest import Portal
from tests.fixtures.mlflow_server import serve_mlflow

EXPERIMENTS = "/mlflow/api/2.0/mlflow/experiments/search"


def _ids(portal: Portal, username: str, slug: str) -> tuple[str, str]:
    with transaction(portal.sessionmaker) as session:
        user, org = users.user_by_username(session, username), orgs.by_slug(session, slug)
        assert user is not None and org is not None
        return user.id, org.id


def _job_token(portal: Portal, username: str, slug: str, job_id: str = "job-1", ttl_s: int = 600) -> str:
    user_id, org_id = _ids(portal, username, slug)
    with transaction(portal.sessionmaker) as session:
        return job_tokens.issue_job_token(
            session, portal.settings, user_id=user_id, org_id=org_id, job_id=job_id, ttl_s=ttl_s
        )


def _client(portal: Portal, token: str) -> TestClient:
    client = TestClient(portal.app, raise_server_exceptions=False)
    client.headers["Authorization"] = f"Bearer {token}"
    return client


def _claims(token: str) -> dict[str, object]:
    payload = token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))


def test_job_token_is_a_member_of_its_organisation_only(portal: Portal) -> None:
    # bob is a steward of acme: his job is still only a member.
    token = _job_token(portal, "bob", "acme", job_id="job-42")
    claims = _claims(token)
    assert claims["aicommons_job"] == "job-42" and claims["aicommons_org"] == _ids(portal, "bob", "acme")[1]
    assert int(claims["exp"]) - int(claims["iat"]) == 600  # type: ignore[call-overload]

    with transaction(portal.sessionmaker) as session:
        principal = auth_service.authenticate(session, portal.settings, token)
    assert principal.auth_method == "job" and principal.job_id == "job-42"
    assert principal.memberships == {_ids(portal, "bob", "acme")[1]: "member"}
    assert not principal.is_admin

    job = _client(portal, token)
    assert job.get("/api/v1/orgs/acme").status_code == 200
    assert job.get("/api/v1/orgs/beta").status_code == 404
    assert job.get("/api/v1/me").json()["auth_method"] == "job"
    # Steward rights do not travel with the job: renaming the organisation is refused.
    assert job.patch("/api/v1/orgs/acme", json={"name": "Renamed"}).status_code == 403
    assert portal.client("bob").patch("/api/v1/orgs/acme", json={"name": "Acme"}).status_code == 200


def test_job_token_cannot_manage_tokens_or_organisations(portal: Portal) -> None:
    job = _client(portal, _job_token(portal, "alice", "acme"))
    created = job.post("/api/v1/tokens", json={"name": "escape"})
    assert created.status_code == 403 and created.json()["error"]["code"] == "auth.job_token_forbidden"
    assert job.get("/api/v1/tokens").status_code == 403
    assert job.post("/api/v1/orgs", json={"slug": "gamma", "name": "Gamma"}).status_code == 403
    # The same user signed in normally still may.
    assert portal.client("alice").post("/api/v1/tokens", json={"name": "mine"}).status_code == 201


def test_an_administrators_job_token_is_not_an_administrator(portal: Portal) -> None:
    # root is an administrator and not a member of acme; the job still runs for acme only.
    job = _client(portal, _job_token(portal, "root", "acme"))
    assert job.get("/api/v1/orgs/acme").status_code == 200
    assert job.get("/api/v1/orgs/beta").status_code == 404
    assert job.get("/api/v1/users").status_code == 403
    assert job.post("/api/v1/orgs", json={"slug": "gamma", "name": "Gamma"}).status_code == 403
    assert job.post("/api/v1/users", json={"username": "eve", "password": "x" * 12}).status_code == 403
    assert portal.client("root").get("/api/v1/users").status_code == 200


def test_expired_token_is_refused(portal: Portal, monkeypatch: pytest.MonkeyPatch) -> None:
    # Issued two hours ago for one hour: expired well beyond the validation leeway.
    monkeypatch.setattr(job_tokens, "utcnow", lambda: utcnow() - timedelta(hours=2))
    token = _job_token(portal, "alice", "acme", ttl_s=3600)
    monkeypatch.undo()
    response = _client(portal, token).get("/api/v1/orgs/acme")
    assert response.status_code == 401 and response.json()["error"]["code"] == "auth.token_expired"


def test_tampered_token_is_refused(portal: Portal) -> None:
    token = _job_token(portal, "alice", "acme")
    header, payload, signature = token.split(".")
    claims = _claims(token)
    claims["aicommons_org"] = _ids(portal, "carol", "beta")[1]
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    assert _client(portal, f"{header}.{forged}.{signature}").get("/api/v1/orgs/beta").status_code == 401
    flipped = signature[:-2] + ("AA" if not signature.endswith("AA") else "BB")
    assert _client(portal, f"{header}.{payload}.{flipped}").get("/api/v1/orgs/acme").status_code == 401
    # Dropping the job claims does not turn it into an ordinary access token either.
    del claims["aicommons_job"], claims["aicommons_org"]
    plain = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    assert _client(portal, f"{header}.{plain}.{signature}").get("/api/v1/orgs/acme").status_code == 401


def test_job_token_is_not_an_access_token(portal: Portal) -> None:
    token = _job_token(portal, "alice", "acme")
    with transaction(portal.sessionmaker) as session, pytest.raises(Unauthenticated):
        tokens.validate_local(session, portal.settings, token)


def test_leaving_the_organisation_cuts_the_job_off(portal: Portal) -> None:
    token = _job_token(portal, "alice", "acme")
    assert _client(portal, token).get("/api/v1/orgs/acme").status_code == 200
    user_id, org_id = _ids(portal, "alice", "acme")
    with transaction(portal.sessionmaker) as session:
        session.execute(delete(Membership).where(Membership.org_id == org_id, Membership.user_id == user_id))
    assert _client(portal, token).get("/api/v1/orgs/acme").status_code == 401


def test_lifetime_is_bounded(portal: Portal) -> None:
    for ttl_s in (0, -5, job_tokens.MAX_TTL_S + 1):
        with pytest.raises(ValueError):
            _job_token(portal, "alice", "acme", ttl_s=ttl_s)


# --- through the real MLflow gateway --------------------------------------------------------


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with serve_mlflow(tmp_path_factory.mktemp("mlflow")) as url:
        yield url


@pytest.mark.slow
def test_job_token_reaches_only_its_workspace_in_mlflow(portal: Portal, mlflow_server: str) -> None:
    portal.settings.mlflow_external_url = mlflow_server
    job = _bearer(_job_token(portal, "bob", "acme"))
    admin_job = _bearer(_job_token(portal, "root", "acme"))
    root = _bearer(portal.client("root").headers["Authorization"].removeprefix("Bearer "))
    acme, beta = {"X-MLFLOW-WORKSPACE": "acme"}, {"X-MLFLOW-WORKSPACE": "beta"}
    name = f"job-experiment-{portal.backend}"
    # One client (one event loop) for every call: the gateway keeps its upstream connections.
    with TestClient(portal.app, raise_server_exceptions=False) as http:
        created = http.post(
            "/mlflow/api/2.0/mlflow/experiments/create", json={"name": name}, headers={**job, **acme}
        )
        assert created.status_code == 200, created.text
        # No workspace named: the job's one organisation is used.
        listed = http.get(EXPERIMENTS, params={"max_results": 50}, headers=job)
        assert listed.status_code == 200, listed.text
        assert name in {e["name"] for e in listed.json().get("experiments", [])}
        assert http.get(EXPERIMENTS, params={"max_results": 5}, headers={**job, **beta}).status_code == 403
        assert http.get("/mlflow/api/3.0/mlflow/workspaces", headers=job).status_code == 403
        # An administrator's job cannot manage workspaces or reach other organisations either.
        assert http.get("/mlflow/api/3.0/mlflow/workspaces", headers=admin_job).status_code == 403
        assert http.get(EXPERIMENTS, headers={**admin_job, **beta}).status_code == 403
        assert http.get("/mlflow/api/3.0/mlflow/workspaces", headers={**root, **acme}).status_code == 200


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
