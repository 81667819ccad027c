"""Tables of the datasets domain: catalogue, versions, manifest entries, domains, grants, licences."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from aicommons.portal.core.db import Base, UTCDateTime
from aicommons.portal.core.ids import new_id
from aicommons.portal.core.time import utcnow


class DatasetDomain(Base):
    """The industry taxonomy; seeded by the migration, extended by administrators."""

    __tablename__ = "dataset_domains"

    slug: Mapped[str] = mapped_column(String(64), primary_key=True)
    name_en: Mapped[str] = mapped_column(String(200))
    name_zh: Mapped[str] = mapped_column(String(200))


class Dataset(Base):
    __tablename__ = "datasets"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    org_id: Mapped[str] = mapped_column(String(36), index=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    title_en: Mapped[str] = mapped_column(String(300))
    title_zh: Mapped[str] = mapped_column(String(300))
    description_en: Mapped[str] = mapped_column(Text, default="")
    description_zh: Mapped[str] = mapped_column(Text, default="")
    domain: Mapped[str] = mapped_column(ForeignKey("dataset_domains.slug"), index=True)
    modality: Mapped[str] = mapped_column(String(32), index=True)
    task: Mapped[str] = mapped_column(String(64), index=True)
    label_format: Mapped[str] = mapped_column(String(32))
    label_schema: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    licence_id: Mapped[str] = mapped_column(String(100), index=True)
    licence_name: Mapped[str | None] = mapped_column(String(200))
    licence_text: Mapped[str | None] = mapped_column(Text)
    level: Mapped[str] = mapped_column(String(2), index=True)
    keywords: Mapped[list[str]] = mapped_column(JSON, default=list)
    provenance: Mapped[str] = mapped_column(Text, default="")
    contact: Mapped[str] = mapped_column(String(200), default="")
    search_text: Mapped[str] = mapped_column(Text, default="")
    # Token strings of datasets.search_tokens (titles and slug; everything else searchable), written by
    # the service. PostgreSQL derives the indexed `search_vector` from them (a generated column the
    # ORM does not map); SQLite copies them into the FTS5 table `datasets_fts`. Deferred: only SQL reads them.
    search_title: Mapped[str] = mapped_column(Text, default="", deferred=True)
    search_body: Mapped[str] = mapped_column(Text, default="", deferred=True)
    has_published: Mapped[bool] = mapped_column(default=False, index=True)
    created_by: Mapped[str | None] = mapped_column(String(36))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class DatasetVersion(Base):
    __tablename__ = "dataset_versions"
    __table_args__ = (UniqueConstraint("dataset_id", "number", name="uq_dataset_versions_dataset_number"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    dataset_id: Mapped[str] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16), default="draft", index=True)
    notes: Mapped[str] = mapped_column(Text, default="")
    file_count: Mapped[int] = mapped_column(Integer, default=0)
    total_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    digest: Mapped[str | None] = mapped_column(String(71))
    scan_report: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    validation_report: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    blocked_reasons: Mapped[list[str]] = mapped_column(JSON, default=list)
    override_justification: Mapped[str | None] = mapped_column(Text)
    override_by: Mapped[str | None] = mapped_column(String(36))
    created_by: Mapped[str | None] = mapped_column(String(36))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    upload_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    deprecated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The background step that verifies and validates an upload holds the version by lease.
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Files whose stored bytes did not match the manifest: discarded, to be sent again.
    mismatched_paths: Mapped[list[str]] = mapped_column(JSON, default=list, server_default="[]")


class VersionFile(Base):
    """One manifest entry: a path in the version, its declared size and sha256, and its upload."""

    __tablename__ = "dataset_files"
    __table_args__ = (UniqueConstraint("version_id", "path", name="uq_dataset_files_version_path"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    version_id: Mapped[str] = mapped_column(ForeignKey("dataset_versions.id", ondelete="CASCADE"), index=True)
    path: Mapped[str] = mapped_column(String(1024))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))  # "": to be declared when the upload completes
    part_size: Mapped[int] = mapped_column(BigInteger)
    upload_id: Mapped[str | None] = mapped_column(String(300))
    verified: Mapped[bool] = mapped_column(default=False)


class AccessGrant(Base):
    """An organisation's access to a restricted dataset: requested → approved | rejected; revoked; expires."""

    __tablename__ = "dataset_grants"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    dataset_id: Mapped[str] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"), index=True)
    org_id: Mapped[str] = mapped_column(String(36), index=True)
    state: Mapped[str] = mapped_column(String(16), default="requested", index=True)
    purpose: Mapped[str] = mapped_column(Text)
    duration_days: Mapped[int] = mapped_column(Integer)
    requested_by: Mapped[str | None] = mapped_column(String(36))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_by: Mapped[str | None] = mapped_column(String(36))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decision_reason: Mapped[str | None] = mapped_column(Text)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class LicenceAcceptance(Base):
    __tablename__ = "dataset_licence_acceptances"
    __table_args__ = (UniqueConstraint("dataset_id", "user_id", name="uq_dataset_licence_acceptances_user"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    dataset_id: Mapped[str] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[str] = mapped_column(String(36), index=True)
    accepted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DatasetVersionUse(Base):
    """Lineage: a platform job that was given credentials for a dataset version."""

    __tablename__ = "dataset_version_uses"
    __table_args__ = (UniqueConstraint("version_id", "job_id", name="uq_dataset_version_uses_version_job"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    dataset_id: Mapped[str] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"), index=True)
    version_id: Mapped[str] = mapped_column(ForeignKey("dataset_versions.id", ondelete="CASCADE"))
    # No foreign key: jobs belong to the scheduler, which this package never imports.
    job_id: Mapped[str] = mapped_column(String(36), index=True)
    org_id: Mapped[str] = mapped_column(String(36))
    used_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
