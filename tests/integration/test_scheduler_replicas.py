"""Several scheduler replicas on one PostgreSQL, and replicas killed with SIGKILL mid-flight: every job
runs exactly once and ends, nothing is lost, nothing is launched twice.

The replicas are `aicommons scheduler run` processes (the deployment's own command) sharing a served
portal's database and a real Ray head.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from aicommons.portal.client import jobs as jobs_api
from aicommons.portal.core.db import make_engine
from tests.fixtures.portal_server import ServedPortal, serve_portal
from tests.integration.test_scheduler_ray import _client, _seed, _submit, _workdir, stop_leftover_ray_jobs

pytestmark = pytest.mark.slow
JOBS = 6


@pytest.fixture(scope="module")
def shared(
    ray_head: Any, postgres_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[ServedPortal, Any, str]]:
    name = f"aicommons_replicas_{os.getpid()}"
    admin = make_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(postgres_url).set(database=name).render_as_string(hide_password=False)
    previous = os.environ.get("AICOMMONS_DATABASE_URL")
    os.environ["AICOMMONS_DATABASE_URL"] = url  # serve_portal prepares the database from the environment
    try:
        env = {"AICOMMONS_DATABASE_URL": url, "AICOMMONS_RAY_EXTERNAL_DASHBOARD_URL": ray_head.dashboard_url}
        with serve_portal(tmp_path_factory.mktemp("portal"), env) as served:
            _seed(served, ray_head.flavour, ray_head.capacity)
            try:
                yield served, ray_head, url
            finally:
                stop_leftover_ray_jobs(ray_head.dashboard_url)
    finally:
        if previous is None:
            os.environ.pop("AICOMMONS_DATABASE_URL", None)
        else:
            os.environ["AICOMMONS_DATABASE_URL"] = previous
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _replica(served: ServedPortal, ray: Any, url: str, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **served.env,
        "AICOMMONS_DATABASE_URL": url,
        "AICOMMONS_RAY_EXTERNAL_DASHBOARD_URL": ray.dashboard_url,
        "AICOMMONS_SCHEDULER_PERIOD_S": "0.3",
        "AICOMMONS_SCHEDULER_LEASE_S": "4",
    }
    with open(log, "ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "aicommons.portal.main", "scheduler", "run"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def test_replicas_killed_mid_flight_lose_and_duplicate_nothing(
    shared: tuple[ServedPortal, Any, str], tmp_path: Path
) -> None:
    served, ray, url = shared
    alice, folder, markers = _client(served, "alice"), _workdir(tmp_path), tmp_path / "markers"
    jobs = [
        _submit(alice, "acme", ray.flavour, folder, f"python sleeper.py 3 {markers}") for _ in range(JOBS)
    ]
    logs = tmp_path / "replicas.log"
    replicas = [_replica(served, ray, url, logs) for _ in range(3)]
    try:
        # Kill two replicas with SIGKILL as soon as the first job is on its way, then start a fresh one.
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            states = {jobs_api.get(alice, j.id).state for j in jobs}
            if states & {"STARTING", "RUNNING"}:
                break
            time.sleep(0.2)
        for replica in replicas[:2]:
            os.killpg(replica.pid, signal.SIGKILL)
            replica.wait(10)
        replicas.append(_replica(served, ray, url, logs))
        deadline = time.monotonic() + 240
        final = {}
        while time.monotonic() < deadline:
            final = {j.id: jobs_api.get(alice, j.id) for j in jobs}
            if all(job.state in {"SUCCEEDED", "FAILED", "CANCELLED", "TIMED_OUT"} for job in final.values()):
                break
            time.sleep(0.5)
    finally:
        for replica in replicas:
            if replica.poll() is None:
                os.killpg(replica.pid, signal.SIGTERM)
                replica.wait(20)
    assert {job.state for job in final.values()} == {"SUCCEEDED"}, logs.read_text()[-4000:]
    for job in jobs:
        # exactly one run of each job: one marker line, written by attempt 0
        assert (markers / job.id).read_text() == "0\n"
        moves = [(e.from_state, e.to_state) for e in jobs_api.events(alice, job.id)]
        assert moves.count(("QUEUED", "ADMITTED")) == 1 and moves.count(("ADMITTED", "STARTING")) == 1, moves
        assert [u.attempt for u in jobs_api.usage(alice, job.id)] == [0]
