"""All queries of the organisations domain."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from aicommons.portal.auth.models import User

from .models import Membership, Organisation


def by_slug(session: Session, slug: str) -> Organisation | None:
    return session.scalars(select(Organisation).where(Organisation.slug == slug)).first()


def list_all(session: Session) -> list[Organisation]:
    return list(session.scalars(select(Organisation).order_by(Organisation.slug)))


def list_by_ids(session: Session, ids: list[str]) -> list[Organisation]:
    if not ids:
        return []
    return list(
        session.scalars(select(Organisation).where(Organisation.id.in_(ids)).order_by(Organisation.slug))
    )


def members(session: Session, org_id: str) -> list[tuple[Membership, User]]:
    rows = session.execute(
        select(Membership, User)
        .join(User, User.id == Membership.user_id)
        .where(Membership.org_id == org_id)
        .order_by(User.username)
    )
    return [(m, u) for m, u in rows]


def membership(session: Session, org_id: str, user_id: str) -> Membership | None:
    return session.scalars(
        select(Membership).where(Membership.org_id == org_id, Membership.user_id == user_id)
    ).first()


def steward_count(session: Session, org_id: str) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(Membership)
            .where(Membership.org_id == org_id, Membership.role == "steward")
        )
        or 0
    )
