"""End to end: a Keycloak token becomes prefix-scoped, read-only S3 credentials through MinIO STS.

This is how jobs get data credentials: AssumeRoleWithWebIdentity with a session policy narrows the
user's policy (the `policy` claim) to one dataset prefix.
"""

from __future__ import annotations

import base64
import io
import json
import urllib.error
import urllib.parse
import urllib.request
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from minio import Minio
from minio.error import S3Error

from tests.fixtures.services import KeycloakService, S3Service

pytestmark = [pytest.mark.keycloak, pytest.mark.minio]

STS_NS = {"sts": "https://sts.amazonaws.com/doc/2011-06-15/"}


@dataclass(frozen=True)
class StsResult:
    status: int
    body: str
    credentials: dict[str, str] | None


def assume_role_with_web_identity(
    endpoint: str, token: str, policy: dict | None, duration: int = 900
) -> StsResult:
    form = {
        "Action": "AssumeRoleWithWebIdentity",
        "Version": "2011-06-15",
        "WebIdentityToken": token,
        "DurationSeconds": str(duration),
    }
    if policy is not None:
        form["Policy"] = json.dumps(policy)
    request = urllib.request.Request(
        endpoint + "/",
        data=urllib.parse.urlencode(form).encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=15) as response:
            status, body = response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return StsResult(exc.code, exc.read().decode(), None)
    root = ET.fromstring(body)
    creds = root.find("sts:AssumeRoleWithWebIdentityResult/sts:Credentials", STS_NS)
    assert creds is not None, body
    values = {child.tag.split("}", 1)[1]: (child.text or "") for child in creds}
    return StsResult(status, body, values)


def prefix_read_policy(bucket: str, prefix: str) -> dict:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["s3:GetObject"],
                "Resource": [f"arn:aws:s3:::{bucket}/{prefix}/*"],
            },
            {
                "Effect": "Allow",
                "Action": ["s3:ListBucket"],
                "Resource": [f"arn:aws:s3:::{bucket}"],
                "Condition": {"StringLike": {"s3:prefix": [f"{prefix}/*", f"{prefix}/"]}},
            },
        ],
    }


@pytest.fixture
def root_client(s3_service: S3Service) -> Minio:
    return Minio(
        s3_service.host,
        access_key=s3_service.access_key,
        secret_key=s3_service.secret_key,
        secure=s3_service.secure,
        region=s3_service.region,
    )


@pytest.fixture
def bucket(root_client: Minio) -> Iterator[str]:
    name = f"sts-test-{uuid.uuid4().hex[:10]}"
    root_client.make_bucket(name)
    for key in ("prefix-a/one.txt", "prefix-a/two.txt", "prefix-b/secret.txt"):
        data = f"content of {key}".encode()
        root_client.put_object(name, key, io.BytesIO(data), len(data))
    yield name
    for obj in root_client.list_objects(name, recursive=True):
        root_client.remove_object(name, obj.object_name)
    root_client.remove_bucket(name)


def test_token_carries_minio_audience_and_policy(keycloak_service: KeycloakService) -> None:
    token = keycloak_service.password_grant("alice")["access_token"]
    payload = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
    assert payload["iss"] == keycloak_service.issuer
    assert {"minio", "mlflow", "aicommons-portal"} <= set(payload["aud"])
    assert payload["policy"] == ["readwrite"]
    assert payload["groups"] == ["/orgs/acme"]


def test_web_identity_credentials_are_scoped_to_one_prefix(
    keycloak_service: KeycloakService, s3_service: S3Service, bucket: str
) -> None:
    token = keycloak_service.password_grant("alice")["access_token"]
    result = assume_role_with_web_identity(s3_service.endpoint, token, prefix_read_policy(bucket, "prefix-a"))
    assert result.status == 200, result.body
    assert result.credentials is not None
    creds = result.credentials
    assert creds["AccessKeyId"] and creds["SecretAccessKey"] and creds["SessionToken"]

    scoped = Minio(
        s3_service.host,
        access_key=creds["AccessKeyId"],
        secret_key=creds["SecretAccessKey"],
        session_token=creds["SessionToken"],
        secure=s3_service.secure,
        region=s3_service.region,
    )

    # Reading and listing under prefix-a works.
    response = scoped.get_object(bucket, "prefix-a/one.txt")
    try:
        assert response.read() == b"content of prefix-a/one.txt"
    finally:
        response.close()
        response.release_conn()
    listed = sorted(o.object_name for o in scoped.list_objects(bucket, prefix="prefix-a/", recursive=True))
    assert listed == ["prefix-a/one.txt", "prefix-a/two.txt"]

    # Reading prefix-b is refused.
    with pytest.raises(S3Error) as denied_read:
        scoped.get_object(bucket, "prefix-b/secret.txt")
    assert denied_read.value.code == "AccessDenied"
    with pytest.raises(S3Error) as denied_list:
        list(scoped.list_objects(bucket, prefix="prefix-b/", recursive=True))
    assert denied_list.value.code == "AccessDenied"

    # Writing anywhere is refused, even under prefix-a.
    for key in ("prefix-a/new.txt", "prefix-b/new.txt", "elsewhere.txt"):
        with pytest.raises(S3Error) as denied_write:
            scoped.put_object(bucket, key, io.BytesIO(b"x"), 1)
        assert denied_write.value.code == "AccessDenied", key


def test_tampered_token_is_refused(
    keycloak_service: KeycloakService, s3_service: S3Service, bucket: str
) -> None:
    token = keycloak_service.password_grant("alice")["access_token"]
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["policy"] = ["consoleAdmin"]  # privilege escalation attempt; the signature no longer matches
    forged_payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    for forged in (f"{header}.{forged_payload}.{signature}", f"{header}.{payload}.{signature[:-4]}AAAA"):
        result = assume_role_with_web_identity(
            s3_service.endpoint, forged, prefix_read_policy(bucket, "prefix-a")
        )
        assert result.status in (400, 403), result.body
        assert result.credentials is None
        assert "AccessKeyId" not in result.body
