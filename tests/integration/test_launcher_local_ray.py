"""The local Ray launcher on a real Ray head (tests/fixtures/ray_head.py): jobs run with their working
directory and environment, hold their flavour while running, are submitted once however often
`submit` is called, stop gracefully or by force, fail with Ray's message, stream their logs, and the
CPU example tracks a real run in a real MLflow server."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
import uuid
import zipfile
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from aicommons.scheduler.launchers import registry
from aicommons.scheduler.launchers.base import Launcher, LauncherError, LaunchPhase, LaunchSpec, LaunchStatus
from aicommons.scheduler.launchers.local_ray import LocalRayLauncher
from tests.fixtures.mlflow_server import serve_mlflow
from tests.fixtures.ray_head import RayHead

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]

# Prints its environment, records its pid, optionally ignores SIGTERM, then sleeps.
PROBE = textwrap.dedent(
    """
    import json, os, signal, sys, time
    seconds, marks = float(sys.argv[1]), sys.argv[2]
    os.makedirs(marks, exist_ok=True)
    job = os.environ["AICOMMONS_JOB_ID"]
    if "--ignore-term" in sys.argv:
        signal.signal(signal.SIGTERM, lambda *_: print("SIGTERM ignored", flush=True))
    with open(os.path.join(marks, job + ".pid"), "w") as out:
        out.write(str(os.getpid()))
    with open(os.path.join(marks, job + ".runs"), "a") as out:
        out.write(f"start {time.time()}\\n")
    env = {k: v for k, v in os.environ.items() if k.startswith(("AICOMMONS_", "EXAMPLE_"))}
    env["CUDA_VISIBLE_DEVICES"] = os.environ.get("CUDA_VISIBLE_DEVICES")
    print("ENV " + json.dumps(env, sort_keys=True), flush=True)
    for tick in range(int(seconds * 10)):
        if tick % 10 == 0:
            print(f"tick {tick // 10}", flush=True)
        time.sleep(0.1)
    with open(os.path.join(marks, job + ".runs"), "a") as out:
        out.write(f"end {time.time()}\\n")
    print("done", flush=True)
    """
)


@pytest.fixture(scope="module")
def launcher(ray_head: RayHead) -> LocalRayLauncher:
    return LocalRayLauncher(ray_head.dashboard_url, stop_grace_s=5)


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    folder = tmp_path / "work"
    folder.mkdir()
    (folder / "probe.py").write_text(PROBE)
    return folder


def new_id() -> str:
    return f"test-{uuid.uuid4().hex[:12]}"


def spec_for(
    ray_head: RayHead, workdir: Path, marks: Path, seconds: float, *extra: str, **fields: object
) -> LaunchSpec:
    job_id = str(fields.pop("job_id", None) or new_id())
    values: dict[str, object] = {
        "job_id": job_id,
        "entrypoint": " ".join(["python", "probe.py", str(seconds), str(marks), *extra]),
        "working_dir": workdir,
        "pip": (),
        "env": {
            "AICOMMONS_JOB_ID": job_id,
            "AICOMMONS_CHECKPOINT_DIR": str(marks / "ckpt"),
            "EXAMPLE_X": "1",
        },
        "flavour": ray_head.flavour,
        "gpus_per_worker": 1,
        "workers": 1,
        "cpus": 0.25,
        "memory_bytes": None,
        "time_limit_s": 600,
    }
    values.update(fields)
    return LaunchSpec(**values)  # type: ignore[arg-type]


def wait_phase(
    launcher: Launcher, job_id: str, phases: set[LaunchPhase], timeout: float = 120
) -> LaunchStatus:
    deadline = time.monotonic() + timeout
    status = launcher.status(job_id)
    while status.phase not in phases and time.monotonic() < deadline:
        time.sleep(0.2)
        status = launcher.status(job_id)
    assert status.phase in phases, f"{job_id} is {status.phase} ({status.message}), expected {phases}"
    return status


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().rsplit(")", 1)[-1].split()[0] == "Z")


def env_printed(logs: str) -> dict[str, str | None]:
    line = next(line for line in logs.splitlines() if line.startswith("ENV "))
    return dict(json.loads(line[4:]))


def test_registry_creates_the_ray_launcher_lazily(ray_head: RayHead) -> None:
    assert "ray" in registry.available()
    made = registry.create("ray", address=ray_head.dashboard_url)
    assert isinstance(made, LocalRayLauncher) and isinstance(made, Launcher)
    assert {"logs", "follow_logs", "graceful_stop"} <= made.capabilities


def test_job_runs_with_its_working_dir_and_environment(
    launcher: LocalRayLauncher, ray_head: RayHead, workdir: Path, tmp_path: Path
) -> None:
    spec = spec_for(ray_head, workdir, tmp_path / "marks", 3, gpus_per_worker=2, workers=2)
    launcher.submit(spec)
    running = wait_phase(launcher, spec.job_id, {LaunchPhase.RUNNING, LaunchPhase.SUCCEEDED})
    assert running.started_at is not None
    done = wait_phase(launcher, spec.job_id, {LaunchPhase.SUCCEEDED, LaunchPhase.FAILED})
    logs = launcher.logs(spec.job_id)
    assert done.phase is LaunchPhase.SUCCEEDED, logs[-2000:]
    assert done.started_at and done.ended_at and done.started_at <= done.ended_at
    assert done.ended_at.tzinfo is not None and done.message
    env = env_printed(logs)
    assert env["AICOMMONS_JOB_ID"] == spec.job_id and env["EXAMPLE_X"] == "1"
    assert env["AICOMMONS_CHECKPOINT_DIR"] == str(tmp_path / "marks" / "ckpt")
    # The head has Ray GPUs too, so the entrypoint holds as many as it asked for, and sees only those.
    assert len(str(env["CUDA_VISIBLE_DEVICES"]).split(",")) == 4
    assert "done" in logs


def test_jobs_holding_the_whole_flavour_run_one_after_the_other(
    launcher: LocalRayLauncher, ray_head: RayHead, workdir: Path, tmp_path: Path
) -> None:
    marks = tmp_path / "marks"
    first = spec_for(ray_head, workdir, marks, 4, gpus_per_worker=ray_head.capacity)
    second = spec_for(ray_head, workdir, marks, 1, gpus_per_worker=ray_head.capacity)
    launcher.submit(first)
    wait_phase(launcher, first.job_id, {LaunchPhase.RUNNING})
    launcher.submit(second)
    time.sleep(2)
    # The first job holds every unit of the flavour: the second waits for it.
    assert launcher.status(first.job_id).phase is LaunchPhase.RUNNING
    assert launcher.status(second.job_id).phase is LaunchPhase.PENDING
    for spec in (first, second):
        assert (
            wait_phase(launcher, spec.job_id, {LaunchPhase.SUCCEEDED, LaunchPhase.FAILED}).phase
            is LaunchPhase.SUCCEEDED
        )
    first_end = float((marks / f"{first.job_id}.runs").read_text().split()[-1])
    second_start = float((marks / f"{second.job_id}.runs").read_text().split()[1])
    assert second_start >= first_end


def _zipped(folder: Path, target: Path) -> Path:
    with zipfile.ZipFile(target, "w") as archive:
        for path in sorted(folder.rglob("*")):
            archive.write(path, path.relative_to(folder).as_posix())
    return target


def test_submitting_the_same_job_again_is_a_no_op(
    launcher: LocalRayLauncher, ray_head: RayHead, workdir: Path, tmp_path: Path
) -> None:
    marks = tmp_path / "marks"
    archive = _zipped(workdir, tmp_path / "work.zip")  # the reconcile loop ships zips
    spec = spec_for(ray_head, archive, marks, 2)
    launcher.submit(spec)
    launcher.submit(spec)
    # A fresh launcher (a restarted portal) submitting again, even with another command, changes nothing.
    LocalRayLauncher(ray_head.dashboard_url).submit(
        replace(spec, entrypoint="python probe.py 0 /nonexistent")
    )
    done = wait_phase(launcher, spec.job_id, {LaunchPhase.SUCCEEDED, LaunchPhase.FAILED})
    assert done.phase is LaunchPhase.SUCCEEDED, launcher.logs(spec.job_id)[-2000:]
    launcher.submit(spec)  # and after the end, too
    time.sleep(1)
    assert launcher.status(spec.job_id).phase is LaunchPhase.SUCCEEDED
    runs = (marks / f"{spec.job_id}.runs").read_text().splitlines()
    assert [line.split()[0] for line in runs] == ["start", "end"]


def test_stop_ends_a_running_job_and_its_process(
    launcher: LocalRayLauncher, ray_head: RayHead, workdir: Path, tmp_path: Path
) -> None:
    marks = tmp_path / "marks"
    spec = spec_for(ray_head, workdir, marks, 300)
    launcher.submit(spec)
    wait_phase(launcher, spec.job_id, {LaunchPhase.RUNNING})
    pid = _pid_written(marks, spec.job_id)
    assert pid_alive(pid)
    started = time.monotonic()
    launcher.stop(spec.job_id, grace_s=5)
    stopped = wait_phase(launcher, spec.job_id, {LaunchPhase.STOPPED, LaunchPhase.FAILED}, timeout=30)
    assert stopped.phase is LaunchPhase.STOPPED and stopped.ended_at is not None
    assert time.monotonic() - started < 15
    assert _gone(pid)
    launcher.stop(spec.job_id, grace_s=5)  # already ended: no error
    assert launcher.status(spec.job_id).phase is LaunchPhase.STOPPED


def test_stop_kills_a_job_that_ignores_sigterm_after_the_grace(
    ray_head: RayHead, workdir: Path, tmp_path: Path
) -> None:
    # Ray would wait 120 s before its own SIGKILL; the one-second grace asked for here wins.
    patient = LocalRayLauncher(ray_head.dashboard_url, stop_grace_s=120)
    marks = tmp_path / "marks"
    spec = spec_for(ray_head, workdir, marks, 300, "--ignore-term")
    patient.submit(spec)
    wait_phase(patient, spec.job_id, {LaunchPhase.RUNNING})
    pid = _pid_written(marks, spec.job_id)
    started = time.monotonic()
    patient.stop(spec.job_id, grace_s=1)
    took = time.monotonic() - started
    status = wait_phase(patient, spec.job_id, {LaunchPhase.STOPPED, LaunchPhase.FAILED}, timeout=30)
    assert status.phase is LaunchPhase.STOPPED, status.message
    assert 1 <= took < 30
    assert _gone(pid)
    assert "SIGTERM ignored" in patient.logs(spec.job_id)


def test_stop_of_a_job_still_waiting_for_its_flavour_ends_it_before_it_runs(
    launcher: LocalRayLauncher, ray_head: RayHead, workdir: Path, tmp_path: Path
) -> None:
    marks = tmp_path / "marks"
    holder = spec_for(ray_head, workdir, marks, 120, gpus_per_worker=ray_head.capacity)
    waiting = spec_for(ray_head, workdir, marks, 5, gpus_per_worker=ray_head.capacity)
    launcher.submit(holder)
    wait_phase(launcher, holder.job_id, {LaunchPhase.RUNNING})
    launcher.submit(waiting)
    time.sleep(1)
    assert launcher.status(waiting.job_id).phase is LaunchPhase.PENDING
    launcher.stop(waiting.job_id, grace_s=5)
    # Ray cannot withdraw a job before its supervisor starts: the stop waits in line with the job.
    time.sleep(3)
    assert launcher.status(waiting.job_id).phase is LaunchPhase.PENDING
    launcher.stop(holder.job_id, grace_s=5)
    wait_phase(launcher, holder.job_id, {LaunchPhase.STOPPED})
    ended = wait_phase(
        launcher, waiting.job_id, {LaunchPhase.STOPPED, LaunchPhase.FAILED, LaunchPhase.SUCCEEDED}
    )
    assert ended.phase is LaunchPhase.STOPPED, launcher.logs(waiting.job_id)[-2000:]
    runs = marks / f"{waiting.job_id}.runs"
    assert not runs.exists() or "end" not in runs.read_text()


def _pid_written(marks: Path, job_id: str) -> int:
    path = marks / f"{job_id}.pid"
    deadline = time.monotonic() + 30
    while not (path.exists() and path.read_text()) and time.monotonic() < deadline:
        time.sleep(0.1)
    return int(path.read_text())


def _gone(pid: int, timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    return not pid_alive(pid)


def test_failing_entrypoint_fails_with_rays_message(
    launcher: LocalRayLauncher, ray_head: RayHead, workdir: Path, tmp_path: Path
) -> None:
    entry = "python -c \"import sys; print('about to fail'); sys.exit(3)\""
    spec = spec_for(ray_head, workdir, tmp_path, 0, entrypoint=entry)
    launcher.submit(spec)
    failed = wait_phase(launcher, spec.job_id, {LaunchPhase.FAILED, LaunchPhase.SUCCEEDED})
    assert failed.phase is LaunchPhase.FAILED
    assert failed.message and "exit code 3" in failed.message
    assert "about to fail" in launcher.logs(spec.job_id)


def test_unknown_job_is_missing(launcher: LocalRayLauncher) -> None:
    job_id = new_id()
    assert launcher.status(job_id) == LaunchStatus(LaunchPhase.MISSING)
    launcher.stop(job_id, grace_s=1)  # nothing to stop: no error
    with pytest.raises(LauncherError) as raised:
        launcher.logs(job_id)
    assert raised.value.code == "launcher.job_missing"
    with pytest.raises(LauncherError):
        next(iter(launcher.follow_logs(job_id)))


def test_follow_logs_streams_until_the_job_ends(
    launcher: LocalRayLauncher, ray_head: RayHead, workdir: Path, tmp_path: Path
) -> None:
    spec = spec_for(ray_head, workdir, tmp_path / "marks", 3)
    launcher.submit(spec)
    wait_phase(launcher, spec.job_id, {LaunchPhase.RUNNING, LaunchPhase.SUCCEEDED})
    arrivals: list[tuple[float, str]] = []
    for chunk in launcher.follow_logs(spec.job_id):
        arrivals.append((time.monotonic(), chunk))
    text = "".join(chunk for _, chunk in arrivals)
    assert [f"tick {n}" in text for n in range(3)] == [True] * 3 and text.rstrip().endswith("done")
    # The iterator ended on its own because the job did, after streaming more than one piece.
    assert launcher.status(spec.job_id).phase is LaunchPhase.SUCCEEDED
    assert len(arrivals) >= 2


def test_unreachable_ray_is_a_launcher_error() -> None:
    dead = LocalRayLauncher("http://127.0.0.1:9")
    with pytest.raises(LauncherError) as raised:
        dead.status(new_id())
    assert raised.value.code == "launcher.unreachable"


# --- the CPU example, through the launcher, tracked in a real MLflow ----------------------------


@pytest.fixture(scope="module")
def mlflow_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with serve_mlflow(tmp_path_factory.mktemp("mlflow")) as url:
        yield url


def test_cpu_example_runs_as_a_job_and_tracks_its_run(
    launcher: LocalRayLauncher, ray_head: RayHead, mlflow_url: str, tmp_path: Path
) -> None:
    example = tmp_path / "cpu-train"
    shutil.copytree(REPO / "examples" / "cpu-train", example)
    job_id = new_id()
    env = {
        "MLFLOW_TRACKING_URI": mlflow_url,
        "MLFLOW_EXPERIMENT_NAME": "launcher-example",
        "AICOMMONS_JOB_ID": job_id,
        "AICOMMONS_DATASET_VERSIONS": "traffic@3",
        "AICOMMONS_CHECKPOINT_DIR": str(tmp_path / "ckpt"),
    }
    spec = LaunchSpec(
        job_id=job_id, entrypoint="python train.py --epochs 3 --register-name launcher-example-model",
        working_dir=example, pip=(), env=env, flavour=None, gpus_per_worker=0, workers=1, cpus=0.5,
        memory_bytes=None, time_limit_s=600,
    )  # fmt: skip
    launcher.submit(spec)
    done = wait_phase(launcher, job_id, {LaunchPhase.SUCCEEDED, LaunchPhase.FAILED}, timeout=240)
    logs = launcher.logs(job_id)
    assert done.phase is LaunchPhase.SUCCEEDED, logs[-3000:]
    assert [f"epoch {n}:" in logs for n in (1, 2, 3)] == [True] * 3
    summary = json.loads(next(line for line in logs.splitlines() if line.startswith("summary "))[8:])
    assert summary["epochs"] == 3 and summary["test_accuracy"] > 0.7
    assert (tmp_path / "ckpt" / "checkpoint.pkl").is_file()
    run = _mlflow_run(mlflow_url, "launcher-example", job_id)
    assert run["tags"]["aicommons.dataset_versions"] == "traffic@3"
    assert run["params"]["epochs"] == "3"
    assert run["metric_steps"] == [1, 2, 3]
    assert run["versions"] == ["1"]


def _mlflow_run(url: str, experiment: str, job_id: str) -> dict[str, object]:
    script = textwrap.dedent(
        f"""
        import json
        from mlflow.tracking import MlflowClient
        client = MlflowClient()
        exp = client.get_experiment_by_name({experiment!r})
        runs = client.search_runs([exp.experiment_id], "tags.`aicommons.job_id` = '{job_id}'")
        run = runs[0]
        history = client.get_metric_history(run.info.run_id, "test_accuracy")
        versions = client.search_model_versions("name = 'launcher-example-model'")
        print(json.dumps({{"count": len(runs), "tags": run.data.tags, "params": run.data.params,
                          "metric_steps": [m.step for m in history],
                          "versions": [v.version for v in versions if v.run_id == run.info.run_id]}}))
        """
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env["MLFLOW_TRACKING_URI"] = url
    result = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=180
    )
    assert result.returncode == 0, result.stderr[-2000:]
    found = dict(json.loads(result.stdout.strip().splitlines()[-1]))
    assert found["count"] == 1
    return found
