"""Reading the audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict

from aicommons.portal.audit import service
from aicommons.portal.orgs import service as orgs

from .deps import PrincipalDep, SessionDep

router = APIRouter(prefix="/audit", tags=["audit"])


class AuditRecordOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    at: datetime
    actor_id: str | None
    actor_name: str | None
    org_id: str | None
    action: str
    target_type: str
    target_id: str
    reason: str | None
    data: dict[str, Any]


@router.get("", response_model=list[AuditRecordOut])
def list_audit(
    principal: PrincipalDep,
    session: SessionDep,
    org: str | None = Query(default=None, max_length=64, description="organisation slug (stewards)"),
    limit: int = Query(default=100, ge=1, le=1000),
    before_id: int | None = Query(default=None, ge=0, le=2**62),
) -> list[AuditRecordOut]:
    org_id = orgs.get(session, principal, org).id if org else None
    records = service.list_records(session, principal, org_id=org_id, limit=limit, before_id=before_id)
    return [AuditRecordOut.model_validate(r) for r in records]
