"""Metering: one usage record per job-run interval; charged outcomes debit the ledger at once.

Recording is idempotent on (job_id, attempt, started_at): the same record again returns the first
one; a different record for the same interval is a conflict. The ledger charge key is derived from
the same triple, so a retried or concurrent recording never charges twice.
"""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from aicommons.portal.core.errors import Conflict, InvalidInput
from aicommons.portal.core.principal import Principal

from . import flavours, ledger, policy, repository
from .models import UsageRecord
from .schemas import UsageCreate, UsageOut


def charge_key(data: UsageCreate) -> str:
    return f"usage:{data.job_id}:{data.attempt}:{data.started_at.isoformat()}"


def record_usage(session: Session, actor: Principal | None, org_id: str, data: UsageCreate) -> UsageRecord:
    """Store a usage record and, if its outcome is charged, debit the ledger (same transaction).

    ``actor`` None is the platform's own metering step; a person must be an administrator.
    The ledger is debited from the allocations valid when the interval started.
    """
    if actor is not None:
        actor.require_admin()
    if data.ended_at <= data.started_at:
        raise InvalidInput("usage.interval_invalid")
    flavour = flavours.resolve(session, data.flavour)
    existing = repository.usage_by_interval(session, data.job_id, data.attempt, data.started_at)
    if existing is not None:
        return _same_or_conflict(existing, org_id, flavour.id, data)
    usage = UsageRecord(
        org_id=org_id,
        flavour_id=flavour.id,
        job_id=data.job_id,
        attempt=data.attempt,
        started_at=data.started_at,
        ended_at=data.ended_at,
        gpus=data.gpus,
        outcome=data.outcome.value,
        gpu_seconds=policy.gpu_seconds(data.gpus, data.started_at, data.ended_at),
        charged=policy.is_charged(data.outcome),
        charged_gpu_seconds=0,
        uncovered_gpu_seconds=0,
    )
    try:
        with session.begin_nested():
            session.add(usage)
    except IntegrityError:
        # A concurrent recording of the same interval won; answer with what it wrote.
        winner = repository.usage_by_interval(session, data.job_id, data.attempt, data.started_at)
        if winner is None:
            raise
        return _same_or_conflict(winner, org_id, flavour.id, data)
    if usage.charged and usage.gpu_seconds > 0:
        result = ledger.debit(
            session,
            org_id=org_id,
            flavour_id=flavour.id,
            gpu_seconds=usage.gpu_seconds,
            charge_key=charge_key(data),
            at=data.started_at,
        )
        usage.charged_gpu_seconds, usage.uncovered_gpu_seconds = result.charged, result.uncovered
        session.flush()
    return usage


def _same_or_conflict(existing: UsageRecord, org_id: str, flavour_id: str, data: UsageCreate) -> UsageRecord:
    same = (
        existing.org_id == org_id
        and existing.flavour_id == flavour_id
        and existing.ended_at == data.ended_at
        and existing.gpus == data.gpus
        and existing.outcome == data.outcome.value
    )
    if not same:
        raise Conflict("usage.conflict")
    return existing


def to_out(usage: UsageRecord, flavour_names: dict[str, str]) -> UsageOut:
    return UsageOut(
        id=usage.id,
        org_id=usage.org_id,
        flavour=flavour_names.get(usage.flavour_id, usage.flavour_id),
        job_id=usage.job_id,
        attempt=usage.attempt,
        started_at=usage.started_at,
        ended_at=usage.ended_at,
        gpus=usage.gpus,
        outcome=policy.Outcome(usage.outcome),
        gpu_seconds=usage.gpu_seconds,
        charged=usage.charged,
        charged_gpu_seconds=usage.charged_gpu_seconds,
        uncovered_gpu_seconds=usage.uncovered_gpu_seconds,
    )
