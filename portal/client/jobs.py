"""Typed client calls for jobs: pack and upload a working directory, submit, list, explain, logs, cancel."""

from __future__ import annotations

import hashlib
import io
import os
import zipfile
from collections.abc import Iterator
from pathlib import Path

from aicommons.scheduler.jobs.schemas import ArchiveOut, JobCreate, JobEventOut, JobList, JobOut, WaitOut
from aicommons.scheduler.schemas import UsageOut

from .http import AicommonsClient

# Never shipped with a job: version control, caches and local environments.
SKIPPED_DIRS = frozenset(
    {".git", ".hg", ".svn", "__pycache__", ".venv", "venv", ".mypy_cache", ".pytest_cache"}
)


def pack_directory(folder: Path) -> bytes:
    """The folder as a zip archive, with stable order and timestamps so equal trees hash equally."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for root, dirs, files in os.walk(folder):
            dirs[:] = sorted(d for d in dirs if d not in SKIPPED_DIRS)
            for name in sorted(files):
                path = Path(root) / name
                if path.is_symlink() or not path.is_file():
                    continue
                info = zipfile.ZipInfo(path.relative_to(folder).as_posix(), date_time=(1980, 1, 1, 0, 0, 0))
                info.external_attr = (path.stat().st_mode & 0o777) << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(info, path.read_bytes())
    return buffer.getvalue()


def upload_archive(client: AicommonsClient, org: str, data: bytes) -> ArchiveOut:
    digest = hashlib.sha256(data).hexdigest()
    response = client._request(
        "POST",
        "/jobs/archives",
        data={"org": org, "sha256": digest},
        files={"file": ("workdir.zip", data, "application/zip")},
    )
    return ArchiveOut.model_validate_json(response.content)


def submit(client: AicommonsClient, data: JobCreate) -> JobOut:
    return client._send("POST", "/jobs", data, JobOut)


def list_jobs(
    client: AicommonsClient, org: str | None = None, states: list[str] | None = None, limit: int = 50
) -> JobList:
    params: dict[str, object] = {"limit": limit}
    if org:
        params["org"] = org
    if states:
        params["state"] = states
    return client._get("/jobs", JobList, params=params)


def get(client: AicommonsClient, job_id: str) -> JobOut:
    return client._get(f"/jobs/{job_id}", JobOut)


def why(client: AicommonsClient, job_id: str) -> WaitOut:
    return client._get(f"/jobs/{job_id}/why", WaitOut)


def events(client: AicommonsClient, job_id: str) -> list[JobEventOut]:
    return client._get(f"/jobs/{job_id}/events", list[JobEventOut])


def usage(client: AicommonsClient, job_id: str) -> list[UsageOut]:
    return client._get(f"/jobs/{job_id}/usage", list[UsageOut])


def cancel(client: AicommonsClient, job_id: str) -> JobOut:
    return client._send("POST", f"/jobs/{job_id}/cancel", None, JobOut)


def logs(client: AicommonsClient, job_id: str) -> str:
    return client._request("GET", f"/jobs/{job_id}/logs").text


def follow_logs(client: AicommonsClient, job_id: str) -> Iterator[str]:
    yield from client._stream_text(f"/jobs/{job_id}/logs", params={"follow": "true"})
