"""The web UI over the real app: sign-in cookie, CSRF, language, tenancy, forms."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from aicommons.portal.auth import repository
from aicommons.portal.core.db import transaction
from aicommons.portal.web import session as web_session
from aicommons.portal.web.messages import MESSAGES
from tests.conftest import PASSWORD, Portal

CSRF_RE = re.compile(r'name="csrf_token" value="([0-9a-f]+)"')


def _csrf(html: str) -> str:
    match = CSRF_RE.search(html)
    assert match, "no CSRF token in the page"
    return match.group(1)


def _browser(portal: Portal, lang: str | None = None) -> TestClient:
    client = TestClient(portal.app, raise_server_exceptions=False, follow_redirects=False)
    if lang:
        client.headers["Accept-Language"] = lang
    return client


def _sign_in(portal: Portal, username: str, lang: str | None = None) -> TestClient:
    client = _browser(portal, lang)
    page = client.get("/login")
    assert page.status_code == 200
    response = client.post(
        "/login", data={"username": username, "password": PASSWORD, "csrf_token": _csrf(page.text)}
    )
    assert response.status_code == 303, response.text
    return client


def _zh(key: str) -> str:
    return MESSAGES[key]["zh"]


def _en(key: str) -> str:
    return MESSAGES[key]["en"]


def test_anonymous_visitor_is_sent_to_sign_in(portal: Portal) -> None:
    client = _browser(portal)
    response = client.get("/tokens")
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=%2Ftokens"
    page = client.get("/login")
    assert page.status_code == 200
    assert _en("web.login.title") in page.text
    assert 'for="login-username"' in page.text and 'id="login-username"' in page.text


def test_login_sets_an_httponly_lax_session_cookie(portal: Portal) -> None:
    client = _browser(portal)
    page = client.get("/login")
    response = client.post(
        "/login",
        data={"username": "alice", "password": PASSWORD, "csrf_token": _csrf(page.text), "next": "/tokens"},
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/tokens"
    cookies = response.headers.get_list("set-cookie")
    session_cookie = next(c for c in cookies if c.startswith(f"{web_session.SESSION_COOKIE}="))
    assert "HttpOnly" in session_cookie
    assert "samesite=lax" in session_cookie.lower()
    assert "Secure" not in session_cookie  # the test portal's public URL is http
    dashboard = client.get("/")
    assert dashboard.status_code == 200
    assert "alice" in dashboard.text
    assert "Acme Robotics" in dashboard.text


def test_wrong_password_shows_a_friendly_error(portal: Portal) -> None:
    client = _browser(portal, "zh-CN")
    page = client.get("/login")
    response = client.post(
        "/login", data={"username": "alice", "password": "nope", "csrf_token": _csrf(page.text)}
    )
    assert response.status_code == 401
    assert "用户名或密码错误" in response.text
    assert web_session.SESSION_COOKIE not in response.headers.get("set-cookie", "")
    assert "Traceback" not in response.text


def test_open_redirect_after_sign_in_is_refused(portal: Portal) -> None:
    client = _browser(portal)
    page = client.get("/login")
    response = client.post(
        "/login",
        data={
            "username": "alice",
            "password": PASSWORD,
            "csrf_token": _csrf(page.text),
            "next": "//evil.example/",
        },
    )
    assert response.headers["location"] == "/"


def test_state_changing_forms_without_csrf_token_are_rejected(portal: Portal) -> None:
    client = _browser(portal)
    client.get("/login")
    assert client.post("/login", data={"username": "alice", "password": PASSWORD}).status_code == 403
    signed_in = _sign_in(portal, "bob")
    response = signed_in.post("/orgs/acme/members", data={"username": "carol", "role": "member"})
    assert response.status_code == 403
    assert _en("web.csrf.failed") in response.text
    bad = signed_in.post(
        "/orgs/acme/members", data={"username": "carol", "role": "member", "csrf_token": "0" * 64}
    )
    assert bad.status_code == 403
    assert signed_in.post("/tokens", data={"name": "x"}).status_code == 403
    assert signed_in.post("/logout").status_code == 403


def test_csrf_token_is_bound_to_the_session(portal: Portal) -> None:
    anonymous = _browser(portal)
    token_before_sign_in = _csrf(anonymous.get("/login").text)
    client = _sign_in(portal, "bob")
    response = client.post(
        "/orgs/acme/members",
        data={"username": "carol", "role": "member", "csrf_token": token_before_sign_in},
    )
    assert response.status_code == 403


def test_member_of_acme_gets_404_on_beta(portal: Portal) -> None:
    client = _sign_in(portal, "alice")
    response = client.get("/orgs/beta")
    assert response.status_code == 404
    assert _en("web.error.not_found") in response.text
    assert "Beta Vision" not in response.text
    assert client.get("/orgs/no-such-org").status_code == 404
    assert client.get("/orgs/acme").status_code == 200


def test_member_sees_no_management_forms_and_admin_pages_are_forbidden(portal: Portal) -> None:
    client = _sign_in(portal, "alice")
    page = client.get("/orgs/acme")
    assert "bob" in page.text
    assert 'action="/orgs/acme/members"' not in page.text
    assert client.get("/admin/users").status_code == 403
    assert client.get("/admin/audit").status_code == 403
    assert "/admin/users" not in client.get("/").text


def test_language_switch_persists_on_the_user(portal: Portal) -> None:
    client = _sign_in(portal, "alice")
    page = client.get("/tokens")
    assert _en("web.tokens.title") in page.text
    response = client.post("/lang/zh-CN", data={"csrf_token": _csrf(page.text), "next": "/tokens"})
    assert response.status_code == 303
    assert response.headers["location"] == "/tokens"
    with transaction(portal.sessionmaker) as session:
        user = repository.user_by_username(session, "alice")
        assert user is not None and user.locale == "zh"
    page = client.get("/tokens")
    assert 'lang="zh-CN"' in page.text
    assert _zh("web.nav.dashboard") in page.text
    assert _zh("web.lang.changed") in page.text
    # A fresh browser with an English Accept-Language still gets the user's language after sign-in.
    other = _sign_in(portal, "alice", lang="en-US")
    assert _zh("web.dashboard.orgs") in other.get("/").text


def test_anonymous_language_choice_lives_in_a_cookie(portal: Portal) -> None:
    client = _browser(portal, "en-US")
    page = client.get("/login")
    assert _en("web.login.intro") in page.text
    response = client.post("/lang/zh", data={"csrf_token": _csrf(page.text), "next": "/login"})
    assert response.status_code == 303
    assert f"{web_session.LANG_COOKIE}=zh" in response.headers.get("set-cookie", "")
    assert _zh("web.login.intro") in client.get("/login").text


def test_accept_language_picks_the_default(portal: Portal) -> None:
    assert _zh("web.login.intro") in _browser(portal, "zh-CN,zh;q=0.9").get("/login").text
    assert _en("web.login.intro") in _browser(portal, "en-GB").get("/login").text


def test_pages_render_in_both_languages(portal: Portal) -> None:
    pages = {
        "/": "web.dashboard.orgs",
        "/tokens": "web.tokens.create",
        "/orgs/acme": "web.org.members",
        "/admin/users": "web.admin.users.create",
        "/admin/orgs": "web.admin.orgs.create",
        "/admin/audit": "web.admin.audit.chart",
    }
    for lang in ("en", "zh"):
        client = _sign_in(portal, "root")
        page = client.get("/")
        client.post(f"/lang/{lang}", data={"csrf_token": _csrf(page.text)})
        for path, key in pages.items():
            response = client.get(path)
            assert response.status_code == 200, (lang, path, response.text[:500])
            assert MESSAGES[key][lang] in response.text, (lang, path)
            assert 'href="#main"' in response.text  # skip link on every page
            assert "<main" in response.text and "<nav" in response.text


def test_steward_adds_and_removes_a_member_with_forms(portal: Portal) -> None:
    client = _sign_in(portal, "bob")
    page = client.get("/orgs/acme")
    assert 'action="/orgs/acme/members"' in page.text
    response = client.post(
        "/orgs/acme/members", data={"username": "carol", "role": "steward", "csrf_token": _csrf(page.text)}
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/orgs/acme"
    page = client.get("/orgs/acme")
    assert 'id="member-carol"' in page.text
    assert "carol was added as data steward." in page.text
    with transaction(portal.sessionmaker) as session:
        carol = repository.user_by_username(session, "carol")
        assert carol is not None
        roles = {o.slug: m.role for m, o in repository.memberships_of(session, carol.id)}
    assert roles == {"acme": "steward", "beta": "member"}

    # Adding twice: the service's conflict is a friendly alert on the same page, form kept.
    again = client.post(
        "/orgs/acme/members", data={"username": "carol", "role": "member", "csrf_token": _csrf(page.text)}
    )
    assert again.status_code == 409
    assert "carol is already a member" in again.text
    assert "Traceback" not in again.text

    # Removing through htmx swaps the row for a status message.
    removed = client.post(
        "/orgs/acme/members/carol/remove",
        headers={"HX-Request": "true", "X-CSRF-Token": _csrf(page.text)},
    )
    assert removed.status_code == 200
    assert "carol was removed." in removed.text
    assert 'id="member-carol"' not in client.get("/orgs/acme").text


def test_member_cannot_add_members(portal: Portal) -> None:
    client = _sign_in(portal, "alice")
    page = client.get("/tokens")
    response = client.post(
        "/orgs/acme/members", data={"username": "carol", "role": "member", "csrf_token": _csrf(page.text)}
    )
    assert response.status_code == 403
    assert "Only a data steward of the organisation may do this" in response.text


def test_invalid_form_input_names_the_fields(portal: Portal) -> None:
    client = _sign_in(portal, "root", lang="zh-CN")
    with transaction(portal.sessionmaker) as session:
        root = repository.user_by_username(session, "root")
        assert root is not None
        root.locale = "zh"
    page = client.get("/admin/users")
    response = client.post(
        "/admin/users",
        data={"username": "Bad Name", "password": "short", "csrf_token": _csrf(page.text)},
    )
    assert response.status_code == 422
    assert "请检查以下内容" in response.text
    assert "用户名" in response.text and "初始密码" in response.text


def test_api_token_secret_is_shown_once_and_can_be_revoked(portal: Portal) -> None:
    client = _sign_in(portal, "alice")
    page = client.get("/tokens")
    created = client.post(
        "/tokens", data={"name": "laptop", "expires_in_days": "30", "csrf_token": _csrf(page.text)}
    )
    assert created.status_code == 303
    assert "HttpOnly" in created.headers["set-cookie"]
    shown = client.get("/tokens")
    secret = re.search(r'id="new-token"[^>]*value="(aic_[^"]+)"', shown.text)
    assert secret, shown.text
    assert _en("web.tokens.secret_once") in shown.text
    # The secret works on the API, and is never shown again.
    api = TestClient(portal.app)
    me = api.get("/api/v1/me", headers={"Authorization": f"Bearer {secret.group(1)}"})
    assert me.status_code == 200 and me.json()["user"]["username"] == "alice"
    listing = client.get("/tokens")
    assert secret.group(1) not in listing.text
    token_id = re.search(r'id="token-([0-9a-f-]+)"', listing.text)
    assert token_id
    revoked = client.post(f"/tokens/{token_id.group(1)}/revoke", data={"csrf_token": _csrf(listing.text)})
    assert revoked.status_code == 303
    after = client.get("/tokens")
    assert "Token laptop revoked." in after.text
    assert 'class="badge badge-revoked"' in after.text
    assert api.get("/api/v1/me", headers={"Authorization": f"Bearer {secret.group(1)}"}).status_code == 401
    # Another user cannot revoke it: 404, not a traceback.
    other = _sign_in(portal, "bob")
    other_page = other.get("/tokens")
    response = other.post(f"/tokens/{token_id.group(1)}/revoke", data={"csrf_token": _csrf(other_page.text)})
    assert response.status_code == 404


def test_admin_creates_org_and_user_and_reads_the_audit_log_in_pages(portal: Portal) -> None:
    client = _sign_in(portal, "root")
    page = client.get("/admin/orgs")
    response = client.post(
        "/admin/orgs", data={"slug": "gamma", "name": "Gamma Labs", "csrf_token": _csrf(page.text)}
    )
    assert response.status_code == 303 and response.headers["location"] == "/orgs/gamma"
    assert "Organisation gamma created." in client.get("/orgs/gamma").text
    page = client.get("/admin/users")
    response = client.post(
        "/admin/users",
        data={
            "username": "erin",
            "password": PASSWORD,
            "display_name": "Erin",
            "locale": "zh",
            "csrf_token": _csrf(page.text),
        },
    )
    assert response.status_code == 303
    assert 'id="user-erin"' in client.get("/admin/users").text
    page_text = client.get("/orgs/gamma").text
    for n in range(30):
        client.post(
            "/orgs/gamma/members",
            data={"username": "erin" if n % 2 == 0 else "alice", "csrf_token": _csrf(page_text)},
        )
        client.post(
            f"/orgs/gamma/members/{'erin' if n % 2 == 0 else 'alice'}/remove",
            data={"csrf_token": _csrf(page_text)},
        )
    audit = client.get("/admin/audit")
    assert audit.status_code == 200
    assert "org.member_add" in audit.text and 'data-chart="bar"' in audit.text
    older = re.search(r'href="/admin/audit\?before=(\d+)"', audit.text)
    assert older, "a second page of audit entries"
    second = client.get(f"/admin/audit?before={older.group(1)}")
    assert second.status_code == 200 and "org.create" in second.text
    assert client.get("/admin/audit?before=-1").status_code == 404
