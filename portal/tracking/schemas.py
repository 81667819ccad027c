"""Wire types of the model views: MLflow experiments, runs, metric series, registered models, lineage.

Plain Pydantic models, so that no MLflow object leaves `portal.tracking`. Metric values that are
not finite (a diverging loss logs NaN or infinity) travel as null: JSON has no NaN.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class DatasetVersionRef(BaseModel):
    """One dataset version a run trained on, as its `aicommons.dataset_versions` tag names it."""

    dataset: str | None = Field(description="slug of the dataset, when the tag names one")
    version: str | None = Field(description="version number or name, when the tag names one")
    version_id: str | None = Field(default=None, description="the version's id, when the tag gives it")
    label: str = Field(description="how the tag wrote it, for display")


class Lineage(BaseModel):
    """Where a model version comes from: run → job → dataset versions."""

    run_id: str
    run_name: str | None = None
    experiment_id: str | None = None
    run_found: bool = Field(description="false when the source run is deleted or not readable")
    job_id: str | None = None
    dataset_versions: list[DatasetVersionRef] = Field(default_factory=list)


class ExperimentOut(BaseModel):
    id: str
    name: str
    lifecycle_stage: str
    created_at: datetime | None
    updated_at: datetime | None
    tags: dict[str, str]


class RunOut(BaseModel):
    id: str
    name: str | None
    experiment_id: str
    status: str
    user: str | None
    start_time: datetime | None
    end_time: datetime | None
    params: dict[str, str]
    metrics: dict[str, float | None] = Field(description="the latest value of each metric")
    tags: dict[str, str] = Field(description="the run's own tags (MLflow's internal mlflow.* tags left out)")
    job_id: str | None = Field(description="the platform job that produced the run (tag aicommons.job_id)")
    dataset_versions: list[DatasetVersionRef] = Field(description="tag aicommons.dataset_versions, parsed")


class MetricPoint(BaseModel):
    step: int
    timestamp: datetime
    value: float | None


class MetricSeries(BaseModel):
    run_id: str
    key: str
    points: list[MetricPoint] = Field(description="in step order; at most the requested number of points")
    total_points: int = Field(description="how many points the run logged for this key")
    downsampled: bool


class ModelVersionOut(BaseModel):
    name: str
    version: str
    status: str | None
    source: str | None
    run_id: str | None
    description: str | None
    created_at: datetime | None
    tags: dict[str, str]
    lineage: Lineage | None = Field(description="null when the version names no source run")


class RegisteredModelOut(BaseModel):
    name: str
    description: str | None
    created_at: datetime | None
    updated_at: datetime | None
    tags: dict[str, str]
    versions: list[ModelVersionOut] = Field(description="newest first")


class ExperimentWithRuns(BaseModel):
    """One experiment and its newest runs: what the models page lists."""

    experiment: ExperimentOut
    runs: list[RunOut]


class RunWithSeries(BaseModel):
    """A run and the history of each of its metrics: what the run page charts."""

    run: RunOut
    series: list[MetricSeries]
