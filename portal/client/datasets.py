"""Datasets through the REST API, plus the client-side halves: pushing a folder and masking files.

Uploads go straight to the presigned URLs the portal hands out, part by part and in parallel; a
second push of the same folder asks the portal which parts are already stored and sends only the
rest, so an interrupted push resumes where it stopped.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import threading
import time
import urllib.parse
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Any, TypeVar

from pydantic import TypeAdapter

from aicommons.datasets.scan import is_text_path, mask_text
from aicommons.datasets.schemas import (
    DatasetCreate,
    DatasetOut,
    DatasetUsePage,
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
StateHook = Callable[[str, list[str]], None]
T = TypeVar("T")
HASH_CHUNK = 4 * 1024 * 1024
IO_CHUNK = 1024 * 1024
WAIT_TIMEOUT_S = 6 * 3600.0  # verification reads every byte once: large versions take a while
RESEND_ATTEMPTS = 3


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

    def complete(self, slug: str, number: int, declared: dict[str, str] | None = None) -> VersionOut:
        """Every part is sent: the portal assembles the files and answers at once (202, `validating`).
        `declared`: the sha256 of each file planned without one."""
        path = f"/datasets/{slug}/versions/{number}/complete"
        return self._json("POST", path, VersionOut, {"files": declared or {}})

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

    def download(
        self, slug: str, number: int, target: Path, workers: int = 4, on_progress: Progress | None = None
    ) -> list[Path]:
        """Every file of a version through the portal's short-lived links, `workers` at a time, each
        checked against its sha256 (a file that does not match is removed and reported)."""
        links = self.download_links(slug, number)
        return download_files(links, target, workers, on_progress)

    def accept_licence(self, slug: str) -> None:
        self.client._request("POST", f"/datasets/{slug}/licence/accept")

    def grants(self, slug: str) -> list[GrantOut]:
        return self._json("GET", f"/datasets/{slug}/grants", list[GrantOut])

    def request_access(self, slug: str, data: GrantRequest) -> GrantOut:
        return self._json("POST", f"/datasets/{slug}/grants", GrantOut, data)

    def decide(self, slug: str, grant_id: str, action: str, reason: str | None = None) -> GrantOut:
        path = f"/datasets/{slug}/grants/{grant_id}/{action}"
        return self._json("POST", path, GrantOut, {"reason": reason} if reason else None)

    def wait(
        self,
        slug: str,
        number: int,
        timeout_s: float = WAIT_TIMEOUT_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> VersionOut:
        """Poll the version until the portal's background step has decided it (it leaves
        `validating`): every half second at first, then less often, for at most `timeout_s`."""
        deadline, pause = clock() + timeout_s, 0.25
        while True:
            version = self.version(slug, number)
            if version.state != "validating":
                return version
            if clock() >= deadline:
                raise StillValidating(slug, number, timeout_s)
            time.sleep(pause)
            pause = min(2.0, pause * 1.5)

    def push(
        self,
        slug: str,
        number: int,
        root: Path,
        workers: int = 4,
        on_total: Progress | None = None,
        on_progress: Progress | None = None,
        wait: bool = True,
        on_state: StateHook | None = None,
        resend_attempts: int = RESEND_ATTEMPTS,
    ) -> VersionOut:
        """Upload a folder as the version's files; resumes an interrupted push of the same folder.

        The portal verifies the stored bytes in the background: with `wait`, the version is polled
        until it is decided; files it discarded because their bytes did not match are sent again
        (`resend_attempts` times at most, then `MismatchedFiles` names them). `on_state` hears
        ("validating", []) when the wait starts and ("resend", paths) before each resend.
        """
        files = list_folder(root)  # sizes only: the files are hashed while their parts go out
        for attempt in range(resend_attempts + 1):
            version, declared = self.upload(slug, number, root, files, workers, on_total, on_progress)
            files = [f.model_copy(update={"sha256": f.sha256 or declared[f.path]}) for f in files]
            if not wait:
                return version
            if on_state:
                on_state("validating", [])
            version = self.wait(slug, number)
            if version.state != "uploading" or not version.mismatched_paths:
                return version
            if attempt < resend_attempts and on_state:
                on_state("resend", list(version.mismatched_paths))
        raise MismatchedFiles(list(version.mismatched_paths))

    def upload(
        self,
        slug: str,
        number: int,
        root: Path,
        files: list[FileIn],
        workers: int = 4,
        on_total: Progress | None = None,
        on_progress: Progress | None = None,
    ) -> tuple[VersionOut, dict[str, str]]:
        """Plan, send the missing parts and complete; returns the version and the sha256s declared.

        Files listed without a sha256 are hashed while the parts are sent, so that hashing and
        sending share the cores instead of taking turns; their hashes go with the completion."""
        unhashed = [f.path for f in files if f.sha256 is None]
        pool = ThreadPoolExecutor(max_workers=max(1, workers // 2), thread_name_prefix="aicommons-hash")
        try:
            hashing = {path: pool.submit(file_sha256, root / path) for path in unhashed}
            self._send(slug, number, root, files, workers, on_total, on_progress)
            declared = {path: future.result() for path, future in hashing.items()}
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        return self.complete(slug, number, declared), declared

    def _send(
        self,
        slug: str,
        number: int,
        root: Path,
        files: list[FileIn],
        workers: int,
        on_total: Progress | None,
        on_progress: Progress | None,
    ) -> None:
        """Plan the upload (the portal answers with the parts still missing) and send those parts."""
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

    def uses(self, slug: str, number: int | None = None, limit: int = 50, offset: int = 0) -> DatasetUsePage:
        """Jobs that used the dataset (or one version of it), newest first, as far as the caller may see."""
        path = f"/datasets/{slug}/uses" if number is None else f"/datasets/{slug}/versions/{number}/uses"
        return self._json("GET", path, DatasetUsePage, params={"limit": limit, "offset": offset})


class StillValidating(ApiError):
    """The portal had not decided the version when the client stopped waiting."""

    def __init__(self, slug: str, number: int, waited_s: float) -> None:
        super().__init__(
            0,
            "client.still_validating",
            f"{slug} v{number} is still being verified after {waited_s:.0f} s; "
            f"check it later with `aicommons datasets status {slug} {number}`",
        )
        self.slug, self.number = slug, number


class MismatchedFiles(ApiError):
    """Files whose stored bytes kept differing from the manifest after every resend."""

    def __init__(self, paths: list[str]) -> None:
        listed = ", ".join(paths[:10]) + (f" (+{len(paths) - 10})" if len(paths) > 10 else "")
        super().__init__(
            0,
            "client.resend_failed",
            f"the stored bytes of {len(paths)} file(s) still differ from their checksums: {listed}",
        )
        self.paths = paths


def _remaining(upload: Any) -> int:
    return sum(
        min(upload.part_size, upload.size - (part.number - 1) * upload.part_size) for part in upload.parts
    )


def scan_folder(root: Path, workers: int = 4) -> list[FileIn]:
    """Every regular file under `root`, with size and sha256; symbolic links and hidden files are skipped.

    Files are hashed `workers` at a time: hashlib releases the GIL on large buffers, so this uses
    as many cores as there are workers instead of one.
    """
    if not root.is_dir():
        raise ApiError(0, "client.not_a_folder", f"{root} is not a folder")

    def entry(path: Path) -> FileIn:
        return FileIn(
            path=path.relative_to(root).as_posix(), size=path.stat().st_size, sha256=file_sha256(path)
        )

    return _run_all(entry, scan_folder_paths(root), workers)


def list_folder(root: Path) -> list[FileIn]:
    """Every regular file under `root` with its size, not yet hashed (see `scan_folder`)."""
    if not root.is_dir():
        raise ApiError(0, "client.not_a_folder", f"{root} is not a folder")
    return [
        FileIn(path=path.relative_to(root).as_posix(), size=path.stat().st_size)
        for path in scan_folder_paths(root)
    ]


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb", buffering=0) as fh:
        buffer = bytearray(HASH_CHUNK)
        view = memoryview(buffer)
        while read := fh.readinto(buffer):
            digest.update(view[:read])
    return digest.hexdigest()


def _run_all(work: Callable[[Any], T], items: Sequence[Any], workers: int) -> list[T]:
    """`work` on every item, `workers` at a time; results in the items' order; the first error is raised
    once the others in flight have finished (none are started after it)."""
    if workers <= 1 or len(items) <= 1:
        return [work(item) for item in items]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(work, item) for item in items]
        try:
            for future in as_completed(futures):
                future.result()
        except BaseException:
            for future in futures:
                future.cancel()
            raise
        return [future.result() for future in futures]


class _Connections:
    """Plain HTTP/1.1 connections for the bulk bytes, one per worker thread and host, kept open.

    The standard library's http.client sends a part with one sendall and reads a download straight
    into a reused buffer; measured against the raw S3 client (tests/bench/bench_transfer.py), httpx's
    per-chunk overhead cost about a third of the throughput on both. API calls stay on httpx.
    """

    def __init__(self, timeout: float = 300.0) -> None:
        self._timeout = timeout
        self._local = threading.local()
        self._lock = threading.Lock()
        self._open: list[http.client.HTTPConnection] = []

    def _connection(self, url: urllib.parse.SplitResult, fresh: bool) -> http.client.HTTPConnection:
        pool: dict[tuple[str, str], http.client.HTTPConnection] = self._local.__dict__.setdefault("pool", {})
        key = (url.scheme, url.netloc)
        if fresh and key in pool:
            pool.pop(key).close()
        if key not in pool:
            kind = http.client.HTTPSConnection if url.scheme == "https" else http.client.HTTPConnection
            pool[key] = kind(url.netloc, timeout=self._timeout)
            with self._lock:
                self._open.append(pool[key])
        return pool[key]

    def request(
        self, method: str, url: str, body: bytes | None = None, attempts: int = 4
    ) -> http.client.HTTPResponse:
        """The response (the caller reads it); transport errors are retried on a fresh connection."""
        parts = urllib.parse.urlsplit(url)
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        headers = {"Content-Length": str(len(body))} if body is not None else {}
        for attempt in range(attempts):
            connection = self._connection(parts, fresh=attempt > 0)
            try:
                connection.request(method, target, body=body, headers=headers)
                return connection.getresponse()
            except (OSError, http.client.HTTPException) as exc:
                if attempt == attempts - 1:
                    raise ConnectionFailed(0, "client.transfer_failed", f"{parts.path}: {exc}") from exc
        raise AssertionError("unreachable")

    def close(self) -> None:
        for connection in self._open:
            connection.close()


def upload_parts(
    root: Path, tasks: list[tuple[Any, Any]], workers: int, on_progress: Progress | None
) -> None:
    """PUT each part to its presigned URL, `workers` at a time; retries each part a few times."""
    lock = threading.Lock()
    connections = _Connections()

    def send(upload: Any, part: Any) -> None:
        offset = (part.number - 1) * upload.part_size
        length = min(upload.part_size, upload.size - offset)
        with (root / upload.path).open("rb") as fh:
            fh.seek(offset)
            data = fh.read(length)
        for attempt in range(4):
            response = connections.request("PUT", part.url, data)
            answer = response.read()
            if response.status < 300:
                break
            if attempt == 3 or response.status < 500:
                detail = answer[:200].decode(errors="replace")
                raise ApiError(
                    response.status,
                    "client.upload_failed",
                    f"part {part.number} of {upload.path}: HTTP {response.status} {detail}",
                )
        if on_progress:
            with lock:
                on_progress(length)

    try:
        _run_all(lambda task: send(*task), tasks, max(1, workers))
    finally:
        connections.close()


def download_files(
    links: DownloadLinks, target: Path, workers: int = 4, on_progress: Progress | None = None
) -> list[Path]:
    """Each file to `target`/path, `workers` at a time, checked against its sha256 as it arrives."""
    root = target.resolve()
    lock = threading.Lock()
    connections = _Connections()

    def fetch(link: Any) -> Path:
        out = (root / link.path).resolve()
        if not out.is_relative_to(root):
            raise ApiError(0, "client.bad_path", f"refusing to write outside {root}: {link.path}")
        out.parent.mkdir(parents=True, exist_ok=True)
        response = connections.request("GET", link.url)
        if response.status >= 300:
            detail = response.read()[:200].decode(errors="replace")
            raise ApiError(
                response.status, "client.download_failed", f"{link.path}: HTTP {response.status} {detail}"
            )
        digest = hashlib.sha256()
        buffer = bytearray(IO_CHUNK)
        view = memoryview(buffer)
        with out.open("wb") as fh:
            while read := response.readinto(buffer):
                digest.update(view[:read])
                fh.write(view[:read])
                if on_progress:
                    with lock:
                        on_progress(read)
        if digest.hexdigest() != link.sha256:
            out.unlink(missing_ok=True)
            raise ApiError(0, "client.checksum_failed", f"{link.path}: sha256 does not match the manifest")
        return out

    try:
        return _run_all(fetch, links.files, workers)
    finally:
        connections.close()


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
            text, count = mask_text(item.read_text(encoding="utf-8", errors="replace"), relative.as_posix())
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
