"""The datasets worker: completed uploads verified, scanned and validated in the background, leases
between replicas, the periodic sweep, and a portal that keeps answering while a version is read.

Tests that run the worker's own threads use SQLite (a file database: every thread gets its own
connection); the PostgreSQL fixture runs a test inside one shared connection, so the lease tests
there drive `claim` and `process` step by step, as two replicas would interleave them.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from aicommons.datasets import processing, repository
from aicommons.datasets.models import Dataset, DatasetVersion
from aicommons.datasets.storage import ObjectStore, S3Store, version_prefix
from aicommons.datasets.worker import DatasetWorker
from aicommons.portal.audit.models import AuditRecord
from aicommons.portal.client import datasets as client_datasets
from aicommons.portal.client.datasets import DatasetsClient, MismatchedFiles
from aicommons.portal.client.http import AicommonsClient
from aicommons.portal.core.db import transaction
from aicommons.portal.core.time import utcnow
from tests.conftest import Portal
from tests.fixtures.datasets_processing import app_store
from tests.integration.test_datasets_api import API, CSV_CLEAN, dataset_body, manifest, put_parts
from tests.integration.test_datasets_s3 import s3_store  # noqa: F401  (fixture)

MiB = 1024 * 1024
SQLITE_ONLY = pytest.mark.parametrize("portal", ["sqlite"], indirect=True)


def _completed(bob: TestClient, files: dict[str, bytes], http: Any = None, slug: str = "signals") -> str:
    """A version whose upload is complete (`validating`); its id."""
    number = bob.post(f"{API}/datasets/{slug}/versions", json={}).json()["number"]
    plan = bob.post(f"{API}/datasets/{slug}/versions/{number}/uploads", json={"files": manifest(files)})
    assert plan.status_code == 200, plan.text
    put_parts(http or bob, plan.json(), files)
    done = bob.post(f"{API}/datasets/{slug}/versions/{number}/complete")
    assert done.status_code == 202 and done.json()["state"] == "validating", done.text
    return str(done.json()["id"])


def _version(portal: Portal, version_id: str) -> DatasetVersion:
    with transaction(portal.sessionmaker) as session:
        version = session.get(DatasetVersion, version_id, populate_existing=True)
        assert version is not None
        session.expunge(version)
        return version


def _claim(portal: Portal, owner: str, lease_s: float = 60.0, at: Any = None) -> list[str]:
    with transaction(portal.sessionmaker) as session:
        return processing.claim(session, owner, lease_s, at or utcnow())


def _audited(portal: Portal, action: str) -> list[AuditRecord]:
    with transaction(portal.sessionmaker) as session:
        rows = list(session.scalars(select(AuditRecord).where(AuditRecord.action == action)))
        for row in rows:
            session.expunge(row)
        return rows


def _wait_for(check: Callable[[], bool], timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


@pytest.fixture
def live_worker(portal: Portal) -> Iterator[Callable[..., DatasetWorker]]:
    """Start the app's worker threads as the lifespan would (nudged by the complete endpoint)."""
    started: list[DatasetWorker] = []

    def start(store: ObjectStore | None = None, **settings: Any) -> DatasetWorker:
        for name, value in {"datasets_worker_period_s": 0.2, **settings}.items():
            setattr(portal.settings, name, value)
        worker = DatasetWorker(
            portal.sessionmaker,
            lambda: store or app_store(portal.app),
            portal.settings,
            owner=f"w{len(started)}",
        )
        portal.app.state.datasets_worker = worker
        worker.start()
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


# --- the worker on its own -------------------------------------------------------------------


@SQLITE_ONLY
@pytest.mark.minio
def test_the_worker_decides_a_completed_upload_by_itself_on_minio(
    portal: Portal,
    s3_store: S3Store,  # noqa: F811
    client_for: Callable[..., TestClient],
    live_worker: Callable[..., DatasetWorker],
) -> None:
    live_worker(s3_store, datasets_worker_period_s=60.0)  # only the nudge can make it this quick
    bob = client_for("bob")
    assert bob.post(f"{API}/datasets", json=dataset_body()).status_code == 201
    big = os.urandom(6 * MiB)
    with httpx.Client() as http:
        version_id = _completed(bob, {"train.csv": CSV_CLEAN, "blob.bin": big}, http)
    _wait_for(lambda: _version(portal, version_id).state != "validating", timeout_s=20)
    version = _version(portal, version_id)
    assert version.state == "ready" and version.digest and version.digest.startswith("sha256:")
    assert version.lease_owner is None and version.lease_expires_at is None  # released
    assert version.validation_report and version.validation_report["record_count"] == 3
    keys = sorted(o.object_name or "" for o in s3_store.client.list_objects(s3_store.bucket, recursive=True))
    assert [k.rsplit("/", 2)[-2:] for k in keys] == [
        ["_aicommons", "manifest.json"],
        ["data", "blob.bin"],
        ["data", "train.csv"],
    ]
    [audit] = _audited(portal, "dataset.upload_verified")
    assert audit.actor_id is None and audit.data["state"] == "ready"


@pytest.fixture
def hashed(monkeypatch: pytest.MonkeyPatch) -> Callable[[str], None]:
    """`push` hashes files while their parts are sent. A test that changes a file under a push waits
    until that file has been hashed, so that what is declared is the bytes before the change and
    what is sent the bytes after it, every time (the client's own hashing, only observed)."""
    events: dict[str, threading.Event] = {}
    lock = threading.Lock()
    real = client_datasets.file_sha256

    def event(name: str) -> threading.Event:
        with lock:
            return events.setdefault(name, threading.Event())

    def observed(path: Path) -> str:
        digest = real(path)
        event(path.name).set()
        return digest

    monkeypatch.setattr(client_datasets, "file_sha256", observed)

    def wait(name: str) -> None:
        assert event(name).wait(30), f"{name} was never hashed"

    return wait


@SQLITE_ONLY
@pytest.mark.minio
def test_a_mismatch_found_in_the_background_is_sent_again_by_push(
    portal: Portal,
    s3_store: S3Store,  # noqa: F811
    live_worker: Callable[..., DatasetWorker],
    tmp_path: Path,
    hashed: Callable[[str], None],
) -> None:
    live_worker(s3_store)
    bob, source = _version_to_push(portal, tmp_path)
    good = os.urandom(7 * MiB)
    (source / "a.bin").write_bytes(good)
    (source / "b.bin").write_bytes(b"small and fine")
    client = _in_process_client(portal, bob)
    events: list[tuple[str, list[str]]] = []

    def on_total(_: int) -> None:  # hashed, before the first parts leave: the file changes
        if not events:
            hashed("a.bin")
            (source / "a.bin").write_bytes(b"X" * len(good))

    def on_state(state: str, paths: list[str]) -> None:
        events.append((state, paths))
        (source / "a.bin").write_bytes(good)  # the resend reads the bytes the manifest promised

    version = client.push("signals", 1, source, workers=2, on_total=on_total, on_state=on_state)
    assert version.state == "ready" and version.mismatched_paths == []
    assert events == [("validating", []), ("resend", ["a.bin"]), ("validating", [])]
    verified = _audited(portal, "dataset.upload_verified")
    assert [a.data["mismatched"] for a in verified] == [["a.bin"], []]
    assert bob.post(f"{API}/datasets/signals/versions/1/publish").status_code == 200
    links = bob.post(f"{API}/datasets/signals/versions/1/download").json()["files"]
    url = next(f["url"] for f in links if f["path"] == "a.bin")
    assert httpx.get(url, timeout=60).content == good


@SQLITE_ONLY
@pytest.mark.minio
def test_push_names_the_files_that_never_match(
    portal: Portal,
    s3_store: S3Store,  # noqa: F811
    live_worker: Callable[..., DatasetWorker],
    tmp_path: Path,
    hashed: Callable[[str], None],
) -> None:
    live_worker(s3_store)
    bob, source = _version_to_push(portal, tmp_path)
    (source / "moving.txt").write_bytes(b"first words")
    states: list[str] = []

    def keep_changing(_: int) -> None:
        hashed("moving.txt")
        (source / "moving.txt").write_bytes(b"other words")  # same size, other bytes, every time

    with pytest.raises(MismatchedFiles) as failed:
        _in_process_client(portal, bob).push(
            "signals",
            1,
            source,
            on_total=keep_changing,
            on_state=lambda s, _: states.append(s),
            resend_attempts=1,
        )
    assert failed.value.paths == ["moving.txt"] and "moving.txt" in failed.value.message
    assert states == ["validating", "resend", "validating"]
    version = bob.get(f"{API}/datasets/signals/versions/1").json()
    assert version["state"] == "uploading" and version["mismatched_paths"] == ["moving.txt"]


def _version_to_push(portal: Portal, tmp_path: Path) -> tuple[TestClient, Path]:
    """Bob's dataset "signals" with version 1 open for upload, and an empty folder to push from."""
    bob = portal.client("bob")
    assert bob.post(f"{API}/datasets", json=dataset_body(label_format="none")).status_code == 201
    assert bob.post(f"{API}/datasets/signals/versions", json={}).status_code == 201
    source = tmp_path / "source"
    source.mkdir()
    return bob, source


def _in_process_client(portal: Portal, signed_in: TestClient) -> DatasetsClient:
    """The real client, its API calls answered by the app in this process (parts go to MinIO)."""
    client = AicommonsClient("http://testserver")
    client._http.close()
    http = TestClient(portal.app, base_url="http://testserver/api/v1")
    http.headers["Authorization"] = signed_in.headers["Authorization"]
    client._http = http
    return DatasetsClient(client)


# --- leases: several replicas ----------------------------------------------------------------


def test_two_workers_never_process_the_same_version(
    portal: Portal, client_for: Callable[..., TestClient]
) -> None:
    bob = client_for("bob")
    bob.post(f"{API}/datasets", json=dataset_body())
    first = _completed(bob, {"a.csv": CSV_CLEAN})
    second = _completed(bob, {"b.csv": CSV_CLEAN})
    busy = bob.post(f"{API}/datasets/signals/versions/2/uploads", json={"files": manifest({"c.csv": b"c"})})
    assert busy.status_code == 409 and busy.json()["error"]["code"] == "dataset.validating"
    assert bob.delete(f"{API}/datasets/signals/versions/2/uploads").status_code == 409
    taken_by_a = _claim(portal, "replica-a")
    taken_by_b = _claim(portal, "replica-b")
    assert sorted(taken_by_a) == sorted([first, second]) and taken_by_b == []  # a holds both leases
    store = app_store(portal.app)
    assert processing.process(portal.sessionmaker, store, first, "replica-b") is None  # not b's lease
    assert _version(portal, first).state == "validating"
    assert processing.process(portal.sessionmaker, store, first, "replica-a") == "ready"
    assert processing.process(portal.sessionmaker, store, first, "replica-a") is None  # decided once
    assert processing.process(portal.sessionmaker, store, second, "replica-a") == "ready"
    assert _claim(portal, "replica-b") == []
    assert len(_audited(portal, "dataset.upload_verified")) == 2


def test_an_expired_lease_is_taken_over(portal: Portal, client_for: Callable[..., TestClient]) -> None:
    bob = client_for("bob")
    bob.post(f"{API}/datasets", json=dataset_body())
    version_id = _completed(bob, {"a.csv": CSV_CLEAN})
    assert _claim(portal, "crashed", lease_s=30) == [version_id]
    assert _claim(portal, "survivor") == []  # still held
    later = utcnow() + timedelta(seconds=31)  # the first replica died and stopped renewing
    assert _claim(portal, "survivor", at=later) == [version_id]
    assert _version(portal, version_id).lease_owner == "survivor"
    store = app_store(portal.app)
    assert processing.process(portal.sessionmaker, store, version_id, "crashed") is None  # woke up too late
    assert processing.process(portal.sessionmaker, store, version_id, "survivor") == "ready"


def test_the_heartbeat_renews_only_leases_in_hand(
    portal: Portal, client_for: Callable[..., TestClient]
) -> None:
    bob = client_for("bob")
    bob.post(f"{API}/datasets", json=dataset_body())
    version_id = _completed(bob, {"a.csv": CSV_CLEAN})
    worker = DatasetWorker(
        portal.sessionmaker, lambda: app_store(portal.app), portal.settings, owner="beating"
    )
    assert worker.heartbeat() == 0  # nothing in hand
    assert worker._claim_one() == version_id and worker.held == [version_id]
    before = _version(portal, version_id).lease_expires_at
    assert before is not None
    worker.clock = lambda: utcnow() + timedelta(seconds=600)
    assert worker.heartbeat() == 1
    after = _version(portal, version_id).lease_expires_at
    assert after is not None and after > before + timedelta(seconds=500)
    worker._process(version_id)
    assert worker.held == [] and _version(portal, version_id).state == "ready"


# --- the periodic sweep ----------------------------------------------------------------------


def _start_upload(bob: TestClient, files: dict[str, bytes]) -> int:
    number: int = bob.post(f"{API}/datasets/signals/versions", json={}).json()["number"]
    plan = bob.post(f"{API}/datasets/signals/versions/{number}/uploads", json={"files": manifest(files)})
    put_parts(bob, plan.json(), files)
    return number


def _age(portal: Portal, number: int, by: timedelta) -> None:
    with transaction(portal.sessionmaker) as session:
        ds = session.scalars(select(Dataset).where(Dataset.slug == "signals")).one()
        version = repository.version(session, ds.id, number)
        assert version is not None
        version.upload_started_at = utcnow() - by


def test_the_sweep_runs_every_period_without_an_administrator(
    portal: Portal, client_for: Callable[..., TestClient]
) -> None:
    bob = client_for("bob")
    bob.post(f"{API}/datasets", json=dataset_body())
    first = _start_upload(bob, {"a.csv": CSV_CLEAN})
    _age(portal, first, timedelta(days=3))
    portal.settings.datasets_sweep_period_s = 3600
    worker = DatasetWorker(
        portal.sessionmaker, lambda: app_store(portal.app), portal.settings, owner="sweeper"
    )
    worker.run_once()  # the first cycle sweeps
    assert bob.get(f"{API}/datasets/signals/versions/{first}").json()["state"] == "draft"
    second = _start_upload(bob, {"b.csv": CSV_CLEAN})
    _age(portal, second, timedelta(days=3))
    worker.run_once()  # within the period: not yet
    assert bob.get(f"{API}/datasets/signals/versions/{second}").json()["state"] == "uploading"
    worker._next_sweep = time.monotonic()  # the period has passed
    worker.run_once()
    assert bob.get(f"{API}/datasets/signals/versions/{second}").json()["state"] == "draft"
    swept = _audited(portal, "dataset.upload_abandoned")
    assert [(a.actor_id, a.data["number"]) for a in swept] == [(None, first), (None, second)]


@SQLITE_ONLY
def test_the_live_worker_sweeps_an_abandoned_upload_by_itself(
    portal: Portal, client_for: Callable[..., TestClient], live_worker: Callable[..., DatasetWorker]
) -> None:
    bob = client_for("bob")
    bob.post(f"{API}/datasets", json=dataset_body())
    stale = _start_upload(bob, {"a.csv": CSV_CLEAN})
    _age(portal, stale, timedelta(days=3))
    live_worker(datasets_sweep_period_s=0.2)
    _wait_for(lambda: bob.get(f"{API}/datasets/signals/versions/{stale}").json()["state"] == "draft")
    assert [a.actor_id for a in _audited(portal, "dataset.upload_abandoned")] == [None]


# --- SQLite: no long write transaction -------------------------------------------------------


class GatedStore:
    """The app's real store, whose reads pause at the first chunk until the test opens the gate:
    the worker is then mid-pass, as it would be on a large version."""

    def __init__(self, store: ObjectStore) -> None:
        self.store = store
        self.reading = threading.Event()
        self.gate = threading.Event()

    def iter_bytes(self, key: str) -> Iterator[bytes]:
        for chunk in self.store.iter_bytes(key):
            self.reading.set()
            assert self.gate.wait(30), "the test never opened the gate"
            yield chunk

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)


@SQLITE_ONLY
def test_sqlite_portal_keeps_answering_writes_while_a_version_is_read(
    portal: Portal, client_for: Callable[..., TestClient], live_worker: Callable[..., DatasetWorker]
) -> None:
    bob = client_for("bob")
    bob.post(f"{API}/datasets", json=dataset_body())
    gated = GatedStore(app_store(portal.app))
    live_worker(gated)  # type: ignore[arg-type]
    version_id = _completed(bob, {"a.csv": CSV_CLEAN})
    assert gated.reading.wait(20), "the worker never started reading"
    try:
        started = time.monotonic()
        for n in range(3):  # writes while the pass is under way: none waits for a lock
            created = bob.post(f"{API}/datasets", json=dataset_body(slug=f"other-{n}"))
            assert created.status_code == 201, created.text
            assert bob.post(f"{API}/datasets/other-{n}/versions", json={}).status_code == 201
        assert time.monotonic() - started < 5  # a held write lock would cost busy_timeout (10 s) each
        assert _version(portal, version_id).state == "validating"
    finally:
        gated.gate.set()
    _wait_for(lambda: _version(portal, version_id).state == "ready")


@SQLITE_ONLY
def test_a_pass_that_fails_is_retried_after_its_lease_not_in_a_loop(
    portal: Portal, client_for: Callable[..., TestClient]
) -> None:
    """An object the store cannot read (here a folder where the file was) makes every pass fail:
    the cycle returns, the lease is kept (a back-off of `datasets_lease_s`), and once it has expired
    any worker tries again."""
    portal.settings.datasets_lease_s = 60.0
    bob = client_for("bob")
    assert bob.post(f"{API}/datasets", json=dataset_body()).status_code == 201
    version_id = _completed(bob, {"train.csv": CSV_CLEAN})
    with transaction(portal.sessionmaker) as session:
        version = session.get(DatasetVersion, version_id)
        assert version is not None
        ds = session.get(Dataset, version.dataset_id)
        assert ds is not None
        key = f"{version_prefix(ds.id, version.number)}/data/train.csv"
    stored = app_store(portal.app)._path(key)  # type: ignore[attr-defined]  # the local store's file
    stored.unlink()
    stored.mkdir()
    now = utcnow()
    first = DatasetWorker(
        portal.sessionmaker, lambda: app_store(portal.app), portal.settings, "w-a", lambda: now
    )
    cycle = threading.Thread(target=first.run_once, daemon=True)
    cycle.start()
    cycle.join(timeout=20)
    assert not cycle.is_alive(), "the cycle kept claiming the failing version"
    version = _version(portal, version_id)
    assert version.state == "validating" and version.lease_owner == "w-a"
    assert _claim(portal, "w-b", at=now + timedelta(seconds=30)) == []  # still held: backing off
    assert _claim(portal, "w-b", at=now + timedelta(seconds=61)) == [version_id]  # expired: retried
