"""Object storage behind one small interface: S3 through the minio SDK, or a local directory.

This is the only module that imports `minio`. Keys are relative to the store's bucket (S3) or root
directory (local); callers build them with `version_prefix`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import shutil
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from minio import Minio
from minio.credentials import AssumeRoleProvider
from minio.error import S3Error

from aicommons.portal.core.errors import InvalidInput, Unavailable
from aicommons.portal.core.ids import new_id, new_secret
from aicommons.portal.core.settings import Settings
from aicommons.portal.core.time import utcnow

CHUNK = 1024 * 1024
LOCAL_ROUTE = "/api/v1/storage/local"


@dataclass(frozen=True)
class PartInfo:
    number: int
    size: int
    etag: str


@dataclass(frozen=True)
class ReadCredentials:
    """What a job needs to read some prefixes: S3 session credentials, or read-only local paths."""

    kind: str  # "s3" or "local"
    endpoint: str
    bucket: str
    access_key: str | None
    secret_key: str | None
    session_token: str | None
    expires_at: datetime
    region: str | None = None


class ObjectStore(Protocol):
    kind: str
    bucket: str

    def ensure_ready(self) -> None: ...
    def uri(self, key: str) -> str: ...
    def start_multipart(self, key: str) -> str: ...
    def presign_part(self, key: str, upload_id: str, part_number: int, ttl: timedelta) -> str: ...
    def list_parts(self, key: str, upload_id: str) -> list[PartInfo] | None: ...
    def complete_multipart(self, key: str, upload_id: str, parts: list[PartInfo]) -> None: ...
    def abort_multipart(self, key: str, upload_id: str) -> None: ...
    def size_of(self, key: str) -> int | None: ...
    def iter_bytes(self, key: str) -> Iterator[bytes]: ...
    def put_bytes(self, key: str, data: bytes, content_type: str = ...) -> None: ...
    def delete_object(self, key: str) -> None: ...
    def delete_prefix(self, prefix: str) -> int: ...
    def presign_get(self, key: str, ttl: timedelta, filename: str) -> str: ...
    def read_credentials(self, prefixes: list[str], ttl: timedelta) -> ReadCredentials: ...


def version_prefix(dataset_id: str, version_number: int) -> str:
    return f"datasets/{dataset_id}/v{version_number}"


def read_only_policy(bucket: str, prefixes: list[str]) -> dict[str, Any]:
    """A session policy that allows reading and listing exactly these prefixes, nothing else."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["s3:GetObject"],
                "Resource": [f"arn:aws:s3:::{bucket}/{p}/*" for p in prefixes],
            },
            {
                "Effect": "Allow",
                "Action": ["s3:ListBucket"],
                "Resource": [f"arn:aws:s3:::{bucket}"],
                "Condition": {
                    "StringLike": {"s3:prefix": [v for p in prefixes for v in (f"{p}/*", f"{p}/")]}
                },
            },
        ],
    }


class S3Store:
    kind = "s3"

    def __init__(self, endpoint: str, access_key: str, secret_key: str, bucket: str, region: str) -> None:
        parts = urllib.parse.urlsplit(endpoint if "://" in endpoint else f"http://{endpoint}")
        self.endpoint = f"{parts.scheme}://{parts.netloc}"
        self.bucket = bucket
        self.region = region
        self._access_key, self._secret_key = access_key, secret_key
        self.client = Minio(
            parts.netloc,
            access_key=access_key,
            secret_key=secret_key,
            secure=parts.scheme == "https",
            region=region,
        )

    def ensure_ready(self) -> None:
        try:
            if not self.client.bucket_exists(self.bucket):
                self.client.make_bucket(self.bucket)
        except (S3Error, OSError) as exc:
            raise Unavailable("dataset.storage_unavailable", detail=str(exc)) from exc

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    def start_multipart(self, key: str) -> str:
        return self.client._create_multipart_upload(self.bucket, key, {})

    def presign_part(self, key: str, upload_id: str, part_number: int, ttl: timedelta) -> str:
        return self.client.get_presigned_url(
            "PUT",
            self.bucket,
            key,
            expires=ttl,
            extra_query_params={"uploadId": upload_id, "partNumber": str(part_number)},
        )

    def list_parts(self, key: str, upload_id: str) -> list[PartInfo] | None:
        parts: list[PartInfo] = []
        marker: str | None = None
        try:
            while True:
                result = self.client._list_parts(self.bucket, key, upload_id, part_number_marker=marker)
                parts.extend(PartInfo(p.part_number, p.size or 0, p.etag) for p in result.parts)
                if not result.is_truncated:
                    return parts
                marker = (
                    None if result.next_part_number_marker is None else str(result.next_part_number_marker)
                )
        except S3Error as exc:
            if exc.code == "NoSuchUpload":
                return None
            raise

    def complete_multipart(self, key: str, upload_id: str, parts: list[PartInfo]) -> None:
        from minio.datatypes import Part

        self.client._complete_multipart_upload(
            self.bucket,
            key,
            upload_id,
            [Part(p.number, p.etag) for p in sorted(parts, key=lambda p: p.number)],
        )

    def abort_multipart(self, key: str, upload_id: str) -> None:
        try:
            self.client._abort_multipart_upload(self.bucket, key, upload_id)
        except S3Error as exc:
            if exc.code != "NoSuchUpload":
                raise

    def size_of(self, key: str) -> int | None:
        try:
            return int(self.client.stat_object(self.bucket, key).size or 0)
        except S3Error as exc:
            if exc.code in ("NoSuchKey", "NoSuchObject", "NotFound"):
                return None
            raise

    def iter_bytes(self, key: str) -> Iterator[bytes]:
        response = self.client.get_object(self.bucket, key)
        try:
            yield from response.stream(CHUNK)
        finally:
            response.close()
            response.release_conn()

    def put_bytes(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        import io

        self.client.put_object(self.bucket, key, io.BytesIO(data), len(data), content_type=content_type)

    def delete_object(self, key: str) -> None:
        self.client.remove_object(self.bucket, key)

    def delete_prefix(self, prefix: str) -> int:
        from minio.deleteobjects import DeleteObject

        names = [
            o.object_name for o in self.client.list_objects(self.bucket, prefix=prefix + "/", recursive=True)
        ]
        errors = list(self.client.remove_objects(self.bucket, (DeleteObject(n) for n in names if n)))
        for upload in self._uploads_under(prefix):
            self.abort_multipart(upload[0], upload[1])
        if errors:
            raise Unavailable("dataset.storage_unavailable", detail=str(errors[0]))
        return len(names)

    def _uploads_under(self, prefix: str) -> list[tuple[str, str]]:
        result = self.client._list_multipart_uploads(self.bucket, prefix=prefix + "/")
        return [(u.object_name, u.upload_id) for u in result.uploads if u.object_name and u.upload_id]

    def presign_get(self, key: str, ttl: timedelta, filename: str) -> str:
        disposition = f"attachment; filename*=UTF-8''{urllib.parse.quote(filename)}"
        return self.client.presigned_get_object(
            self.bucket, key, expires=ttl, response_headers={"response-content-disposition": disposition}
        )

    def read_credentials(self, prefixes: list[str], ttl: timedelta) -> ReadCredentials:
        """STS AssumeRole with the platform's service credentials, narrowed by a session policy."""
        seconds = max(900, min(int(ttl.total_seconds()), 43200))
        provider = AssumeRoleProvider(
            sts_endpoint=self.endpoint,
            access_key=self._access_key,
            secret_key=self._secret_key,
            duration_seconds=seconds,
            policy=json.dumps(read_only_policy(self.bucket, prefixes)),
            region=self.region,
        )
        try:
            creds = provider.retrieve()
        except Exception as exc:
            raise Unavailable("dataset.storage_unavailable", detail=str(exc)) from exc
        return ReadCredentials(
            "s3",
            self.endpoint,
            self.bucket,
            creds.access_key,
            creds.secret_key,
            creds.session_token,
            creds.expiration or utcnow() + timedelta(seconds=seconds),
            self.region,
        )


class LocalStore:
    """A directory on the portal's machine. Presigned URLs are HMAC-signed portal routes."""

    kind = "local"

    def __init__(self, root: Path, base_url: str, secret: bytes) -> None:
        self.root = root
        self.bucket = str(root)
        self.base_url = base_url.rstrip("/")
        self._secret = secret

    def ensure_ready(self) -> None:
        (self.root / ".uploads").mkdir(parents=True, exist_ok=True)

    def uri(self, key: str) -> str:
        return (self.root / key).as_uri()

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root.resolve()) or key.startswith(".uploads"):
            raise InvalidInput("dataset.bad_path", path=key)
        return path

    def _upload_dir(self, upload_id: str) -> Path:
        if not upload_id.replace("-", "").isalnum():
            raise InvalidInput("dataset.upload_unknown")
        return self.root / ".uploads" / upload_id

    def sign(self, params: dict[str, str]) -> str:
        message = "&".join(f"{k}={params[k]}" for k in sorted(params))
        return hmac.new(self._secret, message.encode(), hashlib.sha256).hexdigest()

    def check_signature(self, params: dict[str, str], signature: str) -> None:
        if not hmac.compare_digest(self.sign(params), signature):
            raise InvalidInput("dataset.bad_signature")
        if int(params.get("expires", "0")) < int(utcnow().timestamp()):
            raise InvalidInput("dataset.url_expired")

    def _signed_url(self, action: str, params: dict[str, str], ttl: timedelta) -> str:
        params = {**params, "expires": str(int((utcnow() + ttl).timestamp()))}
        query = urllib.parse.urlencode({**params, "sig": self.sign({**params, "action": action})})
        return f"{self.base_url}{LOCAL_ROUTE}/{action}?{query}"

    def start_multipart(self, key: str) -> str:
        upload_id = new_id()
        folder = self._upload_dir(upload_id)
        folder.mkdir(parents=True)
        (folder / "key").write_text(key)
        return upload_id

    def presign_part(self, key: str, upload_id: str, part_number: int, ttl: timedelta) -> str:
        params = {"key": key, "upload_id": upload_id, "part": str(part_number)}
        return self._signed_url("part", params, ttl)

    def write_part(self, key: str, upload_id: str, part_number: int, chunks: Iterator[bytes]) -> str:
        folder = self._upload_dir(upload_id)
        if not (folder / "key").exists() or (folder / "key").read_text() != key:
            raise InvalidInput("dataset.upload_unknown")
        digest = hashlib.md5(usedforsecurity=False)
        tmp = folder / f"{part_number}.tmp"
        with tmp.open("wb") as fh:
            for chunk in chunks:
                digest.update(chunk)
                fh.write(chunk)
        os.replace(tmp, folder / f"{part_number:05d}.part")
        return digest.hexdigest()

    def list_parts(self, key: str, upload_id: str) -> list[PartInfo] | None:
        folder = self._upload_dir(upload_id)
        if not (folder / "key").exists():
            return None
        return [PartInfo(int(p.stem), p.stat().st_size, "") for p in sorted(folder.glob("*.part"))]

    def complete_multipart(self, key: str, upload_id: str, parts: list[PartInfo]) -> None:
        folder = self._upload_dir(upload_id)
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = folder / "assembled"
        with tmp.open("wb") as out:
            for part in sorted(parts, key=lambda p: p.number):
                with (folder / f"{part.number:05d}.part").open("rb") as src:
                    shutil.copyfileobj(src, out, CHUNK)
        os.replace(tmp, target)
        shutil.rmtree(folder, ignore_errors=True)

    def abort_multipart(self, key: str, upload_id: str) -> None:
        shutil.rmtree(self._upload_dir(upload_id), ignore_errors=True)

    def size_of(self, key: str) -> int | None:
        path = self._path(key)
        return path.stat().st_size if path.is_file() else None

    def iter_bytes(self, key: str) -> Iterator[bytes]:
        with self._path(key).open("rb") as fh:
            while chunk := fh.read(CHUNK):
                yield chunk

    def put_bytes(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)

    def delete_object(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def delete_prefix(self, prefix: str) -> int:
        path = self._path(prefix)
        count = sum(1 for p in path.rglob("*") if p.is_file()) if path.exists() else 0
        shutil.rmtree(path, ignore_errors=True)
        for folder in (self.root / ".uploads").glob("*"):
            key_file = folder / "key"
            if key_file.exists() and key_file.read_text().startswith(prefix + "/"):
                shutil.rmtree(folder, ignore_errors=True)
        return count

    def presign_get(self, key: str, ttl: timedelta, filename: str) -> str:
        return self._signed_url("object", {"key": key}, ttl)

    def read_credentials(self, prefixes: list[str], ttl: timedelta) -> ReadCredentials:
        """Embedded mode: jobs run on this machine and read the version folders in place."""
        return ReadCredentials("local", self.root.as_uri(), str(self.root), None, None, None, utcnow() + ttl)


def build_store(settings: Settings) -> ObjectStore:
    if settings.datasets_storage == "s3":
        if not (settings.s3_endpoint and settings.s3_access_key and settings.s3_secret_key):
            raise Unavailable("dataset.storage_unavailable", detail="AICOMMONS_S3_* settings are incomplete")
        return S3Store(
            settings.s3_endpoint,
            settings.s3_access_key,
            settings.s3_secret_key,
            settings.s3_bucket,
            settings.s3_region,
        )
    root = settings.data_dir / "datasets"
    root.mkdir(parents=True, exist_ok=True)
    key_file = settings.data_dir / "datasets-url-key"
    if not key_file.exists():
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(new_secret())
    return LocalStore(root, settings.base_url, key_file.read_bytes())
