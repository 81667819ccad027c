"""All queries of the auth domain."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from aicommons.portal.orgs.models import Membership, Organisation

from .models import ApiToken, User


def user_by_username(session: Session, username: str) -> User | None:
    return session.scalars(select(User).where(User.username == username)).first()


def user_by_id(session: Session, user_id: str) -> User | None:
    return session.get(User, user_id)


def any_admin_exists(session: Session) -> bool:
    return session.scalars(select(User.id).where(User.is_admin.is_(True)).limit(1)).first() is not None


def list_users(session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.username)))


def memberships_of(session: Session, user_id: str) -> list[tuple[Membership, Organisation]]:
    rows = session.execute(
        select(Membership, Organisation)
        .join(Organisation, Organisation.id == Membership.org_id)
        .where(Membership.user_id == user_id)
        .order_by(Organisation.slug)
    )
    return [(m, o) for m, o in rows]


def api_token_by_hash(session: Session, token_hash: str) -> ApiToken | None:
    return session.scalars(select(ApiToken).where(ApiToken.token_hash == token_hash)).first()


def api_tokens_of(session: Session, user_id: str) -> list[ApiToken]:
    return list(
        session.scalars(select(ApiToken).where(ApiToken.user_id == user_id).order_by(ApiToken.created_at))
    )
