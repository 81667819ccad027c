"""The launcher protocol's pure parts: what the local Ray launcher asks Ray for, how Ray's answers
become launch statuses, the registry, and the local force-kill by marker (no Ray needed)."""

from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import replace
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from aicommons.portal.core.i18n import translate
from aicommons.portal.core.settings import Settings
from aicommons.scheduler.launchers import ray_processes, registry
from aicommons.scheduler.launchers.base import LauncherError, LaunchPhase
from aicommons.scheduler.launchers.local_ray import (
    LocalRayLauncher,
    _short,
    launch_status,
    ray_stop_wait_s,
    submission,
)
from tests.unit.launch_specs import launch_spec

pytestmark = pytest.mark.unit

SPEC = launch_spec()


def test_submission_reserves_the_whole_gang_of_the_flavour() -> None:
    args = submission(SPEC, stop_grace_s=2.5, claim_gpus=False)
    assert args["submission_id"] == "job-1" and args["entrypoint"] == SPEC.entrypoint
    assert args["entrypoint_resources"] == {"H100-80G": 6.0}
    assert "entrypoint_num_gpus" not in args
    assert args["entrypoint_num_cpus"] == 1.5 and args["entrypoint_memory"] == 2 * 1024**3
    runtime_env = args["runtime_env"]
    assert runtime_env["working_dir"] == "/data/archives/abc.zip" and runtime_env["pip"] == ["numpy==2.*"]
    assert runtime_env["env_vars"] == {
        "AICOMMONS_JOB_ID": "job-1",
        "MLFLOW_WORKSPACE": "acme",
        "AICOMMONS_RAY_SUBMISSION_ID": "job-1",
        "RAY_JOB_STOP_WAIT_TIME_S": "3",  # Ray wants whole seconds: rounded up, never shorter
    }
    assert args["metadata"]["aicommons.time_limit_s"] == "3600"


def test_submission_claims_ray_gpus_where_the_cluster_has_them() -> None:
    assert submission(SPEC, stop_grace_s=10, claim_gpus=True)["entrypoint_num_gpus"] == 6


def test_submission_of_a_cpu_job_asks_for_no_accelerator_and_no_extras() -> None:
    cpu = replace(SPEC, flavour=None, gpus_per_worker=0, pip=(), working_dir=None, memory_bytes=None)
    args = submission(cpu, stop_grace_s=10, claim_gpus=True)
    assert "entrypoint_resources" not in args and "entrypoint_num_gpus" not in args
    assert "entrypoint_memory" not in args
    assert set(args["runtime_env"]) == {"env_vars"}


def test_secrets_reach_the_job_through_its_runtime_environment() -> None:
    """Local Ray has no other way into a job's environment (KubeRay uses a Secret instead)."""
    with_token = replace(SPEC, secrets={"MLFLOW_TRACKING_TOKEN": "t1"})
    env = submission(with_token, stop_grace_s=4, claim_gpus=False)["runtime_env"]["env_vars"]
    assert env["MLFLOW_TRACKING_TOKEN"] == "t1" and env["MLFLOW_WORKSPACE"] == "acme"


def test_the_launcher_marker_wins_over_a_callers_variable() -> None:
    sneaky = replace(
        SPEC,
        env={"AICOMMONS_RAY_SUBMISSION_ID": "other-job", "RAY_JOB_STOP_WAIT_TIME_S": "999"},
        secrets={"AICOMMONS_RAY_SUBMISSION_ID": "other-job"},
    )
    env = submission(sneaky, stop_grace_s=4, claim_gpus=False)["runtime_env"]["env_vars"]
    assert env["AICOMMONS_RAY_SUBMISSION_ID"] == "job-1" and env["RAY_JOB_STOP_WAIT_TIME_S"] == "4"


def _info(
    status: str, start: int | None = 1_700_000_000_123, end: int | None = None, **more: object
) -> object:
    return SimpleNamespace(status=status, message=f"{status} message", start_time=start, end_time=end, **more)


def test_ray_statuses_map_to_phases_with_utc_times() -> None:
    running = launch_status(_info("RUNNING"))
    assert running.phase is LaunchPhase.RUNNING and running.message == "RUNNING message"
    assert running.started_at == datetime(2023, 11, 14, 22, 13, 20, 123000, tzinfo=UTC)
    assert running.ended_at is None
    ended = launch_status(_info("FAILED", end=1_700_000_060_000))
    assert ended.phase is LaunchPhase.FAILED and ended.phase.ended
    assert ended.ended_at == datetime(2023, 11, 14, 22, 14, 20, tzinfo=UTC)
    for name in ("SUCCEEDED", "STOPPED"):
        assert launch_status(_info(name, end=1_700_000_060_000)).phase.ended


def test_a_pending_job_has_no_start_time_yet() -> None:
    # Ray stamps start_time on acceptance; reporting it while PENDING would count waiting as running.
    pending = launch_status(_info("PENDING"))
    assert pending.phase is LaunchPhase.PENDING and pending.started_at is None
    assert not pending.phase.ended


def test_ray_stop_wait_comes_from_the_jobs_environment() -> None:
    assert (
        ray_stop_wait_s(_info("RUNNING", runtime_env={"env_vars": {"RAY_JOB_STOP_WAIT_TIME_S": "12"}})) == 12
    )
    assert ray_stop_wait_s(_info("RUNNING", runtime_env=None)) == 3  # Ray's default
    assert ray_stop_wait_s(_info("RUNNING", runtime_env={"env_vars": {"RAY_JOB_STOP_WAIT_TIME_S": "x"}})) == 3


def test_short_keeps_the_last_line_of_a_wrapped_server_traceback() -> None:
    wrapped = RuntimeError(
        "Request failed with status code 500: Traceback (most recent call last):\n"
        '  File "job_head.py", line 419, in submit_job\n'
        "ValueError: Job with submission_id j1 already exists. Please use a different submission_id.\n.\n."
    )
    assert _short(wrapped).startswith("ValueError: Job with submission_id j1 already exists")
    assert _short(RuntimeError("one line")) == "one line"


def test_registry_creates_by_name_and_refuses_unknown_names() -> None:
    assert "ray" in registry.available()
    made = registry.create(
        "ray",
        settings=Settings(ray_dashboard_port=18265, ray_external_dashboard_url=None, jobs_stop_grace_s=7),
    )
    assert isinstance(made, LocalRayLauncher)
    assert made.address == "http://127.0.0.1:18265" and made.stop_grace_s == 7
    with pytest.raises(LauncherError) as raised:
        registry.create("slurm")
    assert raised.value.code == "launcher.unknown" and "ray" in str(raised.value)
    assert "slurm" in translate(raised.value.code, "zh", raised.value.params)


def test_registering_a_factory_makes_it_available() -> None:
    sentinel = LocalRayLauncher("http://127.0.0.1:1")
    registry.register("test-fake", lambda **options: sentinel)
    try:
        assert "test-fake" in registry.available() and registry.create("test-fake", x=1) is sentinel
    finally:
        registry._factories.pop("test-fake", None)


def test_bad_options_are_launcher_errors() -> None:
    with pytest.raises(LauncherError):
        LocalRayLauncher("127.0.0.1:8265")
    with pytest.raises(LauncherError):
        LocalRayLauncher("http://127.0.0.1:8265", stop_grace_s=-1)


def test_importing_the_protocol_and_registry_does_not_import_ray() -> None:
    code = (
        "import sys; import aicommons.scheduler.launchers.registry, aicommons.scheduler.launchers.base;"
        "print('ray' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == "False", result.stderr


def test_force_kill_finds_the_jobs_processes_by_marker_and_spares_the_supervisor() -> None:
    marker = {ray_processes.JOB_MARKER_VAR: "job-kill-me"}
    sleeper = "import time; time.sleep(60)"
    job = subprocess.Popen([sys.executable, "-c", sleeper], env=marker)
    supervisor = subprocess.Popen([sys.executable, "-c", sleeper, "ray::JobSupervisor"], env=marker)
    bystander = subprocess.Popen(
        [sys.executable, "-c", sleeper], env={ray_processes.JOB_MARKER_VAR: "job-other"}
    )
    try:
        deadline = time.monotonic() + 10  # until both have exec'd with the marker in their environment
        while len(ray_processes._processes_with(ray_processes.JOB_MARKER_VAR, "job-kill-me")) < 2:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert ray_processes.kill_job_processes("job-kill-me") == 1
        assert job.wait(timeout=10) == -9
        assert supervisor.poll() is None and bystander.poll() is None
        assert ray_processes.kill_job_processes("job-nobody") == 0
    finally:
        for process in (job, supervisor, bystander):
            process.kill()
            process.wait(timeout=10)
