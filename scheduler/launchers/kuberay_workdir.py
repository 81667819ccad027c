"""How a job's working directory reaches a Kubernetes cluster: through S3.

The portal keeps working-directory archives on its own disk (one zip per content hash). Ray on
Kubernetes cannot read that disk, but Ray's runtime environment accepts an https URL of a zip as
`working_dir`. So at submit the launcher uploads the archive once to `<bucket>/workdirs/<name>` on
the portal's S3 store (the `s3_*` settings; skipped when the object is there already: names are
content hashes) and hands Ray a presigned GET URL valid for the job's time limit plus a day.

Requests are signed here with AWS Signature V4 (query-string form) over httpx, so that the S3 SDK
stays in the datasets module (DESIGN.md §4) and the launcher needs no second S3 client.
"""

from __future__ import annotations

import hashlib
import hmac
import tempfile
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote, urlsplit

import httpx

from .base import LauncherError

PREFIX = "workdirs"
MAX_PRESIGN_S = 7 * 24 * 3600  # S3's limit for SigV4 presigned URLs
TIMEOUT_S = 60.0


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def presign(
    method: str,
    endpoint: str,
    path: str,
    *,
    access_key: str,
    secret_key: str,
    region: str,
    expires_s: int,
    now: datetime | None = None,
) -> str:
    """A SigV4 presigned URL (path-style) for `method` on `path` ("/bucket/key") at `endpoint`."""
    now = (now or datetime.now(UTC)).astimezone(UTC)
    stamp, day = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
    parts = urlsplit(endpoint.rstrip("/"))
    host = parts.netloc
    scope = f"{day}/{region}/s3/aws4_request"
    query = {
        "X-Amz-Algorithm": "AWS4-HMAC-SHA256",
        "X-Amz-Credential": f"{access_key}/{scope}",
        "X-Amz-Date": stamp,
        "X-Amz-Expires": str(min(max(expires_s, 1), MAX_PRESIGN_S)),
        "X-Amz-SignedHeaders": "host",
    }
    canonical_query = "&".join(
        f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}" for k, v in sorted(query.items())
    )
    canonical_path = quote(path, safe="-_.~/")
    canonical = "\n".join(
        [method, canonical_path, canonical_query, f"host:{host}\n", "host", "UNSIGNED-PAYLOAD"]
    )
    to_sign = "\n".join(["AWS4-HMAC-SHA256", stamp, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    key = _hmac(_hmac(_hmac(_hmac(f"AWS4{secret_key}".encode(), day), region), "s3"), "aws4_request")
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    return f"{parts.scheme}://{host}{canonical_path}?{canonical_query}&X-Amz-Signature={signature}"


class WorkdirStore:
    """Uploads working-directory archives to S3 and returns URLs a Ray cluster can fetch."""

    def __init__(
        self,
        endpoint: str,
        access_key: str,
        secret_key: str,
        *,
        bucket: str,
        region: str = "us-east-1",
        public_endpoint: str | None = None,
    ) -> None:
        self.endpoint = endpoint.rstrip("/")
        self.public_endpoint = (public_endpoint or endpoint).rstrip("/")
        self.bucket = bucket
        self.access_key, self.secret_key, self.region = access_key, secret_key, region

    def url_for(self, archive: Path, valid_s: int) -> str:
        """Upload `archive` (a .zip, or a directory zipped here) unless present; a presigned GET URL."""
        if not archive.exists():
            raise LauncherError("launcher.working_dir_missing", path=str(archive))
        try:
            if archive.is_dir():
                with tempfile.TemporaryDirectory() as tmp:
                    zipped = _zip_dir(archive, Path(tmp))
                    key = f"{PREFIX}/{_sha256(zipped)}.zip"
                    self._upload(zipped, key)
            else:
                key = f"{PREFIX}/{archive.stem if archive.suffix == '.zip' else _sha256(archive)}.zip"
                self._upload(archive, key)
        except httpx.HTTPError as exc:
            raise LauncherError(
                "launcher.kuberay_workdir_failed", endpoint=self.endpoint, detail=str(exc)
            ) from exc
        return self._sign("GET", f"/{self.bucket}/{key}", valid_s, self.public_endpoint)

    def _upload(self, file: Path, key: str) -> None:
        path = f"/{self.bucket}/{key}"
        with httpx.Client(timeout=TIMEOUT_S) as client:
            if client.head(self._sign("HEAD", path, 300)).status_code == 200:
                return  # names are content hashes: the same bytes are there already
            bucket = client.put(self._sign("PUT", f"/{self.bucket}", 300))
            if bucket.status_code not in (200, 409):  # 409: BucketAlreadyOwnedByYou
                bucket.raise_for_status()
            with file.open("rb") as body:
                put = client.put(self._sign("PUT", path, 3600), content=body.read())
            put.raise_for_status()

    def _sign(self, method: str, path: str, expires_s: int, endpoint: str | None = None) -> str:
        return presign(
            method,
            endpoint or self.endpoint,
            path,
            access_key=self.access_key,
            secret_key=self.secret_key,
            region=self.region,
            expires_s=expires_s,
        )


def _sha256(file: Path) -> str:
    digest = hashlib.sha256()
    with file.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _zip_dir(folder: Path, into: Path) -> Path:
    target = into / "workdir.zip"
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for file in sorted(p for p in folder.rglob("*") if p.is_file()):
            archive.write(file, file.relative_to(folder).as_posix())
    return target
