"""Tables of the job domain: jobs, their state history, working-directory archives and scheduler leases."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from aicommons.portal.core.db import Base, UTCDateTime
from aicommons.portal.core.ids import new_id
from aicommons.portal.core.time import utcnow

from ..models import BigId


class Job(Base):
    """A training job: what to run (the spec), where it stands (state, attempt) and why it waits.

    The spec columns never change after submission. ``queued_at`` is the first submission and is
    kept when a job is preempted, so it keeps its place in line. ``lease_token`` and
    ``lease_expires_at`` mark the scheduler replica currently acting on the job.
    """

    __tablename__ = "jobs"
    __table_args__ = (
        CheckConstraint("gpus_per_worker >= 1", name="gpus_positive"),
        CheckConstraint("workers >= 1", name="workers_positive"),
        CheckConstraint("time_limit_s > 0", name="time_limit_positive"),
        Index("ix_jobs_state_queued", "state", "queued_at"),
        Index("ix_jobs_org_submitted", "org_id", "submitted_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(128))
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    project: Mapped[str | None] = mapped_column(String(128))
    submitted_by: Mapped[str] = mapped_column(String(36))
    entrypoint: Mapped[str] = mapped_column(Text)
    workdir_sha256: Mapped[str | None] = mapped_column(String(64))
    pip: Mapped[list[str]] = mapped_column(JSON, default=list)
    flavour_id: Mapped[str] = mapped_column(ForeignKey("flavours.id"), index=True)
    gpus_per_worker: Mapped[int] = mapped_column(Integer)
    workers: Mapped[int] = mapped_column(Integer, default=1)
    cpus: Mapped[float] = mapped_column(Float, default=1.0)
    memory_mb: Mapped[int | None] = mapped_column(Integer)
    time_limit_s: Mapped[int] = mapped_column(Integer)
    priority: Mapped[int] = mapped_column(Integer, default=0)
    preemptible: Mapped[bool] = mapped_column(Boolean, default=True)
    dataset_version_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    # What the job reads, resolved at submission (dataset, version, URIs); credentials are minted at launch.
    datasets: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    mlflow_experiment: Mapped[str | None] = mapped_column(String(256))

    state: Mapped[str] = mapped_column(String(16), default="QUEUED")
    attempt: Mapped[int] = mapped_column(Integer, default=0)
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    queued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    admitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    message: Mapped[str | None] = mapped_column(Text)  # the backend's own words, as it gave them
    message_code: Mapped[str | None] = mapped_column(String(64))  # ours, translated when shown
    message_params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Set by a user (cancel), by the admission cycle (preempt) or by the loop (timeout); acted on
    # by whichever replica holds the job's lease.
    stop_requested: Mapped[str | None] = mapped_column(String(16))
    stop_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    wait_reason: Mapped[str | None] = mapped_column(String(32))
    wait_params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    org_position: Mapped[int | None] = mapped_column(Integer)
    flavour_position: Mapped[int | None] = mapped_column(Integer)
    eta_earliest: Mapped[datetime | None] = mapped_column(UTCDateTime)
    eta_latest: Mapped[datetime | None] = mapped_column(UTCDateTime)

    lease_token: Mapped[str | None] = mapped_column(String(64))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    @property
    def gpus(self) -> int:
        return self.gpus_per_worker * self.workers


class JobEvent(Base):
    """One state change of a job, appended by the transition function."""

    __tablename__ = "job_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    attempt: Mapped[int] = mapped_column(Integer)
    from_state: Mapped[str] = mapped_column(String(16))
    to_state: Mapped[str] = mapped_column(String(16))
    message: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class JobArchive(Base):
    """A working-directory archive uploaded for an organisation, stored by content hash."""

    __tablename__ = "job_archives"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), primary_key=True)
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    uploaded_by: Mapped[str] = mapped_column(String(36))
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SchedulerLease(Base):
    """A named singleton task (the admission cycle): whoever holds the row lock runs it."""

    __tablename__ = "scheduler_leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str | None] = mapped_column(String(64))
    renewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
