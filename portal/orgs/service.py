"""Use cases for organisations and memberships."""

from __future__ import annotations

from typing import cast

from sqlalchemy.orm import Session

from aicommons.portal.auth import repository as users
from aicommons.portal.core.audit import AuditEvent, record
from aicommons.portal.core.errors import Conflict, InvalidInput, NotFound
from aicommons.portal.core.principal import OrgRole, Principal

from . import messages as _messages  # noqa: F401  (registers the catalogue)
from . import repository
from .directory import Directory, LocalDirectory
from .models import Membership, Organisation
from .schemas import MemberAdd, MemberOut, OrgCreate, OrgUpdate


def create(
    session: Session, principal: Principal, data: OrgCreate, directory: Directory | None = None
) -> Organisation:
    principal.require_admin()
    if repository.by_slug(session, data.slug) is not None:
        raise Conflict("org.slug_taken", slug=data.slug)
    org = Organisation(slug=data.slug, name=data.name, description=data.description)
    session.add(org)
    session.flush()
    record(
        session,
        principal,
        AuditEvent("org.create", "organisation", org.id, org_id=org.id, data={"slug": org.slug}),
    )
    (directory or LocalDirectory()).org_created(org.slug, org.name)
    return org


def visible(session: Session, principal: Principal) -> list[Organisation]:
    if principal.is_admin:
        return repository.list_all(session)
    return repository.list_by_ids(session, list(principal.memberships))


def get(session: Session, principal: Principal, slug: str) -> Organisation:
    org = repository.by_slug(session, slug)
    if org is None:
        raise NotFound("org.not_found")
    principal.require_member(org.id)
    return org


def update(session: Session, principal: Principal, slug: str, data: OrgUpdate) -> Organisation:
    org = get(session, principal, slug)
    principal.require_steward(org.id)
    if data.name is not None:
        org.name = data.name
    if data.description is not None:
        org.description = data.description
    return org


def list_members(session: Session, principal: Principal, slug: str) -> list[MemberOut]:
    org = get(session, principal, slug)
    return [
        MemberOut(
            user_id=u.id,
            username=u.username,
            display_name=u.display_name,
            role=cast(OrgRole, m.role),
            joined_at=m.created_at,
        )
        for m, u in repository.members(session, org.id)
    ]


def add_member(
    session: Session, principal: Principal, slug: str, data: MemberAdd, directory: Directory | None = None
) -> MemberOut:
    org = get(session, principal, slug)
    principal.require_steward(org.id)
    user = users.user_by_username(session, data.username)
    if user is None:
        raise InvalidInput("user.not_found")
    if repository.membership(session, org.id, user.id) is not None:
        raise Conflict("org.member_exists", username=user.username)
    member = Membership(org_id=org.id, user_id=user.id, role=data.role)
    session.add(member)
    session.flush()
    record(
        session,
        principal,
        AuditEvent("org.member_add", "user", user.id, org_id=org.id, data={"role": data.role}),
    )
    (directory or LocalDirectory()).member_added(org.slug, user.username, data.role)
    return MemberOut(
        user_id=user.id,
        username=user.username,
        display_name=user.display_name,
        role=data.role,
        joined_at=member.created_at,
    )


def remove_member(
    session: Session, principal: Principal, slug: str, username: str, directory: Directory | None = None
) -> None:
    org = get(session, principal, slug)
    principal.require_steward(org.id)
    user = users.user_by_username(session, username)
    member = repository.membership(session, org.id, user.id) if user else None
    if member is None or user is None:
        raise NotFound("org.member_not_found", username=username)
    if member.role == "steward" and repository.steward_count(session, org.id) <= 1 and not principal.is_admin:
        raise Conflict("org.last_steward")
    session.delete(member)
    record(session, principal, AuditEvent("org.member_remove", "user", user.id, org_id=org.id))
    (directory or LocalDirectory()).member_removed(org.slug, user.username)
