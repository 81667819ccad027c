"""The audit hook every domain writes through.

Domains may import only portal.core, yet every approval, grant and credential must reach the
append-only audit log owned by portal.audit. The composition root installs the writer; writing
with none installed is a programming error, never a silent drop.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from .principal import Principal


@dataclass(frozen=True)
class AuditEvent:
    action: str
    target_type: str
    target_id: str
    org_id: str | None = None
    reason: str | None = None
    data: dict[str, Any] = field(default_factory=dict)


AuditWriter = Callable[[Session, Principal | None, AuditEvent], None]
_writer: AuditWriter | None = None


def install_audit_writer(writer: AuditWriter) -> None:
    global _writer
    _writer = writer


def record(session: Session, actor: Principal | None, event: AuditEvent) -> None:
    if _writer is None:
        raise RuntimeError("no audit writer installed; call portal.audit.install() at start-up")
    _writer(session, actor, event)
