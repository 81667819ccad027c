"""Job states as data, and the one function allowed to change a job's state."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from aicommons.portal.core.errors import Conflict

from .models import Job, JobEvent


class JobState(StrEnum):
    QUEUED = "QUEUED"
    ADMITTED = "ADMITTED"
    STARTING = "STARTING"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    TIMED_OUT = "TIMED_OUT"
    PREEMPTED = "PREEMPTED"


S = JobState
TERMINAL = frozenset({S.SUCCEEDED, S.FAILED, S.CANCELLED, S.TIMED_OUT})
# Admitted jobs hold their devices until they end: the admission cycle counts them as running.
HOLDING = frozenset({S.ADMITTED, S.STARTING, S.RUNNING})

TRANSITIONS: dict[JobState, frozenset[JobState]] = {
    S.QUEUED: frozenset({S.ADMITTED, S.CANCELLED}),
    S.ADMITTED: frozenset({S.STARTING, S.FAILED, S.CANCELLED, S.PREEMPTED}),
    S.STARTING: frozenset({S.RUNNING, S.SUCCEEDED, S.FAILED, S.CANCELLED, S.TIMED_OUT, S.PREEMPTED}),
    S.RUNNING: frozenset({S.SUCCEEDED, S.FAILED, S.CANCELLED, S.TIMED_OUT, S.PREEMPTED}),
    # A preempted job goes back to the queue, keeping its place in line (queued_at).
    S.PREEMPTED: frozenset({S.QUEUED}),
    S.SUCCEEDED: frozenset(),
    S.FAILED: frozenset(),
    S.CANCELLED: frozenset(),
    S.TIMED_OUT: frozenset(),
}


def can_transition(current: JobState | str, target: JobState | str) -> bool:
    return JobState(target) in TRANSITIONS[JobState(current)]


def transition(job: Job, target: JobState, at: datetime, message: str | None = None) -> JobEvent:
    """Move ``job`` to ``target`` or refuse; stamps the times that belong to the new state.

    Returns the history event; the caller adds it to the session in the same transaction.
    """
    current = JobState(job.state)
    if not can_transition(current, target):
        raise Conflict("job.illegal_transition", job=job.id, current=current.value, target=target.value)
    job.state = target.value
    if target is S.ADMITTED:
        job.admitted_at = at
        job.wait_reason, job.wait_params = None, {}
        job.org_position = job.flavour_position = None
        job.eta_earliest = job.eta_latest = None
    elif target is S.RUNNING:
        job.started_at = job.started_at or at
    elif target is S.QUEUED:
        job.attempt += 1
        job.admitted_at = job.started_at = job.ended_at = None
        job.stop_requested = job.stop_sent_at = None
    if target in TERMINAL or target is S.PREEMPTED:
        job.ended_at = at
    if message is not None:
        job.message = message
    return JobEvent(job_id=job.id, attempt=job.attempt, from_state=current.value, to_state=target.value,
                    message=message, at=at)  # fmt: skip
