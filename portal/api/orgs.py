"""Organisations and their members."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Path

from aicommons.portal.orgs import service
from aicommons.portal.orgs.schemas import SLUG_PATTERN, MemberAdd, MemberOut, OrgCreate, OrgOut, OrgUpdate

from .deps import DirectoryDep, PrincipalDep, SessionDep

router = APIRouter(prefix="/orgs", tags=["organisations"])

NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such organisation, or the caller is not a member"}
}
Slug = Path(max_length=64, pattern=SLUG_PATTERN)


@router.get("", response_model=list[OrgOut])
def list_orgs(principal: PrincipalDep, session: SessionDep) -> list[OrgOut]:
    return [OrgOut.model_validate(o) for o in service.visible(session, principal)]


@router.post("", response_model=OrgOut, status_code=201, responses={409: {"description": "Slug taken"}})
def create_org(
    principal: PrincipalDep, session: SessionDep, directory: DirectoryDep, body: OrgCreate
) -> OrgOut:
    return OrgOut.model_validate(service.create(session, principal, body, directory))


@router.get("/{slug}", response_model=OrgOut, responses=NOT_FOUND)
def get_org(principal: PrincipalDep, session: SessionDep, slug: str = Slug) -> OrgOut:
    return OrgOut.model_validate(service.get(session, principal, slug))


@router.patch("/{slug}", response_model=OrgOut, responses=NOT_FOUND)
def update_org(principal: PrincipalDep, session: SessionDep, body: OrgUpdate, slug: str = Slug) -> OrgOut:
    return OrgOut.model_validate(service.update(session, principal, slug, body))


@router.get("/{slug}/members", response_model=list[MemberOut], responses=NOT_FOUND)
def list_members(principal: PrincipalDep, session: SessionDep, slug: str = Slug) -> list[MemberOut]:
    return service.list_members(session, principal, slug)


@router.post("/{slug}/members", response_model=MemberOut, status_code=201, responses=NOT_FOUND)
def add_member(
    principal: PrincipalDep, session: SessionDep, directory: DirectoryDep, body: MemberAdd, slug: str = Slug
) -> MemberOut:
    return service.add_member(session, principal, slug, body, directory)


@router.delete("/{slug}/members/{username}", status_code=204, responses=NOT_FOUND)
def remove_member(
    principal: PrincipalDep,
    session: SessionDep,
    directory: DirectoryDep,
    username: str = Path(max_length=64),
    slug: str = Slug,
) -> None:
    service.remove_member(session, principal, slug, username, directory)
