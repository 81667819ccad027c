"""Working-directory archives: uploaded once per organisation, stored by content hash, checked as zips."""

from __future__ import annotations

import hashlib
import os
import tempfile
import zipfile
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from sqlalchemy.orm import Session

from aicommons.portal.core.errors import InvalidInput
from aicommons.portal.core.principal import Principal
from aicommons.portal.core.settings import Settings

from . import repository
from .models import JobArchive

CHUNK = 1024 * 1024
# Unpacked size allowed per packed byte limit: refuses zip bombs without refusing text-heavy code.
UNPACKED_FACTOR = 10


def archive_dir(settings: Settings) -> Path:
    return settings.data_dir / "job-archives"


def archive_path(settings: Settings, sha256: str) -> Path:
    return archive_dir(settings) / f"{sha256}.zip"


def store(
    session: Session,
    principal: Principal,
    settings: Settings,
    org_id: str,
    stream: BinaryIO,
    expected_sha256: str | None = None,
) -> JobArchive:
    """Stream an upload to disk while hashing it; keep it only if it is a sound zip within the limits."""
    principal.require_member(org_id)
    folder = archive_dir(settings)
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=folder, suffix=".part")
    tmp = Path(tmp_name)
    try:
        digest, size = _copy_hashing(stream, fd, settings.jobs_workdir_max_bytes)
        if expected_sha256 is not None and expected_sha256.lower() != digest:
            raise InvalidInput("job.archive_checksum_mismatch", expected=expected_sha256, actual=digest)
        _check_zip(tmp, settings.jobs_workdir_max_bytes * UNPACKED_FACTOR)
        os.replace(tmp, archive_path(settings, digest))
    finally:
        tmp.unlink(missing_ok=True)
    existing = repository.archive(session, digest, org_id)
    if existing is not None:
        return existing
    row = JobArchive(sha256=digest, org_id=org_id, size_bytes=size, uploaded_by=principal.user_id)
    session.add(row)
    session.flush()
    return row


def _copy_hashing(stream: BinaryIO, fd: int, limit: int) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with os.fdopen(fd, "wb") as out:
        while chunk := stream.read(CHUNK):
            size += len(chunk)
            if size > limit:
                raise InvalidInput("job.archive_too_large", limit_mb=limit // (1024 * 1024))
            digest.update(chunk)
            out.write(chunk)
    if size == 0:
        raise InvalidInput("job.archive_invalid", detail="empty")
    return digest.hexdigest(), size


def _check_zip(path: Path, unpacked_limit: int) -> None:
    try:
        with zipfile.ZipFile(path) as archive:
            total = 0
            for info in archive.infolist():
                name = PurePosixPath(info.filename)
                if name.is_absolute() or ".." in name.parts or "\\" in info.filename:
                    raise InvalidInput("job.archive_unsafe_path", path=info.filename[:200])
                total += info.file_size
            if total > unpacked_limit:
                raise InvalidInput("job.archive_too_large", limit_mb=unpacked_limit // (1024 * 1024))
    except zipfile.BadZipFile:
        raise InvalidInput("job.archive_invalid", detail="not a zip archive") from None
