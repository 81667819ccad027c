"""A typed HTTP client for the REST API v1; the only thing the CLI talks through."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, TypeAdapter

from aicommons.portal.auth.schemas import (
    ApiTokenCreate,
    ApiTokenCreated,
    ApiTokenOut,
    Me,
    TokenResponse,
    UserCreate,
    UserOut,
)
from aicommons.portal.orgs.schemas import MemberAdd, MemberOut, OrgCreate, OrgOut

T = TypeVar("T")


class ApiError(Exception):
    """An error answer from the server, with its stable code and message."""

    def __init__(
        self, status: int, code: str, message: str, fields: list[dict[str, str]] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.fields = fields or []


class ConnectionFailed(ApiError):
    pass


class AicommonsClient:
    def __init__(self, server: str, token: str | None = None, lang: str | None = None, timeout: float = 30.0):
        headers = {"User-Agent": "aicommons-client"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if lang:
            headers["Accept-Language"] = lang
        self.server = server.rstrip("/")
        self._http = httpx.Client(base_url=f"{self.server}/api/v1", headers=headers, timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> AicommonsClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise ConnectionFailed(0, "client.unreachable", f"cannot reach {self.server}: {exc}") from exc
        if response.is_error:
            raise _error_from(response)
        return response

    def _stream_text(self, path: str, **kwargs: Any) -> Iterator[str]:
        """Text chunks of a streamed response, as they arrive (no read timeout: logs may pause)."""
        try:
            with self._http.stream("GET", path, timeout=httpx.Timeout(10.0, read=None), **kwargs) as response:
                if response.is_error:
                    response.read()
                    raise _error_from(response)
                yield from response.iter_text()
        except httpx.TransportError as exc:
            raise ConnectionFailed(0, "client.unreachable", f"cannot reach {self.server}: {exc}") from exc

    def _get(self, path: str, model: type[T], **kwargs: Any) -> T:
        return TypeAdapter(model).validate_json(self._request("GET", path, **kwargs).content)

    def _send(self, method: str, path: str, body: BaseModel | None, model: type[T]) -> T:
        payload = body.model_dump(mode="json", exclude_none=True) if body is not None else None
        return TypeAdapter(model).validate_json(self._request(method, path, json=payload).content)

    # health and identity
    def health(self) -> dict[str, Any]:
        return dict(self._request("GET", "/health").json())

    def auth_config(self) -> dict[str, Any]:
        return dict(self._request("GET", "/auth/config").json())

    def login(self, username: str, password: str) -> TokenResponse:
        response = self._request("POST", "/auth/token", json={"username": username, "password": password})
        return TokenResponse.model_validate_json(response.content)

    def me(self) -> Me:
        return self._get("/me", Me)

    # users
    def list_users(self) -> list[UserOut]:
        return self._get("/users", list[UserOut])

    def create_user(self, data: UserCreate) -> UserOut:
        return self._send("POST", "/users", data, UserOut)

    # organisations
    def list_orgs(self) -> list[OrgOut]:
        return self._get("/orgs", list[OrgOut])

    def create_org(self, data: OrgCreate) -> OrgOut:
        return self._send("POST", "/orgs", data, OrgOut)

    def get_org(self, slug: str) -> OrgOut:
        return self._get(f"/orgs/{slug}", OrgOut)

    def list_members(self, slug: str) -> list[MemberOut]:
        return self._get(f"/orgs/{slug}/members", list[MemberOut])

    def add_member(self, slug: str, data: MemberAdd) -> MemberOut:
        return self._send("POST", f"/orgs/{slug}/members", data, MemberOut)

    def remove_member(self, slug: str, username: str) -> None:
        self._request("DELETE", f"/orgs/{slug}/members/{username}")

    # API tokens
    def list_tokens(self) -> list[ApiTokenOut]:
        return self._get("/tokens", list[ApiTokenOut])

    def create_token(self, data: ApiTokenCreate) -> ApiTokenCreated:
        return self._send("POST", "/tokens", data, ApiTokenCreated)

    def revoke_token(self, token_id: str) -> ApiTokenOut:
        return self._send("DELETE", f"/tokens/{token_id}", None, ApiTokenOut)


def _error_from(response: httpx.Response) -> ApiError:
    try:
        error = response.json().get("error", {})
    except ValueError:
        error = {}
    return ApiError(
        response.status_code,
        str(error.get("code", f"http.{response.status_code}")),
        str(error.get("message") or response.reason_phrase),
        error.get("fields"),
    )
