"""The job state machine: every legal move is allowed, every other refused, times stamped."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from aicommons.portal.core.errors import Conflict
from aicommons.scheduler.jobs.models import Job
from aicommons.scheduler.jobs.states import TERMINAL, TRANSITIONS, JobState, can_transition, transition

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


def job(state: JobState) -> Job:
    return Job(id="j1", state=state.value, attempt=0, wait_params={}, message_params={})


def test_terminal_states_lead_nowhere() -> None:
    for state in TERMINAL:
        assert TRANSITIONS[state] == frozenset()
        for target in JobState:
            assert not can_transition(state, target)


@pytest.mark.parametrize("current", list(JobState))
@pytest.mark.parametrize("target", list(JobState))
def test_transition_allows_exactly_the_table(current: JobState, target: JobState) -> None:
    row = job(current)
    if target in TRANSITIONS[current]:
        event = transition(row, target, T0)
        assert row.state == target.value and (event.from_state, event.to_state) == (
            current.value,
            target.value,
        )
    else:
        with pytest.raises(Conflict) as refused:
            transition(row, target, T0)
        assert refused.value.code == "job.illegal_transition" and row.state == current.value


def test_preempted_job_requeues_keeping_its_place_and_counting_attempts() -> None:
    row = job(JobState.RUNNING)
    row.queued_at = T0
    row.started_at = T0
    row.stop_requested = "preempt"
    transition(row, JobState.PREEMPTED, T0.replace(hour=9))
    assert row.ended_at == T0.replace(hour=9)
    transition(row, JobState.QUEUED, T0.replace(hour=9))
    assert row.queued_at == T0 and row.attempt == 1
    assert row.started_at is None and row.ended_at is None and row.stop_requested is None


def test_admission_clears_the_wait_explanation() -> None:
    row = job(JobState.QUEUED)
    row.wait_reason, row.wait_params, row.org_position = "behind_jobs", {"ahead": 3}, 4
    transition(row, JobState.ADMITTED, T0)
    assert row.admitted_at == T0 and row.wait_reason is None and row.org_position is None
