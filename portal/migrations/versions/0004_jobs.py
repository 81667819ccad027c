"""jobs: jobs, job events, working-directory archives, scheduler leases

Revision ID: 0004
Revises: 0002
Create Date: 2026-11-23 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
When = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "jobs",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("org_id", sa.String(36), nullable=False),
        sa.Column("project", sa.String(128), nullable=True),
        sa.Column("submitted_by", sa.String(36), nullable=False),
        sa.Column("entrypoint", sa.Text(), nullable=False),
        sa.Column("workdir_sha256", sa.String(64), nullable=True),
        sa.Column("pip", sa.JSON(), nullable=False),
        sa.Column("flavour_id", sa.String(36), nullable=False),
        sa.Column("gpus_per_worker", sa.Integer(), nullable=False),
        sa.Column("workers", sa.Integer(), nullable=False),
        sa.Column("cpus", sa.Float(), nullable=False),
        sa.Column("memory_mb", sa.Integer(), nullable=True),
        sa.Column("time_limit_s", sa.Integer(), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("preemptible", sa.Boolean(), nullable=False),
        sa.Column("dataset_version_ids", sa.JSON(), nullable=False),
        sa.Column("datasets", sa.JSON(), nullable=False),
        sa.Column("mlflow_experiment", sa.String(256), nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("submitted_at", When, nullable=False),
        sa.Column("queued_at", When, nullable=False),
        sa.Column("admitted_at", When, nullable=True),
        sa.Column("started_at", When, nullable=True),
        sa.Column("ended_at", When, nullable=True),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("message_code", sa.String(64), nullable=True),
        sa.Column("message_params", sa.JSON(), nullable=False),
        sa.Column("stop_requested", sa.String(16), nullable=True),
        sa.Column("stop_sent_at", When, nullable=True),
        sa.Column("wait_reason", sa.String(32), nullable=True),
        sa.Column("wait_params", sa.JSON(), nullable=False),
        sa.Column("org_position", sa.Integer(), nullable=True),
        sa.Column("flavour_position", sa.Integer(), nullable=True),
        sa.Column("eta_earliest", When, nullable=True),
        sa.Column("eta_latest", When, nullable=True),
        sa.Column("lease_token", sa.String(64), nullable=True),
        sa.Column("lease_expires_at", When, nullable=True),
        sa.Column("updated_at", When, nullable=False),
        sa.CheckConstraint("gpus_per_worker >= 1", name=op.f("ck_jobs_gpus_positive")),
        sa.CheckConstraint("workers >= 1", name=op.f("ck_jobs_workers_positive")),
        sa.CheckConstraint("time_limit_s > 0", name=op.f("ck_jobs_time_limit_positive")),
        sa.ForeignKeyConstraint(["org_id"], ["organisations.id"], name=op.f("fk_jobs_org_id_organisations"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["flavour_id"], ["flavours.id"], name=op.f("fk_jobs_flavour_id_flavours")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_jobs")),
    )  # fmt: skip
    op.create_index("ix_jobs_state_queued", "jobs", ["state", "queued_at"])
    op.create_index("ix_jobs_org_submitted", "jobs", ["org_id", "submitted_at"])
    op.create_index(op.f("ix_jobs_flavour_id"), "jobs", ["flavour_id"])

    op.create_table(
        "job_events",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("job_id", sa.String(36), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("from_state", sa.String(16), nullable=False),
        sa.Column("to_state", sa.String(16), nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("at", When, nullable=False),
        sa.ForeignKeyConstraint(
            ["job_id"], ["jobs.id"], name=op.f("fk_job_events_job_id_jobs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job_events")),
    )
    op.create_index(op.f("ix_job_events_job_id"), "job_events", ["job_id"])

    op.create_table(
        "job_archives",
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("org_id", sa.String(36), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("uploaded_by", sa.String(36), nullable=False),
        sa.Column("uploaded_at", When, nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organisations.id"],
            name=op.f("fk_job_archives_org_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("sha256", "org_id", name=op.f("pk_job_archives")),
    )  # fmt: skip

    op.create_table(
        "scheduler_leases",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("holder", sa.String(64), nullable=True),
        sa.Column("renewed_at", When, nullable=True),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_scheduler_leases")),
    )


def downgrade() -> None:
    op.drop_table("scheduler_leases")
    op.drop_table("job_archives")
    op.drop_index(op.f("ix_job_events_job_id"), table_name="job_events")
    op.drop_table("job_events")
    op.drop_index(op.f("ix_jobs_flavour_id"), table_name="jobs")
    op.drop_index("ix_jobs_org_submitted", table_name="jobs")
    op.drop_index("ix_jobs_state_queued", table_name="jobs")
    op.drop_table("jobs")
