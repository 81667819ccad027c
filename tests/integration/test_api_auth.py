"""Sign-in, token validation, JWKS and API tokens, on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from aicommons.portal.auth import keys
from aicommons.portal.core.db import transaction
from aicommons.portal.core.time import utcnow
from tests.conftest import PASSWORD, Portal


def _login(portal: Portal, username: str, password: str = PASSWORD) -> str:
    response = portal.client().post("/api/v1/auth/token", json={"username": username, "password": password})
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def test_health_is_public(portal: Portal) -> None:
    body = portal.client().get("/api/v1/health").json()
    assert body["status"] == "ok" and body["database"] == "ok"


def test_login_and_me(portal: Portal) -> None:
    token = _login(portal, "bob")
    me = portal.client().get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).json()
    assert me["user"]["username"] == "bob"
    assert [(m["org_slug"], m["role"]) for m in me["memberships"]] == [("acme", "steward")]


def test_login_accepts_oauth2_password_form(portal: Portal) -> None:
    response = portal.client().post("/api/v1/auth/token", data={"username": "alice", "password": PASSWORD})
    assert response.status_code == 200
    assert response.json()["token_type"] == "bearer"


def test_wrong_password_and_unknown_user_are_indistinguishable(portal: Portal) -> None:
    client = portal.client()
    wrong = client.post("/api/v1/auth/token", json={"username": "alice", "password": "nope-nope-nope"})
    unknown = client.post("/api/v1/auth/token", json={"username": "nobody", "password": "nope-nope-nope"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()
    assert wrong.json()["error"]["code"] == "auth.bad_credentials"


def test_messages_follow_accept_language(portal: Portal) -> None:
    response = portal.client(lang="zh-CN,zh;q=0.9").post(
        "/api/v1/auth/token", json={"username": "alice", "password": "nope-nope-nope"}
    )
    assert response.json()["error"]["message"] == "用户名或密码错误"


def test_anonymous_is_401(portal: Portal) -> None:
    response = portal.client().get("/api/v1/me")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


def _forge(claims: dict[str, object], key: rsa.RSAPrivateKey | str, kid: str) -> str:
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid})


def _signing_material(portal: Portal) -> tuple[str, str]:
    with transaction(portal.sessionmaker) as session:
        key = keys.active_key(session, portal.settings)
        return key.kid, key.private_pem


def _claims(portal: Portal, **overrides: object) -> dict[str, object]:
    now = utcnow()
    claims: dict[str, object] = {
        "iss": portal.settings.issuer,
        "aud": portal.settings.token_audience,
        "sub": portal.principal("alice").user_id,
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(minutes=5)).timestamp()),
    }
    claims.update(overrides)
    return claims


@pytest.mark.parametrize(
    "overrides",
    [
        {"exp": int((utcnow() - timedelta(hours=1)).timestamp())},
        {"iss": "https://evil.example/"},
        {"aud": "someone-else"},
    ],
    ids=["expired", "wrong-issuer", "wrong-audience"],
)
def test_bad_claims_are_rejected(portal: Portal, overrides: dict[str, object]) -> None:
    kid, pem = _signing_material(portal)
    token = _forge(_claims(portal, **overrides), pem, kid)
    response = portal.client().get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401


def test_tampered_and_foreign_signed_tokens_are_rejected(portal: Portal) -> None:
    kid, pem = _signing_material(portal)
    good = _forge(_claims(portal), pem, kid)
    assert portal.client().get("/api/v1/me", headers={"Authorization": f"Bearer {good}"}).status_code == 200

    header, payload, signature = good.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["sub"] = portal.principal("root").user_id
    forged_payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    tampered = f"{header}.{forged_payload}.{signature}"
    assert (
        portal.client().get("/api/v1/me", headers={"Authorization": f"Bearer {tampered}"}).status_code == 401
    )

    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    foreign = _forge(_claims(portal), stranger, kid)
    assert (
        portal.client().get("/api/v1/me", headers={"Authorization": f"Bearer {foreign}"}).status_code == 401
    )
    assert portal.client().get("/api/v1/me", headers={"Authorization": "Bearer not-a-jwt"}).status_code == 401


def test_jwks_publishes_the_signing_key_and_survives_rotation(portal: Portal) -> None:
    old_token = _login(portal, "alice")
    old_kid = jwt.get_unverified_header(old_token)["kid"]
    with transaction(portal.sessionmaker) as session:
        new_kid = keys.rotate(session).kid
    published = {k["kid"] for k in portal.client().get("/.well-known/jwks.json").json()["keys"]}
    assert {old_kid, new_kid} <= published
    # Tokens signed by the retired key stay valid until they expire; new ones use the new key.
    assert (
        portal.client().get("/api/v1/me", headers={"Authorization": f"Bearer {old_token}"}).status_code == 200
    )
    assert jwt.get_unverified_header(_login(portal, "alice"))["kid"] == new_kid
    public = serialization.load_pem_public_key  # the JWKS entries are RSA public keys only
    for entry in portal.client().get("/api/v1/auth/jwks").json()["keys"]:
        assert "d" not in entry and entry["kty"] == "RSA" and public is not None


def test_api_token_lifecycle(portal: Portal) -> None:
    alice = portal.client("alice")
    created = alice.post("/api/v1/tokens", json={"name": "ci", "expires_in_days": 7})
    assert created.status_code == 201
    secret, token_id = created.json()["token"], created.json()["id"]
    assert secret.startswith("aic_")

    listed = alice.get("/api/v1/tokens").json()
    assert [t["id"] for t in listed] == [token_id]
    assert "token" not in listed[0], "the secret is shown once only"

    script = portal.client()
    script.headers["Authorization"] = f"Bearer {secret}"
    assert script.get("/api/v1/me").json()["auth_method"] == "api_token"

    assert portal.client("carol").delete(f"/api/v1/tokens/{token_id}").status_code == 404
    assert alice.delete(f"/api/v1/tokens/{token_id}").status_code == 200
    revoked = script.get("/api/v1/me")
    assert revoked.status_code == 401 and revoked.json()["error"]["code"] == "auth.token_revoked"


def test_expired_api_token_is_rejected(portal: Portal) -> None:
    from aicommons.portal.auth.models import ApiToken

    alice = portal.client("alice")
    created = alice.post("/api/v1/tokens", json={"name": "short"}).json()
    with transaction(portal.sessionmaker) as session:
        record = session.get(ApiToken, created["id"])
        assert record is not None
        record.expires_at = utcnow() - timedelta(seconds=1)
    script = portal.client()
    script.headers["Authorization"] = f"Bearer {created['token']}"
    response = script.get("/api/v1/me")
    assert response.status_code == 401 and response.json()["error"]["code"] == "auth.token_expired"
    assert script.get("/api/v1/me", headers={"Authorization": "Bearer aic_unknown"}).status_code == 401


@pytest.mark.parametrize("days", [0, -1, 100000])
def test_api_token_bad_expiry_is_422(portal: Portal, days: int) -> None:
    response = portal.client("alice").post("/api/v1/tokens", json={"name": "x", "expires_in_days": days})
    assert response.status_code == 422
    assert any(f["field"] == "body.expires_in_days" for f in response.json()["error"]["fields"])


def test_admin_creates_users_and_others_cannot(portal: Portal) -> None:
    body = {"username": "erin", "password": "long-enough-pass"}
    assert portal.client("alice").post("/api/v1/users", json=body).status_code == 403
    assert portal.client("root").post("/api/v1/users", json=body).status_code == 201
    assert portal.client("root").post("/api/v1/users", json=body).status_code == 409
    token = _login(portal, "erin", "long-enough-pass")
    assert token


def test_change_password(portal: Portal) -> None:
    alice = portal.client("alice")
    wrong = alice.post(
        "/api/v1/me/password", json={"current_password": "x", "new_password": "new-password-123"}
    )
    assert wrong.status_code == 401
    ok = alice.post(
        "/api/v1/me/password", json={"current_password": PASSWORD, "new_password": "new-password-123"}
    )
    assert ok.status_code == 204
    assert _login(portal, "alice", "new-password-123")


@pytest.mark.parametrize(
    "body", [{}, {"username": "alice"}, {"org": "acme"}, {"username": 5, "password": []}]
)
def test_incomplete_credentials_are_422_naming_the_field(portal: Portal, body: dict[str, object]) -> None:
    response = portal.client().post("/api/v1/auth/token", json=body)
    assert response.status_code == 422
    assert {f["field"] for f in response.json()["error"]["fields"]} & {"body.username", "body.password"}


def test_local_accounts_can_be_switched_off(portal: Portal) -> None:
    token = _login(portal, "alice")
    portal.settings.local_accounts_enabled = False
    try:
        refused = portal.client().post("/api/v1/auth/token", json={"username": "alice", "password": PASSWORD})
        assert refused.status_code == 401 and refused.json()["error"]["code"] == "auth.local_disabled"
        assert portal.client().get("/api/v1/auth/config").json()["local_accounts_enabled"] is False
        # Tokens already issued stay valid until they expire.
        assert (
            portal.client().get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200
        )
    finally:
        portal.settings.local_accounts_enabled = True
