"""Tokens from the external OpenID provider (Keycloak): validation and mirroring into the portal.

Keycloak is the source of truth for who belongs to which organisation when it is configured: each
validated token carries the user's groups (`/orgs/<slug>`, stewards in `/orgs/<slug>/stewards` or
holding the realm role `steward`) and realm roles, and the portal mirrors them on every sign-in.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session

from aicommons.portal.core.errors import Unauthenticated, Unavailable
from aicommons.portal.core.principal import OrgRole
from aicommons.portal.core.settings import Settings
from aicommons.portal.orgs.models import Membership, Organisation

from . import tokens
from .models import User


@dataclass(frozen=True)
class ExternalIdentity:
    subject: str
    username: str
    email: str | None
    display_name: str | None
    is_admin: bool
    orgs: dict[str, OrgRole] = field(default_factory=dict)


def identity_from_claims(claims: dict[str, Any], group_root: str = "/orgs") -> ExternalIdentity:
    roles = set(claims.get("realm_access", {}).get("roles", [])) | set(claims.get("roles", []))
    prefix = group_root.rstrip("/") + "/"
    orgs: dict[str, OrgRole] = {}
    for path in claims.get("groups", []):
        if not isinstance(path, str) or not path.startswith(prefix):
            continue
        parts = path[len(prefix) :].split("/")
        slug = parts[0]
        if not slug:
            continue
        if len(parts) > 1 and parts[1] == "stewards":
            orgs[slug] = "steward"
        else:
            orgs.setdefault(slug, "steward" if "steward" in roles else "member")
    username = str(claims.get("preferred_username") or claims["sub"]).lower()
    return ExternalIdentity(
        subject=str(claims["sub"]),
        username=username,
        email=claims.get("email"),
        display_name=claims.get("name"),
        is_admin="admin" in roles,
        orgs=orgs,
    )


class JwksCache:
    """The provider's signing keys, fetched through its discovery document and refreshed on a new kid."""

    def __init__(self, issuer: str, ttl_s: int) -> None:
        self.issuer = issuer.rstrip("/")
        self.ttl_s = ttl_s
        self._keys: list[dict[str, Any]] = []
        self._fetched_at = 0.0
        self._lock = threading.Lock()

    def keys(self, kid: str | None) -> list[dict[str, Any]]:
        with self._lock:
            stale = time.monotonic() - self._fetched_at > self.ttl_s
            unknown = kid is not None and all(k.get("kid") != kid for k in self._keys)
            # An unknown kid may mean the provider rotated; refetch, but at most every 10 seconds.
            if stale or (unknown and time.monotonic() - self._fetched_at > 10):
                self._keys = self._fetch()
                self._fetched_at = time.monotonic()
            return self._keys

    def _fetch(self) -> list[dict[str, Any]]:
        try:
            discovery = httpx.get(f"{self.issuer}/.well-known/openid-configuration", timeout=10).json()
            jwks = httpx.get(discovery["jwks_uri"], timeout=10).json()
        except (httpx.HTTPError, ValueError, KeyError) as exc:
            raise Unavailable("auth.idp_unreachable", "The identity provider cannot be reached") from exc
        return [k for k in jwks.get("keys", []) if k.get("use", "sig") == "sig"]


_caches: dict[str, JwksCache] = {}


def _cache_for(settings: Settings) -> JwksCache:
    assert settings.oidc_issuer
    cache = _caches.get(settings.oidc_issuer)
    if cache is None:
        cache = _caches[settings.oidc_issuer] = JwksCache(settings.oidc_issuer, settings.oidc_jwks_ttl_s)
    return cache


def is_external(settings: Settings, unverified_issuer: str | None) -> bool:
    return bool(settings.oidc_issuer) and unverified_issuer == settings.oidc_issuer


def validate(settings: Settings, token: str, kid: str | None) -> dict[str, Any]:
    assert settings.oidc_issuer
    keys = _cache_for(settings).keys(kid)
    return tokens.validate_jwt(token, keys, settings.oidc_issuer, settings.oidc_audience)


def mirror(session: Session, identity: ExternalIdentity) -> User:
    """Create or update the portal's copy of the user and set memberships to exactly the token's."""
    user = session.scalars(select(User).where(User.external_subject == identity.subject)).first()
    if user is None:
        user = User(external_subject=identity.subject, username=_free_username(session, identity.username))
        session.add(user)
    user.email, user.display_name, user.is_admin = identity.email, identity.display_name, identity.is_admin
    session.flush()
    if not user.is_active:
        raise Unauthenticated("auth.user_inactive")
    _mirror_memberships(session, user, identity.orgs)
    return user


def _free_username(session: Session, wanted: str) -> str:
    """Never take over a local account that happens to share the name."""
    candidate, n = wanted, 1
    while session.scalars(select(User.id).where(User.username == candidate)).first() is not None:
        n += 1
        candidate = f"{wanted}-{n}"
    return candidate


def _mirror_memberships(session: Session, user: User, wanted: dict[str, OrgRole]) -> None:
    orgs = {
        o.slug: o for o in session.scalars(select(Organisation).where(Organisation.slug.in_(list(wanted))))
    }
    for slug in wanted.keys() - orgs.keys():
        orgs[slug] = Organisation(slug=slug, name=slug)
        session.add(orgs[slug])
    session.flush()
    current = {m.org_id: m for m in session.scalars(select(Membership).where(Membership.user_id == user.id))}
    wanted_by_id = {orgs[slug].id: role for slug, role in wanted.items()}
    for org_id, member in current.items():
        if org_id not in wanted_by_id:
            session.delete(member)
        elif member.role != wanted_by_id[org_id]:
            member.role = wanted_by_id[org_id]
    for org_id, role in wanted_by_id.items():
        if org_id not in current:
            session.add(Membership(org_id=org_id, user_id=user.id, role=role))
    session.flush()
