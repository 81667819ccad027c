"""Jobs end to end on real Ray and real MLflow, through a served portal whose reconcile loop launches them:
submit → run → logs → MLflow run in the organisation's workspace; cancel; timeout; reclaim by preemption."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from aicommons.portal.client import AicommonsClient
from aicommons.portal.client import jobs as jobs_api
from aicommons.scheduler.jobs.schemas import JobCreate, JobOut
from tests.fixtures.mlflow_server import serve_mlflow
from tests.fixtures.portal_server import ServedPortal, serve_portal

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]
PASSWORDS = {"alice": "alice-password-1", "carol": "carol-password-1"}
SLEEPER = textwrap.dedent(
    """
    import os, sys, time, pathlib
    seconds, markers = float(sys.argv[1]), pathlib.Path(sys.argv[2])
    markers.mkdir(parents=True, exist_ok=True)
    with open(markers / os.environ["AICOMMONS_JOB_ID"], "a") as out:
        out.write(os.environ["AICOMMONS_ATTEMPT"] + "\\n")
    print("started", os.environ["AICOMMONS_JOB_ID"], os.environ.get("MLFLOW_WORKSPACE"), flush=True)
    time.sleep(seconds)
    print("done", flush=True)
    """
)


@pytest.fixture(scope="module")
def stack(ray_head: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServedPortal, Any]]:
    with serve_mlflow(tmp_path_factory.mktemp("mlflow")) as mlflow_url:
        env = {
            "AICOMMONS_MLFLOW_EXTERNAL_URL": mlflow_url,
            "AICOMMONS_RAY_EXTERNAL_DASHBOARD_URL": ray_head.dashboard_url,
            "AICOMMONS_SCHEDULER_ENABLED": "true",
            "AICOMMONS_SCHEDULER_PERIOD_S": "0.5",
            "AICOMMONS_JOBS_STOP_GRACE_S": "2",
        }
        with serve_portal(tmp_path_factory.mktemp("portal"), env) as served:
            _seed(served, ray_head.flavour, ray_head.capacity)
            try:
                yield served, ray_head
            finally:
                stop_leftover_ray_jobs(ray_head.dashboard_url)


def stop_leftover_ray_jobs(dashboard_url: str) -> None:
    """A failed test must not leave jobs holding the shared Ray head's flavour for the next modules."""
    from ray.job_submission import JobSubmissionClient

    client = JobSubmissionClient(dashboard_url)
    for info in client.list_jobs():
        if info.submission_id and not info.status.is_terminal():
            client.stop_job(info.submission_id)


def _admin(served: ServedPortal) -> httpx.Client:
    token = httpx.post(
        f"{served.url}/api/v1/auth/token", json={"username": "admin", "password": served.admin_password}
    ).json()["access_token"]
    return httpx.Client(base_url=f"{served.url}/api/v1", headers={"Authorization": f"Bearer {token}"})


def _seed(served: ServedPortal, flavour: str, capacity: int) -> None:
    admin = _admin(served)
    checks = [admin.post("/flavours", json={"name": flavour, "pool": "test", "capacity_gpus": capacity})]
    for slug, user in (("acme", "alice"), ("beta", "carol")):
        checks.append(admin.post("/orgs", json={"slug": slug, "name": slug.title()}))
        checks.append(admin.post("/users", json={"username": user, "password": PASSWORDS[user]}))
        checks.append(admin.post(f"/orgs/{slug}/members", json={"username": user}))
        # a member asks for GPU-hours, the administrator approves (nobody approves their own request)
        member = _client(served, user)
        allocation = member._http.post(
            "/allocations",
            json={"org": slug, "gpu_hours": 100, "purpose": "tests", "flavour": flavour,
                  "valid_from": "2020-01-01T00:00:00Z", "valid_until": "2100-01-01T00:00:00Z"},
        )  # fmt: skip
        checks.append(allocation)
        checks.append(admin.post(f"/allocations/{allocation.json()['id']}/approve", json={}))
    # acme is guaranteed the whole flavour and lends all of it while idle; beta only borrows.
    quotas = (("acme", capacity, 0, capacity), ("beta", 0, capacity, 0))
    for slug, guaranteed, borrow, lend in quotas:
        body = {"org": slug, "flavour": flavour, "guaranteed_gpus": guaranteed,
                "borrow_limit_gpus": borrow, "lend_limit_gpus": lend}  # fmt: skip
        checks.append(admin.put("/quotas", json=body))
    for response in checks:
        assert response.status_code < 300, response.text


def _client(served: ServedPortal, user: str) -> AicommonsClient:
    token = httpx.post(
        f"{served.url}/api/v1/auth/token", json={"username": user, "password": PASSWORDS[user]}
    ).json()["access_token"]
    return AicommonsClient(served.url, token)


def _workdir(tmp_path: Path) -> Path:
    folder = tmp_path / "work"
    folder.mkdir(exist_ok=True)
    (folder / "sleeper.py").write_text(SLEEPER)
    return folder


def _submit(
    client: AicommonsClient, org: str, flavour: str, folder: Path, entrypoint: str, **extra: Any
) -> JobOut:
    archive = jobs_api.upload_archive(client, org, jobs_api.pack_directory(folder))
    body = {"name": entrypoint[:60], "org": org, "entrypoint": entrypoint, "flavour": flavour,
            "gpus_per_worker": 1, "time_limit_s": 600, "workdir_sha256": archive.sha256, **extra}  # fmt: skip
    return jobs_api.submit(client, JobCreate(**body))


def wait_for(client: AicommonsClient, job_id: str, states: set[str], timeout: float = 120) -> JobOut:
    deadline = time.monotonic() + timeout
    job = jobs_api.get(client, job_id)
    while job.state not in states and time.monotonic() < deadline:
        time.sleep(0.3)
        job = jobs_api.get(client, job_id)
    assert job.state in states, f"job {job_id} is {job.state} ({job.message}), expected {states}"
    return job


def test_job_runs_logs_and_records_its_mlflow_run(stack: tuple[ServedPortal, Any], tmp_path: Path) -> None:
    served, ray = stack
    alice = _client(served, "alice")
    example = tmp_path / "cpu-train"
    shutil.copytree(REPO / "examples" / "cpu-train", example)
    job = _submit(
        alice, "acme", ray.flavour, example, "python train.py --epochs 3", mlflow_experiment="e2e-acme"
    )
    done = wait_for(alice, job.id, {"SUCCEEDED", "FAILED"}, timeout=240)
    logs = jobs_api.logs(alice, job.id)
    assert done.state == "SUCCEEDED", logs[-3000:]
    assert "epoch" in logs.lower()
    assert done.started_at and done.ended_at and done.gpu_seconds_so_far >= 0
    transitions = [(e.from_state, e.to_state) for e in jobs_api.events(alice, job.id)]
    assert transitions[:2] == [("QUEUED", "ADMITTED"), ("ADMITTED", "STARTING")]
    assert transitions[-1][1] == "SUCCEEDED"
    runs = _mlflow_runs(served, "alice", "acme", "e2e-acme")
    assert any(run["tags"].get("aicommons.job_id") == job.id for run in runs), runs
    usage = jobs_api.usage(alice, job.id)
    assert len(usage) == 1 and usage[0].outcome == "succeeded" and usage[0].charged is True


def _mlflow_runs(served: ServedPortal, user: str, workspace: str, experiment: str) -> list[dict[str, Any]]:
    token = _client(served, user)._request("POST", "/tokens", json={"name": "check"}).json()["token"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env.update({"MLFLOW_TRACKING_URI": f"{served.url}/mlflow", "MLFLOW_TRACKING_TOKEN": token,
                "MLFLOW_WORKSPACE": workspace})  # fmt: skip
    script = textwrap.dedent(
        f"""
        import json
        from mlflow.tracking import MlflowClient
        client = MlflowClient()
        exp = client.get_experiment_by_name({experiment!r})
        runs = client.search_runs([exp.experiment_id]) if exp else []
        print(json.dumps([{{"id": r.info.run_id, "tags": r.data.tags}} for r in runs]))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return list(json.loads(result.stdout.strip().splitlines()[-1]))


def test_cancel_and_time_limit_stop_running_jobs(stack: tuple[ServedPortal, Any], tmp_path: Path) -> None:
    served, ray = stack
    alice, folder = _client(served, "alice"), _workdir(tmp_path)
    markers = tmp_path / "markers"
    long = _submit(alice, "acme", ray.flavour, folder, f"python sleeper.py 300 {markers}")
    wait_for(alice, long.id, {"RUNNING"})
    jobs_api.cancel(alice, long.id)
    cancelled = wait_for(alice, long.id, {"CANCELLED"}, timeout=60)
    assert cancelled.ended_at is not None
    limited = _submit(alice, "acme", ray.flavour, folder, f"python sleeper.py 300 {markers}", time_limit_s=4)
    timed_out = wait_for(alice, limited.id, {"TIMED_OUT"}, timeout=90)
    assert timed_out.started_at and timed_out.ended_at
    assert 3 <= (timed_out.ended_at - timed_out.started_at).total_seconds() <= 40
    assert [u.outcome for u in jobs_api.usage(alice, long.id)] == ["cancelled"]
    assert [u.outcome for u in jobs_api.usage(alice, limited.id)] == ["timed_out"]
    assert (markers / long.id).read_text() == "0\n"


def test_guarantee_is_reclaimed_by_preempting_the_borrower(
    stack: tuple[ServedPortal, Any], tmp_path: Path
) -> None:
    served, ray = stack
    alice, carol, folder = _client(served, "alice"), _client(served, "carol"), _workdir(tmp_path)
    markers = tmp_path / "markers"
    borrower = _submit(carol, "beta", ray.flavour, folder, f"python sleeper.py 300 {markers}",
                       gpus_per_worker=ray.capacity)  # fmt: skip
    wait_for(carol, borrower.id, {"RUNNING"})
    owner = _submit(alice, "acme", ray.flavour, folder, f"python sleeper.py 300 {markers}", gpus_per_worker=2)
    assert wait_for(alice, owner.id, {"QUEUED", "ADMITTED", "STARTING", "RUNNING"}).state
    requeued = wait_for(carol, borrower.id, {"QUEUED"}, timeout=90)
    assert requeued.attempt == 1 and requeued.queued_at == borrower.queued_at
    running = wait_for(alice, owner.id, {"RUNNING"}, timeout=90)
    assert running.state == "RUNNING"
    events = [(e.from_state, e.to_state) for e in jobs_api.events(carol, borrower.id)]
    assert ("RUNNING", "PREEMPTED") in events and ("PREEMPTED", "QUEUED") in events
    usage = jobs_api.usage(carol, borrower.id)
    assert len(usage) == 1 and usage[0].outcome == "preempted" and usage[0].charged is False
    # the borrower waits now, and says why
    why = jobs_api.why(carol, borrower.id)
    assert why.reason in {"quota_full", "waiting_for_capacity", "behind_jobs"} and why.message
    # once the owner is done, the borrower runs again: a second run under a new backend id
    jobs_api.cancel(alice, owner.id)
    wait_for(alice, owner.id, {"CANCELLED"}, timeout=60)
    rerun = wait_for(carol, borrower.id, {"RUNNING"}, timeout=120)
    assert rerun.attempt == 1
    deadline = time.monotonic() + 30
    while (markers / borrower.id).read_text() != "0\n1\n" and time.monotonic() < deadline:
        time.sleep(0.5)
    assert (markers / borrower.id).read_text() == "0\n1\n"
    assert "started" in jobs_api.logs(carol, borrower.id)
    jobs_api.cancel(carol, borrower.id)
    wait_for(carol, borrower.id, {"CANCELLED"}, timeout=60)


def test_cli_submits_follows_logs_and_explains(stack: tuple[ServedPortal, Any], tmp_path: Path) -> None:
    served, ray = stack
    folder, markers = _workdir(tmp_path), tmp_path / "markers"
    login = served.cli(
        "login", "--username", "alice", "--password", PASSWORDS["alice"], "--server", served.url
    )
    assert login.returncode == 0, login.stderr
    done = served.cli(
        "jobs", "submit", "--org", "acme", "--flavour", ray.flavour, "--time-limit", "10m",
        "--workdir", str(folder), "--follow", "--", "python", "sleeper.py", "1", str(markers),
        timeout=240,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "started" in done.stdout and "done" in done.stdout and "SUCCEEDED" in done.stdout
    too_big = served.cli(
        "jobs", "submit", "--org", "acme", "--flavour", ray.flavour, "--gpus", str(ray.capacity + 1),
        "--time-limit", "1h", "--", "true", lang="zh",
    )  # fmt: skip
    assert too_big.returncode == 1 and "张" in too_big.stderr and "Traceback" not in too_big.stderr
    bad_limit = served.cli(
        "jobs", "submit", "--org", "acme", "--flavour", ray.flavour, "--time-limit", "soon", "--", "true"
    )
    assert bad_limit.returncode == 2 and "duration" in bad_limit.stderr
    # beta's member asks for more than beta may borrow while acme holds the flavour: it waits, and says why
    alice = _client(served, "alice")
    holder = _submit(
        alice, "acme", ray.flavour, folder, f"python sleeper.py 120 {markers}", gpus_per_worker=ray.capacity
    )
    wait_for(alice, holder.id, {"RUNNING"})
    served.cli("login", "--username", "carol", "--password", PASSWORDS["carol"], "--server", served.url)
    queued = _submit(_client(served, "carol"), "beta", ray.flavour, folder, "python sleeper.py 1 x")
    deadline = time.monotonic() + 30
    why = served.cli("jobs", "why", queued.id)
    while "waits" not in why.stdout and time.monotonic() < deadline:
        time.sleep(1)
        why = served.cli("jobs", "why", queued.id)
    assert why.returncode == 0 and "waits" in why.stdout, why.stdout + why.stderr
    why_zh = served.cli("jobs", "why", queued.id, lang="zh")
    assert "等待原因" in why_zh.stdout
    listed = served.cli("jobs", "list", "--org", "beta", extra_env={"COLUMNS": "200"})
    assert queued.id[:8] in listed.stdout and "QUEUED" in listed.stdout
    for client, job_id in ((alice, holder.id), (_client(served, "carol"), queued.id)):
        jobs_api.cancel(client, job_id)
