"""Sign-in, the JWKS, and the caller's own account."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError

from aicommons.portal.auth import keys
from aicommons.portal.auth import service as auth_service
from aicommons.portal.auth.schemas import Me, PasswordChange, TokenRequest, TokenResponse, UserOut
from aicommons.portal.core.errors import InvalidInput

from .deps import PrincipalDep, SessionDep, SettingsDep

router = APIRouter(tags=["auth"])


@router.post(
    "/auth/token",
    response_model=TokenResponse,
    summary="Sign in with a local account",
    description="Accepts JSON {username, password} or an OAuth2 password-grant form.",
    openapi_extra={
        "requestBody": {
            "content": {
                "application/json": {"schema": TokenRequest.model_json_schema()},
                "application/x-www-form-urlencoded": {"schema": TokenRequest.model_json_schema()},
            },
            "required": True,
        }
    },
    responses={401: {"description": "Wrong username or password"}},
)
async def token(request: Request, session: SessionDep, settings: SettingsDep) -> TokenResponse:
    data = await _read_credentials(request)
    issued = auth_service.login(session, settings, data.username, data.password)
    return TokenResponse(access_token=issued.access_token, expires_in=issued.expires_in)


async def _read_credentials(request: Request) -> TokenRequest:
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("application/x-www-form-urlencoded") or content_type.startswith("multipart/"):
        form = await request.form()
        raw: Any = {k: v for k, v in form.items() if isinstance(v, str)}
    else:
        try:
            raw = await request.json()
        except ValueError as exc:
            raise InvalidInput("request.malformed_json") from exc
    if not isinstance(raw, dict):
        raise InvalidInput("request.invalid", detail="expected an object with username and password")
    try:
        return TokenRequest.model_validate(raw)
    except ValidationError as exc:
        raise RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in exc.errors()]) from exc


class OidcConfig(BaseModel):
    issuer: str
    cli_client_id: str
    device_authorization_endpoint: str
    token_endpoint: str


class AuthConfig(BaseModel):
    local_accounts_enabled: bool
    oidc: OidcConfig | None


@router.get("/auth/config", response_model=AuthConfig, summary="How to sign in to this portal")
def auth_config(settings: SettingsDep) -> AuthConfig:
    oidc = None
    if settings.oidc_issuer:
        base = f"{settings.oidc_issuer.rstrip('/')}/protocol/openid-connect"
        oidc = OidcConfig(
            issuer=settings.oidc_issuer,
            cli_client_id=settings.oidc_cli_client_id,
            device_authorization_endpoint=f"{base}/auth/device",
            token_endpoint=f"{base}/token",
        )
    return AuthConfig(local_accounts_enabled=settings.local_accounts_enabled, oidc=oidc)


@router.get("/auth/jwks", summary="Public keys that sign the portal's tokens")
def jwks(session: SessionDep, settings: SettingsDep) -> JSONResponse:
    keys.active_key(session, settings)
    return JSONResponse(
        {"keys": keys.published_keys(session, settings)}, headers={"Cache-Control": "max-age=300"}
    )


@router.get("/me", response_model=Me)
def me(principal: PrincipalDep, session: SessionDep) -> Me:
    from aicommons.portal.auth import repository

    user = repository.user_by_id(session, principal.user_id)
    assert user is not None
    return Me(
        user=UserOut.model_validate(user),
        memberships=auth_service.memberships_view(session, principal.user_id),
        auth_method=principal.auth_method,
    )


@router.post("/me/password", status_code=204)
def change_password(principal: PrincipalDep, session: SessionDep, body: PasswordChange) -> None:
    auth_service.change_password(session, principal, body.current_password, body.new_password)
