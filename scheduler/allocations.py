"""GPU-hour allocations (compute vouchers): request, approve or reject, renew, balance.

Any member of an organisation may request an allocation for it; only administrators decide,
and never on their own organisation's requests (or their own) unless ``allow_self_approval``.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from aicommons.portal.core.audit import AuditEvent, record
from aicommons.portal.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from aicommons.portal.core.principal import Principal
from aicommons.portal.core.settings import Settings
from aicommons.portal.core.time import utcnow

from . import flavours, policy, repository
from .models import Allocation
from .schemas import (
    AllocationApprove,
    AllocationOut,
    AllocationReject,
    AllocationRequest,
    BalanceLine,
    BalanceOut,
)


def request(session: Session, principal: Principal, org_id: str, data: AllocationRequest) -> Allocation:
    principal.require_member(org_id)
    amount = policy.hours_to_seconds(data.gpu_hours)
    if amount <= 0:
        raise InvalidInput("allocation.amount_invalid")
    if data.valid_until <= data.valid_from:
        raise InvalidInput("allocation.period_invalid")
    flavour_id = flavours.resolve(session, data.flavour).id if data.flavour else None
    if data.renews is not None:
        previous = repository.allocation(session, data.renews)
        if previous is None or previous.org_id != org_id or previous.status != "approved":
            raise InvalidInput("allocation.renewal_invalid")
    allocation = Allocation(
        org_id=org_id,
        flavour_id=flavour_id,
        status="requested",
        purpose=data.purpose,
        requested_gpu_seconds=amount,
        used_gpu_seconds=0,
        valid_from=data.valid_from,
        valid_until=data.valid_until,
        renews_id=data.renews,
        requested_by=principal.user_id,
    )
    session.add(allocation)
    session.flush()
    event = "allocation.renew" if data.renews else "allocation.request"
    record(
        session,
        principal,
        AuditEvent(event, "allocation", allocation.id, org_id=org_id, data={"gpu_seconds": amount}),
    )
    return allocation


def get(session: Session, principal: Principal, allocation_id: str, lock: bool = False) -> Allocation:
    allocation = repository.allocation(session, allocation_id, lock=lock)
    if allocation is None or not principal.can_read(allocation.org_id):
        raise NotFound("allocation.not_found")
    return allocation


def visible(
    session: Session, principal: Principal, org_id: str | None = None, status: str | None = None
) -> list[Allocation]:
    if org_id is not None:
        principal.require_member(org_id)
        return repository.allocations(session, [org_id], status)
    scope = None if principal.is_admin else list(principal.memberships)
    return repository.allocations(session, scope, status)


def _decidable(session: Session, principal: Principal, settings: Settings, allocation_id: str) -> Allocation:
    principal.require_admin()
    allocation = get(session, principal, allocation_id, lock=True)
    if allocation.status != "requested":
        raise Conflict("allocation.not_pending", status=allocation.status)
    own = allocation.org_id in principal.memberships or allocation.requested_by == principal.user_id
    if own and not settings.allow_self_approval:
        raise Forbidden("allocation.self_approval")
    return allocation


def approve(
    session: Session, principal: Principal, settings: Settings, allocation_id: str, data: AllocationApprove
) -> Allocation:
    allocation = _decidable(session, principal, settings, allocation_id)
    granted = policy.hours_to_seconds(data.gpu_hours) if data.gpu_hours else allocation.requested_gpu_seconds
    valid_from = data.valid_from or allocation.valid_from
    valid_until = data.valid_until or allocation.valid_until
    if granted <= 0:
        raise InvalidInput("allocation.amount_invalid")
    if valid_until <= valid_from:
        raise InvalidInput("allocation.period_invalid")
    allocation.status, allocation.granted_gpu_seconds = "approved", granted
    allocation.valid_from, allocation.valid_until = valid_from, valid_until
    _decided(allocation, principal, data.reason)
    adjusted = {
        "gpu_seconds": granted,
        "requested_gpu_seconds": allocation.requested_gpu_seconds,
        "valid_from": valid_from.isoformat(),
        "valid_until": valid_until.isoformat(),
    }
    record(
        session,
        principal,
        AuditEvent(
            "allocation.approve", "allocation", allocation.id, allocation.org_id, data.reason, adjusted
        ),
    )
    return allocation


def reject(
    session: Session, principal: Principal, settings: Settings, allocation_id: str, data: AllocationReject
) -> Allocation:
    allocation = _decidable(session, principal, settings, allocation_id)
    allocation.status = "rejected"
    _decided(allocation, principal, data.reason)
    record(
        session,
        principal,
        AuditEvent("allocation.reject", "allocation", allocation.id, allocation.org_id, data.reason),
    )
    return allocation


def _decided(allocation: Allocation, principal: Principal, reason: str | None) -> None:
    allocation.decided_by = principal.user_id
    allocation.decided_at = utcnow()
    allocation.decision_reason = reason


def balance(session: Session, principal: Principal, org_id: str, now: datetime | None = None) -> BalanceOut:
    """Remaining GPU-seconds per flavour over the organisation's active allocations."""
    principal.require_member(org_id)
    names = repository.flavour_names(session)
    lines = [
        BalanceLine(
            flavour=names.get(flavour_id) if flavour_id else None,
            active_allocations=count,
            granted_gpu_seconds=granted,
            used_gpu_seconds=used,
            remaining_gpu_seconds=granted - used,
            remaining_gpu_hours=round((granted - used) / 3600, 4),
        )
        for flavour_id, count, granted, used in repository.balance_rows(session, org_id, now or utcnow())
    ]
    lines.sort(key=lambda line: (line.flavour is None, line.flavour or ""))
    total = sum(line.remaining_gpu_seconds for line in lines)
    return BalanceOut(
        org_id=org_id, remaining_gpu_seconds=total, remaining_gpu_hours=round(total / 3600, 4), lines=lines
    )


def to_out(
    allocation: Allocation, flavour_names: dict[str, str], now: datetime | None = None
) -> AllocationOut:
    granted = allocation.granted_gpu_seconds
    remaining = (granted - allocation.used_gpu_seconds) if granted is not None else 0
    state = policy.allocation_state(
        allocation.status,
        allocation.valid_from,
        allocation.valid_until,
        granted,
        allocation.used_gpu_seconds,
        now or utcnow(),
    )
    return AllocationOut(
        id=allocation.id,
        org_id=allocation.org_id,
        flavour=flavour_names.get(allocation.flavour_id) if allocation.flavour_id else None,
        state=state,
        purpose=allocation.purpose,
        requested_gpu_seconds=allocation.requested_gpu_seconds,
        granted_gpu_seconds=granted,
        used_gpu_seconds=allocation.used_gpu_seconds,
        remaining_gpu_seconds=remaining,
        remaining_gpu_hours=round(remaining / 3600, 4),
        valid_from=allocation.valid_from,
        valid_until=allocation.valid_until,
        renews_id=allocation.renews_id,
        requested_at=allocation.requested_at,
        decided_at=allocation.decided_at,
        decision_reason=allocation.decision_reason,
    )
