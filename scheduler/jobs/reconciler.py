"""The reconcile loop: admit queued jobs by the policy, then bring each admitted job's launcher state
in line with its row.

Crash safety and replicas: the admission cycle runs under a row lock on a singleton row (one replica
at a time; the lock dies with its transaction). Admitted and running jobs are leased row by row with
``SELECT … FOR UPDATE SKIP LOCKED`` (token and expiry, renewed by a heartbeat); no row lock is held
while the launcher is called, and every write re-checks the lease. Submitting uses the job id as the
backend's submission id, so a replica that dies between submitting and recording it is followed by
one that submits again without a second run. Usage records are idempotent on the run interval.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from aicommons.portal.core.errors import AppError
from aicommons.portal.core.ids import new_secret
from aicommons.portal.core.settings import Settings
from aicommons.portal.core.time import utcnow

from ..launchers.base import CAP_RESUMES_BY_ID, Launcher, LauncherError, LaunchPhase, LaunchSpec, LaunchStatus
from ..policy import Outcome, plan_cycle
from ..policy.cluster import AdmissionConfig, CycleResult, Wait
from . import archives, repository, snapshot, usage
from .models import Job
from .states import JobState, transition

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class JobVariables:
    env: dict[str, str]
    secrets: dict[str, str] = field(default_factory=dict)  # tokens and credentials (LaunchSpec.secrets)


# What the composition root adds to a job's environment at launch: MLflow URI, workspace and token,
# dataset credentials. It may write (audit records) in the session it is given.
JobEnvironment = Callable[[Session, Job], JobVariables]
Clock = Callable[[], datetime]
ETA_SLACK_S = 60.0  # ETAs moving less than this are not rewritten every cycle
CLAIM_BATCH = 64


def admission_config(settings: Settings) -> AdmissionConfig:
    return AdmissionConfig(policy=settings.scheduler_policy, min_balance_s=settings.jobs_min_balance_s)


@dataclass
class CycleReport:
    admitted: list[str] = field(default_factory=list)
    preempted: list[str] = field(default_factory=list)
    acted_on: int = 0
    busy: bool = False  # something is starting or stopping: poll again soon


class Reconciler:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        settings: Settings,
        launcher: Launcher,
        environment: JobEnvironment | None = None,
        config: AdmissionConfig | None = None,
        clock: Clock = utcnow,
    ) -> None:
        self.sessions = sessions
        self.settings = settings
        self.launcher = launcher
        self.environment = environment
        self.config = config or admission_config(settings)
        self.clock = clock
        self.token = new_secret(18)
        self._held: set[str] = set()
        self._held_lock = threading.Lock()

    # --- one cycle -------------------------------------------------------------------------------

    def run_once(self) -> CycleReport:
        report = CycleReport()
        self.admit(report)
        self.act_on_jobs(report)
        return report

    def admit(self, report: CycleReport | None = None) -> CycleResult | None:
        """One admission cycle, if no other replica is running one right now.

        The decisions commit first, computed without explanations; then the same snapshot is planned
        again with them (the policy is deterministic: the same decisions) and why each other job
        waits is written in a second transaction. Admitted jobs do not wait for thousands of
        explanation rows, and the admission transaction stays short."""
        report = report or CycleReport()
        with self.sessions() as session:
            if repository.lock_singleton(session, "admission") is None:
                return None
            now = self.clock()
            snap, jobs = snapshot.build(session, self.settings, now)
            decided = plan_cycle(snap, replace(self.config, explain=False, eta_horizon_jobs=0))
            for job_id in decided.admit:
                job = repository.job(session, job_id, lock=True)
                if job is not None and job.state == JobState.QUEUED.value:
                    session.add(transition(job, JobState.ADMITTED, now))
                    report.admitted.append(job_id)
            for job_id in decided.preempt:
                job = jobs[job_id]
                if job.stop_requested is None:
                    job.stop_requested = "preempt"
                    report.preempted.append(job_id)
            session.commit()
            if not self.config.explain:
                return decided
            result = plan_cycle(snap, self.config)
            # The rows loaded for the snapshot stay in the session (no expiry on commit): explaining
            # writes only the explanation columns of those that changed.
            if repository.lock_singleton(session, "admission") is None:
                return result  # another replica's cycle is explaining a newer state
            for job_id, wait in result.waiting.items():
                _explain(jobs[job_id], wait)
            session.commit()
        return result

    def act_on_jobs(self, report: CycleReport | None = None) -> None:
        report = report or CycleReport()
        now = self.clock()
        lease_until = now + timedelta(seconds=self.settings.scheduler_lease_s)
        with self.sessions() as session:
            rows = repository.claim_active(session, self.token, now, lease_until, CLAIM_BATCH)
            claimed = [j.id for j in rows]
            session.commit()
        with self._held_lock:
            self._held.update(claimed)
        for job_id in claimed:
            try:
                report.busy |= self._act(job_id)
                report.acted_on += 1
            except Exception:
                log.exception("reconciling job %s failed; it will be retried when its lease expires", job_id)
            finally:
                self._release(job_id)

    # --- one job ---------------------------------------------------------------------------------

    def _act(self, job_id: str) -> bool:
        """Bring one leased job forward; True if it is still moving (starting or stopping)."""
        with self.sessions() as session:
            job = repository.job(session, job_id)
            if job is None or job.lease_token != self.token:
                return False
            state = JobState(job.state)
            if state is JobState.ADMITTED:
                return self._launch(session, job)
            return self._follow(session, job)

    def _launch(self, session: Session, job: Job) -> bool:
        if job.stop_requested:
            return self._finish(session, job, Ending(_stopped_state(job.stop_requested)))
        try:
            spec = self._spec(session, job)
            session.commit()  # audit records of credentials minted for the spec
            self.launcher.submit(spec)
        except (LauncherError, AppError) as exc:
            session.rollback()
            failed = Ending(
                JobState.FAILED, code="job.message.launch_failed", params={"detail": str(exc)[:500]}
            )
            return self._finish(session, job, failed)
        self._write(session, job.id, lambda j: session.add(transition(j, JobState.STARTING, self.clock())))
        return True

    def _follow(self, session: Session, job: Job) -> bool:
        now = self.clock()
        limit_reached = job.started_at is not None and now >= job.started_at + timedelta(
            seconds=job.time_limit_s
        )
        if job.stop_requested is None and limit_reached:
            self._write(session, job.id, lambda j: setattr(j, "stop_requested", "timeout"))
            job.stop_requested = "timeout"
        if job.stop_requested and job.stop_sent_at is None:
            self.launcher.stop(run_id(job, self.launcher), self.settings.jobs_stop_grace_s)
            self._write(session, job.id, lambda j: setattr(j, "stop_sent_at", now))
        status = self.launcher.status(run_id(job, self.launcher))
        if status.phase is LaunchPhase.PENDING:
            return True
        if status.phase is LaunchPhase.RUNNING:
            if job.state == JobState.STARTING.value:
                started = status.started_at or now
                self._write(session, job.id, lambda j: self._to_running(session, j, started))
            return job.stop_requested is not None
        return self._finish(session, job, _ending(job, status))

    def _to_running(self, session: Session, job: Job, started: datetime) -> None:
        job.started_at = started
        session.add(transition(job, JobState.RUNNING, started))

    def _finish(self, session: Session, job: Job, ending: Ending) -> bool:
        now = self.clock()
        status = ending.status
        ended = (status.ended_at if status else None) or now
        started = (status.started_at if status else None) or job.started_at

        def apply(j: Job) -> None:
            if started is not None and j.started_at is None:
                j.started_at = min(started, ended)
            backend_message = status.message[:2000] if status and status.message else None
            session.add(transition(j, ending.state, ended, backend_message))
            j.message_code, j.message_params = ending.code, dict(ending.params)
            usage.record_run(session, j, ended, ending.outcome)
            if ending.state is JobState.PREEMPTED:
                session.add(transition(j, JobState.QUEUED, ended))
                j.message_code, j.message_params = "job.message.preempted", {}

        self._write(session, job.id, apply)
        return False

    def _write(self, session: Session, job_id: str, change: Callable[[Job], None]) -> bool:
        """Apply ``change`` to the job under its row lock, only while this replica holds the lease."""
        session.rollback()
        job = repository.leased(session, job_id, self.token)
        if job is None:
            log.warning("lost the lease on job %s; another replica carries on", job_id)
            return False
        change(job)
        session.commit()
        return True

    def _spec(self, session: Session, job: Job) -> LaunchSpec:
        env = {
            "AICOMMONS_JOB_ID": job.id,
            "AICOMMONS_ATTEMPT": str(job.attempt),
            "AICOMMONS_CHECKPOINT_DIR": str(self.checkpoint_dir(job)),
        }
        if job.mlflow_experiment:
            env["MLFLOW_EXPERIMENT_NAME"] = job.mlflow_experiment
        secrets: dict[str, str] = {}
        if self.environment is not None:
            variables = self.environment(session, job)
            env.update(variables.env)
            secrets = variables.secrets
        workdir = archives.archive_path(self.settings, job.workdir_sha256) if job.workdir_sha256 else None
        names = {f.id: f.name for f in repository.flavours(session)}
        return LaunchSpec(
            job_id=run_id(job, self.launcher),
            entrypoint=job.entrypoint,
            working_dir=workdir,
            pip=tuple(job.pip or ()),
            env=env,
            flavour=names[job.flavour_id],
            gpus_per_worker=job.gpus_per_worker,
            workers=job.workers,
            cpus=job.cpus,
            memory_bytes=job.memory_mb * 1024 * 1024 if job.memory_mb else None,
            time_limit_s=job.time_limit_s,
            org=job.org_id,
            org_quota_gpus={
                names[q.flavour_id]: q.guaranteed_gpus + q.borrow_limit_gpus
                for q in repository.quotas(session)
                if q.org_id == job.org_id
            },
            secrets=secrets,
        )

    def checkpoint_dir(self, job: Job) -> Path:
        path = self.settings.data_dir / "checkpoints" / job.id
        path.mkdir(parents=True, exist_ok=True)
        return path

    # --- leases ----------------------------------------------------------------------------------

    def _release(self, job_id: str) -> None:
        with self._held_lock:
            self._held.discard(job_id)
        with self.sessions() as session:
            job = repository.leased(session, job_id, self.token)
            if job is not None:
                job.lease_token, job.lease_expires_at = None, None
                session.commit()

    def heartbeat(self) -> int:
        """Extend the leases this replica holds; called by the loop's heartbeat thread."""
        with self._held_lock:
            held = list(self._held)
        if not held:
            return 0
        until = self.clock() + timedelta(seconds=self.settings.scheduler_lease_s)
        with self.sessions() as session:
            renewed = repository.renew_leases(session, self.token, held, until)
            session.commit()
        return renewed


def run_id(job: Job, launcher: Launcher) -> str:
    """The backend's id for the job's current run: the job id, suffixed from the second attempt on
    where the backend keeps a stopped run under its id (Ray refuses to reuse a submission id)."""
    if job.attempt == 0 or CAP_RESUMES_BY_ID in launcher.capabilities:
        return job.id
    return f"{job.id}-r{job.attempt}"


def _explain(job: Job, wait: Wait) -> None:
    """Store why the job waits, writing only what changed (thousands of rows per cycle otherwise)."""
    params = dict(wait.params)
    if job.wait_reason != wait.reason.value or job.wait_params != params:
        job.wait_reason, job.wait_params = wait.reason.value, params
    if job.org_position != wait.org_position or job.flavour_position != wait.flavour_position:
        job.org_position, job.flavour_position = wait.org_position, wait.flavour_position
    for attr, value in (("eta_earliest", wait.eta_earliest), ("eta_latest", wait.eta_latest)):
        current: datetime | None = getattr(job, attr)
        if value is None:
            if current is not None:
                setattr(job, attr, None)
        elif current is None or abs(current.timestamp() - value) > ETA_SLACK_S:
            setattr(job, attr, snapshot.from_epoch(value))


@dataclass(frozen=True)
class Ending:
    state: JobState
    status: LaunchStatus | None = None
    code: str | None = None
    params: dict[str, str | int] = field(default_factory=dict)
    platform_fault: bool = False  # lost or never started by the platform: not charged

    @property
    def outcome(self) -> Outcome:
        if self.platform_fault or self.code == "job.message.launch_failed":
            return Outcome.PLATFORM_FAILURE
        return OUTCOMES[self.state]


OUTCOMES = {
    JobState.SUCCEEDED: Outcome.SUCCEEDED,
    JobState.FAILED: Outcome.FAILED_USER,
    JobState.CANCELLED: Outcome.CANCELLED,
    JobState.TIMED_OUT: Outcome.TIMED_OUT,
    JobState.PREEMPTED: Outcome.PREEMPTED,
}


def _stopped_state(stop_requested: str | None) -> JobState:
    return {
        "cancel": JobState.CANCELLED,
        "timeout": JobState.TIMED_OUT,
        "preempt": JobState.PREEMPTED,
    }.get(stop_requested or "", JobState.FAILED)


def _ending(job: Job, status: LaunchStatus) -> Ending:
    if status.phase is LaunchPhase.MISSING:
        return Ending(JobState.FAILED, status, code="job.message.lost", platform_fault=True)
    if status.phase is LaunchPhase.SUCCEEDED:
        return Ending(JobState.SUCCEEDED, status)
    if status.phase is LaunchPhase.STOPPED or job.stop_requested:
        state = _stopped_state(job.stop_requested)
        if state is JobState.TIMED_OUT:
            return Ending(state, status, code="job.message.timed_out", params={"seconds": job.time_limit_s})
        # Stopped by no one here (an operator on the backend): the platform's doing, not charged.
        return Ending(state, status, platform_fault=job.stop_requested is None)
    return Ending(JobState.FAILED, status)
