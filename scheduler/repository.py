"""All queries of the quota domain."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .models import Allocation, Booking, Flavour, LedgerEntry, Quota, UsageRecord

LIVE_BOOKING = ("requested", "confirmed")


# --- flavours ------------------------------------------------------------------------------------


def flavour_by_name(session: Session, name: str, lock: bool = False) -> Flavour | None:
    query = select(Flavour).where(Flavour.name == name)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    return session.scalars(query).first()


def flavours(session: Session) -> list[Flavour]:
    return list(session.scalars(select(Flavour).order_by(Flavour.pool, Flavour.name)))


def flavour_names(session: Session) -> dict[str, str]:
    return {fid: name for fid, name in session.execute(select(Flavour.id, Flavour.name))}


# --- allocations and ledger -----------------------------------------------------------------------


def allocation(session: Session, allocation_id: str, lock: bool = False) -> Allocation | None:
    query = select(Allocation).where(Allocation.id == allocation_id)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    return session.scalars(query).first()


def allocations(
    session: Session, org_ids: Sequence[str] | None, status: str | None = None
) -> list[Allocation]:
    query = select(Allocation).order_by(Allocation.requested_at.desc(), Allocation.id)
    if org_ids is not None:
        query = query.where(Allocation.org_id.in_(org_ids))
    if status is not None:
        query = query.where(Allocation.status == status)
    return list(session.scalars(query))


def lock_vouchers(session: Session, org_id: str, at: datetime) -> list[Allocation]:
    """The organisation's approved allocations valid at ``at`` with something left, locked.

    Rows are locked in id order, so concurrent debits of one organisation queue up instead of
    deadlocking. On SQLite the lock clause is dropped: SQLite serialises writers itself.
    """
    query = (
        select(Allocation)
        .where(
            Allocation.org_id == org_id,
            Allocation.status == "approved",
            Allocation.valid_until > at,
            Allocation.valid_from <= at,
            Allocation.used_gpu_seconds < Allocation.granted_gpu_seconds,
        )
        .order_by(Allocation.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return list(session.scalars(query))


def entries_of_charge(session: Session, charge_key: str) -> list[LedgerEntry]:
    query = select(LedgerEntry).where(LedgerEntry.charge_key == charge_key).order_by(LedgerEntry.seq)
    return list(session.scalars(query))


def entries_of_allocation(session: Session, allocation_id: str) -> list[LedgerEntry]:
    query = select(LedgerEntry).where(LedgerEntry.allocation_id == allocation_id).order_by(LedgerEntry.at)
    return list(session.scalars(query))


def balance_rows(session: Session, org_id: str, now: datetime) -> list[tuple[str | None, int, int, int]]:
    """(flavour id, active allocations, granted, used) per flavour, from the running totals."""
    query = (
        select(
            Allocation.flavour_id,
            func.count(),
            func.coalesce(func.sum(Allocation.granted_gpu_seconds), 0),
            func.coalesce(func.sum(Allocation.used_gpu_seconds), 0),
        )
        .where(
            Allocation.org_id == org_id,
            Allocation.status == "approved",
            Allocation.valid_until > now,
            Allocation.valid_from <= now,
        )
        .group_by(Allocation.flavour_id)
    )
    return [(f, int(n), int(g or 0), int(u or 0)) for f, n, g, u in session.execute(query)]


# --- quotas --------------------------------------------------------------------------------------


def quota(session: Session, org_id: str, flavour_id: str) -> Quota | None:
    query = select(Quota).where(Quota.org_id == org_id, Quota.flavour_id == flavour_id)
    return session.scalars(query).first()


def quotas(session: Session, org_ids: Sequence[str] | None) -> list[Quota]:
    query = select(Quota).order_by(Quota.org_id, Quota.flavour_id)
    if org_ids is not None:
        query = query.where(Quota.org_id.in_(org_ids))
    return list(session.scalars(query))


def guaranteed_total(session: Session, flavour_id: str, except_org: str | None = None) -> int:
    query = select(func.coalesce(func.sum(Quota.guaranteed_gpus), 0)).where(Quota.flavour_id == flavour_id)
    if except_org is not None:
        query = query.where(Quota.org_id != except_org)
    return int(session.scalar(query) or 0)


def held_back(session: Session, flavour_id: str, except_org: str | None) -> int:
    """GPUs other organisations' guarantees keep for themselves (guaranteed minus lendable)."""
    query = select(func.coalesce(func.sum(Quota.guaranteed_gpus - Quota.lend_limit_gpus), 0)).where(
        Quota.flavour_id == flavour_id
    )
    if except_org is not None:
        query = query.where(Quota.org_id != except_org)
    return int(session.scalar(query) or 0)


# --- bookings ------------------------------------------------------------------------------------


def booking(session: Session, booking_id: str) -> Booking | None:
    return session.get(Booking, booking_id)


def bookings(session: Session, org_ids: Sequence[str] | None, flavour_id: str | None = None) -> list[Booking]:
    query = select(Booking).order_by(Booking.starts_at, Booking.id)
    if org_ids is not None:
        query = query.where(Booking.org_id.in_(org_ids))
    if flavour_id is not None:
        query = query.where(Booking.flavour_id == flavour_id)
    return list(session.scalars(query))


def live_bookings(
    session: Session, flavour_id: str, start: datetime, end: datetime, except_id: str | None = None
) -> list[Booking]:
    query = select(Booking).where(
        Booking.flavour_id == flavour_id,
        Booking.status.in_(LIVE_BOOKING),
        Booking.starts_at < end,
        Booking.ends_at > start,
    )
    if except_id is not None:
        query = query.where(Booking.id != except_id)
    return list(session.scalars(query))


# --- usage ---------------------------------------------------------------------------------------


def usage_by_interval(
    session: Session, job_id: str, attempt: int, started_at: datetime
) -> UsageRecord | None:
    query = select(UsageRecord).where(
        UsageRecord.job_id == job_id, UsageRecord.attempt == attempt, UsageRecord.started_at == started_at
    )
    return session.scalars(query).first()


def usage(
    session: Session,
    org_ids: Sequence[str] | None,
    start: datetime,
    end: datetime,
    flavour_id: str | None = None,
) -> list[UsageRecord]:
    """Usage records overlapping [start, end)."""
    query = (
        select(UsageRecord)
        .where(UsageRecord.started_at < end, UsageRecord.ended_at > start)
        .order_by(UsageRecord.started_at, UsageRecord.id)
    )
    if org_ids is not None:
        query = query.where(UsageRecord.org_id.in_(org_ids))
    if flavour_id is not None:
        query = query.where(UsageRecord.flavour_id == flavour_id)
    return list(session.scalars(query))
