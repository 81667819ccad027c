"""datasets: background processing leases, files to send again, lineage of job uses

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

When = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("dataset_versions") as batch:
        batch.add_column(sa.Column("lease_owner", sa.String(64), nullable=True))
        batch.add_column(sa.Column("lease_expires_at", When, nullable=True))
        batch.add_column(sa.Column("mismatched_paths", sa.JSON(), nullable=False, server_default="[]"))
    op.create_table(
        "dataset_version_uses",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("dataset_id", sa.String(36), nullable=False),
        sa.Column("version_id", sa.String(36), nullable=False),
        sa.Column("job_id", sa.String(36), nullable=False),
        sa.Column("org_id", sa.String(36), nullable=False),
        sa.Column("used_at", When, nullable=False),
        sa.ForeignKeyConstraint(["dataset_id"], ["datasets.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["version_id"], ["dataset_versions.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("version_id", "job_id", name="uq_dataset_version_uses_version_job"),
    )
    op.create_index("ix_dataset_version_uses_dataset_id", "dataset_version_uses", ["dataset_id"])
    op.create_index("ix_dataset_version_uses_job_id", "dataset_version_uses", ["job_id"])


def downgrade() -> None:
    op.drop_index("ix_dataset_version_uses_job_id", "dataset_version_uses")
    op.drop_index("ix_dataset_version_uses_dataset_id", "dataset_version_uses")
    op.drop_table("dataset_version_uses")
    with op.batch_alter_table("dataset_versions") as batch:
        batch.drop_column("mismatched_paths")
        batch.drop_column("lease_expires_at")
        batch.drop_column("lease_owner")
