"""All queries of the job domain."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..models import Allocation, Booking, Flavour, Quota, UsageRecord
from .models import Job, JobArchive, JobEvent, SchedulerLease
from .states import HOLDING, JobState

# States in which a replica has something to do with the launcher.
ACTIVE = tuple(s.value for s in HOLDING)


def job(session: Session, job_id: str, lock: bool = False) -> Job | None:
    query = select(Job).where(Job.id == job_id)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    return session.scalars(query).first()


def jobs(
    session: Session,
    org_ids: Sequence[str] | None,
    states: Sequence[str] | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[int, list[Job]]:
    conditions = []
    if org_ids is not None:
        conditions.append(Job.org_id.in_(org_ids))
    if states:
        conditions.append(Job.state.in_(states))
    total = session.scalar(select(func.count()).select_from(Job).where(*conditions)) or 0
    query = select(Job).where(*conditions).order_by(Job.submitted_at.desc(), Job.id)
    query = query.limit(limit).offset(offset)
    return int(total), list(session.scalars(query))


def events(session: Session, job_id: str) -> list[JobEvent]:
    return list(session.scalars(select(JobEvent).where(JobEvent.job_id == job_id).order_by(JobEvent.id)))


def jobs_in_states(session: Session, states: Sequence[str]) -> list[Job]:
    return list(session.scalars(select(Job).where(Job.state.in_(states)).order_by(Job.queued_at, Job.id)))


def claim_active(session: Session, token: str, now: datetime, lease_until: datetime, limit: int) -> list[Job]:
    """Lease up to ``limit`` jobs that need a replica's attention and whose lease is free or expired.

    ``SKIP LOCKED`` lets replicas claim different rows at once instead of queueing on each other;
    SQLite ignores the clause and serialises writers itself.
    """
    query = (
        select(Job)
        .where(
            Job.state.in_(ACTIVE),
            or_(Job.lease_expires_at.is_(None), Job.lease_expires_at < now),
        )
        .order_by(Job.admitted_at, Job.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
        .execution_options(populate_existing=True)
    )
    claimed = list(session.scalars(query))
    for row in claimed:
        row.lease_token, row.lease_expires_at = token, lease_until
    return claimed


def leased(session: Session, job_id: str, token: str) -> Job | None:
    """The job, locked, if this replica still holds its lease; None if the lease was lost."""
    query = (
        select(Job)
        .where(Job.id == job_id, Job.lease_token == token)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return session.scalars(query).first()


def renew_leases(session: Session, token: str, job_ids: Sequence[str], lease_until: datetime) -> int:
    if not job_ids:
        return 0
    result = session.execute(
        update(Job)
        .where(Job.id.in_(job_ids), Job.lease_token == token)
        .values(lease_expires_at=lease_until)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def lock_singleton(session: Session, name: str) -> SchedulerLease | None:
    """The named singleton row locked for this transaction, or None if another replica holds it."""
    query = (
        select(SchedulerLease)
        .where(SchedulerLease.name == name)
        .with_for_update(skip_locked=True)
        .execution_options(populate_existing=True)
    )
    row = session.scalars(query).first()
    if row is None and session.get(SchedulerLease, name) is None:
        try:
            with session.begin_nested():
                session.add(SchedulerLease(name=name))
        except IntegrityError:
            return None  # another replica created it first and holds it now
        row = session.scalars(query).first()
    return row


def archive(session: Session, sha256: str, org_id: str) -> JobArchive | None:
    return session.get(JobArchive, (sha256, org_id))


# --- what the admission cycle sees -----------------------------------------------------------------


def flavours(session: Session) -> list[Flavour]:
    return list(session.scalars(select(Flavour)))


def quotas(session: Session) -> list[Quota]:
    return list(session.scalars(select(Quota)))


def confirmed_bookings(session: Session, now: datetime) -> list[Booking]:
    query = select(Booking).where(Booking.status == "confirmed", Booking.ends_at > now)
    return list(session.scalars(query))


def remaining_by_org_flavour(session: Session, now: datetime) -> list[tuple[str, str | None, int]]:
    """(org, flavour or None for any-flavour, GPU-seconds left) over allocations valid now."""
    query = (
        select(
            Allocation.org_id,
            Allocation.flavour_id,
            func.coalesce(func.sum(Allocation.granted_gpu_seconds - Allocation.used_gpu_seconds), 0),
        )
        .where(Allocation.status == "approved", Allocation.valid_from <= now, Allocation.valid_until > now)
        .group_by(Allocation.org_id, Allocation.flavour_id)
    )
    return [(org, flavour, int(left or 0)) for org, flavour, left in session.execute(query)]


def recent_usage(session: Session, since: datetime) -> list[tuple[str, datetime, int]]:
    """(org, ended_at, GPU-seconds) of usage records that ended since ``since``."""
    query = select(UsageRecord.org_id, UsageRecord.ended_at, UsageRecord.gpu_seconds).where(
        UsageRecord.ended_at > since
    )
    return [(org, ended, int(seconds)) for org, ended, seconds in session.execute(query)]


def recent_runtimes(session: Session, limit: int = 2000) -> list[tuple[str, datetime, datetime, int]]:
    """(flavour, started, ended, time limit) of the latest jobs that ran to their own end."""
    query = (
        select(Job.flavour_id, Job.started_at, Job.ended_at, Job.time_limit_s)
        .where(
            Job.state.in_((JobState.SUCCEEDED.value, JobState.FAILED.value)),
            and_(Job.started_at.is_not(None), Job.ended_at.is_not(None)),
        )
        .order_by(Job.ended_at.desc())
        .limit(limit)
    )
    return [(f, s, e, int(t)) for f, s, e, t in session.execute(query) if s is not None and e is not None]


def usage_of(session: Session, job_id: str) -> list[UsageRecord]:
    query = select(UsageRecord).where(UsageRecord.job_id == job_id).order_by(UsageRecord.started_at)
    return list(session.scalars(query))
