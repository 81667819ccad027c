"""Wire types of the quota domain. Amounts travel as integer GPU-seconds, with GPU-hours beside them."""

from __future__ import annotations

from datetime import UTC as _UTC
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from .policy import Outcome

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
SLUG_PATTERN = r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$"
MAX_GPUS = 1_000_000
MAX_GPU_HOURS = 100_000_000.0


def as_utc(value: datetime) -> datetime:
    """Naive datetimes are read as UTC (kept here so that the CLI can use these types without
    importing portal.core)."""
    return value.replace(tzinfo=_UTC) if value.tzinfo is None else value.astimezone(_UTC)


def _when(value: datetime) -> datetime:
    """Years are bounded (checked before any conversion) so that time arithmetic never overflows."""
    if not 1970 <= value.year <= 9000:
        raise ValueError("year must be between 1970 and 9000")
    return as_utc(value)


When = Annotated[datetime, AfterValidator(_when)]


class FlavourCreate(BaseModel):
    name: str = Field(pattern=NAME_PATTERN, description="e.g. H100-80G, A100-40G, Ascend-910B, cpu")
    pool: str = Field(default="default", pattern=NAME_PATTERN)
    capacity_gpus: int = Field(ge=0, le=MAX_GPUS)
    description: str | None = Field(default=None, max_length=2000)


class FlavourUpdate(BaseModel):
    pool: str | None = Field(default=None, pattern=NAME_PATTERN)
    capacity_gpus: int | None = Field(default=None, ge=0, le=MAX_GPUS)
    description: str | None = Field(default=None, max_length=2000)


class FlavourOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    pool: str
    capacity_gpus: int
    description: str | None


class PoolOut(BaseModel):
    name: str
    capacity_gpus: int
    flavours: list[str]


class AllocationRequest(BaseModel):
    org: str = Field(max_length=64, pattern=SLUG_PATTERN, description="organisation slug")
    flavour: str | None = Field(default=None, max_length=64, description="a flavour name; none: any flavour")
    gpu_hours: float = Field(gt=0, le=MAX_GPU_HOURS)
    valid_from: When
    valid_until: When
    purpose: str = Field(min_length=1, max_length=2000)
    renews: str | None = Field(default=None, max_length=36, description="id of the allocation this renews")


class AllocationApprove(BaseModel):
    gpu_hours: float | None = Field(default=None, gt=0, le=MAX_GPU_HOURS, description="adjusted amount")
    valid_from: When | None = None
    valid_until: When | None = None
    reason: str | None = Field(default=None, max_length=2000)


class AllocationReject(BaseModel):
    reason: str = Field(min_length=1, max_length=2000)


AllocationState = Literal["requested", "rejected", "approved", "active", "exhausted", "expired"]


class AllocationOut(BaseModel):
    id: str
    org_id: str
    org: str | None = None
    flavour: str | None
    state: AllocationState
    purpose: str
    requested_gpu_seconds: int
    granted_gpu_seconds: int | None
    used_gpu_seconds: int
    remaining_gpu_seconds: int
    remaining_gpu_hours: float
    valid_from: datetime
    valid_until: datetime
    renews_id: str | None
    requested_at: datetime
    decided_at: datetime | None
    decision_reason: str | None


class BalanceLine(BaseModel):
    flavour: str | None
    active_allocations: int
    granted_gpu_seconds: int
    used_gpu_seconds: int
    remaining_gpu_seconds: int
    remaining_gpu_hours: float


class BalanceOut(BaseModel):
    org_id: str
    org: str | None = None
    remaining_gpu_seconds: int
    remaining_gpu_hours: float
    lines: list[BalanceLine]


class QuotaSet(BaseModel):
    org: str = Field(max_length=64, pattern=SLUG_PATTERN, description="organisation slug")
    flavour: str = Field(max_length=64)
    guaranteed_gpus: int = Field(ge=0, le=MAX_GPUS)
    borrow_limit_gpus: int = Field(default=0, ge=0, le=MAX_GPUS, description="GPUs above the guarantee")
    lend_limit_gpus: int = Field(
        default=0, ge=0, le=MAX_GPUS, description="idle guaranteed GPUs others may use"
    )
    reason: str | None = Field(default=None, max_length=2000)


class QuotaOut(BaseModel):
    org_id: str
    org: str | None = None
    flavour: str
    guaranteed_gpus: int
    borrow_limit_gpus: int
    lend_limit_gpus: int
    updated_at: datetime


class BookingCreate(BaseModel):
    org: str = Field(max_length=64, pattern=SLUG_PATTERN, description="organisation slug")
    flavour: str = Field(max_length=64)
    gpus: int = Field(gt=0, le=MAX_GPUS)
    starts_at: When
    ends_at: When
    purpose: str | None = Field(default=None, max_length=2000)


class BookingDecision(BaseModel):
    reason: str | None = Field(default=None, max_length=2000)


BookingStatus = Literal["requested", "confirmed", "rejected", "cancelled"]


class BookingOut(BaseModel):
    id: str
    org_id: str
    org: str | None = None
    flavour: str
    gpus: int
    starts_at: datetime
    ends_at: datetime
    status: BookingStatus
    purpose: str | None
    created_at: datetime
    decided_at: datetime | None
    reason: str | None


class SeriesLine(BaseModel):
    name: str
    data: list[float]


class Series(BaseModel):
    """Chart data: one x axis, one or more named series of the same length."""

    x: list[str]
    series: list[SeriesLine]


class UsageCreate(BaseModel):
    org: str = Field(max_length=64, pattern=SLUG_PATTERN, description="organisation slug")
    flavour: str = Field(max_length=64)
    job_id: str = Field(min_length=1, max_length=64)
    attempt: int = Field(default=0, ge=0, le=10_000)
    started_at: When
    ended_at: When
    gpus: int = Field(gt=0, le=MAX_GPUS)
    outcome: Outcome


class UsageOut(BaseModel):
    id: int
    org_id: str
    org: str | None = None
    flavour: str
    job_id: str
    attempt: int
    started_at: datetime
    ended_at: datetime
    gpus: int
    outcome: Outcome
    gpu_seconds: int
    charged: bool
    charged_gpu_seconds: int
    uncovered_gpu_seconds: int


class UsageDay(BaseModel):
    day: str
    org_id: str
    org: str | None = None
    flavour: str
    gpu_seconds: int
    charged_gpu_seconds: int
    gpu_hours: float
