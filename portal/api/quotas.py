"""Concurrency quotas per organisation and flavour."""

from __future__ import annotations

from fastapi import APIRouter

from aicommons.scheduler import quotas as service
from aicommons.scheduler import repository
from aicommons.scheduler.schemas import QuotaOut, QuotaSet

from .allocations import NOT_FOUND, OrgQuery, org_id_of, org_slugs
from .deps import PrincipalDep, SessionDep

router = APIRouter(tags=["quotas"])


@router.get("/quotas", response_model=list[QuotaOut], responses=NOT_FOUND)
def list_quotas(principal: PrincipalDep, session: SessionDep, org: str | None = OrgQuery) -> list[QuotaOut]:
    quotas = service.visible(session, principal, org_id_of(session, principal, org))
    names, slugs = repository.flavour_names(session), org_slugs(session)
    return [service.to_out(q, names).model_copy(update={"org": slugs.get(q.org_id)}) for q in quotas]


@router.put(
    "/quotas",
    response_model=QuotaOut,
    responses={**NOT_FOUND, 409: {"description": "Guarantees would exceed the flavour's capacity"}},
)
def set_quota(principal: PrincipalDep, session: SessionDep, body: QuotaSet) -> QuotaOut:
    org_id = org_id_of(session, principal, body.org)
    assert org_id is not None
    quota = service.set_quota(session, principal, org_id, body)
    return service.to_out(quota, repository.flavour_names(session)).model_copy(update={"org": body.org})
