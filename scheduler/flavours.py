"""Pools and flavours: accelerator types with a capacity (administrators)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from aicommons.portal.core.audit import AuditEvent, record
from aicommons.portal.core.errors import Conflict, InvalidInput, NotFound
from aicommons.portal.core.principal import Principal

from . import messages as _messages  # noqa: F401  (registers the catalogue)
from . import repository
from .models import Flavour
from .schemas import FlavourCreate, FlavourUpdate, PoolOut


def create(session: Session, principal: Principal, data: FlavourCreate) -> Flavour:
    principal.require_admin()
    if repository.flavour_by_name(session, data.name) is not None:
        raise Conflict("flavour.name_taken", name=data.name)
    flavour = Flavour(
        name=data.name, pool=data.pool, capacity_gpus=data.capacity_gpus, description=data.description
    )
    session.add(flavour)
    session.flush()
    record(
        session,
        principal,
        AuditEvent("flavour.create", "flavour", flavour.id, data=data.model_dump(mode="json")),
    )
    return flavour


def update(session: Session, principal: Principal, name: str, data: FlavourUpdate) -> Flavour:
    principal.require_admin()
    flavour = get(session, name, lock=True)
    if data.capacity_gpus is not None:
        committed = repository.guaranteed_total(session, flavour.id)
        if data.capacity_gpus < committed:
            raise Conflict(
                "flavour.capacity_below_commitments", capacity=data.capacity_gpus, committed=committed
            )
        flavour.capacity_gpus = data.capacity_gpus
    if data.pool is not None:
        flavour.pool = data.pool
    if data.description is not None:
        flavour.description = data.description
    record(
        session,
        principal,
        AuditEvent(
            "flavour.update", "flavour", flavour.id, data=data.model_dump(mode="json", exclude_none=True)
        ),
    )
    return flavour


def get(session: Session, name: str, lock: bool = False) -> Flavour:
    flavour = repository.flavour_by_name(session, name, lock=lock)
    if flavour is None:
        raise NotFound("flavour.not_found", name=name)
    return flavour


def resolve(session: Session, name: str, lock: bool = False) -> Flavour:
    """A flavour named in a request body: unknown is bad input (422), not a missing resource."""
    flavour = repository.flavour_by_name(session, name, lock=lock)
    if flavour is None:
        raise InvalidInput("flavour.not_found", name=name)
    return flavour


def list_all(session: Session) -> list[Flavour]:
    return repository.flavours(session)


def pools(session: Session) -> list[PoolOut]:
    grouped: dict[str, PoolOut] = {}
    for flavour in repository.flavours(session):
        pool = grouped.setdefault(flavour.pool, PoolOut(name=flavour.pool, capacity_gpus=0, flavours=[]))
        pool.capacity_gpus += flavour.capacity_gpus
        pool.flavours.append(flavour.name)
    return list(grouped.values())
