"""Model pages: an organisation's MLflow experiments and runs, a run with its metric charts, and
registered models traced back to the job and dataset versions that produced them.

Like every page, these check membership with the organisation service (404 for others) and read
through the same tracking views the REST API uses (`portal.tracking.models_view`); MLflow being
down shows as a bilingual 503 page, not a traceback.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from sqlalchemy.orm import Session

from aicommons.portal.api.deps import SessionDep
from aicommons.portal.core.principal import Principal
from aicommons.portal.orgs import service as orgs_service
from aicommons.portal.orgs.models import Organisation
from aicommons.portal.tracking import models_view
from aicommons.portal.tracking.schemas import MetricSeries

from .rendering import SignedInPageDep, WebRoute, redirect, render

router = APIRouter(route_class=WebRoute, include_in_schema=False)
EXPERIMENTS_SHOWN = 50
RUNS_PER_EXPERIMENT = 20
CHARTED_METRICS = 24


def _org(session: Session, principal: Principal | None, slug: str) -> Organisation:
    assert principal is not None
    return orgs_service.get(session, principal, slug[:64])


@router.get("/models")
def models_home(page: SignedInPageDep, session: SessionDep) -> Response:
    """Straight to the caller's organisation when there is one; otherwise a choice."""
    assert page.principal is not None
    orgs = sorted(orgs_service.visible(session, page.principal), key=lambda o: o.slug)
    if len(orgs) == 1:
        return redirect(page, f"/orgs/{orgs[0].slug}/models")
    return render(page, "models_index.html", orgs=orgs)


@router.get("/orgs/{slug}/models")
def org_models(page: SignedInPageDep, session: SessionDep, slug: str) -> Response:
    org = _org(session, page.principal, slug)
    uri = page.settings.mlflow_url
    experiments = models_view.experiments_overview(uri, org.slug, EXPERIMENTS_SHOWN, RUNS_PER_EXPERIMENT)
    models = models_view.registered_models(uri, org.slug)
    return render(
        page,
        "models.html",
        org=org,
        experiments=experiments,
        models=models,
        runs_per_experiment=RUNS_PER_EXPERIMENT,
        tracking_uri=f"{page.settings.base_url}/mlflow",
    )


@router.get("/orgs/{slug}/models/runs/{run_id}")
def run_page(page: SignedInPageDep, session: SessionDep, slug: str, run_id: str) -> Response:
    org = _org(session, page.principal, slug)
    detail = models_view.run_with_series(page.settings.mlflow_url, org.slug, run_id[:64], CHARTED_METRICS)
    charts = [_chart(series, page.t("web.models.step")) for series in detail.series]
    return render(page, "models_run.html", org=org, run=detail.run, series=detail.series, charts=charts)


def _chart(series: MetricSeries, step_label: str) -> dict[str, Any]:
    """What static/metric_charts.js draws: [step, value] pairs on a numeric step axis."""
    return {
        "key": series.key,
        "x_label": step_label,
        "points": [[p.step, p.value] for p in series.points],
    }
