"""Keeping Keycloak's organisation groups in step with the portal, through python-keycloak.

Each organisation is the group `<root>/<slug>` with a subgroup `stewards`; the portal's confidential
client authenticates with its service account (client credentials).
"""

from __future__ import annotations

from typing import Any

from keycloak import KeycloakAdmin, KeycloakOpenIDConnection
from keycloak.exceptions import KeycloakError

from aicommons.portal.core.errors import InvalidInput, Unavailable
from aicommons.portal.core.settings import Settings


class KeycloakDirectory:
    def __init__(self, settings: Settings) -> None:
        server_realm = settings.oidc_server_and_realm
        if server_realm is None or not settings.oidc_client_secret:
            raise ValueError(
                "Keycloak directory needs AICOMMONS_OIDC_ISSUER (…/realms/NAME) and a client secret"
            )
        self._server, self._realm = server_realm
        self._client_id = settings.oidc_client_id
        self._secret = settings.oidc_client_secret
        self._root = settings.oidc_org_group_root.rstrip("/")
        self._admin: KeycloakAdmin | None = None

    def _api(self) -> KeycloakAdmin:
        if self._admin is None:
            connection = KeycloakOpenIDConnection(
                server_url=self._server,
                realm_name=self._realm,
                client_id=self._client_id,
                client_secret_key=self._secret,
                grant_type="client_credentials",
                timeout=10,
            )
            self._admin = KeycloakAdmin(connection=connection)
        return self._admin

    def _group(self, path: str) -> dict[str, Any] | None:
        try:
            return self._api().get_group_by_path(path)
        except KeycloakError as exc:
            if getattr(exc, "response_code", None) == 404:
                return None
            raise

    def _ensure_group(self, path: str) -> str:
        existing = self._group(path)
        if existing:
            return str(existing["id"])
        parent_path, _, name = path.rpartition("/")
        parent_id = self._ensure_group(parent_path) if parent_path else None
        created = self._api().create_group({"name": name}, parent=parent_id, skip_exists=True)
        return str(created or self._group(path)["id"])  # type: ignore[index]

    def _user_id(self, username: str) -> str:
        user_id = self._api().get_user_id(username)
        if not user_id:
            raise InvalidInput("org.member_not_in_directory", username=username)
        return str(user_id)

    def org_created(self, slug: str, name: str) -> None:
        self._call(
            lambda: (
                self._ensure_group(f"{self._root}/{slug}"),
                self._ensure_group(f"{self._root}/{slug}/stewards"),
            )
        )

    def member_added(self, slug: str, username: str, role: str) -> None:
        def add() -> None:
            user_id = self._user_id(username)
            self._api().group_user_add(user_id, self._ensure_group(f"{self._root}/{slug}"))
            if role == "steward":
                self._api().group_user_add(user_id, self._ensure_group(f"{self._root}/{slug}/stewards"))

        self._call(add)

    def member_removed(self, slug: str, username: str) -> None:
        def remove() -> None:
            user_id = self._user_id(username)
            for path in (f"{self._root}/{slug}/stewards", f"{self._root}/{slug}"):
                group = self._group(path)
                if group:
                    self._api().group_user_remove(user_id, group["id"])

        self._call(remove)

    @staticmethod
    def _call(action: Any) -> None:
        try:
            action()
        except KeycloakError as exc:
            raise Unavailable("org.directory_failed", detail=str(exc)[:200]) from exc
