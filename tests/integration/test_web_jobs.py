"""The job pages over the real app: tenancy, the submit form with an upload, bad input in both languages,
why a job waits after a real admission cycle, logs when the backend is unreachable, cancel, dashboard."""

from __future__ import annotations

import hashlib
import re
from typing import Any

from fastapi.testclient import TestClient

from aicommons.portal.core.i18n import translate
from aicommons.portal.web.messages import MESSAGES
from tests.conftest import PASSWORD, Portal
from tests.integration.test_api_allocations import make_flavours
from tests.integration.test_api_jobs import spec, zip_bytes

CSRF_RE = re.compile(r'name="csrf_token" value="([0-9a-f]+)"')
POLLING = 'hx-trigger="every 3s"'
UNREACHABLE = "http://127.0.0.1:9"  # nothing listens on the discard port


def _csrf(html: str) -> str:
    match = CSRF_RE.search(html)
    assert match, "no CSRF token in the page"
    return match.group(1)


def _sign_in(portal: Portal, username: str, lang: str = "en") -> TestClient:
    client = TestClient(portal.app, raise_server_exceptions=False, follow_redirects=False)
    page = client.get("/login")
    response = client.post(
        "/login", data={"username": username, "password": PASSWORD, "csrf_token": _csrf(page.text)}
    )
    assert response.status_code == 303, response.text
    # The choice is stored on the user, so set it every time rather than inherit the last test's.
    code = "zh-CN" if lang == "zh" else "en"
    switched = client.post(f"/lang/{code}", data={"csrf_token": _csrf(client.get("/jobs").text)})
    assert switched.status_code == 303
    return client


def _text(key: str, lang: str = "en", **params: Any) -> str:
    return MESSAGES[key][lang].format(**params)


def _escaped(text: str) -> str:
    """As Jinja's autoescape writes it into the page."""
    return text.replace("&", "&amp;").replace("'", "&#39;").replace('"', "&#34;").replace(">", "&gt;")


def _form(**overrides: Any) -> dict[str, Any]:
    form = {
        "org": "acme",
        "name": "detector-v1",
        "entrypoint": "python train.py --epochs 2",
        "pip": "numpy>=1.26\n\nrich\n",
        "flavour": "H100-80G",
        "gpus_per_worker": "2",
        "workers": "1",
        "time_limit_hours": "1",
        "time_limit_minutes": "30",
        "priority": "5",
        "mlflow_experiment": "detectors",
    }
    form.update(overrides)
    return form


def _post_form(client: TestClient, form: dict[str, Any], archive: bytes | None = None) -> Any:
    page = client.get("/jobs/new")
    assert page.status_code == 200, page.text
    files = {"workdir": ("work.zip", archive, "application/zip")} if archive else None
    return client.post("/jobs/new", data={**form, "csrf_token": _csrf(page.text)}, files=files)


def _admission_cycle(portal: Portal) -> Any:
    from aicommons.scheduler.jobs.reconciler import Reconciler
    from aicommons.scheduler.launchers.registry import create

    # admit() decides from the database alone; the launcher is never called by it.
    return Reconciler(portal.sessionmaker, portal.settings, create("ray", address=UNREACHABLE)).admit()


def test_members_see_only_their_organisations_jobs(portal: Portal) -> None:
    root, alice_api, carol_api = portal.client("root"), portal.client("alice"), portal.client("carol")
    make_flavours(root)
    acme_job = alice_api.post("/api/v1/jobs", json=spec(name="acme-secret-run")).json()
    beta_job = carol_api.post("/api/v1/jobs", json=spec(org="beta", name="beta-secret-run")).json()

    alice = _sign_in(portal, "alice")
    page = alice.get("/jobs")
    assert page.status_code == 200
    assert "acme-secret-run" in page.text and f'href="/jobs/{acme_job["id"]}"' in page.text
    assert "beta-secret-run" not in page.text
    assert _text("web.jobs.state.QUEUED") in page.text
    # the table refreshes itself, through a fragment that carries no page around it
    assert 'hx-get="/jobs/table"' in page.text and POLLING in page.text
    table = alice.get("/jobs/table")
    assert table.status_code == 200 and "acme-secret-run" in table.text and "<html" not in table.text
    assert 'href="/jobs"' in page.text and 'aria-current="page"' in page.text

    carol = _sign_in(portal, "carol")
    theirs = carol.get("/jobs")
    assert "beta-secret-run" in theirs.text and "acme-secret-run" not in theirs.text
    assert carol.get(f"/jobs/{acme_job['id']}").status_code == 404
    assert carol.get(f"/jobs/{acme_job['id']}/logs").status_code == 404
    assert carol.get(f"/jobs/{acme_job['id']}/status").status_code == 404
    assert carol.get("/jobs", params={"org": "acme"}).status_code == 404
    cancel = carol.post(f"/jobs/{acme_job['id']}/cancel", data={"csrf_token": _csrf(theirs.text)})
    assert cancel.status_code == 404
    assert alice_api.get(f"/api/v1/jobs/{acme_job['id']}").json()["state"] == "QUEUED"
    assert alice.get(f"/jobs/{beta_job['id']}").status_code == 404

    # filters: by state and by organisation
    assert "acme-secret-run" not in alice.get("/jobs", params={"state": "RUNNING"}).text
    assert "acme-secret-run" in alice.get("/jobs", params={"state": "QUEUED", "org": "acme"}).text
    assert alice.get("/jobs", params={"state": "BOGUS"}).status_code == 422


def test_the_form_submits_a_queued_job_with_its_archive(portal: Portal) -> None:
    make_flavours(portal.client("root"))
    alice = _sign_in(portal, "alice")
    new = alice.get("/jobs/new")
    assert new.status_code == 200
    assert 'enctype="multipart/form-data"' in new.text and 'accept=".zip' in new.text
    assert _text("web.jobs.form.flavour_option", name="H100-80G", capacity=8) in new.text
    archive = zip_bytes({"train.py": b"print('hello')\n"})

    created = _post_form(alice, _form(), archive)  # "preemptible" unchecked: absent from the form
    assert created.status_code == 303, created.text
    job_id = created.headers["location"].rsplit("/", 1)[1]
    job = portal.client("alice").get(f"/api/v1/jobs/{job_id}").json()
    assert job["state"] == "QUEUED" and job["org"] == "acme" and job["name"] == "detector-v1"
    assert job["workdir_sha256"] == hashlib.sha256(archive).hexdigest()
    assert job["pip"] == ["numpy>=1.26", "rich"] and job["time_limit_s"] == 5400
    assert job["gpus"] == 2 and job["priority"] == 5 and job["preemptible"] is False
    assert job["mlflow_experiment"] == "detectors"

    page = alice.get(created.headers["location"])
    assert page.status_code == 200
    assert _text("web.jobs.submitted", name="detector-v1") in page.text
    assert _text("web.jobs.state.QUEUED") in page.text
    # not yet seen by an admission cycle (none runs here): said so, not left blank
    assert _escaped(translate("job.reason.pending", "en")) in page.text
    assert _text("web.jobs.spec.time_limit", hours=1, minutes=30) in page.text
    assert 'href="/orgs/acme/models"' in page.text
    # queued: status and logs keep polling; there are no logs before the job starts
    assert f'hx-get="/jobs/{job_id}/status" {POLLING}' in page.text
    assert f'hx-get="/jobs/{job_id}/logs" {POLLING}' in page.text
    assert _text("web.jobs.logs.not_started") in page.text

    checked = _post_form(alice, _form(name="second", preemptible="on"))
    assert checked.status_code == 303
    second = checked.headers["location"].rsplit("/", 1)[1]
    assert portal.client("alice").get(f"/api/v1/jobs/{second}").json()["preemptible"] is True


def test_bad_input_is_explained_in_the_pages_language_and_kept(portal: Portal) -> None:
    make_flavours(portal.client("root"))
    for lang in ("en", "zh"):
        client = _sign_in(portal, "alice", lang)
        too_many = _post_form(client, _form(name="too-big", gpus_per_worker="8", workers="2"))
        assert too_many.status_code == 422, too_many.text
        expected = translate(
            "job.gpus_over_capacity", lang, {"gpus": 16, "flavour": "H100-80G", "capacity": 8}
        )
        assert expected in too_many.text and "alert-error" in too_many.text
        assert 'value="too-big"' in too_many.text and 'value="8"' in too_many.text
        assert "python train.py --epochs 2" in too_many.text

        no_time = _post_form(client, _form(name="no-time", time_limit_hours="0", time_limit_minutes="0"))
        assert no_time.status_code == 422
        fields = _text("web.jobs.form.time_limit", lang)
        assert _text("web.form.invalid", lang, fields=fields) in no_time.text
        assert 'value="no-time"' in no_time.text

        unreadable = _post_form(client, _form(name="bad-zip"), b"not a zip at all")
        assert unreadable.status_code == 422
        assert _escaped(_text("web.jobs.form.reattach", lang)) in unreadable.text
    assert portal.client("alice").get("/api/v1/jobs").json()["total"] == 0
    # without the form's CSRF token nothing is submitted
    client = _sign_in(portal, "alice")
    assert client.post("/jobs/new", data=_form()).status_code == 403
    assert portal.client("alice").get("/api/v1/jobs").json()["total"] == 0


def _quota_for_acme(portal: Portal, root: TestClient, guaranteed: int) -> None:
    """Ten GPU-hours requested by a member and approved by root, and a concurrency quota on H100-80G."""
    window = {"valid_from": "2020-01-01T00:00:00Z", "valid_until": "2100-01-01T00:00:00Z"}
    body = {"org": "acme", "gpu_hours": 10, "purpose": "training", **window}
    grant = portal.client("alice").post("/api/v1/allocations", json=body)
    assert grant.status_code == 201, grant.text
    assert root.post(f"/api/v1/allocations/{grant.json()['id']}/approve", json={}).status_code == 200
    quota = {"org": "acme", "flavour": "H100-80G", "guaranteed_gpus": guaranteed,
             "borrow_limit_gpus": 0, "lend_limit_gpus": 0}  # fmt: skip
    assert root.put("/api/v1/quotas", json=quota).status_code == 200


def test_the_job_page_says_why_a_job_waits_after_an_admission_cycle(portal: Portal) -> None:
    root, alice_api = portal.client("root"), portal.client("alice")
    make_flavours(root)
    _quota_for_acme(portal, root, guaranteed=4)
    first = alice_api.post("/api/v1/jobs", json=spec(name="first", gpus_per_worker=4, workers=1)).json()
    second = alice_api.post("/api/v1/jobs", json=spec(name="second", gpus_per_worker=2, workers=1)).json()
    result = _admission_cycle(portal)
    assert result is not None and result.admit == [first["id"]]
    wait = alice_api.get(f"/api/v1/jobs/{second['id']}/why").json()
    assert wait["reason"] == "quota_full"

    for lang in ("en", "zh"):
        client = _sign_in(portal, "alice", lang)
        expected = alice_api.get(f"/api/v1/jobs/{second['id']}/why", headers={"Accept-Language": lang})
        message = expected.json()["message"]
        page = client.get(f"/jobs/{second['id']}")
        assert page.status_code == 200
        assert _escaped(message) in page.text and _text("web.jobs.wait", lang) in page.text
        listed = client.get("/jobs")
        assert _escaped(message) in listed.text
        assert _text("web.jobs.position", lang, org=wait["org_position"]) in listed.text
    assert "配额" in message

    # The admitted job has logs to show, but the compute backend cannot be reached: a clear message.
    portal.app.state.launcher = _unreachable_launcher()
    client = _sign_in(portal, "alice")
    logs = client.get(f"/jobs/{first['id']}/logs")
    assert logs.status_code == 200, logs.text
    assert _text("web.jobs.logs.unavailable", detail="").rstrip(": ") in logs.text
    assert "127.0.0.1:9" in logs.text and "Traceback" not in logs.text
    assert POLLING in logs.text  # still admitted: try again later
    page = client.get(f"/jobs/{first['id']}")
    assert page.status_code == 200 and _text("web.jobs.state.ADMITTED") in page.text


def _unreachable_launcher() -> Any:
    from aicommons.scheduler.launchers.registry import create

    return create("ray", address=UNREACHABLE)


def test_cancel_from_the_job_page(portal: Portal) -> None:
    make_flavours(portal.client("root"))
    alice = _sign_in(portal, "alice")
    created = _post_form(alice, _form(name="to-cancel"))
    job_path = created.headers["location"]
    page = alice.get(job_path)
    assert _text("web.jobs.cancel") in page.text
    assert alice.post(f"{job_path}/cancel", data={}).status_code == 403  # no CSRF token
    cancelled = alice.post(f"{job_path}/cancel", data={"csrf_token": _csrf(page.text)})
    assert cancelled.status_code == 303 and cancelled.headers["location"] == job_path
    after = alice.get(job_path)
    assert _text("web.jobs.cancelled", name="to-cancel") in after.text
    assert _text("web.jobs.state.CANCELLED") in after.text
    assert translate("job.message.cancelled", "en", {"user": "alice"}) in after.text
    history = f"{_text('web.jobs.state.QUEUED')} → {_text('web.jobs.state.CANCELLED')}"
    assert history in after.text
    assert POLLING not in after.text  # ended: nothing polls any more
    assert f'action="{job_path}/cancel"' not in after.text
    assert POLLING not in alice.get(f"{job_path}/status").text
    again = alice.post(f"{job_path}/cancel", data={"csrf_token": _csrf(after.text)})
    assert again.status_code == 409 and "alert-error" in again.text
    job_id = job_path.rsplit("/", 1)[1]
    assert portal.client("alice").get(f"/api/v1/jobs/{job_id}").json()["state"] == "CANCELLED"


def test_the_dashboard_shows_balance_and_jobs(portal: Portal) -> None:
    root, alice_api = portal.client("root"), portal.client("alice")
    make_flavours(root)
    _quota_for_acme(portal, root, guaranteed=8)
    created = [
        alice_api.post("/api/v1/jobs", json=spec(name=f"run-{i}", gpus_per_worker=1)).json() for i in range(6)
    ]
    alice = _sign_in(portal, "alice")
    page = alice.get("/")
    assert page.status_code == 200
    assert _text("web.dashboard.balance_total", hours=10.0) in page.text
    assert _text("web.dashboard.job_counts", running=0, queued=6) in page.text
    assert f'href="/jobs/{created[-1]["id"]}"' in page.text  # the newest five, not the oldest
    assert f'href="/jobs/{created[0]["id"]}"' not in page.text
    carol = _sign_in(portal, "carol")
    theirs = carol.get("/")
    assert _text("web.dashboard.job_counts", running=0, queued=0) in theirs.text
    assert "run-5" not in theirs.text


def test_the_dataset_picker_offers_what_the_organisation_may_read(portal: Portal) -> None:
    from tests.integration.test_datasets_api import CSV_CLEAN, dataset_body, upload_version

    make_flavours(portal.client("root"))
    bob = portal.client("bob")
    versions = {}
    for slug, level in (("open-signals", "L1"), ("closed-signals", "L3")):
        assert bob.post("/api/v1/datasets", json=dataset_body(slug=slug, level=level)).status_code == 201
        upload_version(bob, slug, {"t.csv": CSV_CLEAN})
        assert bob.post(f"/api/v1/datasets/{slug}/versions/1/publish").status_code == 200
        versions[slug] = bob.get(f"/api/v1/datasets/{slug}/versions").json()[0]["id"]

    alice = _sign_in(portal, "alice")  # acme owns both
    mine = alice.get("/jobs/new").text
    assert f'value="{versions["open-signals"]}"' in mine and f'value="{versions["closed-signals"]}"' in mine
    carol = _sign_in(portal, "carol")  # beta: the L3 dataset needs a grant it does not have
    theirs = carol.get("/jobs/new").text
    assert f'value="{versions["open-signals"]}"' in theirs
    assert f'value="{versions["closed-signals"]}"' not in theirs

    form = _form(org="beta", name="reads-open", dataset_version_ids=[versions["open-signals"]])
    created = _post_form(carol, form)
    assert created.status_code == 303, created.text
    job_id = created.headers["location"].rsplit("/", 1)[1]
    job = portal.client("carol").get(f"/api/v1/jobs/{job_id}").json()
    assert job["dataset_version_ids"] == [versions["open-signals"]]
    assert [d["dataset"] for d in job["datasets"]] == ["open-signals"]
    assert 'href="/datasets/open-signals"' in carol.get(created.headers["location"]).text

    forged = _post_form(
        carol, _form(org="beta", name="reads-closed", dataset_version_ids=[versions["closed-signals"]])
    )
    assert forged.status_code == 403 and "alert-error" in forged.text
    assert f'value="{versions["closed-signals"]}"' not in forged.text
    assert portal.client("carol").get("/api/v1/jobs").json()["total"] == 1
