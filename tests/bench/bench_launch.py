"""Launch overhead on a local Ray head (prints figures; JSON on its last line).

Submit → RUNNING through the portal (REST submit, the reconcile loop's admission cycle, the local Ray
launcher on Ray's Job Submission API, status synced back to the job row, observed by polling the
portal's API) against a raw submission of the same entrypoint with Ray's own `JobSubmissionClient`
(observed by polling Ray), alternating, in the same run and on the same Ray head. Target: ratio ≤ 1.3.

Run: .venv/bin/python -m tests.bench.bench_launch
"""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from ray.job_submission import JobStatus, JobSubmissionClient

from aicommons.portal.client import AicommonsClient
from aicommons.portal.client import jobs as jobs_api
from aicommons.scheduler.jobs.schemas import JobCreate
from tests.fixtures.portal_server import free_port, serve_portal
from tests.integration.test_scheduler_ray import PASSWORDS, _seed

ROUNDS = 6
FLAVOUR, CAPACITY = "BENCH-GPU", 2
ENTRYPOINT = "python -c \"import time; print('hello', flush=True); time.sleep(2)\""
POLL_S = 0.02


@contextmanager
def ray_head(folder: Path) -> Iterator[str]:
    gcs, dashboard, client_port = free_port(), free_port(), free_port()
    temp = Path(tempfile.mkdtemp(prefix="aicb-", dir="/tmp"))
    argv = [
        sys.executable, "-m", "ray.scripts.scripts", "start", "--head", "--block",
        "--node-ip-address=127.0.0.1", f"--port={gcs}", "--include-dashboard=true",
        "--dashboard-host=127.0.0.1", f"--dashboard-port={dashboard}",
        f"--dashboard-agent-listen-port={free_port()}", f"--ray-client-server-port={client_port}",
        "--num-cpus=2", "--num-gpus=0", f"--resources={json.dumps({FLAVOUR: CAPACITY})}",
        f"--object-store-memory={128 * 1024 * 1024}", f"--temp-dir={temp}", "--disable-usage-stats",
    ]  # fmt: skip
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
    env.pop("RAY_ADDRESS", None)
    with open(folder / "ray.log", "wb") as log:
        head = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{dashboard}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/api/version", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.5)
        else:
            raise SystemExit(f"Ray did not start: {(folder / 'ray.log').read_text()[-2000:]}")
        yield url
    finally:
        os.killpg(head.pid, signal.SIGTERM)
        try:
            head.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(head.pid, signal.SIGKILL)


def until(condition: Callable[[], bool], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not reached")
        time.sleep(POLL_S)


def raw_launch(ray: JobSubmissionClient) -> float:
    started = time.perf_counter()
    job = ray.submit_job(
        entrypoint=ENTRYPOINT, submission_id=f"raw-{uuid.uuid4().hex[:12]}", entrypoint_resources={FLAVOUR: 1}
    )
    until(lambda: ray.get_job_status(job) != JobStatus.PENDING)
    elapsed = time.perf_counter() - started
    until(lambda: ray.get_job_status(job).is_terminal())
    return elapsed


def portal_launch(client: AicommonsClient) -> float:
    body = JobCreate(name="bench", org="acme", entrypoint=ENTRYPOINT, flavour=FLAVOUR,
                     gpus_per_worker=1, time_limit_s=600)  # fmt: skip
    started = time.perf_counter()
    job = jobs_api.submit(client, body)
    until(lambda: jobs_api.get(client, job.id).state not in ("QUEUED", "ADMITTED", "STARTING"))
    elapsed = time.perf_counter() - started
    until(lambda: jobs_api.get(client, job.id).state in ("SUCCEEDED", "FAILED", "CANCELLED", "TIMED_OUT"))
    return elapsed


def main() -> None:
    folder = Path(tempfile.mkdtemp(prefix="bench-launch-"))
    with ray_head(folder) as dashboard:
        env = {
            "AICOMMONS_RAY_EXTERNAL_DASHBOARD_URL": dashboard,
            "AICOMMONS_SCHEDULER_ENABLED": "true",
            "AICOMMONS_SCHEDULER_PERIOD_S": "1.0",
        }
        with serve_portal(folder, env) as served:
            _seed(served, FLAVOUR, CAPACITY)
            token = httpx.post(
                f"{served.url}/api/v1/auth/token", json={"username": "alice", "password": PASSWORDS["alice"]}
            ).json()["access_token"]
            client, ray = AicommonsClient(served.url, token), JobSubmissionClient(dashboard)
            raw_launch(ray), portal_launch(client)  # warm-up: worker processes, imports, caches
            raw, ours = [], []
            for _ in range(ROUNDS):
                raw.append(raw_launch(ray))
                ours.append(portal_launch(client))
    raw_median, ours_median = statistics.median(raw), statistics.median(ours)
    ratio = ours_median / raw_median
    print(f"raw Ray submit → RUNNING: median {raw_median:.2f} s  {[round(x, 2) for x in raw]}")
    print(f"portal submit → RUNNING:  median {ours_median:.2f} s  {[round(x, 2) for x in ours]}")
    print(f"ratio {ratio:.2f} (target ≤ 1.3)")
    result = {"bench": "launch", "rounds": ROUNDS, "raw_median_s": round(raw_median, 3),
              "portal_median_s": round(ours_median, 3), "ratio": round(ratio, 3), "target_ratio": 1.3,
              "ok": ratio <= 1.3}  # fmt: skip
    print(json.dumps(result))


if __name__ == "__main__":
    main()
