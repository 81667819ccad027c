"""Read-only views of an organisation's MLflow workspace: experiments, runs, metric series, models.

The portal reads MLflow directly on loopback with `MlflowClient`, pinned to the organisation's
workspace (workspace name = organisation slug) the way MLflow's own server-side code does: a
request-scoped workspace context, never the process-wide `MLFLOW_WORKSPACE` variable, so that
concurrent requests for different organisations cannot see each other's workspace.

Callers check membership first (`orgs.service.get`); this module only speaks to MLflow and turns
what it returns into the plain models of `schemas.py`. MLflow being down is a coded `Unavailable`
error (503), never a traceback; something missing in the workspace is `NotFound` (404), which is
also what another organisation's run id gives.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

import httpx

from aicommons.portal.core.errors import NotFound, Unavailable
from aicommons.portal.tracking.mlflow_import import load_mlflow

from . import messages as _messages  # noqa: F401  (registers the catalogue)
from .schemas import (
    DatasetVersionRef,
    ExperimentOut,
    ExperimentWithRuns,
    Lineage,
    MetricPoint,
    MetricSeries,
    ModelVersionOut,
    RegisteredModelOut,
    RunOut,
    RunWithSeries,
)

if TYPE_CHECKING:
    from mlflow.entities import Experiment, Run
    from mlflow.tracking import MlflowClient

# Tags a platform job sets on the runs it logs (the scheduler writes them; MLflow only stores them).
JOB_ID_TAG = "aicommons.job_id"
DATASET_VERSIONS_TAG = "aicommons.dataset_versions"
MAX_SERIES_POINTS = 1000
MAX_EXPERIMENTS = 500
MAX_RUNS = 1000
MAX_MODELS = 500
MAX_MODEL_VERSIONS = 5000
PROBE_TIMEOUT_S = 3.0
_SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.IGNORECASE)
# An id MLflow cannot even parse names nothing either: both are "not found" to the caller.
_MISSING = {"RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"}
_EPOCH = datetime.fromtimestamp(0, UTC)
T = TypeVar("T")


# --- talking to MLflow ----------------------------------------------------------------------


def _probe(tracking_uri: str) -> None:
    """Fail fast when MLflow is down: its client would otherwise retry with back-off for minutes."""
    try:
        answer = httpx.get(f"{tracking_uri}/health", timeout=PROBE_TIMEOUT_S)
    except httpx.HTTPError as exc:
        raise Unavailable("tracking.unavailable", detail=type(exc).__name__) from exc
    if answer.status_code != 200:
        raise Unavailable("tracking.unavailable", detail=f"HTTP {answer.status_code}")


@contextmanager
def _workspace(tracking_uri: str, workspace: str, not_found: str) -> Iterator[MlflowClient]:
    """A client whose calls act in `workspace`; MLflow's errors become coded portal errors."""
    _probe(tracking_uri)
    # Imported here: MLflow takes seconds to import and only these views and the gateway need it.
    load_mlflow()
    import requests
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient
    from mlflow.utils.workspace_context import ServerWorkspaceContext

    try:
        with ServerWorkspaceContext(workspace):
            yield MlflowClient(tracking_uri=tracking_uri)
    except MlflowException as exc:
        if exc.error_code in _MISSING:
            raise NotFound(not_found) from exc
        raise Unavailable("tracking.unavailable", detail=str(exc.message)[:200]) from exc
    except requests.RequestException as exc:
        raise Unavailable("tracking.unavailable", detail=type(exc).__name__) from exc


def _or_empty(call: Callable[[], Sequence[T]]) -> list[T]:
    """A workspace nobody has logged to yet does not exist in MLflow: that is an empty list."""
    from mlflow.exceptions import MlflowException

    try:
        return list(call())
    except MlflowException as exc:
        if exc.error_code in _MISSING:
            return []
        raise


# --- pure helpers ---------------------------------------------------------------------------


def _time(ms: int | None) -> datetime | None:
    return datetime.fromtimestamp(ms / 1000, tz=UTC) if ms else None


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def _own_tags(tags: dict[str, str]) -> dict[str, str]:
    # mlflow.* tags are MLflow's bookkeeping (some hold whole model histories): not the user's.
    return {k: v for k, v in sorted(tags.items()) if not k.startswith("mlflow.")}


def _ref(dataset: Any, version: Any, version_id: Any, label: str) -> DatasetVersionRef:
    slug = str(dataset) if dataset is not None and _SLUG.match(str(dataset)) else None
    return DatasetVersionRef(
        dataset=slug,
        version=str(version) if version not in (None, "") else None,
        version_id=str(version_id) if version_id else None,
        label=label,
    )


def _ref_from_text(text: str) -> DatasetVersionRef:
    if _UUID.match(text):
        return _ref(None, None, text, text)  # a version id: the jobs domain names versions by id
    for separator in ("@", ":", "/"):
        dataset, found, version = text.partition(separator)
        if found and dataset and version:
            return _ref(dataset, version, None, text)
    return _ref(text, None, None, text)


def _ref_from_object(item: dict[str, Any]) -> DatasetVersionRef:
    dataset = item.get("dataset", item.get("slug"))
    version = item.get("version", item.get("number"))
    version_id = item.get("version_id", item.get("id"))
    label = f"{dataset}@{version}" if dataset and version is not None else str(version_id or dataset)
    return _ref(dataset, version, version_id, label)


def parse_dataset_versions(tag: str | None) -> list[DatasetVersionRef]:
    """Read the `aicommons.dataset_versions` tag in the forms a job may write it.

    JSON: a list of ``{"dataset": slug, "version": n, "version_id": id}`` objects or of strings, or
    an object ``{slug: version}``; or plain text: ``slug@version`` items separated by commas or
    spaces. Anything unreadable is kept as a label, so nothing a run recorded is hidden.
    """
    if not tag or not tag.strip():
        return []
    try:
        parsed: Any = json.loads(tag)
    except ValueError:
        parsed = None
    if isinstance(parsed, dict):
        return [_ref(k, v, None, f"{k}@{v}") for k, v in parsed.items()]
    if isinstance(parsed, list):
        return [
            _ref_from_object(item) if isinstance(item, dict) else _ref_from_text(str(item))
            for item in parsed
            if item not in (None, "")
        ]
    return [_ref_from_text(item) for item in re.split(r"[,\s]+", tag.strip()) if item]


def downsample(points: Sequence[MetricPoint], limit: int) -> list[MetricPoint]:
    """At most `limit` points, in order: the first, the last, and each bucket's lowest and highest.

    Keeping both extremes of every bucket keeps spikes and dips a plain stride would drop.
    """
    if len(points) <= limit:
        return list(points)
    if limit < 4:
        return [points[0], points[-1]][:limit]
    inner = points[1:-1]
    buckets = (limit - 2) // 2
    keep: set[int] = set()
    for b in range(buckets):
        start, end = len(inner) * b // buckets, len(inner) * (b + 1) // buckets
        if start >= end:
            continue
        indices = range(start, end)
        keep.add(min(indices, key=lambda i: _low_key(inner[i].value)))
        keep.add(max(indices, key=lambda i: _high_key(inner[i].value)))
    return [points[0], *(inner[i] for i in sorted(keep)), points[-1]]


def _low_key(value: float | None) -> tuple[bool, float]:
    return (value is None, value if value is not None else 0.0)


def _high_key(value: float | None) -> tuple[bool, float]:
    return (value is not None, value if value is not None else 0.0)


# --- conversions ----------------------------------------------------------------------------


def _run_out(run: Run) -> RunOut:
    info, data = run.info, run.data
    tags = dict(data.tags)
    return RunOut(
        id=info.run_id,
        name=info.run_name or tags.get("mlflow.runName"),
        experiment_id=str(info.experiment_id),
        status=str(info.status),
        user=tags.get("mlflow.user") or info.user_id or None,
        start_time=_time(info.start_time),
        end_time=_time(info.end_time),
        params=dict(sorted(data.params.items())),
        metrics={k: _finite(v) for k, v in sorted(data.metrics.items())},
        tags=_own_tags(tags),
        job_id=tags.get(JOB_ID_TAG) or None,
        dataset_versions=parse_dataset_versions(tags.get(DATASET_VERSIONS_TAG)),
    )


def _lineage(client: MlflowClient, run_id: str, fallback_tags: dict[str, str]) -> Lineage:
    from mlflow.exceptions import MlflowException

    try:
        run = client.get_run(run_id)
    except MlflowException as exc:
        if exc.error_code not in _MISSING:
            raise
        # The run is gone (or never was here): the version's own tags are all there is.
        return Lineage(
            run_id=run_id,
            run_found=False,
            job_id=fallback_tags.get(JOB_ID_TAG) or None,
            dataset_versions=parse_dataset_versions(fallback_tags.get(DATASET_VERSIONS_TAG)),
        )
    tags = {**fallback_tags, **run.data.tags}
    return Lineage(
        run_id=run_id,
        run_name=run.info.run_name or tags.get("mlflow.runName"),
        experiment_id=str(run.info.experiment_id),
        run_found=True,
        job_id=tags.get(JOB_ID_TAG) or None,
        dataset_versions=parse_dataset_versions(tags.get(DATASET_VERSIONS_TAG)),
    )


# --- the views ------------------------------------------------------------------------------


def _experiment_out(e: Experiment) -> ExperimentOut:
    return ExperimentOut(
        id=str(e.experiment_id),
        name=e.name,
        lifecycle_stage=e.lifecycle_stage,
        created_at=_time(e.creation_time),
        updated_at=_time(e.last_update_time),
        tags=_own_tags(dict(e.tags)),
    )


def _experiments(client: MlflowClient, limit: int) -> list[Experiment]:
    return _or_empty(lambda: client.search_experiments(max_results=limit, order_by=["last_update_time DESC"]))


def _runs(client: MlflowClient, experiment_id: str, limit: int) -> list[RunOut]:
    runs = client.search_runs(
        [experiment_id], max_results=min(limit, MAX_RUNS), order_by=["attributes.start_time DESC"]
    )
    return [_run_out(r) for r in runs]


def _series(client: MlflowClient, run_id: str, key: str, limit: int) -> MetricSeries:
    history = client.get_metric_history(run_id, key)
    points = [
        MetricPoint(step=m.step, timestamp=_time(m.timestamp) or _EPOCH, value=_finite(m.value))
        for m in sorted(history, key=lambda m: (m.step, m.timestamp))
    ]
    sampled = downsample(points, max(2, min(limit, MAX_SERIES_POINTS)))
    downsampled = len(sampled) < len(points)
    return MetricSeries(
        run_id=run_id, key=key, points=sampled, total_points=len(points), downsampled=downsampled
    )


def list_experiments(tracking_uri: str, workspace: str) -> list[ExperimentOut]:
    with _workspace(tracking_uri, workspace, "tracking.experiment_not_found") as client:
        return [_experiment_out(e) for e in _experiments(client, MAX_EXPERIMENTS)]


def experiments_overview(
    tracking_uri: str, workspace: str, max_experiments: int = 50, runs_each: int = 20
) -> list[ExperimentWithRuns]:
    """The most recently updated experiments, each with its newest runs (one MLflow session)."""
    with _workspace(tracking_uri, workspace, "tracking.experiment_not_found") as client:
        return [
            ExperimentWithRuns(
                experiment=_experiment_out(e), runs=_runs(client, str(e.experiment_id), runs_each)
            )
            for e in _experiments(client, max_experiments)
        ]


def list_runs(tracking_uri: str, workspace: str, experiment_id: str, limit: int = MAX_RUNS) -> list[RunOut]:
    """The experiment's runs, newest first; NotFound when the experiment is not in this workspace."""
    with _workspace(tracking_uri, workspace, "tracking.experiment_not_found") as client:
        client.get_experiment(experiment_id)
        return _runs(client, experiment_id, limit)


def get_run(tracking_uri: str, workspace: str, run_id: str) -> RunOut:
    with _workspace(tracking_uri, workspace, "tracking.run_not_found") as client:
        return _run_out(client.get_run(run_id))


def metric_series(
    tracking_uri: str, workspace: str, run_id: str, key: str, max_points: int = MAX_SERIES_POINTS
) -> MetricSeries:
    """A metric's history for charts, in step order, downsampled to at most `max_points` points."""
    with _workspace(tracking_uri, workspace, "tracking.run_not_found") as client:
        # Through get_run first: it is what checks that the run belongs to this workspace.
        run = client.get_run(run_id)
        if key not in run.data.metrics:
            raise NotFound("tracking.metric_not_found", key=key)
        return _series(client, run_id, key, max_points)


def run_with_series(
    tracking_uri: str, workspace: str, run_id: str, max_keys: int = 24, max_points: int = MAX_SERIES_POINTS
) -> RunWithSeries:
    """A run with the history of (up to `max_keys` of) its metrics, for the run page's charts."""
    with _workspace(tracking_uri, workspace, "tracking.run_not_found") as client:
        run = client.get_run(run_id)
        keys = sorted(run.data.metrics)[:max_keys]
        return RunWithSeries(run=_run_out(run), series=[_series(client, run_id, k, max_points) for k in keys])


def registered_models(tracking_uri: str, workspace: str) -> list[RegisteredModelOut]:
    """The workspace's registered models with their versions, each traced to run, job and datasets."""
    with _workspace(tracking_uri, workspace, "tracking.model_not_found") as client:
        models = _or_empty(lambda: client.search_registered_models(max_results=MAX_MODELS))
        versions = _or_empty(lambda: client.search_model_versions(max_results=MAX_MODEL_VERSIONS))
        lineages: dict[str, Lineage] = {}
        by_model: dict[str, list[ModelVersionOut]] = {}
        for v in versions:
            tags = dict(v.tags)
            lineage = None
            if v.run_id:
                if v.run_id not in lineages:
                    lineages[v.run_id] = _lineage(client, v.run_id, tags)
                lineage = lineages[v.run_id]
            by_model.setdefault(v.name, []).append(
                ModelVersionOut(
                    name=v.name,
                    version=str(v.version),
                    status=v.status,
                    source=v.source,
                    run_id=v.run_id or None,
                    description=v.description or None,
                    created_at=_time(v.creation_timestamp),
                    tags=_own_tags(tags),
                    lineage=lineage,
                )
            )
    return [
        RegisteredModelOut(
            name=m.name,
            description=m.description or None,
            created_at=_time(m.creation_timestamp),
            updated_at=_time(m.last_updated_timestamp),
            tags=_own_tags(dict(m.tags)),
            versions=sorted(by_model.get(m.name, []), key=_version_order, reverse=True),
        )
        for m in sorted(models, key=lambda m: m.name)
    ]


def model_version_lineage(tracking_uri: str, workspace: str, name: str, version: str) -> Lineage | None:
    """Run → job → dataset versions of one model version; None when it names no source run."""
    with _workspace(tracking_uri, workspace, "tracking.model_not_found") as client:
        found = client.get_model_version(name, version)
        return _lineage(client, found.run_id, dict(found.tags)) if found.run_id else None


def _version_order(version: ModelVersionOut) -> tuple[int, str]:
    return (int(version.version), "") if version.version.isdigit() else (0, version.version)
