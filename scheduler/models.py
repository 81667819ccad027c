"""Tables of the quota domain: flavours, allocations (GPU-hour vouchers), the append-only ledger,
concurrency quotas, bookings and usage records.

Amounts are integer GPU-seconds. Organisations are referenced by id (a foreign key to
``organisations.id``); this package never imports the organisations domain.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from aicommons.portal.core.db import Base, UTCDateTime
from aicommons.portal.core.ids import new_id
from aicommons.portal.core.time import utcnow

BigId = BigInteger().with_variant(Integer(), "sqlite")


class Flavour(Base):
    """An accelerator type in a pool, with the number of devices the cluster has."""

    __tablename__ = "flavours"
    __table_args__ = (CheckConstraint("capacity_gpus >= 0", name="capacity_non_negative"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    pool: Mapped[str] = mapped_column(String(64), index=True)
    capacity_gpus: Mapped[int] = mapped_column(Integer)
    description: Mapped[str | None] = mapped_column(String(2000))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Allocation(Base):
    """A GPU-hour voucher: requested by an organisation, decided by an administrator.

    ``used_gpu_seconds`` is a running total of the ledger entries against this allocation,
    changed only under a row lock in the same transaction that inserts the entries.
    """

    __tablename__ = "allocations"
    __table_args__ = (
        CheckConstraint("requested_gpu_seconds > 0", name="requested_positive"),
        CheckConstraint("granted_gpu_seconds IS NULL OR granted_gpu_seconds > 0", name="granted_positive"),
        CheckConstraint("used_gpu_seconds >= 0", name="used_non_negative"),
        CheckConstraint(
            "granted_gpu_seconds IS NULL OR used_gpu_seconds <= granted_gpu_seconds", name="used_within_grant"
        ),
        CheckConstraint("valid_until > valid_from", name="period_ordered"),
        Index("ix_allocations_org_status_until", "org_id", "status", "valid_until"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    flavour_id: Mapped[str | None] = mapped_column(ForeignKey("flavours.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="requested")
    purpose: Mapped[str] = mapped_column(String(2000))
    requested_gpu_seconds: Mapped[int] = mapped_column(BigInteger)
    granted_gpu_seconds: Mapped[int | None] = mapped_column(BigInteger)
    used_gpu_seconds: Mapped[int] = mapped_column(BigInteger, default=0)
    valid_from: Mapped[datetime] = mapped_column(UTCDateTime)
    valid_until: Mapped[datetime] = mapped_column(UTCDateTime)
    renews_id: Mapped[str | None] = mapped_column(ForeignKey("allocations.id"))
    requested_by: Mapped[str | None] = mapped_column(String(36))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_by: Mapped[str | None] = mapped_column(String(36))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decision_reason: Mapped[str | None] = mapped_column(String(2000))


class LedgerEntry(Base):
    """One debit against one allocation. Rows are only ever inserted.

    A charge (identified by ``charge_key``) may be split over several allocations: its entries
    carry ``seq`` 0, 1, …; the unique (charge_key, seq) pair makes a second attempt to write the
    same charge fail instead of charging twice.
    """

    __tablename__ = "ledger_entries"
    __table_args__ = (
        UniqueConstraint("charge_key", "seq", name="uq_ledger_entries_charge_seq"),
        CheckConstraint("gpu_seconds > 0", name="amount_positive"),
        Index("ix_ledger_entries_org_at", "org_id", "at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    charge_key: Mapped[str] = mapped_column(String(200))
    seq: Mapped[int] = mapped_column(Integer)
    allocation_id: Mapped[str] = mapped_column(ForeignKey("allocations.id"), index=True)
    org_id: Mapped[str] = mapped_column(String(36))
    flavour_id: Mapped[str | None] = mapped_column(String(36))
    gpu_seconds: Mapped[int] = mapped_column(BigInteger)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Quota(Base):
    """Concurrency quota of an organisation on a flavour (GPUs, not GPU-hours)."""

    __tablename__ = "quotas"
    __table_args__ = (
        UniqueConstraint("org_id", "flavour_id", name="uq_quotas_org_flavour"),
        CheckConstraint("guaranteed_gpus >= 0", name="guaranteed_non_negative"),
        CheckConstraint("borrow_limit_gpus >= 0", name="borrow_non_negative"),
        CheckConstraint("lend_limit_gpus >= 0 AND lend_limit_gpus <= guaranteed_gpus", name="lend_within"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    flavour_id: Mapped[str] = mapped_column(ForeignKey("flavours.id"), index=True)
    guaranteed_gpus: Mapped[int] = mapped_column(Integer)
    borrow_limit_gpus: Mapped[int] = mapped_column(Integer)
    lend_limit_gpus: Mapped[int] = mapped_column(Integer)
    updated_by: Mapped[str | None] = mapped_column(String(36))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Booking(Base):
    """A reservation of N GPUs of a flavour for [starts_at, ends_at)."""

    __tablename__ = "bookings"
    __table_args__ = (
        CheckConstraint("gpus > 0", name="gpus_positive"),
        CheckConstraint("ends_at > starts_at", name="window_ordered"),
        Index("ix_bookings_flavour_window", "flavour_id", "starts_at", "ends_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    flavour_id: Mapped[str] = mapped_column(ForeignKey("flavours.id"))
    gpus: Mapped[int] = mapped_column(Integer)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16))
    purpose: Mapped[str | None] = mapped_column(String(2000))
    requested_by: Mapped[str | None] = mapped_column(String(36))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_by: Mapped[str | None] = mapped_column(String(36))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reason: Mapped[str | None] = mapped_column(String(2000))


class UsageRecord(Base):
    """What one job-run interval used, how it ended, and what of it was charged."""

    __tablename__ = "usage_records"
    __table_args__ = (
        UniqueConstraint("job_id", "attempt", "started_at", name="uq_usage_records_interval"),
        CheckConstraint("gpus > 0", name="gpus_positive"),
        CheckConstraint("ended_at > started_at", name="interval_ordered"),
        Index("ix_usage_records_org_started", "org_id", "started_at"),
        Index("ix_usage_records_flavour_started", "flavour_id", "started_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    flavour_id: Mapped[str] = mapped_column(ForeignKey("flavours.id"))
    job_id: Mapped[str] = mapped_column(String(64))
    attempt: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime] = mapped_column(UTCDateTime)
    gpus: Mapped[int] = mapped_column(Integer)
    outcome: Mapped[str] = mapped_column(String(32))
    gpu_seconds: Mapped[int] = mapped_column(BigInteger)
    charged: Mapped[bool] = mapped_column(Boolean)
    charged_gpu_seconds: Mapped[int] = mapped_column(BigInteger, default=0)
    uncovered_gpu_seconds: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
