"""Model views over a real MLflow server: experiments, runs, metric series, registered models and
their lineage, through the REST API and the web pages, in English and Chinese.

Organisation acme logs runs and registers a model with the stock `mlflow` client through the
portal's gateway (a real uvicorn portal, as a training script would); beta logs its own run. Then
the API and pages of that portal, and of the in-process portal on SQLite and PostgreSQL (same
MLflow, same workspace names), show acme's data to acme only.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from aicommons.portal.web.messages import MESSAGES
from tests.conftest import Portal
from tests.fixtures.mlflow_server import run_mlflow_client, serve_mlflow
from tests.fixtures.portal_server import ServedPortal, free_port, serve_portal

pytestmark = pytest.mark.slow

CSRF_RE = re.compile(r'name="csrf_token" value="([0-9a-f]+)"')
JOB_ID = "job-7f3a9c"
DATASETS_TAG = json.dumps(
    [
        {"dataset": "street-signs", "version": 3, "version_id": "v-1"},
        {"dataset": "lidar-scans", "version": 12},
    ]
)
STEPS = 1500
SPIKE_STEP = 777

ACME_SCRIPT = f"""
import time
from mlflow.entities import Metric
mlflow.set_experiment("vision-detector")
client = MlflowClient()
with mlflow.start_run(run_name="baseline-run") as run:
    mlflow.log_params({{"lr": "0.01", "epochs": "3"}})
    mlflow.set_tags({{"aicommons.job_id": "{JOB_ID}", "aicommons.dataset_versions": {DATASETS_TAG!r}}})
    now = int(time.time() * 1000)
    points = [Metric("loss", 1.0 / (s + 1), now + s, s) for s in range({STEPS})]
    points[{SPIKE_STEP}] = Metric("loss", 50.0, now + {SPIKE_STEP}, {SPIKE_STEP})
    for start in range(0, {STEPS}, 1000):
        client.log_batch(run.info.run_id, metrics=points[start:start + 1000])
    for step, value in enumerate([0.5, 0.7, 0.9]):
        mlflow.log_metric("accuracy", value, step=step)
with mlflow.start_run(run_name="tuned-run") as tuned:
    mlflow.log_param("lr", "0.001")
    mlflow.log_metric("loss", float("nan"), step=0)
    mlflow.log_metric("loss", 0.125, step=1)
client.create_registered_model("detector")
source = f"runs:/{{run.info.run_id}}/model"
version = client.create_model_version("detector", source=source, run_id=run.info.run_id)
print(json.dumps({{"experiment_id": run.info.experiment_id, "run_id": run.info.run_id,
                  "tuned_id": tuned.info.run_id, "version": version.version}}))
"""

BETA_SCRIPT = """
mlflow.set_experiment("beta-secret-experiment")
with mlflow.start_run(run_name="beta-secret-run") as run:
    mlflow.log_metric("loss", 0.5, step=0)
print(json.dumps({"experiment_id": run.info.experiment_id, "run_id": run.info.run_id}))
"""


# --- fixtures: MLflow, a served portal, and what the stock client logged --------------------


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with serve_mlflow(tmp_path_factory.mktemp("mlflow")) as url:
        yield url


@pytest.fixture(scope="module")
def served(mlflow_server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedPortal]:
    with serve_portal(
        tmp_path_factory.mktemp("portal"), {"AICOMMONS_MLFLOW_EXTERNAL_URL": mlflow_server}
    ) as portal:
        admin = _api(portal, "admin", portal.admin_password)
        for slug in ("acme", "beta"):
            assert admin.post("/api/v1/orgs", json={"slug": slug, "name": slug.title()}).status_code == 201
        for user, org in (("alice", "acme"), ("carol", "beta")):
            created = admin.post("/api/v1/users", json={"username": user, "password": f"{user}-password-1"})
            assert created.status_code == 201
            assert admin.post(f"/api/v1/orgs/{org}/members", json={"username": user}).status_code == 201
        yield portal


@pytest.fixture(scope="module")
def logged(served: ServedPortal, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("scripts")
    alice, carol = _token(served, "alice"), _token(served, "carol")
    acme = run_mlflow_client(served.url, alice, "acme", ACME_SCRIPT, folder)
    beta = run_mlflow_client(served.url, carol, "beta", BETA_SCRIPT, folder)
    return {**acme, "beta_run_id": beta["run_id"], "beta_experiment_id": beta["experiment_id"]}


def _api(served: ServedPortal, username: str, password: str | None = None) -> httpx.Client:
    password = password or f"{username}-password-1"
    token = httpx.post(f"{served.url}/api/v1/auth/token", json={"username": username, "password": password})
    assert token.status_code == 200, token.text
    return httpx.Client(
        base_url=served.url, headers={"Authorization": f"Bearer {token.json()['access_token']}"}, timeout=60
    )


def _token(served: ServedPortal, username: str) -> str:
    created = _api(served, username).post("/api/v1/tokens", json={"name": "mlflow"})
    return str(created.json()["token"])


# --- the REST API ---------------------------------------------------------------------------


def test_experiments_and_runs(served: ServedPortal, logged: dict[str, Any]) -> None:
    alice = _api(served, "alice")
    experiments = alice.get("/api/v1/orgs/acme/experiments")
    assert experiments.status_code == 200, experiments.text
    assert [e["name"] for e in experiments.json()] == ["vision-detector"]
    assert experiments.json()[0]["id"] == logged["experiment_id"]

    runs = alice.get(f"/api/v1/orgs/acme/experiments/{logged['experiment_id']}/runs")
    assert runs.status_code == 200, runs.text
    by_name = {r["name"]: r for r in runs.json()}
    assert set(by_name) == {"baseline-run", "tuned-run"}
    baseline, tuned = by_name["baseline-run"], by_name["tuned-run"]
    assert baseline["status"] == "FINISHED" and baseline["start_time"] and baseline["end_time"]
    assert baseline["params"] == {"epochs": "3", "lr": "0.01"}
    assert baseline["metrics"] == {"accuracy": 0.9, "loss": pytest.approx(1.0 / STEPS)}
    assert baseline["job_id"] == JOB_ID and baseline["tags"]["aicommons.job_id"] == JOB_ID
    assert [(d["dataset"], d["version"]) for d in baseline["dataset_versions"]] == [
        ("street-signs", "3"),
        ("lidar-scans", "12"),
    ]
    assert tuned["metrics"] == {"loss": 0.125} and tuned["job_id"] is None

    run = alice.get(f"/api/v1/orgs/acme/runs/{logged['run_id']}")
    assert run.status_code == 200 and run.json()["name"] == "baseline-run"
    missing = alice.get("/api/v1/orgs/acme/experiments/999999/runs")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "tracking.experiment_not_found"


def test_metric_series_are_complete_or_downsampled(served: ServedPortal, logged: dict[str, Any]) -> None:
    alice = _api(served, "alice")
    accuracy = alice.get(f"/api/v1/orgs/acme/runs/{logged['run_id']}/metrics/accuracy").json()
    assert [(p["step"], p["value"]) for p in accuracy["points"]] == [(0, 0.5), (1, 0.7), (2, 0.9)]
    assert accuracy["total_points"] == 3 and not accuracy["downsampled"]

    loss = alice.get(f"/api/v1/orgs/acme/runs/{logged['run_id']}/metrics/loss").json()
    assert loss["total_points"] == STEPS and loss["downsampled"] and len(loss["points"]) <= 1000
    steps = [p["step"] for p in loss["points"]]
    assert steps == sorted(steps) and steps[0] == 0 and steps[-1] == STEPS - 1
    values = {p["step"]: p["value"] for p in loss["points"]}
    assert values[0] == 1.0 and values[SPIKE_STEP] == 50.0  # the spike survives downsampling

    small = alice.get(
        f"/api/v1/orgs/acme/runs/{logged['run_id']}/metrics/loss", params={"max_points": 50}
    ).json()
    assert len(small["points"]) <= 50 and SPIKE_STEP in {p["step"] for p in small["points"]}

    # A NaN travels as null, not as invalid JSON or a server error.
    tuned = alice.get(f"/api/v1/orgs/acme/runs/{logged['tuned_id']}/metrics/loss")
    assert tuned.status_code == 200 and [p["value"] for p in tuned.json()["points"]] == [None, 0.125]
    unknown = alice.get(f"/api/v1/orgs/acme/runs/{logged['run_id']}/metrics/no-such-metric")
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "tracking.metric_not_found"


def test_registered_models_with_lineage(served: ServedPortal, logged: dict[str, Any]) -> None:
    models = _api(served, "alice").get("/api/v1/orgs/acme/registered-models")
    assert models.status_code == 200, models.text
    assert [m["name"] for m in models.json()] == ["detector"]
    (version,) = models.json()[0]["versions"]
    assert version["version"] == logged["version"] == "1" and version["run_id"] == logged["run_id"]
    lineage = version["lineage"]
    assert lineage["run_found"] and lineage["run_name"] == "baseline-run"
    assert lineage["experiment_id"] == logged["experiment_id"] and lineage["job_id"] == JOB_ID
    assert [d["dataset"] for d in lineage["dataset_versions"]] == ["street-signs", "lidar-scans"]
    assert lineage["dataset_versions"][0]["version_id"] == "v-1"


def test_other_organisations_see_nothing(served: ServedPortal, logged: dict[str, Any]) -> None:
    carol = _api(served, "carol")
    for path in ("experiments", f"runs/{logged['run_id']}", "registered-models"):
        assert carol.get(f"/api/v1/orgs/acme/{path}").status_code == 404, path
    # From her own organisation, acme's run id is simply not there.
    run = carol.get(f"/api/v1/orgs/beta/runs/{logged['run_id']}")
    assert run.status_code == 404 and run.json()["error"]["code"] == "tracking.run_not_found"
    assert carol.get(f"/api/v1/orgs/beta/runs/{logged['run_id']}/metrics/loss").status_code == 404
    assert carol.get(f"/api/v1/orgs/beta/experiments/{logged['experiment_id']}/runs").status_code == 404
    assert [e["name"] for e in carol.get("/api/v1/orgs/beta/experiments").json()] == [
        "beta-secret-experiment"
    ]
    assert carol.get("/api/v1/orgs/beta/registered-models").json() == []
    alice = _api(served, "alice")
    assert alice.get(f"/api/v1/orgs/acme/runs/{logged['beta_run_id']}").status_code == 404
    # The administrator sees every organisation's models.
    admin = _api(served, "admin", served.admin_password)
    assert admin.get("/api/v1/orgs/beta/experiments").status_code == 200
    assert admin.get(f"/api/v1/orgs/acme/runs/{logged['run_id']}").status_code == 200


# --- the same API in-process, on SQLite and PostgreSQL ---------------------------------------


def test_both_database_backends(portal: Portal, mlflow_server: str, logged: dict[str, Any]) -> None:
    portal.settings.mlflow_external_url = mlflow_server
    alice, carol = portal.client("alice"), portal.client("carol")
    experiments = alice.get("/api/v1/orgs/acme/experiments")
    assert experiments.status_code == 200, experiments.text
    assert "vision-detector" in [e["name"] for e in experiments.json()]
    assert alice.get(f"/api/v1/orgs/acme/runs/{logged['run_id']}").json()["job_id"] == JOB_ID
    assert carol.get("/api/v1/orgs/acme/experiments").status_code == 404
    assert carol.get(f"/api/v1/orgs/beta/runs/{logged['run_id']}").status_code == 404


def test_tracking_down_is_a_clear_503(portal: Portal) -> None:
    portal.settings.mlflow_external_url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    response = portal.client("alice").get("/api/v1/orgs/acme/experiments")
    assert response.status_code == 503, response.text
    assert response.json()["error"]["code"] == "tracking.unavailable" and "Traceback" not in response.text
    zh = portal.client("alice", lang="zh-CN").get("/api/v1/orgs/acme/registered-models")
    assert zh.status_code == 503 and "模型跟踪服务不可用" in zh.json()["error"]["message"]
    # Membership is checked first: another organisation's member learns nothing, not even that.
    assert portal.client("carol").get("/api/v1/orgs/acme/experiments").status_code == 404


# --- the web pages --------------------------------------------------------------------------


def _browser(served: ServedPortal, username: str, lang: str) -> httpx.Client:
    browser = httpx.Client(base_url=served.url, timeout=60)
    page = browser.get("/login")
    password = served.admin_password if username == "admin" else f"{username}-password-1"
    signed_in = browser.post(
        "/login", data={"username": username, "password": password, "csrf_token": _csrf(page.text)}
    )
    assert signed_in.status_code == 303, signed_in.text
    page = browser.get("/tokens")
    switched = browser.post(f"/lang/{lang}", data={"csrf_token": _csrf(page.text), "next": "/"})
    assert switched.status_code == 303
    return browser


def _csrf(html: str) -> str:
    match = CSRF_RE.search(html)
    assert match, "no CSRF token in the page"
    return match.group(1)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_models_pages_in_both_languages(served: ServedPortal, logged: dict[str, Any], lang: str) -> None:
    browser = _browser(served, "alice", lang)
    home = browser.get("/models")
    assert home.status_code == 303 and home.headers["location"] == "/orgs/acme/models"

    page = browser.get("/orgs/acme/models")
    assert page.status_code == 200, page.text[:500]
    text = page.text
    assert MESSAGES["web.models.org_title"][lang].format(name="Acme") in text
    assert MESSAGES["web.models.registered"][lang] in text and MESSAGES["web.nav.models"][lang] in text
    for name in ("vision-detector", "baseline-run", "tuned-run", "detector"):
        assert name in text, name
    assert f'href="/jobs/{JOB_ID}"' in text
    assert 'href="/datasets/street-signs"' in text and 'href="/datasets/lidar-scans"' in text
    assert f'href="/orgs/acme/models/runs/{logged["run_id"]}"' in text
    assert "beta-secret" not in text

    run = browser.get(f"/orgs/acme/models/runs/{logged['run_id']}")
    assert run.status_code == 200, run.text[:500]
    assert MESSAGES["web.models.run_title"][lang].format(name="baseline-run") in run.text
    assert MESSAGES["web.models.charts"][lang] in run.text and "echarts.min.js" in run.text
    assert 'data-metric-chart="metric-data-1"' in run.text and 'data-metric-chart="metric-data-2"' in run.text
    assert f'href="/jobs/{JOB_ID}"' in run.text and 'href="/datasets/street-signs"' in run.text
    charts = re.findall(r'<script type="application/json" id="metric-data-\d+">(.*?)</script>', run.text)
    loss = next(json.loads(c) for c in charts if json.loads(c)["key"] == "loss")
    assert len(loss["points"]) <= 1000 and [SPIKE_STEP, 50.0] in loss["points"]


def test_pages_keep_organisations_apart(served: ServedPortal, logged: dict[str, Any]) -> None:
    carol = _browser(served, "carol", "en")
    assert carol.get("/orgs/acme/models").status_code == 404
    assert carol.get(f"/orgs/acme/models/runs/{logged['run_id']}").status_code == 404
    assert carol.get(f"/orgs/beta/models/runs/{logged['run_id']}").status_code == 404
    own = carol.get("/orgs/beta/models")
    assert own.status_code == 200 and "beta-secret-run" in own.text and "baseline-run" not in own.text
    # The administrator belongs to no organisation: /models offers them all.
    admin = _browser(served, "admin", "en")
    choice = admin.get("/models")
    assert choice.status_code == 200
    assert 'href="/orgs/acme/models"' in choice.text and 'href="/orgs/beta/models"' in choice.text
