"""Concurrency quotas per organisation and flavour: guaranteed GPUs, borrowing and lending limits."""

from __future__ import annotations

from sqlalchemy.orm import Session

from aicommons.portal.core.audit import AuditEvent, record
from aicommons.portal.core.errors import Conflict, InvalidInput
from aicommons.portal.core.principal import Principal
from aicommons.portal.core.time import utcnow

from . import flavours, policy, repository
from .models import Quota
from .schemas import QuotaOut, QuotaSet


def set_quota(session: Session, principal: Principal, org_id: str, data: QuotaSet) -> Quota:
    """Create or change a quota. The flavour row is locked so that concurrent changes cannot
    together push the sum of guarantees over the capacity."""
    principal.require_admin()
    problem = policy.quota_error(data.guaranteed_gpus, data.borrow_limit_gpus, data.lend_limit_gpus)
    if problem:
        raise InvalidInput(problem)
    flavour = flavours.resolve(session, data.flavour, lock=True)
    others = repository.guaranteed_total(session, flavour.id, except_org=org_id)
    if not policy.guarantees_fit(flavour.capacity_gpus, others, data.guaranteed_gpus):
        total = others + data.guaranteed_gpus
        raise Conflict("quota.over_capacity", total=total, capacity=flavour.capacity_gpus)
    quota = repository.quota(session, org_id, flavour.id)
    before = None if quota is None else _numbers(quota)
    if quota is None:
        quota = Quota(org_id=org_id, flavour_id=flavour.id)
        session.add(quota)
    quota.guaranteed_gpus = data.guaranteed_gpus
    quota.borrow_limit_gpus = data.borrow_limit_gpus
    quota.lend_limit_gpus = data.lend_limit_gpus
    quota.updated_by, quota.updated_at = principal.user_id, utcnow()
    session.flush()
    record(
        session,
        principal,
        AuditEvent(
            "quota.set",
            "quota",
            quota.id,
            org_id=org_id,
            reason=data.reason,
            data={"flavour": flavour.name, "before": before, "after": _numbers(quota)},
        ),
    )
    return quota


def _numbers(quota: Quota) -> dict[str, int]:
    return {
        "guaranteed_gpus": quota.guaranteed_gpus,
        "borrow_limit_gpus": quota.borrow_limit_gpus,
        "lend_limit_gpus": quota.lend_limit_gpus,
    }


def visible(session: Session, principal: Principal, org_id: str | None = None) -> list[Quota]:
    if org_id is not None:
        principal.require_member(org_id)
        return repository.quotas(session, [org_id])
    return repository.quotas(session, None if principal.is_admin else list(principal.memberships))


def to_out(quota: Quota, flavour_names: dict[str, str]) -> QuotaOut:
    return QuotaOut(
        org_id=quota.org_id,
        flavour=flavour_names.get(quota.flavour_id, quota.flavour_id),
        guaranteed_gpus=quota.guaranteed_gpus,
        borrow_limit_gpus=quota.borrow_limit_gpus,
        lend_limit_gpus=quota.lend_limit_gpus,
        updated_at=quota.updated_at,
    )
