"""The administrators' capacity pages over the real app: flavours, quotas, errors in both languages."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from aicommons.portal.core.i18n import translate
from aicommons.portal.web.messages import MESSAGES
from aicommons.scheduler import messages as scheduler_messages  # noqa: F401  (registers the catalogue)
from tests.conftest import PASSWORD, Portal

CSRF_RE = re.compile(r'name="csrf_token" value="([0-9a-f]+)"')


def _csrf(html: str) -> str:
    match = CSRF_RE.search(html)
    assert match, "no CSRF token in the page"
    return match.group(1)


def _sign_in(portal: Portal, username: str) -> TestClient:
    client = TestClient(portal.app, raise_server_exceptions=False, follow_redirects=False)
    page = client.get("/login")
    response = client.post(
        "/login", data={"username": username, "password": PASSWORD, "csrf_token": _csrf(page.text)}
    )
    assert response.status_code == 303, response.text
    return client


def _to_chinese(client: TestClient) -> None:
    page = client.get("/admin/quotas")
    switched = client.post("/lang/zh-CN", data={"csrf_token": _csrf(page.text), "next": "/admin/quotas"})
    assert switched.status_code == 303


def _create_flavour(client: TestClient, name: str, capacity: str, pool: str = "nvidia") -> int:
    page = client.get("/admin/flavours")
    assert page.status_code == 200
    data = {"csrf_token": _csrf(page.text), "name": name, "pool": pool, "capacity_gpus": capacity}
    return client.post("/admin/flavours", data=data).status_code


def _set_quota(client: TestClient, **fields: str) -> tuple[int, str]:
    page = client.get("/admin/quotas")
    assert page.status_code == 200
    data = {"csrf_token": _csrf(page.text), "org": "acme", "flavour": "H100-80G", **fields}
    response = client.post("/admin/quotas", data=data)
    return response.status_code, response.text


def _api_quotas(portal: Portal) -> list[dict[str, object]]:
    response = portal.client("root").get("/api/v1/quotas")
    assert response.status_code == 200, response.text
    return list(response.json())


def test_root_creates_a_flavour_and_sets_a_quota(portal: Portal) -> None:
    root = _sign_in(portal, "root")
    assert _create_flavour(root, "H100-80G", "8") == 303
    assert _create_flavour(root, "Ascend-910B", "16", pool="ascend") == 303
    flavours = root.get("/admin/flavours")
    assert MESSAGES["web.admin.flavours.created"]["en"].format(name="Ascend-910B") in flavours.text
    assert "H100-80G" in flavours.text and "Ascend-910B" in flavours.text
    assert MESSAGES["web.admin.flavours.pool_heading"]["en"].format(pool="ascend") in flavours.text
    assert 'href="/admin/flavours"' in flavours.text and 'href="/admin/quotas"' in flavours.text

    status, _ = _set_quota(root, guaranteed_gpus="3", borrow_limit_gpus="2", lend_limit_gpus="1")
    assert status == 303
    page = root.get("/admin/quotas")
    assert MESSAGES["web.admin.quotas.saved"]["en"].format(org="acme", flavour="H100-80G") in page.text
    assert re.search(r"<td>acme</td>\s*<td[^>]*>H100-80G</td>\s*<td[^>]*>3</td>", page.text)
    stored = _api_quotas(portal)
    assert [(q["org"], q["flavour"], q["guaranteed_gpus"], q["borrow_limit_gpus"]) for q in stored] == [
        ("acme", "H100-80G", 3, 2)
    ]
    # The flavours page now counts the guarantee against the flavour.
    assert re.search(r">8</td>\s*<td class=\"num\">3</td>", root.get("/admin/flavours").text)


def test_capacity_change_and_its_limit(portal: Portal) -> None:
    root = _sign_in(portal, "root")
    assert _create_flavour(root, "H100-80G", "8") == 303
    assert _set_quota(root, guaranteed_gpus="6")[0] == 303
    page = root.get("/admin/flavours")
    grown = root.post(
        "/admin/flavours/H100-80G/capacity", data={"csrf_token": _csrf(page.text), "capacity_gpus": "12"}
    )
    assert grown.status_code == 303
    too_small = root.post(
        "/admin/flavours/H100-80G/capacity", data={"csrf_token": _csrf(page.text), "capacity_gpus": "4"}
    )
    assert too_small.status_code == 409 and "alert-error" in too_small.text
    expected = translate("flavour.capacity_below_commitments", "en", {"capacity": 4, "committed": 6})
    assert expected in too_small.text
    listed = portal.client("root").get("/api/v1/flavours").json()
    assert [f["capacity_gpus"] for f in listed if f["name"] == "H100-80G"] == [12]


def test_bad_quota_shows_the_error_in_both_languages_and_stores_nothing(portal: Portal) -> None:
    root = _sign_in(portal, "root")
    assert _create_flavour(root, "H100-80G", "8") == 303
    status, html = _set_quota(root, guaranteed_gpus="9")
    assert status == 409 and "alert-error" in html
    assert translate("quota.over_capacity", "en", {"total": 9, "capacity": 8}) in html
    assert 'value="9"' in html  # the form keeps what was typed
    status, html = _set_quota(root, guaranteed_gpus="2", lend_limit_gpus="3")
    assert 400 <= status < 500 and translate("quota.lend_above_guarantee", "en") in html

    _to_chinese(root)
    status, html = _set_quota(root, guaranteed_gpus="9")
    assert status == 409 and 'lang="zh-CN"' in html
    assert translate("quota.over_capacity", "zh", {"total": 9, "capacity": 8}) in html
    assert MESSAGES["web.admin.quotas.title"]["zh"] in html
    assert _api_quotas(portal) == []


def test_capacity_pages_are_for_administrators(portal: Portal) -> None:
    alice = _sign_in(portal, "alice")
    for path in ("/admin/flavours", "/admin/quotas"):
        assert alice.get(path).status_code == 403, path
    page = alice.get("/quota")
    assert 'href="/admin/quotas"' not in page.text and 'href="/admin/flavours"' not in page.text
    token = _csrf(page.text)
    refused = alice.post("/admin/quotas", data={"csrf_token": token, "org": "acme", "flavour": "x"})
    assert refused.status_code == 403
    refused = alice.post("/admin/flavours", data={"csrf_token": token, "name": "X1", "capacity_gpus": "1"})
    assert refused.status_code == 403
    assert portal.client("root").get("/api/v1/flavours").json() == []


def test_posts_without_csrf_are_refused(portal: Portal) -> None:
    root = _sign_in(portal, "root")
    created = root.post("/admin/flavours", data={"name": "H100-80G", "capacity_gpus": "8"})
    assert created.status_code == 403
    assert MESSAGES["web.csrf.failed"]["en"] in created.text
    assert portal.client("root").get("/api/v1/flavours").json() == []
    assert _create_flavour(root, "H100-80G", "8") == 303
    status = root.post("/admin/quotas", data={"org": "acme", "flavour": "H100-80G", "guaranteed_gpus": "1"})
    assert status.status_code == 403
    changed = root.post("/admin/flavours/H100-80G/capacity", data={"capacity_gpus": "2"})
    assert changed.status_code == 403
    assert _api_quotas(portal) == []
