"""Writing and reading the audit log. Rows are only ever inserted."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from aicommons.portal.core import audit as audit_hook
from aicommons.portal.core.audit import AuditEvent
from aicommons.portal.core.principal import Principal

from .models import AuditRecord


def write(session: Session, actor: Principal | None, event: AuditEvent) -> None:
    session.add(
        AuditRecord(
            actor_id=actor.user_id if actor else None,
            actor_name=actor.username if actor else None,
            org_id=event.org_id,
            action=event.action,
            target_type=event.target_type,
            target_id=event.target_id,
            reason=event.reason,
            data=event.data,
        )
    )


def install() -> None:
    audit_hook.install_audit_writer(write)


def list_records(
    session: Session,
    principal: Principal,
    org_id: str | None = None,
    limit: int = 100,
    before_id: int | None = None,
) -> list[AuditRecord]:
    if org_id is None:
        principal.require_admin()
    else:
        principal.require_steward(org_id)
    query = select(AuditRecord).order_by(AuditRecord.id.desc()).limit(min(max(limit, 1), 1000))
    if org_id is not None:
        query = query.where(AuditRecord.org_id == org_id)
    if before_id is not None:
        query = query.where(AuditRecord.id < before_id)
    return list(session.scalars(query))
