"""Browser sign-in through Keycloak: authorization code with PKCE, session cookie, renewal, logout."""

from __future__ import annotations

import html
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from fastapi.testclient import TestClient

from aicommons.portal.app import create_app
from aicommons.portal.core.settings import Settings
from tests.fixtures.services import KeycloakService

pytestmark = pytest.mark.keycloak
BASE = "http://127.0.0.1:8600"


@pytest.fixture
def browser(keycloak_service: KeycloakService, sqlite_template: Path, tmp_path: Path) -> Iterator[TestClient]:
    shutil.copy(sqlite_template, tmp_path / "portal.db")
    app = create_app(
        Settings(
            data_dir=tmp_path,
            database_url=f"sqlite:///{tmp_path / 'portal.db'}",
            migrate_on_start=False,
            public_url=BASE,
            oidc_issuer=keycloak_service.issuer,
            oidc_client_id=keycloak_service.client_id,
            oidc_client_secret=keycloak_service.client_secret,
        )
    )
    yield TestClient(app, base_url=BASE, follow_redirects=False)
    app.state.engine.dispose()


def _keycloak_sign_in(authorize_url: str, username: str, password: str) -> str:
    """Sign in on Keycloak's page as a person would; returns where Keycloak sends the browser back."""
    jar: dict[str, str] = {}

    def go(method: str, url: str, data: dict[str, str] | None = None) -> httpx.Response:
        cookie = "; ".join(f"{k}={v}" for k, v in jar.items())
        response = httpx.request(method, url, data=data, headers={"Cookie": cookie}, timeout=15)
        for header in response.headers.get_list("set-cookie"):
            name, _, rest = header.partition("=")
            jar[name.strip()] = rest.split(";")[0]
        return response

    page = go("GET", authorize_url)
    action = re.search(r'<form[^>]*action="([^"]+)"', page.text)
    assert action, page.text[:300]
    answer = go(
        "POST",
        str(page.url.join(html.unescape(action.group(1)))),
        {"username": username, "password": password},
    )
    assert answer.status_code == 302, answer.text[:300]
    return answer.headers["location"]


def test_browser_signs_in_with_pkce_and_sees_its_organisation(
    browser: TestClient, keycloak_service: KeycloakService
) -> None:
    login_page = browser.get("/login")
    assert "/login/sso" in login_page.text

    started = browser.get("/login/sso", params={"next": "/orgs/acme"})
    assert started.status_code == 303
    query = parse_qs(urlparse(started.headers["location"]).query)
    assert query["code_challenge_method"] == ["S256"] and query["redirect_uri"] == [f"{BASE}/login/callback"]
    assert "code_verifier" not in started.headers["location"]

    back = _keycloak_sign_in(started.headers["location"], "bob", keycloak_service.test_user_password)
    assert back.startswith(f"{BASE}/login/callback")
    signed_in = browser.get(back.removeprefix(BASE))
    assert signed_in.status_code == 303 and signed_in.headers["location"] == "/orgs/acme"
    assert "aic_session" in browser.cookies and "aic_refresh" in browser.cookies

    org = browser.get("/orgs/acme")
    assert org.status_code == 200 and "Acme" in org.text
    assert browser.get("/orgs/beta").status_code == 404


def test_forged_or_replayed_callback_is_refused(
    browser: TestClient, keycloak_service: KeycloakService
) -> None:
    started = browser.get("/login/sso")
    back = _keycloak_sign_in(started.headers["location"], "alice", keycloak_service.test_user_password)
    tampered = back.replace("state=", "state=x")
    refused = browser.get(tampered.removeprefix(BASE))
    assert refused.status_code in (303, 401) and "aic_session" not in browser.cookies
    fresh = TestClient(browser.app, base_url=BASE, follow_redirects=False)
    assert fresh.get(back.removeprefix(BASE)).status_code in (303, 401), "no state cookie: not our sign-in"
    assert "aic_session" not in fresh.cookies


def test_expired_session_is_renewed_with_the_refresh_token(
    browser: TestClient, keycloak_service: KeycloakService
) -> None:
    started = browser.get("/login/sso")
    signed_in = browser.get(
        _keycloak_sign_in(
            started.headers["location"], "alice", keycloak_service.test_user_password
        ).removeprefix(BASE)
    )
    _refresh = next(
        c.split(";")[0].split("=", 1)[1]
        for c in signed_in.headers.get_list("set-cookie")
        if c.startswith("aic_refresh=")
    )
    browser.cookies.clear()
    # Only the refresh token is left (as after the access token's cookie expired).
    browser.cookies.set("aic_session", "expired.or.garbage")
    browser.cookies.set("aic_refresh", _refresh)
    page = browser.get("/")
    assert page.status_code == 200, page.headers
    assert "alice" in page.text
    renewed = page.headers.get_list("set-cookie")
    assert any(c.startswith("aic_session=") and "expired.or.garbage" not in c for c in renewed)


def test_a_bad_refresh_token_signs_out(browser: TestClient) -> None:
    browser.cookies.set("aic_session", "expired.or.garbage")
    browser.cookies.set("aic_refresh", "not-a-refresh-token")
    page = browser.get("/")
    assert page.status_code == 303 and page.headers["location"].startswith("/login")
