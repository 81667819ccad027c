"""GPU-hour allocations (compute vouchers) and organisation balances."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Path, Query
from sqlalchemy.orm import Session

from aicommons.portal.core.principal import Principal
from aicommons.portal.orgs import repository as org_repository
from aicommons.portal.orgs import service as orgs
from aicommons.scheduler import allocations as service
from aicommons.scheduler import repository
from aicommons.scheduler.schemas import (
    SLUG_PATTERN,
    AllocationApprove,
    AllocationOut,
    AllocationReject,
    AllocationRequest,
    BalanceOut,
)

from .deps import PrincipalDep, SessionDep, SettingsDep

router = APIRouter(tags=["allocations"])

NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such allocation or organisation, or not visible to the caller"}
}
AllocationId = Path(max_length=36)
OrgQuery = Query(default=None, max_length=64, pattern=SLUG_PATTERN, description="organisation slug")


def org_id_of(session: Session, principal: Principal, slug: str | None) -> str | None:
    """The id of an organisation named by slug; NotFound unless the caller may see it."""
    return None if slug is None else orgs.get(session, principal, slug).id


def org_slugs(session: Session) -> dict[str, str]:
    return {org.id: org.slug for org in org_repository.list_all(session)}


def _out(session: Session, allocations: list[Any]) -> list[AllocationOut]:
    names, slugs = repository.flavour_names(session), org_slugs(session)
    return [service.to_out(a, names).model_copy(update={"org": slugs.get(a.org_id)}) for a in allocations]


@router.get("/allocations", response_model=list[AllocationOut], responses=NOT_FOUND)
def list_allocations(
    principal: PrincipalDep,
    session: SessionDep,
    org: str | None = OrgQuery,
    status: str | None = Query(default=None, pattern="^(requested|approved|rejected)$"),
) -> list[AllocationOut]:
    return _out(session, service.visible(session, principal, org_id_of(session, principal, org), status))


@router.post("/allocations", response_model=AllocationOut, status_code=201, responses=NOT_FOUND)
def request_allocation(
    principal: PrincipalDep, session: SessionDep, body: AllocationRequest
) -> AllocationOut:
    org_id = org_id_of(session, principal, body.org)
    assert org_id is not None
    return _out(session, [service.request(session, principal, org_id, body)])[0]


@router.get("/allocations/{allocation_id}", response_model=AllocationOut, responses=NOT_FOUND)
def get_allocation(
    principal: PrincipalDep, session: SessionDep, allocation_id: str = AllocationId
) -> AllocationOut:
    return _out(session, [service.get(session, principal, allocation_id)])[0]


@router.post(
    "/allocations/{allocation_id}/approve",
    response_model=AllocationOut,
    responses={**NOT_FOUND, 409: {"description": "Already decided"}, 403: {"description": "Own request"}},
)
def approve_allocation(
    principal: PrincipalDep,
    session: SessionDep,
    settings: SettingsDep,
    body: AllocationApprove,
    allocation_id: str = AllocationId,
) -> AllocationOut:
    return _out(session, [service.approve(session, principal, settings, allocation_id, body)])[0]


@router.post(
    "/allocations/{allocation_id}/reject",
    response_model=AllocationOut,
    responses={**NOT_FOUND, 409: {"description": "Already decided"}, 403: {"description": "Own request"}},
)
def reject_allocation(
    principal: PrincipalDep,
    session: SessionDep,
    settings: SettingsDep,
    body: AllocationReject,
    allocation_id: str = AllocationId,
) -> AllocationOut:
    return _out(session, [service.reject(session, principal, settings, allocation_id, body)])[0]


@router.get("/balance", response_model=BalanceOut, responses=NOT_FOUND)
def balance(
    principal: PrincipalDep,
    session: SessionDep,
    org: str = Query(max_length=64, pattern=SLUG_PATTERN, description="organisation slug"),
) -> BalanceOut:
    org_id = org_id_of(session, principal, org)
    assert org_id is not None
    return service.balance(session, principal, org_id).model_copy(update={"org": org})
