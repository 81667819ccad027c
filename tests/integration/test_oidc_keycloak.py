"""Keycloak as the identity provider: bearer tokens through the JWKS path, mirrored tenancy, group sync."""

from __future__ import annotations

import base64
import html
import json
import re
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from keycloak import KeycloakAdmin, KeycloakOpenIDConnection

from aicommons.portal.app import create_app
from aicommons.portal.core.settings import Settings
from tests.fixtures.portal_server import serve_portal
from tests.fixtures.services import KeycloakService

pytestmark = pytest.mark.keycloak


@pytest.fixture
def oidc_app(
    keycloak_service: KeycloakService, sqlite_template: Path, tmp_path: Path
) -> Iterator[TestClient]:
    shutil.copy(sqlite_template, tmp_path / "portal.db")
    settings = Settings(
        data_dir=tmp_path,
        database_url=f"sqlite:///{tmp_path / 'portal.db'}",
        migrate_on_start=False,
        oidc_issuer=keycloak_service.issuer,
        oidc_client_id=keycloak_service.client_id,
        oidc_client_secret=keycloak_service.client_secret,
        oidc_cli_client_id=keycloak_service.cli_client_id,
    )
    app = create_app(settings)
    yield TestClient(app, raise_server_exceptions=False)
    app.state.engine.dispose()


def _bearer(keycloak_service: KeycloakService, username: str) -> dict[str, str]:
    token = keycloak_service.password_grant(username)["access_token"]
    return {"Authorization": f"Bearer {token}"}


def _kc_admin(keycloak_service: KeycloakService) -> KeycloakAdmin:
    return KeycloakAdmin(
        connection=KeycloakOpenIDConnection(
            server_url=keycloak_service.url,
            realm_name=keycloak_service.realm,
            client_id=keycloak_service.client_id,
            client_secret_key=keycloak_service.client_secret,
            grant_type="client_credentials",
        )
    )


def test_keycloak_token_signs_in_and_mirrors_memberships(
    oidc_app: TestClient, keycloak_service: KeycloakService
) -> None:
    me = oidc_app.get("/api/v1/me", headers=_bearer(keycloak_service, "bob"))
    assert me.status_code == 200, me.text
    body = me.json()
    assert body["auth_method"] == "oidc"
    # The seeded local "bob" keeps his account; the Keycloak user is a separate, linked-by-subject one.
    assert body["user"]["username"].startswith("bob")
    assert [(m["org_slug"], m["role"]) for m in body["memberships"]] == [("acme", "steward")]
    # Tenancy follows the mirrored groups: acme yes, beta no (404, existence not leaked).
    headers = _bearer(keycloak_service, "bob")
    assert oidc_app.get("/api/v1/orgs/acme/members", headers=headers).status_code == 200
    assert oidc_app.get("/api/v1/orgs/beta", headers=headers).status_code == 404


def test_keycloak_admin_role_makes_a_platform_admin(
    oidc_app: TestClient, keycloak_service: KeycloakService
) -> None:
    me = oidc_app.get("/api/v1/me", headers=_bearer(keycloak_service, "root-admin")).json()
    assert me["user"]["is_admin"] is True
    carol = oidc_app.get("/api/v1/me", headers=_bearer(keycloak_service, "carol")).json()
    assert carol["user"]["is_admin"] is False
    assert [m["org_slug"] for m in carol["memberships"]] == ["beta"]


def test_tampered_and_wrong_audience_keycloak_tokens_are_rejected(
    oidc_app: TestClient, keycloak_service: KeycloakService, tmp_path: Path, sqlite_template: Path
) -> None:
    token = keycloak_service.password_grant("alice")["access_token"]
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["realm_access"] = {"roles": ["admin"]}
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    response = oidc_app.get("/api/v1/me", headers={"Authorization": f"Bearer {header}.{forged}.{signature}"})
    assert response.status_code == 401

    shutil.copy(sqlite_template, tmp_path / "other.db")
    strict = create_app(
        Settings(
            data_dir=tmp_path,
            database_url=f"sqlite:///{tmp_path / 'other.db'}",
            migrate_on_start=False,
            oidc_issuer=keycloak_service.issuer,
            oidc_audience="some-other-api",
        )
    )
    wrong_audience = TestClient(strict).get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert wrong_audience.status_code == 401
    strict.state.engine.dispose()

    # A portal that trusts no external issuer treats the Keycloak token as foreign.
    local_only = create_app(
        Settings(
            data_dir=tmp_path,
            database_url=f"sqlite:///{tmp_path / 'other.db'}",
            migrate_on_start=False,
            oidc_issuer=None,
        )
    )
    assert (
        TestClient(local_only).get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code
        == 401
    )
    local_only.state.engine.dispose()


def test_creating_an_organisation_creates_its_keycloak_groups(
    oidc_app: TestClient, keycloak_service: KeycloakService
) -> None:
    slug = f"kc-{uuid.uuid4().hex[:8]}"
    admin = _bearer(keycloak_service, "root-admin")
    created = oidc_app.post("/api/v1/orgs", json={"slug": slug, "name": "Synced Org"}, headers=admin)
    assert created.status_code == 201, created.text
    kc = _kc_admin(keycloak_service)
    group = kc.get_group_by_path(f"/orgs/{slug}")
    assert group["name"] == slug
    assert kc.get_group_by_path(f"/orgs/{slug}/stewards")["name"] == "stewards"

    added = oidc_app.post(
        f"/api/v1/orgs/{slug}/members", json={"username": "carol", "role": "member"}, headers=admin
    )
    # carol must have signed in once to exist in the portal; she did in another test or does now.
    if added.status_code == 422:
        oidc_app.get("/api/v1/me", headers=_bearer(keycloak_service, "carol"))
        added = oidc_app.post(f"/api/v1/orgs/{slug}/members", json={"username": "carol"}, headers=admin)
    assert added.status_code == 201, added.text
    members = [u["username"] for u in kc.get_group_members(group["id"])]
    assert "carol" in members
    # Keycloak is the source of truth: carol's next sign-in mirrors the new membership.
    carol = oidc_app.get("/api/v1/me", headers=_bearer(keycloak_service, "carol")).json()
    assert slug in [m["org_slug"] for m in carol["memberships"]]
    kc.delete_group(group["id"])


def test_auth_config_advertises_the_device_flow(
    oidc_app: TestClient, keycloak_service: KeycloakService
) -> None:
    config = oidc_app.get("/api/v1/auth/config").json()
    assert config["oidc"]["cli_client_id"] == keycloak_service.cli_client_id
    started = httpx.post(
        config["oidc"]["device_authorization_endpoint"], data={"client_id": config["oidc"]["cli_client_id"]}
    )
    assert started.status_code == 200, started.text
    assert {"device_code", "user_code", "verification_uri"} <= set(started.json())


def approve_device_code(verification_uri_complete: str, username: str, password: str) -> None:
    """What a person does in the browser: sign in to Keycloak and grant the CLI access.

    Keycloak marks its session cookies Secure, which cookie jars withhold over plain http on
    loopback, so the cookies are carried by hand.
    """
    jar: dict[str, str] = {}

    def go(method: str, url: str, data: dict[str, str] | None = None) -> httpx.Response:
        while True:
            cookie = "; ".join(f"{k}={v}" for k, v in jar.items())
            response = httpx.request(method, url, data=data, headers={"Cookie": cookie}, timeout=15)
            for header in response.headers.get_list("set-cookie"):
                name, _, rest = header.partition("=")
                jar[name.strip()] = rest.split(";")[0]
            if response.status_code not in (302, 303):
                return response
            url, method, data = str(httpx.URL(url).join(response.headers["location"])), "GET", None

    def form_action(page: httpx.Response) -> str:
        match = re.search(r'<form[^>]*action="([^"]+)"', page.text)
        assert match, page.text[:500]
        return str(page.url.join(html.unescape(match.group(1))))

    page = go("GET", verification_uri_complete)
    page = go("POST", form_action(page), {"username": username, "password": password})
    if 'name="accept"' in page.text:
        page = go("POST", form_action(page), {"accept": "Yes"})
    assert page.status_code == 200, page.text[:500]


def test_cli_device_code_login(keycloak_service: KeycloakService, tmp_path: Path) -> None:
    oidc_env = {
        "AICOMMONS_OIDC_ISSUER": keycloak_service.issuer,
        "AICOMMONS_OIDC_CLIENT_SECRET": keycloak_service.client_secret,
        "AICOMMONS_OIDC_CLI_CLIENT_ID": keycloak_service.cli_client_id,
    }
    with serve_portal(tmp_path, oidc_env) as served:
        env = {**served.env, "AICOMMONS_LANG": "en", "COLUMNS": "300"}
        login = subprocess.Popen(
            [sys.executable, "-m", "aicommons.portal.main", "login", "--sso", "--server", served.url],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert login.stdout is not None
        first_line = login.stdout.readline()
        direct_line = login.stdout.readline()
        assert "enter the code" in first_line, first_line
        url = direct_line.split("open directly:", 1)[1].strip()
        assert url.startswith("http"), repr(direct_line)
        approve_device_code(url, "alice", keycloak_service.test_user_password)
        out, errors = login.communicate(timeout=60)
        assert login.returncode == 0, errors
        assert "alice" in out
        whoami = served.cli("whoami")
        assert whoami.returncode == 0 and "alice" in whoami.stdout and "acme" in whoami.stdout
