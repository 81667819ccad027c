"""Use cases: sign-in, resolving a bearer credential to a Principal, users and API tokens."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import cast

import jwt
from sqlalchemy.orm import Session

from aicommons.portal.core.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthenticated
from aicommons.portal.core.principal import OrgRole, Principal
from aicommons.portal.core.settings import Settings
from aicommons.portal.core.time import utcnow

from . import job_tokens, oidc, passwords, repository, tokens
from . import messages as _messages  # noqa: F401  (registers the catalogue)
from .models import ApiToken, User
from .schemas import ApiTokenCreate, MembershipOut, UserCreate

API_TOKEN_PREFIX = "aic_"


@dataclass(frozen=True)
class CreatedApiToken:
    record: ApiToken
    secret: str


def _hash_api_token(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def login(session: Session, settings: Settings, username: str, password: str) -> tokens.IssuedToken:
    if not settings.local_accounts_enabled:
        raise Unauthenticated("auth.local_disabled")
    user = repository.user_by_username(session, username)
    # Same error and (through the dummy hash) similar timing whether the user exists or not.
    if not passwords.verify_password(user.password_hash if user else None, password) or user is None:
        raise Unauthenticated("auth.bad_credentials", "Wrong username or password")
    if not user.is_active:
        raise Unauthenticated("auth.bad_credentials", "Wrong username or password")
    if user.password_hash and passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash_password(password)
    return tokens.issue_access_token(session, settings, user)


def principal_for(session: Session, user: User, auth_method: str) -> Principal:
    memberships = {m.org_id: cast(OrgRole, m.role) for m, _ in repository.memberships_of(session, user.id)}
    return Principal(
        user_id=user.id,
        username=user.username,
        is_admin=user.is_admin,
        memberships=memberships,
        auth_method=auth_method,
    )


def authenticate(session: Session, settings: Settings, credential: str) -> Principal:
    """Resolve a bearer credential (API token or JWT) to the caller."""
    if credential.startswith(API_TOKEN_PREFIX):
        user = _user_for_api_token(session, credential)
        method = "api_token"
    elif oidc.is_external(settings, _unverified_issuer(credential)):
        claims = oidc.validate(settings, credential, _unverified_kid(credential))
        user = oidc.mirror(session, oidc.identity_from_claims(claims, settings.oidc_org_group_root))
        method = "oidc"
    elif job_tokens.looks_like_job_token(credential):
        # A job's own token: one organisation, member only, whatever the user's roles.
        return job_tokens.principal_for_job_token(session, settings, credential)
    else:
        claims = tokens.validate_local(session, settings, credential)
        user = repository.user_by_id(session, str(claims["sub"]))
        method = "jwt"
    if user is None or not user.is_active:
        raise Unauthenticated("auth.invalid_token", "Invalid token")
    return principal_for(session, user, method)


def _unverified_issuer(token: str) -> str | None:
    try:
        return str(jwt.decode(token, options={"verify_signature": False}).get("iss"))
    except jwt.PyJWTError:
        return None


def _unverified_kid(token: str) -> str | None:
    try:
        return jwt.get_unverified_header(token).get("kid")
    except jwt.PyJWTError:
        return None


def _user_for_api_token(session: Session, secret: str) -> User | None:
    record = repository.api_token_by_hash(session, _hash_api_token(secret))
    if record is None:
        raise Unauthenticated("auth.invalid_token", "Invalid token")
    if record.revoked_at is not None:
        raise Unauthenticated("auth.token_revoked", "Token revoked")
    now = utcnow()
    if record.expires_at <= now:
        raise Unauthenticated("auth.token_expired", "Token expired")
    # Only touch the row once a minute, so that scripts hammering the API do not serialise on it.
    if record.last_used_at is None or now - record.last_used_at > timedelta(minutes=1):
        record.last_used_at = now
    return repository.user_by_id(session, record.user_id)


def memberships_view(session: Session, user_id: str) -> list[MembershipOut]:
    return [
        MembershipOut(org_id=o.id, org_slug=o.slug, org_name=o.name, role=cast(OrgRole, m.role))
        for m, o in repository.memberships_of(session, user_id)
    ]


def create_user(session: Session, principal: Principal | None, data: UserCreate) -> User:
    if principal is not None:
        principal.require_admin()
    if repository.user_by_username(session, data.username) is not None:
        raise Conflict("user.username_taken", username=data.username)
    user = User(
        username=data.username,
        email=data.email,
        display_name=data.display_name,
        password_hash=passwords.hash_password(data.password),
        is_admin=data.is_admin,
        locale=data.locale,
    )
    session.add(user)
    session.flush()
    return user


def change_password(session: Session, principal: Principal, current: str, new: str) -> None:
    user = repository.user_by_id(session, principal.user_id)
    if user is None or not passwords.verify_password(user.password_hash, current):
        raise Unauthenticated("auth.bad_credentials", "Wrong username or password")
    if len(new) < passwords.MIN_PASSWORD_LENGTH:
        raise InvalidInput("user.weak_password", min=passwords.MIN_PASSWORD_LENGTH)
    user.password_hash = passwords.hash_password(new)


def bootstrap_admin(session: Session, settings: Settings) -> str | None:
    """On first start, create the platform administrator; returns its one-time password."""
    if repository.any_admin_exists(session):
        return None
    password = secrets.token_urlsafe(12)
    create_user(
        session,
        None,
        UserCreate(username=settings.bootstrap_admin_username, password=password, is_admin=True),
    )
    return password


def _refuse_job_tokens(principal: Principal) -> None:
    # A job must not mint itself a long-lived, unrestricted credential, nor touch its owner's tokens.
    if principal.auth_method == job_tokens.AUTH_METHOD:
        raise Forbidden("auth.job_token_forbidden")


def create_api_token(
    session: Session, settings: Settings, principal: Principal, data: ApiTokenCreate
) -> CreatedApiToken:
    _refuse_job_tokens(principal)
    if data.expires_in_days > settings.api_token_max_days:
        raise InvalidInput("token.expiry_too_long", max=settings.api_token_max_days)
    secret = API_TOKEN_PREFIX + secrets.token_urlsafe(32)
    record = ApiToken(
        user_id=principal.user_id,
        name=data.name,
        token_hash=_hash_api_token(secret),
        prefix=secret[:10],
        created_at=utcnow(),
        expires_at=utcnow() + timedelta(days=data.expires_in_days),
    )
    session.add(record)
    session.flush()
    return CreatedApiToken(record=record, secret=secret)


def list_api_tokens(session: Session, principal: Principal) -> list[ApiToken]:
    _refuse_job_tokens(principal)
    return repository.api_tokens_of(session, principal.user_id)


def revoke_api_token(session: Session, principal: Principal, token_id: str) -> ApiToken:
    _refuse_job_tokens(principal)
    record = session.get(ApiToken, token_id)
    if record is None or record.user_id != principal.user_id:
        raise NotFound("token.not_found")
    if record.revoked_at is None:
        record.revoked_at = utcnow()
    return record


def set_locale(session: Session, principal: Principal, locale: str) -> User:
    """Remember the caller's language for the web UI and messages ("en" or "zh")."""
    if locale not in ("en", "zh"):
        raise InvalidInput("request.invalid", detail="locale must be en or zh")
    user = repository.user_by_id(session, principal.user_id)
    if user is None:
        raise NotFound("user.not_found")
    user.locale = locale
    return user
