"""Journeys through the web UI in headless Chromium, once per language, with screenshots.

An administrator signs in, creates an organisation and a user and makes the user its data
steward; the steward signs in, switches the language, creates an API token (shown once) and
revokes it.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from aicommons.portal.web.messages import LANGUAGE_NAMES, MESSAGES

from .conftest import LivePortal

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

STEWARD_PASSWORD = "steward-pass-123"
HTML_LANG = {"en": "en", "zh": "zh-CN"}
BROWSER_LOCALE = {"en": "en-US", "zh": "zh-CN"}


class Ui:
    """A page plus the strings of one language, read from the same catalogue the server uses."""

    def __init__(self, page: Any, base_url: str, lang: str, shots: Path, prefix: str) -> None:
        self.page, self.base_url, self.lang, self.shots, self.prefix = page, base_url, lang, shots, prefix
        self.count = 0

    def t(self, key: str, **params: Any) -> str:
        return MESSAGES[key][self.lang].format(**params)

    def shot(self, name: str) -> None:
        self.count += 1
        path = self.shots / f"{self.prefix}-{self.count:02d}-{name}.png"
        self.page.screenshot(path=str(path), full_page=True)

    def expect_lang(self, lang: str) -> None:
        from playwright.sync_api import expect

        expect(self.page.locator("html")).to_have_attribute("lang", HTML_LANG[lang])

    def switch_language(self, lang: str) -> None:
        from playwright.sync_api import expect

        if self.page.locator("html").get_attribute("lang") != HTML_LANG[lang]:
            self.page.get_by_role("button", name=LANGUAGE_NAMES[lang], exact=True).click()
        self.lang = lang
        self.expect_lang(lang)
        expect(self.page.get_by_role("button", name=LANGUAGE_NAMES[lang], exact=True)).to_have_attribute(
            "aria-pressed", "true"
        )

    def sign_in(self, username: str, password: str) -> None:
        self.page.get_by_label(self.t("web.login.username")).fill(username)
        self.page.get_by_label(self.t("web.login.password")).fill(password)
        self.page.get_by_role("button", name=self.t("web.login.submit")).click()

    def nav(self, key: str) -> None:
        navigation = self.page.get_by_role("navigation", name=self.t("web.nav.label"))
        navigation.get_by_role("link", name=self.t(key), exact=True).click()

    def sign_out(self) -> None:
        self.page.get_by_label(self.t("web.user_menu.label")).click()
        self.page.get_by_role("button", name=self.t("web.logout")).click()


def _admin_journey(ui: Ui, portal: LivePortal, slug: str, steward: str, steward_lang: str) -> None:
    from playwright.sync_api import expect

    page = ui.page
    page.goto(f"{portal.url}/")
    expect(page).to_have_url(re.compile(r"/login$"))
    ui.expect_lang(ui.lang)
    expect(page.get_by_role("heading", level=1)).to_have_text(ui.t("web.login.title"))
    ui.shot("login")
    ui.sign_in(portal.admin_username, portal.admin_password)
    expect(page.get_by_role("navigation", name=re.compile("."))).to_be_visible()
    ui.switch_language(ui.lang)
    expect(page.get_by_role("heading", level=1)).to_have_text(ui.t("web.dashboard.welcome", name="admin"))
    # Keyboard users land on the skip link first.
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name=ui.t("web.skip_to_content"))).to_be_focused()
    ui.shot("admin-dashboard")

    ui.nav("web.nav.orgs")
    page.get_by_label(ui.t("web.org.slug")).fill(slug)
    page.get_by_label(ui.t("web.org.name")).fill(f"Robotics Lab {ui.lang.upper()}")
    page.get_by_label(ui.t("web.org.description")).fill("Embodied AI start-up · 具身智能初创企业")
    page.get_by_role("button", name=ui.t("web.admin.orgs.submit")).click()
    expect(page.get_by_role("status")).to_contain_text(ui.t("web.admin.orgs.created", slug=slug))

    ui.nav("web.nav.users")
    page.get_by_label(ui.t("web.login.username"), exact=True).fill(steward)
    page.get_by_label(ui.t("web.admin.users.display_name")).fill(f"Steward {ui.lang}")
    page.get_by_label(ui.t("web.admin.users.email")).fill(f"{steward}@example.com")
    page.get_by_label(ui.t("web.admin.users.password")).fill(STEWARD_PASSWORD)
    page.get_by_label(ui.t("web.admin.users.locale")).select_option(steward_lang)
    page.get_by_role("button", name=ui.t("web.admin.users.submit")).click()
    expect(page.get_by_role("status")).to_contain_text(ui.t("web.admin.users.created", username=steward))
    expect(page.locator(f"#user-{steward}")).to_be_visible()
    ui.shot("admin-users")

    page.goto(f"{portal.url}/orgs/{slug}")
    page.get_by_label(ui.t("web.org.member.username")).fill(steward)
    page.get_by_label(ui.t("web.role.label")).select_option("steward")
    page.get_by_role("button", name=ui.t("web.org.add_member.submit")).click()
    role = ui.t("web.role.steward")
    expect(page.get_by_role("status")).to_contain_text(
        ui.t("web.org.member_added", username=steward, role=role)
    )
    expect(page.locator(f"#member-{steward}")).to_contain_text(role)
    ui.shot("org-members")

    ui.nav("web.nav.audit")
    expect(page.locator(".chart svg")).to_be_visible()
    expect(page.get_by_role("table")).to_contain_text("org.member_add")
    ui.shot("audit")
    ui.sign_out()
    expect(page).to_have_url(re.compile(r"/login$"))


def _steward_journey(ui: Ui, portal: LivePortal, slug: str, steward: str, lang: str) -> None:
    from playwright.sync_api import expect

    page = ui.page
    page.goto(f"{portal.url}/login")
    ui.sign_in(steward, STEWARD_PASSWORD)
    # The language the administrator chose for this user is remembered on the account.
    ui.expect_lang(ui.lang)
    expect(page.get_by_role("heading", level=1)).to_have_text(
        ui.t("web.dashboard.welcome", name=f"Steward {lang}")
    )
    ui.switch_language(lang)
    expect(page.get_by_role("heading", level=1)).to_have_text(
        ui.t("web.dashboard.welcome", name=f"Steward {lang}")
    )
    expect(page.get_by_role("status")).to_contain_text(ui.t("web.lang.changed"))
    expect(page.locator(".org-list")).to_contain_text(ui.t("web.role.steward"))
    expect(page.get_by_text(ui.t("web.coming_soon")).first).to_be_visible()
    ui.shot("steward-dashboard")

    ui.nav("web.nav.tokens")
    page.get_by_label(ui.t("web.tokens.name")).fill("laptop-cli")
    page.get_by_label(ui.t("web.tokens.expires_in_days")).fill("30")
    page.get_by_role("button", name=ui.t("web.tokens.submit")).click()
    expect(page.get_by_text(ui.t("web.tokens.secret_once"))).to_be_visible()
    secret = page.get_by_role("textbox", name=ui.t("web.tokens.secret_label")).input_value()
    assert secret.startswith("aic_")
    me = httpx.get(f"{portal.url}/api/v1/me", headers={"Authorization": f"Bearer {secret}"})
    assert me.status_code == 200 and me.json()["user"]["username"] == steward
    ui.shot("token-created")

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name=ui.t("web.tokens.revoke_label", name="laptop-cli")).click()
    row = page.locator("tr", has_text="laptop-cli")
    expect(row.locator(".badge")).to_have_text(ui.t("web.tokens.revoked"))
    ui.shot("token-revoked")
    revoked = httpx.get(f"{portal.url}/api/v1/me", headers={"Authorization": f"Bearer {secret}"})
    assert revoked.status_code == 401
    page.reload()
    expect(page.get_by_text(ui.t("web.tokens.secret_once"))).to_have_count(0)
    assert secret not in page.content()


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_admin_sets_up_a_steward_who_manages_api_tokens(
    live_portal: LivePortal, browser: Any, screenshot_dir: Path, lang: str
) -> None:
    other = "zh" if lang == "en" else "en"
    slug, steward = f"robotics-{lang}", f"steward-{lang}"
    viewport = {"width": 1366, "height": 800}

    admin_context = browser.new_context(locale=BROWSER_LOCALE[lang], viewport=viewport)
    try:
        ui = Ui(admin_context.new_page(), live_portal.url, lang, screenshot_dir, f"{lang}-admin")
        _admin_journey(ui, live_portal, slug, steward, steward_lang=other)
    finally:
        admin_context.close()

    # The steward's account speaks the other language; they switch to this one.
    steward_context = browser.new_context(locale=BROWSER_LOCALE[other], viewport=viewport)
    try:
        ui = Ui(steward_context.new_page(), live_portal.url, other, screenshot_dir, f"{lang}-steward")
        _steward_journey(ui, live_portal, slug, steward, lang)
    finally:
        steward_context.close()
