"""The dataset journey in headless Chromium, once per language, with screenshots.

A data steward describes a restricted (L3) dataset in the publish wizard, uploads two files from
the browser (sha256 computed in the page, parts PUT to the embedded store's presigned URLs, the
progress bar reaching 100%), reads the validation report with its label chart and publishes. A
member of another organisation finds the dataset by searching in the page's language and requests
access for their organisation; the steward approves the request on the access-requests page, and
the member sees the grant.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from .conftest import LivePortal
from .test_journeys import BROWSER_LOCALE, Ui

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

PASSWORD = "dataset-pass-123"
CSV = b"text,label\nred light,stop\ngreen light,go\nyellow light,slow\nflashing red,stop\n"
README = "# Signals\n\nShort phrases about traffic lights.\n红绿灯短语。\n".encode()
VIEWPORT = {"width": 1366, "height": 800}
# Each journey's dataset, titled in both languages; distinct words, so each search finds one.
TITLES = {
    "en": {"en": "Traffic light phrases", "zh": "信号灯语句"},
    "zh": {"en": "Crossing signal sentences", "zh": "红绿灯短语"},
}


def _seed(portal: LivePortal, lang: str) -> tuple[str, str, str, str]:
    """A publishing organisation with its steward, and another organisation with a member."""
    publisher, buyer = f"signal-lab-{lang}", f"vision-co-{lang}"
    steward, member = f"ds-steward-{lang}", f"ds-member-{lang}"
    with httpx.Client(base_url=f"{portal.url}/api/v1", timeout=30) as api:
        token = api.post(
            "/auth/token", json={"username": portal.admin_username, "password": portal.admin_password}
        ).json()["access_token"]
        api.headers["Authorization"] = f"Bearer {token}"
        for org, user in ((publisher, steward), (buyer, member)):
            api.post("/orgs", json={"slug": org, "name": f"{org.title()}"}).raise_for_status()
            body = {"username": user, "password": PASSWORD, "display_name": user, "locale": lang}
            api.post("/users", json=body).raise_for_status()
    # Memberships through the organisation page, as an administrator would add them: the API
    # also mirrors them into Keycloak when one is configured, where these local users do not exist.
    with httpx.Client(base_url=portal.url, timeout=30) as web:
        csrf = _csrf(web.get("/login").text)
        login = {"username": portal.admin_username, "password": portal.admin_password, "csrf_token": csrf}
        assert web.post("/login", data=login).status_code == 303
        for org, user, role in ((publisher, steward, "steward"), (buyer, member, "member")):
            form = {"username": user, "role": role, "csrf_token": _csrf(web.get(f"/orgs/{org}").text)}
            assert web.post(f"/orgs/{org}/members", data=form).status_code == 303
    return publisher, buyer, steward, member


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([0-9a-f]+)"', html)
    assert match, "no CSRF token in the page"
    return match.group(1)


def _shot(ui: Ui, name: str, file: Path | None = None) -> None:
    """Full-page screenshots from the top, so that the sticky header covers nothing."""
    ui.page.evaluate("window.scrollTo(0, 0)")
    ui.shot(name)
    if file is not None:
        ui.page.screenshot(path=str(file), full_page=True)


def _flash(page: Any) -> Any:
    """The alert that a post/redirect/get leaves in the page's live region."""
    return page.locator("#flash-region").get_by_role("status")


def _watch_errors(page: Any) -> list[str]:
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    return errors


def _describe(ui: Ui, slug: str) -> None:
    """Step 1 of the wizard: the metadata form."""
    from playwright.sync_api import expect

    page = ui.page
    ui.nav("web.nav.datasets")
    page.get_by_role("link", name=ui.t("web.datasets.publish_new")).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(ui.t("web.datasets.new.title"))
    form = {
        "web.datasets.form.slug": slug,
        "web.datasets.form.title_zh": TITLES[ui.lang]["zh"],
        "web.datasets.form.title_en": TITLES[ui.lang]["en"],
        "web.datasets.form.description_zh": "关于交通信号灯的短句，用于文本分类。",
        "web.datasets.form.description_en": "Short sentences about traffic lights, for text classification.",
        "web.datasets.form.task": "text-classification",
        "web.datasets.form.classes": "stop, go, slow",
        "web.datasets.form.licence_id": "CC-BY-4.0",
        "web.datasets.form.keywords": "traffic, 红绿灯",
    }
    for key, value in form.items():
        page.get_by_label(ui.t(key), exact=True).fill(value)
    page.get_by_label(ui.t("web.datasets.form.domain"), exact=True).select_option("transport")
    page.get_by_label(ui.t("web.datasets.form.modality"), exact=True).select_option("text")
    page.get_by_label(ui.t("web.datasets.form.label_format"), exact=True).select_option("csv")
    page.get_by_label(f"L3 · {ui.t('web.datasets.level.L3')}").check()
    _shot(ui, "describe")
    page.get_by_role("button", name=ui.t("web.datasets.new.submit")).click()
    expect(_flash(page)).to_contain_text(ui.t("web.datasets.new.created", slug=slug))


def _upload_and_publish(ui: Ui, slug: str, shots: Path) -> None:
    """Steps 2 and 3: a version, two files through the browser, the reports, publishing."""
    from playwright.sync_api import expect

    page = ui.page
    page.get_by_label(ui.t("web.datasets.version.notes")).fill("first release · 首个版本")
    page.get_by_role("button", name=ui.t("web.datasets.version.create")).click()
    expect(_flash(page)).to_contain_text(ui.t("web.datasets.version.created", number=1))
    progress = page.get_by_role("progressbar", name=ui.t("web.datasets.upload.progress"))
    expect(progress).to_have_js_property("value", 0)
    page.get_by_label(ui.t("web.datasets.upload.files"), exact=True).set_input_files(
        [
            {"name": "train.csv", "mimeType": "text/csv", "buffer": CSV},
            {"name": "README.md", "mimeType": "text/markdown", "buffer": README},
        ]
    )
    status = page.locator("#upload-status")
    expect(status).to_have_text(
        ui.t("web.datasets.upload.selected", count=2, size=f"{len(CSV) + len(README)} B")
    )
    page.get_by_role("button", name=ui.t("web.datasets.upload.submit"), exact=True).click()
    # The portal answers at once; verification and validation run in its background worker.
    validating = ui.t("web.datasets.state.validating")
    expect(status).to_have_text(ui.t("web.datasets.upload.done", state=validating), timeout=30_000)
    expect(progress).to_have_js_property("value", 100)
    continue_link = page.get_by_role("link", name=ui.t("web.datasets.upload.continue"))
    expect(continue_link).to_be_focused()
    _shot(ui, "uploaded", shots / f"dataset-upload-{ui.lang}.png")

    continue_link.click()
    # Still validating, the page says so and refreshes itself (htmx, every second) once decided.
    state = ui.t("web.datasets.state.ready")
    expect(page.locator("#version-state")).to_have_text(state, timeout=30_000)
    expect(page.locator("#version-processing")).to_have_count(0)
    expect(page.get_by_text(ui.t("web.datasets.validation.ok"))).to_be_visible()
    expect(page.locator("[data-bar-chart] svg")).to_be_visible()  # the label statistics chart
    expect(page.get_by_text(ui.t("web.datasets.scan.clean"))).to_be_visible()
    expect(page.get_by_role("cell", name="train.csv")).to_be_visible()
    _shot(ui, "review")
    page.get_by_role("button", name=ui.t("web.datasets.publish.submit", number=1)).click()
    expect(_flash(page)).to_contain_text(ui.t("web.datasets.publish.done", number=1))
    expect(page.get_by_role("heading", level=1)).to_contain_text(TITLES[ui.lang][ui.lang])
    expect(page.get_by_text(ui.t("web.datasets.state.published"), exact=True)).to_be_visible()
    _shot(ui, "published", shots / f"dataset-publish-{ui.lang}.png")


def _request_access(ui: Ui, buyer: str) -> None:
    from playwright.sync_api import expect

    page = ui.page
    ui.nav("web.nav.datasets")
    search = page.get_by_role("searchbox", name=ui.t("web.datasets.search.label"))
    search.fill(TITLES[ui.lang][ui.lang])  # in the page's language: Chinese words in the Chinese journey
    search.press("Enter")
    expect(page.get_by_role("heading", level=2, name=ui.t("web.datasets.results", total=1))).to_be_visible()
    _shot(ui, "search")
    page.get_by_role("link", name=TITLES[ui.lang][ui.lang], exact=True).click()
    expect(page.get_by_text(ui.t("web.datasets.level.L3.explain"))).to_be_visible()
    page.get_by_label(ui.t("web.datasets.access.org")).select_option(buyer)
    page.get_by_label(ui.t("web.datasets.access.purpose")).fill(
        "Train a traffic-light classifier · 训练信号灯分类模型"
    )
    page.get_by_label(ui.t("web.datasets.access.duration_days")).fill("30")
    page.get_by_role("button", name=ui.t("web.datasets.access.submit")).click()
    expect(_flash(page)).to_contain_text(ui.t("web.datasets.access.requested", org=buyer))
    expect(page.get_by_text(ui.t("web.datasets.grant.requested"), exact=True)).to_be_visible()
    _shot(ui, "requested")


def _approve(ui: Ui, slug: str, shots: Path) -> None:
    from playwright.sync_api import expect

    page = ui.page
    ui.nav("web.nav.datasets")
    tabs = page.get_by_role("navigation", name=ui.t("web.datasets.tabs_label"))
    tabs.get_by_role("link", name=ui.t("web.datasets.tab.requests")).click()
    row = page.locator("tr", has_text=TITLES[ui.lang][ui.lang])
    expect(row).to_contain_text("训练信号灯分类模型")
    _shot(ui, "pending")
    row.get_by_role("textbox").fill("Research use approved · 同意用于研究")
    row.get_by_role("button", name=ui.t("web.datasets.requests.approve")).click()
    expect(_flash(page)).to_contain_text(ui.t("web.datasets.requests.approved", slug=slug))
    active = page.get_by_role("region", name=ui.t("web.datasets.requests.active", count=1))
    expect(active.locator("tr", has_text=TITLES[ui.lang][ui.lang])).to_be_visible()
    _shot(ui, "approved", shots / f"dataset-requests-{ui.lang}.png")


def _grant_states(portal: LivePortal, username: str, slug: str) -> list[str]:
    with httpx.Client(base_url=f"{portal.url}/api/v1", timeout=30) as api:
        token = api.post("/auth/token", json={"username": username, "password": PASSWORD}).json()
        api.headers["Authorization"] = f"Bearer {token['access_token']}"
        return [g["state"] for g in api.get(f"/datasets/{slug}/grants").json()]


def _sign_in(ui: Ui, portal: LivePortal, username: str, lang: str) -> None:
    from playwright.sync_api import expect

    ui.page.goto(f"{portal.url}/login")
    ui.sign_in(username, PASSWORD)
    expect(ui.page.get_by_role("navigation", name=ui.t("web.nav.label"))).to_be_visible()
    ui.switch_language(lang)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_steward_publishes_and_approves(
    live_portal: LivePortal, browser: Any, screenshot_dir: Path, lang: str
) -> None:
    from playwright.sync_api import expect

    _, buyer, steward, member = _seed(live_portal, lang)
    slug = f"traffic-lights-{lang}"
    steward_context = browser.new_context(locale=BROWSER_LOCALE[lang], viewport=VIEWPORT)
    member_context = browser.new_context(locale=BROWSER_LOCALE[lang], viewport=VIEWPORT)
    try:
        steward_ui = Ui(steward_context.new_page(), live_portal.url, lang, screenshot_dir, f"{lang}-dataset")
        steward_errors = _watch_errors(steward_ui.page)
        _sign_in(steward_ui, live_portal, steward, lang)
        _describe(steward_ui, slug)
        _upload_and_publish(steward_ui, slug, screenshot_dir)

        member_ui = Ui(
            member_context.new_page(), live_portal.url, lang, screenshot_dir, f"{lang}-dataset-member"
        )
        member_errors = _watch_errors(member_ui.page)
        _sign_in(member_ui, live_portal, member, lang)
        _request_access(member_ui, buyer)

        _approve(steward_ui, slug, screenshot_dir)
        member_ui.page.reload()
        expect(
            member_ui.page.get_by_text(member_ui.t("web.datasets.grant.approved"), exact=True)
        ).to_be_visible()
        assert _grant_states(live_portal, member, slug) == ["approved"]  # the API agrees with the page
        assert not steward_errors and not member_errors, steward_errors + member_errors
    finally:
        steward_context.close()
        member_context.close()
