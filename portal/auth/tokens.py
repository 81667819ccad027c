"""Issuing and validating access tokens.

Every bearer JWT, ours or (later) Keycloak's, is validated the same way: key from the issuer's
JWKS by `kid`, signature, expiry, issuer and audience.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import jwt
from jwt import PyJWK
from sqlalchemy.orm import Session

from aicommons.portal.core.errors import Unauthenticated
from aicommons.portal.core.settings import Settings
from aicommons.portal.core.time import utcnow

from . import keys
from .models import User

ALGORITHMS = ["RS256"]


@dataclass(frozen=True)
class IssuedToken:
    access_token: str
    expires_in: int


def issue_access_token(session: Session, settings: Settings, user: User) -> IssuedToken:
    key = keys.active_key(session, settings)
    now = utcnow()
    claims = {
        "iss": settings.issuer,
        "aud": settings.token_audience,
        "sub": user.id,
        "preferred_username": user.username,
        "iat": int(now.timestamp()),
        "nbf": int(now.timestamp()),
        "exp": int((now + timedelta(seconds=settings.access_token_ttl_s)).timestamp()),
    }
    token = jwt.encode(claims, key.private_pem, algorithm="RS256", headers={"kid": key.kid})
    return IssuedToken(access_token=token, expires_in=settings.access_token_ttl_s)


def validate_jwt(token: str, jwks: list[dict[str, Any]], issuer: str, audience: str) -> dict[str, Any]:
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise Unauthenticated("auth.invalid_token", "Invalid token") from exc
    kid = header.get("kid")
    match = next((k for k in jwks if k.get("kid") == kid), None)
    if match is None or header.get("alg") not in ALGORITHMS:
        raise Unauthenticated("auth.invalid_token", "Invalid token")
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            PyJWK(match).key,
            algorithms=ALGORITHMS,
            audience=audience,
            issuer=issuer,
            options={"require": ["exp", "iss", "sub", "aud"]},
            leeway=30,
        )
    except jwt.ExpiredSignatureError as exc:
        raise Unauthenticated("auth.token_expired", "Token expired") from exc
    except jwt.PyJWTError as exc:
        raise Unauthenticated("auth.invalid_token", "Invalid token") from exc
    return claims


def validate_local(session: Session, settings: Settings, token: str) -> dict[str, Any]:
    return validate_jwt(
        token, keys.published_keys(session, settings), settings.issuer, settings.token_audience
    )
