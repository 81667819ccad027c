"""The portal's rotating RS256 signing keys and the JWKS that publishes them."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from sqlalchemy import select
from sqlalchemy.orm import Session

from aicommons.portal.core.ids import new_secret
from aicommons.portal.core.settings import Settings
from aicommons.portal.core.time import utcnow

from .models import SigningKey


def _generate_key() -> SigningKey:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    kid = new_secret(12)
    jwk: dict[str, Any] = json.loads(RSAAlgorithm.to_jwk(private.public_key()))
    jwk.update({"kid": kid, "use": "sig", "alg": "RS256"})
    return SigningKey(kid=kid, private_pem=pem, public_jwk=jwk, created_at=utcnow())


def active_key(session: Session, settings: Settings) -> SigningKey:
    """The newest unretired key, rotated when older than the configured period."""
    current = session.scalars(
        select(SigningKey)
        .where(SigningKey.retired_at.is_(None))
        .order_by(SigningKey.created_at.desc())
        .limit(1)
    ).first()
    now = utcnow()
    if current is not None and now - current.created_at < timedelta(days=settings.signing_key_rotation_days):
        return current
    fresh = _generate_key()
    if current is not None:
        current.retired_at = now
    session.add(fresh)
    session.flush()
    return fresh


def rotate(session: Session) -> SigningKey:
    now = utcnow()
    for key in session.scalars(select(SigningKey).where(SigningKey.retired_at.is_(None))):
        key.retired_at = now
    fresh = _generate_key()
    session.add(fresh)
    session.flush()
    return fresh


def published_keys(session: Session, settings: Settings) -> list[dict[str, Any]]:
    """Active key plus retired keys whose tokens may still be valid."""
    horizon = utcnow() - timedelta(seconds=settings.access_token_ttl_s + 300)
    keys = session.scalars(select(SigningKey).order_by(SigningKey.created_at.desc()))
    return [k.public_jwk for k in keys if k.retired_at is None or k.retired_at > horizon]
