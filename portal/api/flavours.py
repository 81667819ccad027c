"""Pools and flavours (accelerator types with a capacity)."""

from __future__ import annotations

from fastapi import APIRouter, Path

from aicommons.scheduler import flavours as service
from aicommons.scheduler.schemas import NAME_PATTERN, FlavourCreate, FlavourOut, FlavourUpdate, PoolOut

from .deps import PrincipalDep, SessionDep

router = APIRouter(tags=["flavours"])
FlavourName = Path(max_length=64, pattern=NAME_PATTERN)


@router.get("/flavours", response_model=list[FlavourOut])
def list_flavours(principal: PrincipalDep, session: SessionDep) -> list[FlavourOut]:
    return [FlavourOut.model_validate(f) for f in service.list_all(session)]


@router.post(
    "/flavours", response_model=FlavourOut, status_code=201, responses={409: {"description": "Taken"}}
)
def create_flavour(principal: PrincipalDep, session: SessionDep, body: FlavourCreate) -> FlavourOut:
    return FlavourOut.model_validate(service.create(session, principal, body))


@router.get("/flavours/{name}", response_model=FlavourOut, responses={404: {"description": "Unknown"}})
def get_flavour(principal: PrincipalDep, session: SessionDep, name: str = FlavourName) -> FlavourOut:
    return FlavourOut.model_validate(service.get(session, name))


@router.patch("/flavours/{name}", response_model=FlavourOut, responses={404: {"description": "Unknown"}})
def update_flavour(
    principal: PrincipalDep, session: SessionDep, body: FlavourUpdate, name: str = FlavourName
) -> FlavourOut:
    return FlavourOut.model_validate(service.update(session, principal, name, body))


@router.get("/pools", response_model=list[PoolOut])
def list_pools(principal: PrincipalDep, session: SessionDep) -> list[PoolOut]:
    return service.pools(session)
