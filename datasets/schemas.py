"""Wire types of the datasets domain."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

SLUG_PATTERN = r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$"
SHA256_PATTERN = r"^[0-9a-f]{64}$"
Level = Literal["L1", "L2", "L3", "L4"]
LabelFormat = Literal["imagefolder", "coco", "yolo", "csv", "jsonl", "none"]
Modality = Literal["image", "text", "tabular", "audio", "video", "time-series", "multimodal", "other"]
VersionState = Literal["draft", "uploading", "validating", "ready", "blocked", "published", "deprecated"]


class LabelSchema(BaseModel):
    classes: list[str] = Field(default_factory=list, max_length=10_000)
    label_column: str = Field(default="label", max_length=200, description="CSV column or JSONL field")


# Names the web UI uses for its own pages under /datasets/.
RESERVED_SLUGS = frozenset({"new", "requests", "usage", "search"})


class DatasetCreate(BaseModel):
    org: str = Field(pattern=SLUG_PATTERN, description="slug of the publishing organisation")
    slug: str = Field(pattern=SLUG_PATTERN)
    title_en: str = Field(min_length=1, max_length=300)
    title_zh: str = Field(min_length=1, max_length=300)
    description_en: str = Field(default="", max_length=20_000)
    description_zh: str = Field(default="", max_length=20_000)
    domain: str = Field(pattern=SLUG_PATTERN)
    modality: Modality
    task: str = Field(min_length=1, max_length=64, pattern=r"^[a-z0-9-]+$")
    label_format: LabelFormat
    label_schema: LabelSchema = Field(default_factory=LabelSchema)
    licence_id: str = Field(min_length=1, max_length=100, description="SPDX id, or 'custom'")
    licence_name: str | None = Field(default=None, max_length=200)
    licence_text: str | None = Field(default=None, max_length=200_000)
    level: Level
    keywords: list[str] = Field(default_factory=list, max_length=50)
    provenance: str = Field(default="", max_length=5000)
    contact: str = Field(default="", max_length=200)

    @model_validator(mode="after")
    def _custom_licence(self) -> DatasetCreate:
        if self.licence_id == "custom" and not (self.licence_name and self.licence_text):
            raise ValueError("a custom licence needs licence_name and licence_text")
        return self

    @field_validator("slug")
    @classmethod
    def _not_reserved(cls, value: str) -> str:
        if value in RESERVED_SLUGS:
            raise ValueError(f"{value!r} is reserved; choose another name")
        return value


class DatasetUpdate(BaseModel):
    title_en: str | None = Field(default=None, min_length=1, max_length=300)
    title_zh: str | None = Field(default=None, min_length=1, max_length=300)
    description_en: str | None = Field(default=None, max_length=20_000)
    description_zh: str | None = Field(default=None, max_length=20_000)
    keywords: list[str] | None = Field(default=None, max_length=50)
    provenance: str | None = Field(default=None, max_length=5000)
    contact: str | None = Field(default=None, max_length=200)


class DatasetOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    org_id: str
    slug: str
    title_en: str
    title_zh: str
    description_en: str
    description_zh: str
    domain: str
    modality: str
    task: str
    label_format: str
    label_schema: dict[str, Any]
    licence_id: str
    licence_name: str | None
    level: Level
    keywords: list[str]
    provenance: str
    contact: str
    has_published: bool
    created_at: datetime
    updated_at: datetime


class DomainIn(BaseModel):
    slug: str = Field(pattern=SLUG_PATTERN)
    name_en: str = Field(min_length=1, max_length=200)
    name_zh: str = Field(min_length=1, max_length=200)


class DomainOut(DomainIn):
    model_config = ConfigDict(from_attributes=True)


class VersionCreate(BaseModel):
    notes: str = Field(default="", max_length=5000)


class VersionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    dataset_id: str
    number: int
    state: VersionState
    notes: str
    file_count: int
    total_bytes: int
    digest: str | None
    scan_report: dict[str, Any] | None
    validation_report: dict[str, Any] | None
    blocked_reasons: list[str]
    override_justification: str | None
    # Files whose stored bytes did not match the manifest (back in `uploading`): send them again.
    mismatched_paths: list[str] = Field(default_factory=list)
    created_at: datetime
    published_at: datetime | None
    deprecated_at: datetime | None


class FileIn(BaseModel):
    path: str = Field(min_length=1, max_length=1024)
    size: int = Field(ge=0)
    # Omitted: declared when the upload is completed, so that a client can hash while it sends.
    sha256: str | None = Field(default=None, pattern=SHA256_PATTERN)


class CompleteRequest(BaseModel):
    """The sha256 of each file planned without one (path → hex digest)."""

    files: dict[str, Annotated[str, Field(pattern=SHA256_PATTERN)]] = Field(default_factory=dict)


class UploadRequest(BaseModel):
    files: list[FileIn] = Field(max_length=1_000_000)


class PartUrl(BaseModel):
    number: int
    url: str


class FileUpload(BaseModel):
    path: str
    size: int
    part_size: int
    part_count: int
    done_parts: list[int]
    parts: list[PartUrl]


class UploadPlan(BaseModel):
    version: int
    state: VersionState
    files: list[FileUpload]
    expires_at: datetime


class ManifestEntry(BaseModel):
    path: str
    size: int
    sha256: str


class Manifest(BaseModel):
    dataset: str
    version: int
    digest: str | None
    uri: str
    files: list[ManifestEntry]


class OverrideRequest(BaseModel):
    justification: str = Field(min_length=20, max_length=5000)


class DownloadLink(BaseModel):
    path: str
    size: int
    sha256: str
    url: str


class DownloadLinks(BaseModel):
    version: int
    expires_at: datetime
    files: list[DownloadLink]


class GrantRequest(BaseModel):
    org: str = Field(pattern=SLUG_PATTERN, description="the requesting organisation")
    purpose: str = Field(min_length=10, max_length=5000)
    duration_days: int = Field(ge=1, le=3650)


class GrantDecision(BaseModel):
    reason: str | None = Field(default=None, max_length=5000)


class GrantOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    dataset_id: str
    org_id: str
    state: Literal["requested", "approved", "rejected", "revoked", "expired"]
    purpose: str
    duration_days: int
    requested_at: datetime
    decided_at: datetime | None
    decision_reason: str | None
    expires_at: datetime | None


class FacetCount(BaseModel):
    value: str
    count: int


class SearchResult(BaseModel):
    total: int
    items: list[DatasetOut]
    facets: dict[str, list[FacetCount]]


class JobDataset(BaseModel):
    version_id: str
    dataset: str
    version: int
    uri: str
    manifest_uri: str
    digest: str | None


class JobCredentials(BaseModel):
    """What the scheduler stores in a job's spec: endpoint, scoped read-only credentials, dataset URIs."""

    kind: Literal["s3", "local"]
    endpoint: str
    bucket: str
    region: str | None
    access_key: str | None
    secret_key: str | None
    session_token: str | None
    expires_at: datetime
    datasets: list[JobDataset]


class DatasetUseOut(BaseModel):
    """Lineage: a platform job that was given credentials for a dataset version."""

    job_id: str
    org_id: str = Field(description="the organisation whose job it is")
    org_slug: str | None = None
    org_name: str | None = None
    dataset: str = Field(description="dataset slug")
    version: int
    used_at: datetime = Field(description="when the job was first given credentials for the version")


class DatasetUsePage(BaseModel):
    total: int
    limit: int
    offset: int
    items: list[DatasetUseOut]
