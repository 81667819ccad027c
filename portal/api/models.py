"""An organisation's MLflow experiments, runs, metric series and registered models (read-only).

Only members of the organisation (and administrators) see them: the same check every org-scoped
route makes (`orgs.service.get`, 404 for others). The portal then reads the organisation's own
MLflow workspace, so a run id from another organisation is simply not found.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Path, Query

from aicommons.portal.orgs import service as orgs_service
from aicommons.portal.orgs.schemas import SLUG_PATTERN
from aicommons.portal.tracking import models_view
from aicommons.portal.tracking.schemas import (
    ExperimentOut,
    MetricSeries,
    RegisteredModelOut,
    RunOut,
)

from .deps import PrincipalDep, SessionDep, SettingsDep

router = APIRouter(prefix="/orgs/{slug}", tags=["models"])

RESPONSES: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such organisation (or not a member), or nothing by that id in its workspace"},
    503: {"description": "The model-tracking server (MLflow) is unavailable"},
}
Slug = Path(max_length=64, pattern=SLUG_PATTERN)
# MLflow's ids: experiment ids are numbers, run ids 32 hex digits; a little leeway for imports.
# The handlers are plain functions: FastAPI runs them in its thread pool, where MLflow's blocking
# client and the request's workspace context belong.
ExperimentId = Path(max_length=64, pattern=r"^[0-9A-Za-z_-]+$")
RunId = Path(max_length=64, pattern=r"^[0-9A-Za-z_-]+$")
# Metric keys may hold slashes ("train/loss"), hence the path converter on the route.
MetricKey = Path(min_length=1, max_length=250)


def _workspace(principal: PrincipalDep, session: SessionDep, slug: str) -> str:
    return orgs_service.get(session, principal, slug).slug


@router.get("/experiments", response_model=list[ExperimentOut], responses=RESPONSES)
def list_experiments(
    principal: PrincipalDep, session: SessionDep, settings: SettingsDep, slug: str = Slug
) -> list[ExperimentOut]:
    workspace = _workspace(principal, session, slug)
    return models_view.list_experiments(settings.mlflow_url, workspace)


@router.get("/experiments/{experiment_id}/runs", response_model=list[RunOut], responses=RESPONSES)
def list_runs(
    principal: PrincipalDep,
    session: SessionDep,
    settings: SettingsDep,
    slug: str = Slug,
    experiment_id: str = ExperimentId,
    limit: int = Query(default=100, ge=1, le=models_view.MAX_RUNS),
) -> list[RunOut]:
    workspace = _workspace(principal, session, slug)
    return models_view.list_runs(settings.mlflow_url, workspace, experiment_id, limit)


@router.get("/runs/{run_id}", response_model=RunOut, responses=RESPONSES)
def get_run(
    principal: PrincipalDep, session: SessionDep, settings: SettingsDep, slug: str = Slug, run_id: str = RunId
) -> RunOut:
    workspace = _workspace(principal, session, slug)
    return models_view.get_run(settings.mlflow_url, workspace, run_id)


@router.get("/runs/{run_id}/metrics/{key:path}", response_model=MetricSeries, responses=RESPONSES)
def metric_series(
    principal: PrincipalDep,
    session: SessionDep,
    settings: SettingsDep,
    slug: str = Slug,
    run_id: str = RunId,
    key: str = MetricKey,
    max_points: int = Query(default=models_view.MAX_SERIES_POINTS, ge=2, le=models_view.MAX_SERIES_POINTS),
) -> MetricSeries:
    """A metric's logged points in step order, downsampled to `max_points` (keeping bucket extremes)."""
    workspace = _workspace(principal, session, slug)
    return models_view.metric_series(settings.mlflow_url, workspace, run_id, key, max_points)


@router.get("/registered-models", response_model=list[RegisteredModelOut], responses=RESPONSES)
def registered_models(
    principal: PrincipalDep, session: SessionDep, settings: SettingsDep, slug: str = Slug
) -> list[RegisteredModelOut]:
    """Registered models with their versions, each traced to its run, job and dataset versions."""
    workspace = _workspace(principal, session, slug)
    return models_view.registered_models(settings.mlflow_url, workspace)
