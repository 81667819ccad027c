"""Short-lived per-job tokens: what a running job uses to reach the portal (MLflow above all).

A job token is an RS256 JWT signed with the portal's active key, like an access token, but:

* its audience is the portal's audience with a ``/job`` suffix, so nothing that accepts ordinary
  access tokens (``tokens.validate_local``) accepts a job token by accident;
* it names the job (``aicommons_job``) and the one organisation it runs for (``aicommons_org``);
* the principal it yields is a plain *member* of that one organisation, never a steward or an
  administrator, whoever submitted the job; and it may not manage API tokens.

The user must still be a member of the organisation (or an administrator) when the token is used,
so removing someone from an organisation also cuts off their running jobs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import jwt
from sqlalchemy import select
from sqlalchemy.orm import Session

from aicommons.portal.core.errors import Unauthenticated
from aicommons.portal.core.principal import Principal
from aicommons.portal.core.settings import Settings
from aicommons.portal.core.time import utcnow
from aicommons.portal.orgs.models import Organisation

from . import keys, repository, tokens
from .models import SigningKey

JOB_CLAIM = "aicommons_job"
ORG_CLAIM = "aicommons_org"
AUTH_METHOD = "job"
# Jobs run for hours, not weeks: the platform's longest time limit stays well below this.
MAX_TTL_S = 7 * 24 * 3600


@dataclass(frozen=True)
class JobClaims:
    user_id: str
    org_id: str
    job_id: str


def job_audience(settings: Settings) -> str:
    return f"{settings.token_audience}/job"


def issue_job_token(
    session: Session, settings: Settings, *, user_id: str, org_id: str, job_id: str, ttl_s: int
) -> str:
    """A token for job `job_id`, run by `user_id` for organisation `org_id`, valid `ttl_s` seconds."""
    if not 0 < ttl_s <= MAX_TTL_S:
        # Called by the scheduler with the job's time limit, never with user input: a bug, not a 4xx.
        raise ValueError(f"job token lifetime must be 1..{MAX_TTL_S} s, got {ttl_s}")
    if not (user_id and org_id and job_id):
        raise ValueError("a job token needs a user, an organisation and a job")
    key = keys.active_key(session, settings)
    now = utcnow()
    claims = {
        "iss": settings.issuer,
        "aud": job_audience(settings),
        "sub": user_id,
        JOB_CLAIM: job_id,
        ORG_CLAIM: org_id,
        "iat": int(now.timestamp()),
        "nbf": int(now.timestamp()),
        "exp": int((now + timedelta(seconds=ttl_s)).timestamp()),
    }
    return jwt.encode(claims, key.private_pem, algorithm="RS256", headers={"kid": key.kid})


def looks_like_job_token(credential: str) -> bool:
    """Routing only (the signature is checked by `validate`): does the credential claim to be one?"""
    try:
        unverified: dict[str, Any] = jwt.decode(credential, options={"verify_signature": False})
    except jwt.PyJWTError:
        return False
    return JOB_CLAIM in unverified


def _verification_keys(session: Session) -> list[dict[str, Any]]:
    # A job may outlive a key rotation: keep retired keys as long as a job token signed by them lives.
    horizon = utcnow() - timedelta(seconds=MAX_TTL_S + 300)
    rows = session.scalars(select(SigningKey).order_by(SigningKey.created_at.desc()))
    return [k.public_jwk for k in rows if k.retired_at is None or k.retired_at > horizon]


def validate(session: Session, settings: Settings, credential: str) -> JobClaims:
    claims = tokens.validate_jwt(
        credential, _verification_keys(session), settings.issuer, job_audience(settings)
    )
    job_id, org_id = claims.get(JOB_CLAIM), claims.get(ORG_CLAIM)
    if not isinstance(job_id, str) or not isinstance(org_id, str) or not job_id or not org_id:
        raise Unauthenticated("auth.invalid_token", "Invalid token")
    return JobClaims(user_id=str(claims["sub"]), org_id=org_id, job_id=job_id)


def principal_for_job_token(session: Session, settings: Settings, credential: str) -> Principal:
    """The caller behind a job token: a member of the job's organisation and nothing more."""
    claims = validate(session, settings, credential)
    user = repository.user_by_id(session, claims.user_id)
    if user is None or not user.is_active or session.get(Organisation, claims.org_id) is None:
        raise Unauthenticated("auth.invalid_token", "Invalid token")
    still_member = any(m.org_id == claims.org_id for m, _ in repository.memberships_of(session, user.id))
    if not (still_member or user.is_admin):
        raise Unauthenticated("auth.invalid_token", "Invalid token")
    return Principal(
        user_id=user.id,
        username=user.username,
        is_admin=False,
        memberships={claims.org_id: "member"},
        auth_method=AUTH_METHOD,
        job_id=claims.job_id,
    )
