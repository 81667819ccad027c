"""Signing the CLI in through the identity provider: OAuth 2.0 device authorization grant (RFC 8628)."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from .http import AicommonsClient, ApiError


@dataclass(frozen=True)
class DeviceAuthorization:
    device_code: str
    user_code: str
    verification_uri: str
    verification_uri_complete: str | None
    interval: int
    expires_in: int
    token_endpoint: str
    client_id: str


def start_device_login(client: AicommonsClient) -> DeviceAuthorization:
    config = client.auth_config()
    oidc = config.get("oidc")
    if not oidc:
        raise ApiError(
            400, "client.no_sso", "this portal has no identity provider configured; use a password"
        )
    response = httpx.post(
        oidc["device_authorization_endpoint"], data={"client_id": oidc["cli_client_id"]}, timeout=15
    )
    if response.is_error:
        raise ApiError(response.status_code, "client.device_start_failed", response.text[:300])
    body = response.json()
    return DeviceAuthorization(
        device_code=body["device_code"],
        user_code=body["user_code"],
        verification_uri=body["verification_uri"],
        verification_uri_complete=body.get("verification_uri_complete"),
        interval=int(body.get("interval", 5)),
        expires_in=int(body.get("expires_in", 600)),
        token_endpoint=oidc["token_endpoint"],
        client_id=oidc["cli_client_id"],
    )


def poll_device_login(
    auth: DeviceAuthorization,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> dict[str, Any]:
    """Wait until the user approves in the browser; returns the token response."""
    deadline, interval = clock() + auth.expires_in, auth.interval
    while clock() < deadline:
        response = httpx.post(
            auth.token_endpoint,
            data={
                "grant_type": "urn:ietf:params:oauth:grant-type:device_code",
                "device_code": auth.device_code,
                "client_id": auth.client_id,
            },
            timeout=15,
        )
        body = response.json()
        if response.status_code == 200:
            return dict(body)
        error = body.get("error")
        if error == "slow_down":
            interval += 5
        elif error != "authorization_pending":
            raise ApiError(response.status_code, f"oidc.{error}", body.get("error_description") or str(error))
        sleep(interval)
    raise ApiError(408, "oidc.expired_token", "the sign-in code expired; run the command again")


def refresh_tokens(token_endpoint: str, client_id: str, refresh_token: str) -> dict[str, Any]:
    response = httpx.post(
        token_endpoint,
        data={"grant_type": "refresh_token", "refresh_token": refresh_token, "client_id": client_id},
        timeout=15,
    )
    if response.is_error:
        raise ApiError(401, "oidc.refresh_failed", "the session has ended; run `aicommons login --sso` again")
    return dict(response.json())


def expires_soon(access_token: str, margin_s: int = 30) -> bool:
    """Reads `exp` without verifying: only to decide when to refresh, never to trust."""
    try:
        payload = access_token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return float(claims["exp"]) - margin_s < time.time()
    except (IndexError, ValueError, KeyError):
        return False
