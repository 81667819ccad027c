"""The local Ray launcher: jobs run on a Ray cluster through Ray's Job Submission API (the dashboard's
HTTP endpoint, e.g. http://127.0.0.1:8265), with the platform's job id as Ray's submission id.

Accelerator flavours are Ray custom resources declared by the head (`ray start --resources`); a job
reserves `gpus_per_worker × workers` of its flavour for its entrypoint, so Ray itself keeps two jobs
from holding the same accelerators. Where the cluster also advertises Ray's own `GPU` resource, the
entrypoint claims as many of those, so that Ray sets CUDA_VISIBLE_DEVICES to the job's own devices.

Stopping: Ray sends SIGTERM and kills the process tree after RAY_JOB_STOP_WAIT_TIME_S seconds, which
Ray 2.x reads from the job's environment when the stop arrives; the launcher writes its own
`stop_grace_s` there at submit. A shorter grace asked for in `stop()` is enforced here by killing the
job's processes, which works when the job runs on this machine (the local head); otherwise Ray's
grace from submit time applies. Ray cannot withdraw a job that is still PENDING (waiting for its
resources): the stop waits in line with it, and the job ends STOPPED the moment it would have started,
its entrypoint killed at once; until then `status` keeps saying PENDING.
"""

from __future__ import annotations

import asyncio
import logging
import math
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

from aicommons.portal.core.settings import Settings

from . import ray_processes
from .base import (
    CAP_FOLLOW_LOGS,
    CAP_GRACEFUL_STOP,
    CAP_LOGS,
    CAP_RESOURCE_FLAVOURS,
    LauncherError,
    LaunchPhase,
    LaunchSpec,
    LaunchStatus,
)

log = logging.getLogger(__name__)

# Ray reads this from the job's environment when a stop arrives: seconds between SIGTERM and SIGKILL.
RAY_STOP_WAIT_VAR = "RAY_JOB_STOP_WAIT_TIME_S"
RAY_DEFAULT_STOP_WAIT_S = 3  # Ray's own default when the variable is not set
DEFAULT_STOP_GRACE_S = 30.0
# After forcing a stop, how long Ray may take to notice and record STOPPED.
FORCED_STOP_SETTLE_S = 10.0
POLL_S = 0.2
DETAIL_MAX = 400
WAITING_OR_RUNNING = frozenset({LaunchPhase.PENDING, LaunchPhase.RUNNING})


class LocalRayLauncher:
    name = "ray"
    capabilities = frozenset({CAP_LOGS, CAP_FOLLOW_LOGS, CAP_GRACEFUL_STOP, CAP_RESOURCE_FLAVOURS})

    def __init__(
        self,
        address: str,
        *,
        stop_grace_s: float = DEFAULT_STOP_GRACE_S,
        claim_gpus: bool | None = None,
    ) -> None:
        """`address`: the Ray dashboard URL. `stop_grace_s`: Ray's SIGTERM→SIGKILL wait, fixed per job at
        submit. `claim_gpus`: also reserve Ray's `GPU` resource; None asks the cluster once."""
        if not address.startswith(("http://", "https://")):
            detail = f"address {address!r} is no http(s) URL"
            raise LauncherError("launcher.bad_option", name=self.name, detail=detail)
        if stop_grace_s < 0:
            raise LauncherError("launcher.bad_option", name=self.name, detail="stop_grace_s is negative")
        self.address = address.rstrip("/")
        self.stop_grace_s = stop_grace_s
        self._claim_gpus = claim_gpus
        self._client: Any = None  # ray.job_submission.JobSubmissionClient, made on first use
        self._lock = threading.Lock()

    @classmethod
    def from_options(
        cls,
        settings: Settings | None = None,
        address: str | None = None,
        stop_grace_s: float | None = None,
        claim_gpus: bool | None = None,
    ) -> LocalRayLauncher:
        """Registry factory: the dashboard URL and stop grace from `settings` unless given."""
        address = address or (settings.ray_dashboard_url if settings is not None else None)
        if not address:
            raise LauncherError("launcher.bad_option", name=cls.name, detail="no Ray dashboard address")
        if stop_grace_s is None:
            stop_grace_s = settings.jobs_stop_grace_s if settings is not None else DEFAULT_STOP_GRACE_S
        return cls(address, stop_grace_s=stop_grace_s, claim_gpus=claim_gpus)

    # --- the protocol ----------------------------------------------------------------------------

    def submit(self, spec: LaunchSpec) -> None:
        if spec.working_dir is not None and not spec.working_dir.exists():
            raise LauncherError("launcher.working_dir_missing", path=str(spec.working_dir))
        client = self._connected()
        # Submitted before a crash and not recorded: the run exists already, and must stay the only one.
        if self.status(spec.job_id).phase is not LaunchPhase.MISSING:
            return
        arguments = submission(spec, stop_grace_s=self.stop_grace_s, claim_gpus=self._gpus_claimed())
        try:
            client.submit_job(**arguments)
        except Exception as exc:
            # Ray answers a taken submission id with an error naming it; a concurrent submit got there first.
            if "already exists" in str(exc) and self.status(spec.job_id).phase is not LaunchPhase.MISSING:
                return
            raise LauncherError("launcher.submit_failed", job=spec.job_id, detail=_short(exc)) from exc

    def status(self, job_id: str) -> LaunchStatus:
        info = self._job_info(job_id)
        return LaunchStatus(LaunchPhase.MISSING) if info is None else launch_status(info)

    def stop(self, job_id: str, grace_s: float) -> None:
        info = self._job_info(job_id)
        if info is None or launch_status(info).phase.ended:
            return
        try:
            self._connected().stop_job(job_id)
        except Exception as exc:
            if _not_found(exc):
                return
            raise _failed("launcher.stop_failed", job_id, exc) from exc
        if grace_s >= ray_stop_wait_s(info):
            return  # Ray kills the job after its own (shorter) grace
        if self._wait_until_ended(job_id, grace_s):
            return
        killed = ray_processes.kill_job_processes(job_id)
        log.info("job %s outlived its %.1f s grace; killed %d local processes", job_id, grace_s, killed)
        self._wait_until_ended(job_id, FORCED_STOP_SETTLE_S)

    def logs(self, job_id: str) -> str:
        try:
            return str(self._connected().get_job_logs(job_id))
        except LauncherError:
            raise
        except Exception as exc:
            if _not_found(exc):
                raise LauncherError("launcher.job_missing", job=job_id) from exc
            raise _failed("launcher.logs_failed", job_id, exc) from exc

    def follow_logs(self, job_id: str) -> Iterator[str]:
        """Ray's `tail_job_logs` is async; this drives it on a private event loop in the calling thread
        (which must not be running a loop itself: call it from a worker thread in async code)."""
        if self._job_info(job_id) is None:
            raise LauncherError("launcher.job_missing", job=job_id)
        chunks = self._connected().tail_job_logs(job_id)
        loop = asyncio.new_event_loop()
        try:
            while True:
                try:
                    chunk = loop.run_until_complete(chunks.__anext__())
                except StopAsyncIteration:
                    return
                except Exception as exc:
                    raise _failed("launcher.logs_failed", job_id, exc) from exc
                yield chunk
        finally:
            try:
                loop.run_until_complete(chunks.aclose())
            except Exception:  # the stream is abandoned either way
                log.debug("closing the log stream of %s failed", job_id, exc_info=True)
            loop.close()

    # --- Ray -------------------------------------------------------------------------------------

    def _connected(self) -> Any:
        """One JobSubmissionClient per launcher (creating one checks the server's version over HTTP);
        a failed attempt is not remembered, so the next call tries again."""
        with self._lock:
            if self._client is None:
                from ray.job_submission import JobSubmissionClient

                try:
                    self._client = JobSubmissionClient(address=self.address)
                except Exception as exc:
                    detail = _short(exc)
                    raise LauncherError("launcher.unreachable", address=self.address, detail=detail) from exc
            return self._client

    def _job_info(self, job_id: str) -> Any | None:
        """Ray's JobDetails, or None when Ray does not know the id."""
        try:
            return self._connected().get_job_info(job_id)
        except LauncherError:
            raise
        except Exception as exc:
            if _not_found(exc):
                return None
            raise _failed("launcher.status_failed", job_id, exc) from exc

    def _gpus_claimed(self) -> bool:
        if self._claim_gpus is None:
            self._claim_gpus = ray_processes.cluster_has_gpus(self.address)
        return self._claim_gpus

    def _wait_until_ended(self, job_id: str, timeout_s: float) -> bool:
        return _poll(lambda: self.status(job_id).phase not in WAITING_OR_RUNNING, timeout_s)


def submission(spec: LaunchSpec, *, stop_grace_s: float, claim_gpus: bool) -> dict[str, Any]:
    """The keyword arguments of `JobSubmissionClient.submit_job` for one job."""
    marks = {ray_processes.JOB_MARKER_VAR: spec.job_id, RAY_STOP_WAIT_VAR: str(math.ceil(stop_grace_s))}
    # Ray has no other way into a job's environment: its dashboard (loopback only under `aicommons
    # up`) shows the secrets with the rest of the runtime environment.
    env = {**spec.env, **spec.secrets, **marks}
    runtime_env: dict[str, Any] = {"env_vars": env}
    if spec.working_dir is not None:
        runtime_env["working_dir"] = str(spec.working_dir)
    if spec.pip:
        runtime_env["pip"] = list(spec.pip)
    arguments: dict[str, Any] = {
        "entrypoint": spec.entrypoint,
        "submission_id": spec.job_id,
        "runtime_env": runtime_env,
        "metadata": {"aicommons.job_id": spec.job_id, "aicommons.time_limit_s": str(spec.time_limit_s)},
        "entrypoint_num_cpus": spec.cpus,
    }
    if spec.flavour and spec.total_gpus > 0:
        arguments["entrypoint_resources"] = {spec.flavour: float(spec.total_gpus)}
        if claim_gpus:
            arguments["entrypoint_num_gpus"] = spec.total_gpus
    if spec.memory_bytes:
        arguments["entrypoint_memory"] = int(spec.memory_bytes)
    return arguments


def launch_status(info: Any) -> LaunchStatus:
    """Ray's JobDetails as a LaunchStatus. Ray stamps `start_time` when it accepts the job, so it is
    reported only once the job has left PENDING (it then includes time spent waiting to start)."""
    phase = LaunchPhase(str(getattr(info.status, "value", info.status)))
    started = _from_ms(info.start_time) if phase is not LaunchPhase.PENDING else None
    ended = _from_ms(info.end_time)
    return LaunchStatus(phase, message=info.message or None, started_at=started, ended_at=ended)


def ray_stop_wait_s(info: Any) -> float:
    """The SIGTERM→SIGKILL wait Ray will use for this job (from the environment it was submitted with)."""
    env_vars = (info.runtime_env or {}).get("env_vars") or {}
    try:
        return float(env_vars.get(RAY_STOP_WAIT_VAR, RAY_DEFAULT_STOP_WAIT_S))
    except (TypeError, ValueError):
        return float(RAY_DEFAULT_STOP_WAIT_S)


def _from_ms(value: int | None) -> datetime | None:
    return datetime.fromtimestamp(value / 1000, tz=UTC) if value else None


def _not_found(exc: Exception) -> bool:
    # The SDK raises RuntimeError("Request failed with status code 404: Job X does not exist.").
    return "status code 404" in str(exc)


def _failed(code: str, job_id: str, exc: Exception) -> LauncherError:
    return LauncherError(code, job=job_id, detail=_short(exc))


def _short(exc: Exception) -> str:
    text = str(exc).strip() or type(exc).__name__
    # Ray wraps the server's traceback into the message; its last line says what went wrong.
    lines = [line for line in text.splitlines() if line.strip(" .")]
    last = lines[-1] if lines else text
    return last[:DETAIL_MAX] if len(lines) > 1 else text[:DETAIL_MAX]


def _poll(condition: Callable[[], bool], timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while True:
        if condition():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(POLL_S)
