"""Datasets through the REST API, plus the client-side halves: pushing a folder and masking files.

Uploads go straight to the presigned URLs the portal hands out, part by part and in parallel; a
second push of the same folder asks the portal which parts are already stored and sends only the
rest, so an interrupted push resumes where it stopped.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import httpx
from pydantic import TypeAdapter

from aicommons.datasets.scan import is_text_path, mask_text
from aicommons.datasets.schemas import (
    DatasetCreate,
    DatasetOut,
    DownloadLinks,
    FileIn,
    GrantOut,
    GrantRequest,
    Manifest,
    SearchResult,
    UploadPlan,
    UploadRequest,
    VersionOut,
)

from .http import AicommonsClient, ApiError, ConnectionFailed

Progress = Callable[[int], None]
HASH_CHUNK = 4 * 1024 * 1024


class DatasetsClient:
    def __init__(self, client: AicommonsClient) -> None:
        self.client = client

    def _json(self, method: str, path: str, model: Any, body: Any = None, **kwargs: Any) -> Any:
        if body is not None and hasattr(body, "model_dump"):
            body = body.model_dump(mode="json", exclude_none=True)
        response = self.client._request(method, path, json=body, **kwargs)
        return TypeAdapter(model).validate_json(response.content)

    def search(self, q: str | None = None, **facets: str | None) -> SearchResult:
        params = {k: v for k, v in {"q": q, **facets}.items() if v}
        return self._json("GET", "/datasets", SearchResult, params=params)

    def create(self, data: DatasetCreate) -> DatasetOut:
        return self._json("POST", "/datasets", DatasetOut, data)

    def get(self, slug: str) -> DatasetOut:
        return self._json("GET", f"/datasets/{slug}", DatasetOut)

    def versions(self, slug: str) -> list[VersionOut]:
        return self._json("GET", f"/datasets/{slug}/versions", list[VersionOut])

    def new_version(self, slug: str, notes: str = "") -> VersionOut:
        return self._json("POST", f"/datasets/{slug}/versions", VersionOut, {"notes": notes})

    def version(self, slug: str, number: int) -> VersionOut:
        return self._json("GET", f"/datasets/{slug}/versions/{number}", VersionOut)

    def manifest(self, slug: str, number: int) -> Manifest:
        return self._json("GET", f"/datasets/{slug}/versions/{number}/manifest", Manifest)

    def plan_upload(self, slug: str, number: int, files: list[FileIn]) -> UploadPlan:
        body = UploadRequest(files=files)
        return self._json("POST", f"/datasets/{slug}/versions/{number}/uploads", UploadPlan, body)

    def complete(self, slug: str, number: int) -> VersionOut:
        return self._json("POST", f"/datasets/{slug}/versions/{number}/complete", VersionOut)

    def _action(self, slug: str, number: int, action: str, body: Any = None) -> VersionOut:
        path = f"/datasets/{slug}/versions/{number}/{action}"
        return self._json("POST", path, VersionOut, body)

    def publish(self, slug: str, number: int) -> VersionOut:
        return self._action(slug, number, "publish")

    def deprecate(self, slug: str, number: int) -> VersionOut:
        return self._action(slug, number, "deprecate")

    def override(self, slug: str, number: int, justification: str) -> VersionOut:
        return self._action(slug, number, "override", {"justification": justification})

    def download_links(self, slug: str, number: int) -> DownloadLinks:
        path = f"/datasets/{slug}/versions/{number}/download"
        return self._json("POST", path, DownloadLinks)

    def accept_licence(self, slug: str) -> None:
        self.client._request("POST", f"/datasets/{slug}/licence/accept")

    def grants(self, slug: str) -> list[GrantOut]:
        return self._json("GET", f"/datasets/{slug}/grants", list[GrantOut])

    def request_access(self, slug: str, data: GrantRequest) -> GrantOut:
        return self._json("POST", f"/datasets/{slug}/grants", GrantOut, data)

    def decide(self, slug: str, grant_id: str, action: str, reason: str | None = None) -> GrantOut:
        path = f"/datasets/{slug}/grants/{grant_id}/{action}"
        return self._json("POST", path, GrantOut, {"reason": reason} if reason else None)

    def push(
        self,
        slug: str,
        number: int,
        root: Path,
        workers: int = 4,
        on_total: Progress | None = None,
        on_progress: Progress | None = None,
    ) -> VersionOut:
        """Upload a folder as the version's files; resumes an interrupted push of the same folder."""
        files = scan_folder(root)
        plan = self.plan_upload(slug, number, files)
        by_path = {f.path: f for f in plan.files}
        total = sum(f.size for f in plan.files)
        if on_total:
            on_total(total)
        if on_progress:
            on_progress(total - sum(_remaining(f) for f in plan.files))
        upload_parts(
            root, [(by_path[p.path], part) for p in plan.files for part in p.parts], workers, on_progress
        )
        return self.complete(slug, number)


def _remaining(upload: Any) -> int:
    return sum(
        min(upload.part_size, upload.size - (part.number - 1) * upload.part_size) for part in upload.parts
    )


def scan_folder(root: Path) -> list[FileIn]:
    """Every regular file under `root`, with size and sha256; symbolic links and hidden files are skipped."""
    if not root.is_dir():
        raise ApiError(0, "client.not_a_folder", f"{root} is not a folder")
    found: list[FileIn] = []
    for folder, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(names):
            path = Path(folder) / name
            if name.startswith(".") or path.is_symlink() or not path.is_file():
                continue
            found.append(
                FileIn(
                    path=path.relative_to(root).as_posix(), size=path.stat().st_size, sha256=file_sha256(path)
                )
            )
    return found


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def upload_parts(
    root: Path, tasks: list[tuple[Any, Any]], workers: int, on_progress: Progress | None
) -> None:
    """PUT each part to its presigned URL, `workers` at a time; retries each part a few times."""
    lock = threading.Lock()
    local = threading.local()

    def send(upload: Any, part: Any) -> None:
        http = getattr(local, "http", None)
        if http is None:
            http = local.http = httpx.Client(timeout=httpx.Timeout(300.0, connect=10.0))
        offset = (part.number - 1) * upload.part_size
        length = min(upload.part_size, upload.size - offset)
        with (root / upload.path).open("rb") as fh:
            fh.seek(offset)
            data = fh.read(length)
        for attempt in range(4):
            try:
                response = http.put(part.url, content=data)
                if response.status_code < 300:
                    break
                if attempt == 3 or response.status_code < 500:
                    raise ApiError(
                        response.status_code,
                        "client.upload_failed",
                        f"part {part.number} of {upload.path}: HTTP {response.status_code} {response.text[:200]}",  # noqa: E501
                    )
            except httpx.TransportError as exc:
                if attempt == 3:
                    raise ConnectionFailed(0, "client.upload_failed", f"{upload.path}: {exc}") from exc
        if on_progress:
            with lock:
                on_progress(length)

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        futures = [pool.submit(send, upload, part) for upload, part in tasks]
        for future in as_completed(futures):
            future.result()


def mask_folder(source: Path, target: Path) -> dict[str, int]:
    """Copy `source` to `target` with personal data masked in every text file; returns counts per file."""
    if target.resolve() == source.resolve() or target.resolve().is_relative_to(source.resolve()):
        raise ApiError(0, "client.bad_target", "the target folder must lie outside the source folder")
    masked: dict[str, int] = {}
    for item in scan_folder_paths(source):
        relative = item.relative_to(source)
        out = target / relative
        out.parent.mkdir(parents=True, exist_ok=True)
        if is_text_path(relative.as_posix()):
            text, count = mask_text(item.read_text(encoding="utf-8", errors="replace"))
            out.write_text(text, encoding="utf-8")
            if count:
                masked[relative.as_posix()] = count
        else:
            out.write_bytes(item.read_bytes())
    return masked


def scan_folder_paths(root: Path) -> list[Path]:
    paths: list[Path] = []
    for folder, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        paths.extend(Path(folder) / n for n in sorted(names) if not n.startswith("."))
    return [p for p in paths if p.is_file() and not p.is_symlink()]
