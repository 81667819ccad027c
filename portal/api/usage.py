"""Usage records (metering) and reports: per day, CSV, burn-down, utilisation."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Literal

from fastapi import APIRouter, Path, Query
from fastapi.responses import Response

from aicommons.portal.core.time import utcnow
from aicommons.scheduler import metering, reports, repository
from aicommons.scheduler.schemas import NAME_PATTERN, Series, UsageCreate, UsageDay, UsageOut, When

from .allocations import NOT_FOUND, OrgQuery, org_id_of, org_slugs
from .deps import PrincipalDep, SessionDep

router = APIRouter(tags=["usage"])
START = Query(default=None, description="inclusive; default 30 days before end")
END = Query(default=None, description="exclusive; default now")


def _range(start: Any, end: Any) -> tuple[Any, Any]:
    end = end or utcnow()
    return (start or end - timedelta(days=30)), end


@router.post("/usage", response_model=UsageOut, status_code=201, responses=NOT_FOUND)
def record_usage(principal: PrincipalDep, session: SessionDep, body: UsageCreate) -> UsageOut:
    """Record one job-run interval (administrators and the platform); charged outcomes are debited."""
    principal.require_admin()
    org_id = org_id_of(session, principal, body.org)
    assert org_id is not None
    usage = metering.record_usage(session, principal, org_id, body)
    return metering.to_out(usage, repository.flavour_names(session)).model_copy(update={"org": body.org})


def _days(principal: Any, session: Any, org: str | None, start: Any, end: Any) -> list[UsageDay]:
    start, end = _range(start, end)
    rows = reports.usage_by_day(session, principal, start, end, org_id_of(session, principal, org))
    slugs = org_slugs(session)
    return [row.model_copy(update={"org": slugs.get(row.org_id)}) for row in rows]


@router.get("/usage", response_model=list[UsageDay], responses=NOT_FOUND)
def usage_per_day(
    principal: PrincipalDep,
    session: SessionDep,
    org: str | None = OrgQuery,
    start: When | None = START,
    end: When | None = END,
    format: Literal["json", "csv"] = "json",
) -> Any:
    """GPU-seconds per organisation, flavour and UTC day; ``format=csv`` for a spreadsheet."""
    rows = _days(principal, session, org, start, end)
    if format == "csv":
        return _csv(rows)
    return rows


@router.get("/usage.csv", response_class=Response, responses=NOT_FOUND)
def usage_csv(
    principal: PrincipalDep,
    session: SessionDep,
    org: str | None = OrgQuery,
    start: When | None = START,
    end: When | None = END,
) -> Response:
    return _csv(_days(principal, session, org, start, end))


def _csv(rows: list[UsageDay]) -> Response:
    headers = {"Content-Disposition": 'attachment; filename="usage.csv"'}
    return Response(reports.usage_csv(rows), media_type="text/csv; charset=utf-8", headers=headers)


@router.get("/reports/usage", response_model=Series, responses=NOT_FOUND)
def usage_series(
    principal: PrincipalDep,
    session: SessionDep,
    org: str | None = OrgQuery,
    start: When | None = START,
    end: When | None = END,
) -> Series:
    """GPU-hours per day, one series per organisation."""
    start, end = _range(start, end)
    return reports.usage_series(_days(principal, session, org, start, end), start, end)


@router.get("/reports/burndown/{allocation_id}", response_model=Series, responses=NOT_FOUND)
def burndown(
    principal: PrincipalDep, session: SessionDep, allocation_id: str = Path(max_length=36)
) -> Series:
    return reports.burndown(session, principal, allocation_id)


@router.get("/reports/utilisation", response_model=Series, responses={403: {"description": "Admins"}})
def utilisation(
    principal: PrincipalDep,
    session: SessionDep,
    flavour: str = Query(max_length=64, pattern=NAME_PATTERN),
    start: When | None = START,
    end: When | None = END,
) -> Series:
    start, end = _range(start, end)
    return reports.utilisation(session, principal, flavour, start, end)
