"""Browser sign-in through the identity provider (authorization code + PKCE) and session renewal."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import RedirectResponse, Response

from aicommons.portal.auth import oidc_login
from aicommons.portal.core.errors import NotFound, Unauthenticated
from aicommons.portal.core.settings import Settings

from . import session as web_session
from .rendering import PageDep, WebRoute, redirect, safe_next

router = APIRouter(route_class=WebRoute, include_in_schema=False)

SSO_COOKIE = "aic_sso"
REFRESH_COOKIE = "aic_refresh"
SSO_COOKIE_MAX_AGE = 600


def _set(response: Response, settings: Settings, name: str, value: str, max_age: int | None) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="lax",
        secure=web_session.is_secure(settings),
    )


@router.get("/login/sso")
def sso_start(page: PageDep, next: str = "/") -> Response:
    if not page.settings.oidc_issuer:
        raise NotFound("request.not_found")
    auth = oidc_login.start(page.settings)
    response = RedirectResponse(auth.url, status_code=303)
    pending = json.dumps({"state": auth.state, "verifier": auth.verifier, "next": safe_next(next)})
    _set(response, page.settings, SSO_COOKIE, pending, SSO_COOKIE_MAX_AGE)
    return response


@router.get("/login/callback")
def sso_callback(page: PageDep, code: str = "", state: str = "") -> Response:
    if not page.settings.oidc_issuer:
        raise NotFound("request.not_found")
    try:
        pending = json.loads(page.request.cookies.get(SSO_COOKIE, "{}"))
    except ValueError:
        pending = {}
    # The state ties the answer to a sign-in this browser started, so a forged callback cannot
    # sign the victim into the attacker's account.
    if not code or not state or state != pending.get("state"):
        raise Unauthenticated("auth.sso_state")
    tokens = oidc_login.exchange(page.settings, code, str(pending["verifier"]))
    response = redirect(page, safe_next(str(pending.get("next", "/"))))
    web_session.start_session(
        response, page.settings, tokens["access_token"], int(tokens.get("expires_in", 300))
    )
    if tokens.get("refresh_token"):
        _set(
            response, page.settings, REFRESH_COOKIE, tokens["refresh_token"], tokens.get("refresh_expires_in")
        )
    response.delete_cookie(SSO_COOKIE, path="/")
    return response


def renew_session(request: Request, settings: Settings) -> str | None:
    """Called when the session's access token is no longer valid: try the refresh token once."""
    refresh_token = request.cookies.get(REFRESH_COOKIE)
    if not refresh_token or not settings.oidc_issuer:
        return None
    try:
        tokens = oidc_login.refresh(settings, refresh_token)
    except Unauthenticated:
        return None
    request.state.renewed_session = tokens
    return str(tokens["access_token"])


def install(app: FastAPI) -> None:
    app.include_router(router)

    @app.middleware("http")
    async def set_renewed_session(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        tokens = getattr(request.state, "renewed_session", None)
        if tokens:
            settings: Settings = request.app.state.settings
            web_session.start_session(
                response, settings, tokens["access_token"], int(tokens.get("expires_in", 300))
            )
            if tokens.get("refresh_token"):
                _set(
                    response,
                    settings,
                    REFRESH_COOKIE,
                    tokens["refresh_token"],
                    tokens.get("refresh_expires_in"),
                )
        return response


def end_sso(response: Response) -> None:
    response.delete_cookie(REFRESH_COOKIE, path="/")
