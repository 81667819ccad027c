"""The GPU-second ledger: debits against allocations, append-only, exact and idempotent.

A debit locks the organisation's serving allocations (``SELECT … FOR UPDATE`` in id order),
looks whether its charge key was already written, splits the amount over the allocations in
debit order (``policy.split_debit``), inserts one ledger entry per part and moves each
allocation's running total. All of it happens in the caller's transaction; nothing commits here.

Guarantees, also with many concurrent writers:
* never negative: a part never exceeds what its allocation has left (and a CHECK constraint
  backs this up: ``used_gpu_seconds <= granted_gpu_seconds``);
* never twice: entries of one charge are unique on (charge_key, seq);
* never decays: entries are never updated or deleted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session

from aicommons.portal.core.errors import Conflict, InvalidInput

from . import policy, repository
from .models import Allocation, LedgerEntry


@dataclass(frozen=True)
class DebitResult:
    charge_key: str
    charged: int
    uncovered: int
    parts: list[tuple[str, int]] = field(default_factory=list)
    replayed: bool = False


def _voucher(allocation: Allocation) -> policy.Voucher:
    return policy.Voucher(
        id=allocation.id,
        flavour_id=allocation.flavour_id,
        valid_from=allocation.valid_from,
        valid_until=allocation.valid_until,
        remaining=(allocation.granted_gpu_seconds or 0) - allocation.used_gpu_seconds,
    )


def debit(
    session: Session,
    *,
    org_id: str,
    flavour_id: str | None,
    gpu_seconds: int,
    charge_key: str,
    at: datetime,
    allow_partial: bool = True,
) -> DebitResult:
    """Charge ``gpu_seconds`` of use at ``at`` to the organisation, once per ``charge_key``.

    With ``allow_partial`` what no allocation covers is returned as ``uncovered`` (use that already
    happened is recorded even when the balance ran out); without it, the debit is refused whole.
    """
    if gpu_seconds <= 0:
        raise InvalidInput("ledger.amount_invalid")
    locked = repository.lock_vouchers(session, org_id, at)
    previous = repository.entries_of_charge(session, charge_key)
    if previous:
        parts = [(e.allocation_id, e.gpu_seconds) for e in previous]
        charged = sum(amount for _, amount in parts)
        return DebitResult(charge_key, charged, max(0, gpu_seconds - charged), parts, replayed=True)
    by_id = {a.id: a for a in locked}
    parts, uncovered = policy.split_debit(gpu_seconds, (_voucher(a) for a in locked), flavour_id, at)
    if uncovered and not allow_partial:
        raise Conflict("ledger.insufficient_balance", missing=uncovered)
    for seq, (allocation_id, amount) in enumerate(parts):
        session.add(
            LedgerEntry(
                charge_key=charge_key,
                seq=seq,
                allocation_id=allocation_id,
                org_id=org_id,
                flavour_id=flavour_id,
                gpu_seconds=amount,
                at=at,
            )
        )
        by_id[allocation_id].used_gpu_seconds += amount
    session.flush()
    return DebitResult(charge_key, gpu_seconds - uncovered, uncovered, parts)
