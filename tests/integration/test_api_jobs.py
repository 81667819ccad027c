"""Job submission through the API: the spec, bad input, tenancy, archives, cancellation of queued jobs."""

from __future__ import annotations

import hashlib
import io
import zipfile
from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

from tests.integration.test_api_allocations import granted, make_flavours


def spec(**extra: Any) -> dict[str, Any]:
    return {
        "name": "resnet",
        "org": "acme",
        "entrypoint": "python train.py --epochs 1",
        "flavour": "H100-80G",
        "gpus_per_worker": 2,
        "workers": 2,
        "time_limit_s": 3600,
        **extra,
    }


def zip_bytes(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def upload(client: TestClient, data: bytes, org: str = "acme", sha: str | None = None) -> Any:
    form = {"org": org, **({"sha256": sha} if sha else {})}
    return client.post("/api/v1/jobs/archives", data=form, files={"file": ("w.zip", data, "application/zip")})


def test_member_submits_and_sees_a_queued_job(client_for: Callable[..., TestClient]) -> None:
    root, alice, carol = client_for("root"), client_for("alice"), client_for("carol")
    make_flavours(root)
    archive = zip_bytes({"train.py": b"print('hi')\n", "lib/util.py": b"X = 1\n"})
    stored = upload(alice, archive, sha=hashlib.sha256(archive).hexdigest())
    assert stored.status_code == 201, stored.text
    assert stored.json() == {"sha256": hashlib.sha256(archive).hexdigest(), "size_bytes": len(archive)}
    created = alice.post(
        "/api/v1/jobs",
        json=spec(workdir_sha256=stored.json()["sha256"], pip=["numpy>=1.26"], mlflow_experiment="exp"),
    )
    assert created.status_code == 201, created.text
    job = created.json()
    assert job["state"] == "QUEUED" and job["gpus"] == 4 and job["org"] == "acme" and job["attempt"] == 0
    assert job["flavour"] == "H100-80G" and job["pip"] == ["numpy>=1.26"]
    assert alice.get(f"/api/v1/jobs/{job['id']}").json()["id"] == job["id"]
    assert [j["id"] for j in alice.get("/api/v1/jobs", params={"org": "acme"}).json()["items"]] == [job["id"]]
    # another organisation's member neither sees it nor can cancel it
    assert carol.get(f"/api/v1/jobs/{job['id']}").status_code == 404
    assert carol.get("/api/v1/jobs").json()["total"] == 0
    assert carol.post(f"/api/v1/jobs/{job['id']}/cancel").status_code == 404
    # not yet explained by a cycle: it waits for the scheduler's next one
    pending = alice.get(f"/api/v1/jobs/{job['id']}/why").json()
    assert pending["reason"] == "pending" and pending["message"]
    cancelled = alice.post(f"/api/v1/jobs/{job['id']}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["state"] == "CANCELLED"
    assert cancelled.json()["note"] == "Cancelled by alice"
    zh_note = alice.get(f"/api/v1/jobs/{job['id']}", headers={"Accept-Language": "zh-CN"}).json()["note"]
    assert zh_note == "已由 alice 取消"
    again = alice.post(f"/api/v1/jobs/{job['id']}/cancel")
    assert again.status_code == 409 and again.json()["error"]["code"] == "job.already_ended"
    events = alice.get(f"/api/v1/jobs/{job['id']}/events").json()
    assert [(e["from_state"], e["to_state"]) for e in events] == [("QUEUED", "CANCELLED")]
    why = alice.get(f"/api/v1/jobs/{job['id']}/why")
    assert why.status_code == 409 and why.json()["error"]["code"] == "job.not_waiting"


def test_bad_job_specs_get_clear_4xx_and_store_nothing(client_for: Callable[..., TestClient]) -> None:
    root, alice = client_for("root"), client_for("alice")
    make_flavours(root)
    cases: list[tuple[dict[str, Any], int, str]] = [
        (spec(flavour="Z80"), 422, "flavour.not_found"),
        (spec(gpus_per_worker=8, workers=2), 422, "job.gpus_over_capacity"),
        (spec(time_limit_s=0), 422, "request.invalid"),
        (spec(time_limit_s=30 * 24 * 3600), 422, "job.time_limit_over_max"),
        (spec(org="beta"), 404, "org.not_found"),
        (spec(workdir_sha256="0" * 64), 422, "job.archive_not_found"),
        (spec(pip=["numpy; rm -rf /"]), 422, "request.invalid"),
    ]
    for body, status, code in cases:
        response = alice.post("/api/v1/jobs", json=body)
        assert response.status_code == status, (body, response.text)
        assert response.json()["error"]["code"] == code, response.text
        assert response.json()["error"]["message"]
    missing = {k: v for k, v in spec().items() if k != "time_limit_s"}
    assert alice.post("/api/v1/jobs", json=missing).status_code == 422
    zh = alice.post(
        "/api/v1/jobs", json=spec(gpus_per_worker=8, workers=2), headers={"Accept-Language": "zh-CN"}
    )
    assert "张" in zh.json()["error"]["message"]
    assert alice.get("/api/v1/jobs").json()["total"] == 0


def test_archives_are_checked(client_for: Callable[..., TestClient], portal: Any) -> None:
    alice, carol = client_for("alice"), client_for("carol")
    good = zip_bytes({"a.py": b"1"})
    mismatch = upload(alice, good, sha="f" * 64)
    assert mismatch.status_code == 422 and mismatch.json()["error"]["code"] == "job.archive_checksum_mismatch"
    not_zip = upload(alice, b"plain text, not a zip")
    assert not_zip.status_code == 422 and not_zip.json()["error"]["code"] == "job.archive_invalid"
    traversal = upload(alice, zip_bytes({"../../etc/evil": b"x"}))
    assert traversal.status_code == 422 and traversal.json()["error"]["code"] == "job.archive_unsafe_path"
    portal.settings.jobs_workdir_max_bytes = 1024
    big = upload(alice, zip_bytes({"big.bin": bytes(range(256)) * 64}))
    assert big.status_code == 422 and big.json()["error"]["code"] == "job.archive_too_large"
    assert upload(carol, good, org="acme").status_code == 404
    folder = portal.settings.data_dir / "job-archives"
    assert not folder.exists() or [p.name for p in folder.iterdir()] == []


def _admission_cycle(portal: Any) -> Any:
    from aicommons.scheduler.jobs.reconciler import Reconciler
    from aicommons.scheduler.launchers.registry import create

    # The cycle decides from the database alone; the launcher is not called by admit().
    launcher = create("ray", address="http://127.0.0.1:9")
    return Reconciler(portal.sessionmaker, portal.settings, launcher).admit()


def test_an_admission_cycle_admits_within_quota_and_balance_and_explains_the_rest(
    client_for: Callable[..., TestClient], portal: Any
) -> None:
    root, alice, carol = client_for("root"), client_for("alice"), client_for("carol")
    make_flavours(root)
    granted(root, alice, gpu_hours=10, flavour=None)
    quota = {
        "org": "acme",
        "flavour": "H100-80G",
        "guaranteed_gpus": 4,
        "borrow_limit_gpus": 0,
        "lend_limit_gpus": 0,
    }
    assert root.put("/api/v1/quotas", json=quota).status_code == 200
    first = alice.post("/api/v1/jobs", json=spec(gpus_per_worker=4, workers=1, time_limit_s=3600)).json()
    second = alice.post("/api/v1/jobs", json=spec(gpus_per_worker=2, workers=1, time_limit_s=3600)).json()
    # beta has no GPU-hours at all
    broke = carol.post("/api/v1/jobs", json=spec(org="beta", gpus_per_worker=1, workers=1)).json()
    result = _admission_cycle(portal)
    assert result is not None and result.admit == [first["id"]]
    assert alice.get(f"/api/v1/jobs/{first['id']}").json()["state"] == "ADMITTED"
    why = alice.get(f"/api/v1/jobs/{second['id']}/why")
    assert why.status_code == 200 and why.json()["reason"] == "quota_full", why.text
    assert "4" in why.json()["message"] and why.json()["org_position"] == 1
    zh = alice.get(f"/api/v1/jobs/{second['id']}/why", headers={"Accept-Language": "zh-CN"}).json()
    assert "配额" in zh["message"]
    poor = carol.get(f"/api/v1/jobs/{broke['id']}/why").json()
    assert poor["reason"] == "no_balance" and "GPU" in poor["message"]
    listed = {j["id"]: j for j in alice.get("/api/v1/jobs").json()["items"]}
    assert listed[second["id"]]["wait"]["reason"] == "quota_full"


def test_usage_of_a_job_is_visible_to_its_organisation_only(client_for: Callable[..., TestClient]) -> None:
    root, alice, carol = client_for("root"), client_for("alice"), client_for("carol")
    make_flavours(root)
    job = alice.post("/api/v1/jobs", json=spec()).json()
    assert alice.get(f"/api/v1/jobs/{job['id']}/usage").json() == []
    assert carol.get(f"/api/v1/jobs/{job['id']}/usage").status_code == 404
