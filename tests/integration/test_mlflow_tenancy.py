"""MLflow tenancy through the portal's gateway, proven with the stock `mlflow` client.

A real MLflow server (workspaces enabled, loopback only) sits behind a real portal. Organisation
A's token creates runs, logs artifacts and registers models in A's workspace; B's token gets 403
for A's workspace and cannot find A's experiments, runs, artifacts or models from its own.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.fixtures.mlflow_server import run_mlflow_client, serve_mlflow
from tests.fixtures.portal_server import ServedPortal, serve_portal

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with serve_mlflow(tmp_path_factory.mktemp("mlflow")) as url:
        yield url


@pytest.fixture(scope="module")
def portal(mlflow_server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedPortal]:
    with serve_portal(
        tmp_path_factory.mktemp("portal"), {"AICOMMONS_MLFLOW_EXTERNAL_URL": mlflow_server}
    ) as served:
        admin = _api(served, "admin", served.admin_password)
        for slug in ("acme", "beta"):
            assert admin.post("/api/v1/orgs", json={"slug": slug, "name": slug.title()}).status_code == 201
        for user, org in (("alice", "acme"), ("carol", "beta")):
            created = admin.post("/api/v1/users", json={"username": user, "password": f"{user}-password-1"})
            assert created.status_code == 201
            assert admin.post(f"/api/v1/orgs/{org}/members", json={"username": user}).status_code == 201
        yield served


def _api(served: ServedPortal, username: str, password: str) -> httpx.Client:
    token = httpx.post(f"{served.url}/api/v1/auth/token", json={"username": username, "password": password})
    return httpx.Client(
        base_url=served.url, headers={"Authorization": f"Bearer {token.json()['access_token']}"}
    )


def _token(served: ServedPortal, username: str) -> str:
    created = _api(served, username, f"{username}-password-1").post("/api/v1/tokens", json={"name": "mlflow"})
    return str(created.json()["token"])


OWNER_SCRIPT = """
mlflow.set_experiment("acme-detector")
with mlflow.start_run() as run:
    mlflow.log_param("lr", 0.01)
    for step in range(3):
        mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
    open("notes.txt", "w").write("acme secret notes")
    mlflow.log_artifact("notes.txt", artifact_path="out")
client = MlflowClient()
client.create_registered_model("acme-model")
source = f"runs:/{run.info.run_id}/out"
version = client.create_model_version("acme-model", source=source, run_id=run.info.run_id)
path = client.download_artifacts(run.info.run_id, "out/notes.txt", ".")
print(json.dumps({"experiment_id": run.info.experiment_id, "run_id": run.info.run_id,
                  "version": version.version, "artifact": open(path).read()}))
"""


def test_owner_tracks_runs_artifacts_and_models(portal: ServedPortal, tmp_path: Path) -> None:
    made = run_mlflow_client(portal.url, _token(portal, "alice"), "acme", OWNER_SCRIPT, tmp_path)
    assert made["artifact"] == "acme secret notes" and made["version"] == "1"


def test_other_organisation_is_refused_and_sees_nothing(portal: ServedPortal, tmp_path: Path) -> None:
    made = run_mlflow_client(
        portal.url,
        _token(portal, "alice"),
        "acme",
        OWNER_SCRIPT.replace("acme-model", "acme-model-2"),
        tmp_path,
    )
    carol = _token(portal, "carol")
    refused = run_mlflow_client(
        portal.url,
        carol,
        "acme",
        """
    try:
        mlflow.search_experiments()
        print(json.dumps({"status": "allowed"}))
    except MlflowException as exc:
        print(json.dumps({"status": "refused", "message": str(exc)[:300]}))
    """,
        tmp_path,
    )
    assert refused["status"] == "refused" and "403" in str(refused["message"])

    from_beta = run_mlflow_client(
        portal.url,
        carol,
        "beta",
        f"""
    client = MlflowClient()
    outcome = {{}}
    for name, call in {{
        "experiment": lambda: client.get_experiment("{made["experiment_id"]}"),
        "run": lambda: client.get_run("{made["run_id"]}"),
        "artifact": lambda: client.download_artifacts("{made["run_id"]}", "out/notes.txt", "."),
        "model": lambda: client.get_registered_model("acme-model-2"),
        "version": lambda: client.get_model_version("acme-model-2", "1"),
    }}.items():
        try:
            call()
            outcome[name] = "visible"
        except Exception as exc:
            outcome[name] = type(exc).__name__
    outcome["experiments"] = [e.name for e in client.search_experiments()]
    outcome["models"] = [m.name for m in client.search_registered_models()]
    print(json.dumps(outcome))
    """,
        tmp_path,
    )
    assert all(from_beta[k] != "visible" for k in ("experiment", "run", "artifact", "model", "version")), (
        from_beta
    )
    assert "acme-detector" not in from_beta["experiments"]  # type: ignore[operator]
    assert not any(name.startswith("acme") for name in from_beta["models"])  # type: ignore[attr-defined]


def test_gateway_needs_a_portal_token_and_guards_workspace_admin(portal: ServedPortal) -> None:
    anonymous = httpx.get(f"{portal.url}/mlflow/api/2.0/mlflow/experiments/search", params={"max_results": 5})
    assert anonymous.status_code == 401
    alice = httpx.Client(base_url=portal.url, headers={"Authorization": f"Bearer {_token(portal, 'alice')}"})
    assert alice.get("/mlflow/api/3.0/mlflow/workspaces").status_code == 403
    # One organisation and no workspace chosen: the gateway uses it.
    assert (
        alice.get("/mlflow/api/2.0/mlflow/experiments/search", params={"max_results": 5}).status_code == 200
    )
