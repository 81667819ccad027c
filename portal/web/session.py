"""The browser session: cookies for the access token, language, CSRF and one-shot flash messages.

* `aic_session` holds the portal's own access token (the JWT that `/api/v1/auth/token` returns),
  HttpOnly and SameSite=Lax, Secure when the public URL is https. Every request resolves it through
  `portal.auth.service.authenticate`, exactly like a bearer token on the API.
* `aic_csrf` is a random per-browser secret (HttpOnly). Forms carry a token derived from it and
  from the session cookie (HMAC), checked on every state-changing request: a cross-site page can
  neither read the cookie nor compute the token. This double-submit is bound to the session, so
  a cookie planted by a sibling subdomain does not help an attacker either.
* `aic_lang` remembers the language of anonymous visitors (signed-in users keep theirs in
  `User.locale`).
* `aic_flash` carries one message code across a redirect (post/redirect/get); only `web.*` codes
  are ever rendered, so the cookie cannot inject text.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass, field
from typing import Any, Literal

from fastapi import Request, Response

from aicommons.portal.core.i18n import Lang
from aicommons.portal.core.settings import Settings

SESSION_COOKIE = "aic_session"
CSRF_COOKIE = "aic_csrf"
LANG_COOKIE = "aic_lang"
FLASH_COOKIE = "aic_flash"
NEW_TOKEN_COOKIE = "aic_new_token"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
LANG_COOKIE_MAX_AGE = 365 * 24 * 3600

FlashKind = Literal["success", "error", "info"]


@dataclass(frozen=True)
class Flash:
    kind: FlashKind
    code: str
    params: dict[str, Any] = field(default_factory=dict)


def is_secure(settings: Settings) -> bool:
    return settings.base_url.startswith("https://")


def _set(response: Response, settings: Settings, name: str, value: str, max_age: int | None) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        httponly=True,
        samesite="lax",
        secure=is_secure(settings),
        path="/",
    )


def session_token(request: Request) -> str | None:
    return request.cookies.get(SESSION_COOKIE) or None


def start_session(response: Response, settings: Settings, access_token: str, expires_in: int) -> None:
    _set(response, settings, SESSION_COOKIE, access_token, expires_in)
    # A fresh CSRF secret with every sign-in, so a token seen before sign-in is worthless after.
    _set(response, settings, CSRF_COOKIE, secrets.token_urlsafe(32), None)


def end_session(response: Response, settings: Settings) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/", secure=is_secure(settings), httponly=True)
    response.delete_cookie(CSRF_COOKIE, path="/", secure=is_secure(settings), httponly=True)


# --- CSRF ---------------------------------------------------------------------------------


def csrf_secret(request: Request) -> str:
    """The browser's CSRF secret; a new one (set on the response by `ensure_csrf_cookie`) if absent."""
    existing = request.cookies.get(CSRF_COOKIE)
    if existing:
        return existing
    fresh: str | None = getattr(request.state, "new_csrf_secret", None)
    if fresh is None:
        fresh = secrets.token_urlsafe(32)
        request.state.new_csrf_secret = fresh
    return fresh


def ensure_csrf_cookie(request: Request, response: Response, settings: Settings) -> None:
    fresh = getattr(request.state, "new_csrf_secret", None)
    if fresh and not request.cookies.get(CSRF_COOKIE):
        _set(response, settings, CSRF_COOKIE, fresh, None)


def _derive(secret: str, session: str | None) -> str:
    return hmac.new(secret.encode(), f"csrf:{session or ''}".encode(), hashlib.sha256).hexdigest()


def csrf_token(request: Request) -> str:
    return _derive(csrf_secret(request), session_token(request))


def csrf_valid(request: Request, submitted: str | None) -> bool:
    secret = request.cookies.get(CSRF_COOKIE)
    if not secret or not submitted:
        return False
    return hmac.compare_digest(_derive(secret, session_token(request)), submitted)


# --- language -----------------------------------------------------------------------------


def normalise_lang(code: str | None) -> Lang | None:
    if not code:
        return None
    code = code.strip().lower()
    if code.startswith("zh"):
        return "zh"
    if code.startswith("en"):
        return "en"
    return None


def remember_lang(response: Response, settings: Settings, lang: Lang) -> None:
    _set(response, settings, LANG_COOKIE, lang, LANG_COOKIE_MAX_AGE)


# --- flash --------------------------------------------------------------------------------


def set_flash(response: Response, settings: Settings, flash: Flash) -> None:
    raw = json.dumps({"kind": flash.kind, "code": flash.code, "params": flash.params})
    payload = base64.urlsafe_b64encode(raw.encode()).decode()
    _set(response, settings, FLASH_COOKIE, payload, 60)


def read_flash(request: Request) -> Flash | None:
    """The flash message the previous response left, if any (the caller deletes the cookie)."""
    raw = request.cookies.get(FLASH_COOKIE)
    if not raw:
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(raw.encode()))
        kind, code, params = data["kind"], data["code"], data.get("params") or {}
    except (ValueError, KeyError, TypeError):
        return None
    if kind not in ("success", "error", "info") or not str(code).startswith("web."):
        return None
    safe = {str(k): str(v)[:200] for k, v in dict(params).items()}
    return Flash(kind, str(code), safe)


def clear_flash(response: Response) -> None:
    response.delete_cookie(FLASH_COOKIE, path="/")


# --- a new API token's secret, carried once across the redirect after creating it ----------


def hand_over_secret(response: Response, settings: Settings, secret: str) -> None:
    """HttpOnly, scoped to /tokens, two minutes at most, deleted by the page that shows it."""
    response.set_cookie(
        NEW_TOKEN_COOKIE,
        secret,
        max_age=120,
        httponly=True,
        samesite="strict",
        secure=is_secure(settings),
        path="/tokens",
    )


def take_secret(request: Request, response: Response) -> str | None:
    secret = request.cookies.get(NEW_TOKEN_COOKIE)
    if secret:
        response.delete_cookie(NEW_TOKEN_COOKIE, path="/tokens")
    return secret or None
