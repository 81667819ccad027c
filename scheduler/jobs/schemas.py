"""Wire types of the job domain."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

PIP_REQUIREMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-\[\],<>=!~; ]{0,199}$")


class JobCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=128, pattern=r"^[^\x00-\x1f]+$")
    org: str = Field(min_length=1, max_length=64, description="organisation slug")
    project: str | None = Field(default=None, max_length=128)
    entrypoint: str = Field(min_length=1, max_length=4000, description='e.g. "python train.py --epochs 3"')
    workdir_sha256: str | None = Field(
        default=None, pattern=r"^[0-9a-f]{64}$", description="an archive uploaded with POST /jobs/archives"
    )
    pip: list[str] = Field(default_factory=list, max_length=50)
    flavour: str = Field(min_length=1, max_length=64)
    gpus_per_worker: int = Field(ge=1, le=1024)
    workers: int = Field(default=1, ge=1, le=1024)
    cpus: float = Field(default=1.0, gt=0, le=1024)
    memory_mb: int | None = Field(default=None, gt=0, le=16 * 1024 * 1024)
    time_limit_s: int = Field(gt=0, description="required; at most the platform's maximum")
    priority: int = Field(default=0, ge=-100, le=100)
    preemptible: bool = True
    dataset_version_ids: list[str] = Field(default_factory=list, max_length=50)
    mlflow_experiment: str | None = Field(default=None, max_length=256)

    @field_validator("pip")
    @classmethod
    def _pip_requirements(cls, value: list[str]) -> list[str]:
        for requirement in value:
            if not PIP_REQUIREMENT.match(requirement):
                raise ValueError(f"not a pip requirement: {requirement[:60]!r}")
        return value


class WaitOut(BaseModel):
    reason: str
    message: str
    org_position: int | None = None
    flavour_position: int | None = None
    eta_earliest: datetime | None = None
    eta_latest: datetime | None = None


class JobEventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    attempt: int
    from_state: str
    to_state: str
    message: str | None
    at: datetime


class JobOut(BaseModel):
    id: str
    name: str
    org: str
    project: str | None
    submitted_by: str
    entrypoint: str
    workdir_sha256: str | None
    pip: list[str]
    flavour: str
    gpus_per_worker: int
    workers: int
    gpus: int
    cpus: float
    memory_mb: int | None
    time_limit_s: int
    priority: int
    preemptible: bool
    dataset_version_ids: list[str]
    datasets: list[dict[str, Any]]
    mlflow_experiment: str | None
    state: str
    attempt: int
    submitted_at: datetime
    queued_at: datetime
    admitted_at: datetime | None
    started_at: datetime | None
    ended_at: datetime | None
    message: str | None  # the backend's own words (e.g. Ray's), as it gave them
    note: str | None = None  # ours, in the caller's language: why it ended, was preempted or cancelled
    stop_requested: str | None
    wait: WaitOut | None
    gpu_seconds_so_far: int


class JobList(BaseModel):
    items: list[JobOut]
    total: int


class ArchiveOut(BaseModel):
    sha256: str
    size_bytes: int
