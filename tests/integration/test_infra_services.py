"""infra/services.sh: the three services answer, `up` is cheap when they run, `env` parses."""

from __future__ import annotations

import subprocess
import time
import urllib.request

import pytest

from tests.fixtures.services import ENV_KEYS, SERVICES_SH, KeycloakService, S3Service, parse_env_output


@pytest.mark.postgres
def test_postgres_answers(postgres_url: str) -> None:
    import psycopg

    with psycopg.connect(postgres_url.replace("postgresql+psycopg://", "postgresql://", 1)) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
        max_connections = int(conn.execute("SHOW max_connections").fetchone()[0])  # type: ignore[index]
        assert max_connections >= 200
        is_super = conn.execute(
            "SELECT rolsuper OR rolcreatedb FROM pg_roles WHERE rolname = current_user"
        ).fetchone()
        assert is_super == (True,)


@pytest.mark.minio
def test_minio_answers(s3_service: S3Service) -> None:
    from minio import Minio

    client = Minio(
        s3_service.host,
        s3_service.access_key,
        s3_service.secret_key,
        secure=s3_service.secure,
        region=s3_service.region,
    )
    assert isinstance(client.list_buckets(), list)


@pytest.mark.keycloak
def test_keycloak_answers(keycloak_service: KeycloakService) -> None:
    assert keycloak_service.discovery["issuer"] == keycloak_service.issuer
    assert (
        "urn:ietf:params:oauth:grant-type:device_code" in keycloak_service.discovery["grant_types_supported"]
    )
    with urllib.request.urlopen(keycloak_service.discovery["jwks_uri"], timeout=5) as response:
        assert response.status == 200


@pytest.mark.keycloak
def test_realm_users_and_clients(keycloak_service: KeycloakService) -> None:
    for user in ("alice", "bob", "carol", "root-admin"):
        assert keycloak_service.password_grant(user)["access_token"]
    # The portal's service account can administer users and groups (python-keycloak).
    from keycloak import KeycloakAdmin, KeycloakOpenIDConnection

    admin = KeycloakAdmin(
        connection=KeycloakOpenIDConnection(
            server_url=keycloak_service.url,
            realm_name=keycloak_service.realm,
            client_id=keycloak_service.client_id,
            client_secret_key=keycloak_service.client_secret,
        )
    )
    orgs = admin.get_group_by_path("/orgs")
    paths = {g["path"] for g in admin.get_group_children(orgs["id"])}
    assert {"/orgs/acme", "/orgs/beta"} <= paths
    # Device authorization grant is enabled on the CLI client.
    data = f"client_id={keycloak_service.cli_client_id}&scope=openid".encode()
    endpoint = keycloak_service.discovery["device_authorization_endpoint"]
    with urllib.request.urlopen(urllib.request.Request(endpoint, data=data), timeout=5) as response:
        assert response.status == 200


@pytest.mark.postgres
@pytest.mark.minio
@pytest.mark.keycloak
def test_up_when_running_is_fast(
    postgres_url: str, s3_service: S3Service, keycloak_service: KeycloakService
) -> None:
    started = time.monotonic()
    result = subprocess.run(["bash", str(SERVICES_SH), "up"], capture_output=True, text=True, timeout=60)
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stdout + result.stderr
    assert elapsed <= 5.0, f"`services.sh up` took {elapsed:.1f}s with everything running:\n{result.stdout}"
    assert "already running" in result.stdout
    status = subprocess.run(["bash", str(SERVICES_SH), "status"], capture_output=True, text=True, timeout=30)
    assert status.returncode == 0, status.stdout + status.stderr


def test_env_output_parses() -> None:
    result = subprocess.run(
        ["bash", str(SERVICES_SH), "env"], capture_output=True, text=True, timeout=30, check=True
    )
    env = parse_env_output(result.stdout)
    assert set(ENV_KEYS) <= set(env)
    assert env["AICOMMONS_TEST_DATABASE_URL"].startswith("postgresql+psycopg://")
    assert (
        env["AICOMMONS_OIDC_ISSUER"]
        == f"{env['AICOMMONS_KEYCLOAK_URL']}/realms/{env['AICOMMONS_OIDC_REALM']}"
    )
    assert all(line.startswith("export ") for line in result.stdout.splitlines() if line.strip())
