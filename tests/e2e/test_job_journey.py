"""A start-up submits a job and watches it finish, in headless Chromium, once per language.

The portal is served with its reconcile loop on and a real Ray head behind it. A member of an
organisation with approved GPU-hours and a quota on the head's flavour opens the jobs page, fills
the submit form (a zip of a tiny script as the working directory), and watches the job's page:
htmx polls the status card and the logs panel, so without reloading, the state badge reaches
"succeeded" and the logs show what the script printed. Screenshots go to tests/e2e/screenshots/.
"""

from __future__ import annotations

import io
import re
import textwrap
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fixtures.portal_server import ServedPortal, serve_portal

from .test_journeys import BROWSER_LOCALE, Ui

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

PASSWORD = "startup-pass-123"
VIEWPORT = {"width": 1366, "height": 860}
FINISH_TIMEOUT_MS = 180_000
SCRIPT = textwrap.dedent(
    """
    import time
    for step in range(3):
        print(f"hello from the job, step {step}", flush=True)
    time.sleep(2)
    print("training done", flush=True)
    """
)


@pytest.fixture(scope="module")
def scheduled_portal(ray_head: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedPortal]:
    env = {
        "AICOMMONS_SCHEDULER_ENABLED": "true",
        "AICOMMONS_RAY_EXTERNAL_DASHBOARD_URL": ray_head.dashboard_url,
        "AICOMMONS_SCHEDULER_PERIOD_S": "0.5",
    }
    with serve_portal(tmp_path_factory.mktemp("job-journey"), env) as served:
        _seed(served, ray_head.flavour, ray_head.capacity)
        yield served


def _token(served: ServedPortal, username: str, password: str) -> str:
    response = httpx.post(
        f"{served.url}/api/v1/auth/token", json={"username": username, "password": password}, timeout=30
    )
    response.raise_for_status()
    return str(response.json()["access_token"])


def _seed(served: ServedPortal, flavour: str, capacity: int) -> None:
    """The flavour, a start-up with its member, GPU-hours requested by the member and approved by
    the administrator, and a quota guaranteeing the start-up the whole flavour."""
    admin_headers = {"Authorization": f"Bearer {_token(served, 'admin', served.admin_password)}"}
    with httpx.Client(base_url=f"{served.url}/api/v1", headers=admin_headers, timeout=30) as admin:
        admin.post(
            "/flavours", json={"name": flavour, "pool": "test", "capacity_gpus": capacity}
        ).raise_for_status()
        admin.post("/orgs", json={"slug": "startup", "name": "Startup Robotics"}).raise_for_status()
        admin.post("/users", json={"username": "founder", "password": PASSWORD}).raise_for_status()
        admin.post("/orgs/startup/members", json={"username": "founder"}).raise_for_status()
        member_headers = {"Authorization": f"Bearer {_token(served, 'founder', PASSWORD)}"}
        window = {"valid_from": "2020-01-01T00:00:00Z", "valid_until": "2100-01-01T00:00:00Z"}
        body = {"org": "startup", "flavour": flavour, "gpu_hours": 50, "purpose": "first model", **window}
        requested = httpx.post(
            f"{served.url}/api/v1/allocations", json=body, headers=member_headers, timeout=30
        )
        requested.raise_for_status()
        admin.post(f"/allocations/{requested.json()['id']}/approve", json={}).raise_for_status()
        quota = {"org": "startup", "flavour": flavour, "guaranteed_gpus": capacity,
                 "borrow_limit_gpus": 0, "lend_limit_gpus": 0}  # fmt: skip
        admin.put("/quotas", json=quota).raise_for_status()


def _workdir_zip(folder: Path) -> Path:
    path = folder / "hello-job.zip"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("hello.py", SCRIPT)
    path.write_bytes(buffer.getvalue())
    return path


def _watch_errors(page: Any) -> list[str]:
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    return errors


def _sign_in(ui: Ui, served: ServedPortal, lang: str) -> None:
    from playwright.sync_api import expect

    ui.page.goto(f"{served.url}/login")
    ui.sign_in("founder", PASSWORD)
    # Signed in, the page speaks the language stored on the account (the previous run's): switch.
    expect(ui.page).not_to_have_url(re.compile(r"/login"))
    ui.switch_language(lang)


def _submit(ui: Ui, archive: Path, flavour: str, name: str, shots: Path) -> None:
    from playwright.sync_api import expect

    page = ui.page
    ui.nav("web.nav.jobs")
    expect(page.get_by_role("heading", level=1)).to_have_text(ui.t("web.jobs.title"))
    page.get_by_role("link", name=ui.t("web.jobs.new")).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(ui.t("web.jobs.new"))
    page.get_by_label(ui.t("web.jobs.form.name")).fill(name)
    page.get_by_label(ui.t("web.jobs.form.entrypoint")).fill("python hello.py")
    page.get_by_label(ui.t("web.jobs.form.workdir")).set_input_files(str(archive))
    flavour_select = page.get_by_label(ui.t("web.jobs.form.flavour"))
    flavour_select.select_option(flavour)
    page.get_by_label(ui.t("web.jobs.form.gpus_per_worker")).fill("1")
    page.locator("#job-hours").fill("0")
    page.locator("#job-minutes").fill("10")
    page.get_by_label(ui.t("web.jobs.form.mlflow")).fill("first-steps")
    page.evaluate("window.scrollTo(0, 0)")  # full-page shots from the top: the sticky header stays put
    page.screenshot(path=str(shots / f"job-submit-{ui.lang}.png"), full_page=True)
    page.get_by_role("button", name=ui.t("web.jobs.form.submit")).click()
    expect(page).to_have_url(re.compile(r"/jobs/[0-9a-f-]{36}$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(ui.t("web.jobs.detail.title", name=name))
    expect(page.locator("#flash-region")).to_contain_text(ui.t("web.jobs.submitted", name=name))


def _watch_until_finished(ui: Ui, shots: Path) -> str:
    """No reload: the polled status card and logs panel bring the news. Returns the job id."""
    from playwright.sync_api import expect

    page = ui.page
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(shots / f"job-submitted-{ui.lang}.png"), full_page=True)
    badge = page.locator("#job-status .job-state")
    expect(badge).to_have_text(ui.t("web.jobs.state.SUCCEEDED"), timeout=FINISH_TIMEOUT_MS)
    logs = page.locator("#job-logs pre")
    expect(logs).to_contain_text("hello from the job, step 2", timeout=30_000)
    expect(logs).to_contain_text("training done")
    # Ended: both fragments stopped polling and the cancel button is gone.
    expect(page.locator("#job-status")).not_to_have_attribute("hx-trigger", re.compile("every"))
    expect(page.locator("#job-logs")).not_to_have_attribute("hx-trigger", re.compile("every"))
    expect(page.get_by_role("button", name=ui.t("web.jobs.cancel"))).to_have_count(0)
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(shots / f"job-finished-{ui.lang}.png"), full_page=True)
    return page.url.rsplit("/", 1)[1]


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_a_startup_submits_a_job_and_watches_it_finish(
    scheduled_portal: ServedPortal,
    ray_head: Any,
    browser: Any,
    screenshot_dir: Path,
    tmp_path: Path,
    lang: str,
) -> None:
    from playwright.sync_api import expect

    context = browser.new_context(locale=BROWSER_LOCALE[lang], viewport=VIEWPORT)
    try:
        ui = Ui(context.new_page(), scheduled_portal.url, lang, screenshot_dir, f"{lang}-job")
        errors = _watch_errors(ui.page)
        _sign_in(ui, scheduled_portal, lang)
        name = f"hello-{lang}"
        _submit(ui, _workdir_zip(tmp_path), ray_head.flavour, name, screenshot_dir)
        job_id = _watch_until_finished(ui, screenshot_dir)

        # The list and the dashboard agree with the job's page.
        ui.nav("web.nav.jobs")
        row = ui.page.locator(f"#job-{job_id}")
        expect(row).to_contain_text(name)
        expect(row.locator(".job-state")).to_have_text(ui.t("web.jobs.state.SUCCEEDED"))
        ui.page.screenshot(path=str(screenshot_dir / f"job-list-{lang}.png"), full_page=True)
        ui.nav("web.nav.dashboard")
        expect(ui.page.get_by_role("link", name=name)).to_be_visible()
        assert not errors, errors
    finally:
        context.close()
    # The API tells the same story: the job ran on Ray and was metered.
    headers = {"Authorization": f"Bearer {_token(scheduled_portal, 'founder', PASSWORD)}"}
    job = httpx.get(f"{scheduled_portal.url}/api/v1/jobs/{job_id}", headers=headers, timeout=30).json()
    assert job["state"] == "SUCCEEDED" and job["started_at"] and job["ended_at"]
    assert job["workdir_sha256"] and job["mlflow_experiment"] == "first-steps"
