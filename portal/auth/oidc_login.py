"""Browser sign-in through the identity provider: authorization code with PKCE (RFC 7636).

The portal is a confidential client: it exchanges the code with its secret and the PKCE
verifier, then keeps the provider's access token as the session (validated through the same JWKS
path as every bearer token) and its refresh token to renew it.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx

from aicommons.portal.core.errors import Unauthenticated, Unavailable
from aicommons.portal.core.settings import Settings


@dataclass(frozen=True)
class AuthorizationRequest:
    url: str
    state: str
    verifier: str


def _endpoint(settings: Settings, name: str) -> str:
    assert settings.oidc_issuer
    return f"{settings.oidc_issuer.rstrip('/')}/protocol/openid-connect/{name}"


def redirect_uri(settings: Settings) -> str:
    return f"{settings.base_url}/login/callback"


def start(settings: Settings) -> AuthorizationRequest:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    state = secrets.token_urlsafe(24)
    query = urlencode(
        {
            "response_type": "code",
            "client_id": settings.oidc_client_id,
            "redirect_uri": redirect_uri(settings),
            "scope": "openid profile email",
            "state": state,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
    )
    return AuthorizationRequest(url=f"{_endpoint(settings, 'auth')}?{query}", state=state, verifier=verifier)


def _token_request(settings: Settings, data: dict[str, str]) -> dict[str, Any]:
    payload = {
        "client_id": settings.oidc_client_id,
        "client_secret": settings.oidc_client_secret or "",
        **data,
    }
    try:
        response = httpx.post(_endpoint(settings, "token"), data=payload, timeout=15)
    except httpx.HTTPError as exc:
        raise Unavailable("auth.idp_unreachable") from exc
    if response.is_error:
        raise Unauthenticated("auth.sso_failed", "Sign-in through the identity provider failed")
    return dict(response.json())


def exchange(settings: Settings, code: str, verifier: str) -> dict[str, Any]:
    return _token_request(
        settings,
        {
            "grant_type": "authorization_code",
            "code": code,
            "code_verifier": verifier,
            "redirect_uri": redirect_uri(settings),
        },
    )


def refresh(settings: Settings, refresh_token: str) -> dict[str, Any]:
    return _token_request(settings, {"grant_type": "refresh_token", "refresh_token": refresh_token})


def logout_url(settings: Settings) -> str:
    query = urlencode(
        {"client_id": settings.oidc_client_id, "post_logout_redirect_uri": f"{settings.base_url}/login"}
    )
    return f"{_endpoint(settings, 'logout')}?{query}"
