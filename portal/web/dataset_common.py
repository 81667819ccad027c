"""Read-only helpers shared by the dataset pages: names in the page's language, the caller's
organisations, the datasets a steward looks after. They only call services (or read-only queries);
every decision stays in `aicommons.datasets`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy.orm import Session

from aicommons.datasets import service
from aicommons.datasets.schemas import DatasetOut
from aicommons.portal.auth import service as auth_service
from aicommons.portal.auth.schemas import MembershipOut
from aicommons.portal.core.errors import Forbidden
from aicommons.portal.core.i18n import Lang
from aicommons.portal.core.principal import Principal
from aicommons.portal.orgs import repository as org_repository

from .rendering import Page, templates

LEVELS = ("L1", "L2", "L3", "L4")
MODALITIES = ("image", "text", "tabular", "audio", "video", "time-series", "multimodal", "other")
LABEL_FORMATS = ("csv", "jsonl", "imagefolder", "coco", "yolo", "none")
VERSION_STATES = ("draft", "uploading", "validating", "ready", "blocked", "published", "deprecated")
SEARCH_BATCH = 100
MAX_STEWARD_DATASETS = 2000


def title_of(ds: Any, lang: Lang) -> str:
    """The title in the page's language, the other one when it is missing."""
    first, second = (ds.title_zh, ds.title_en) if lang == "zh" else (ds.title_en, ds.title_zh)
    return str(first or second)


def other_title(ds: Any, lang: Lang) -> str | None:
    """The title in the other language, when it says something else."""
    other = ds.title_en if lang == "zh" else ds.title_zh
    return str(other) if other and other != title_of(ds, lang) else None


def description_of(ds: Any, lang: Lang) -> str:
    first, second = (
        (ds.description_zh, ds.description_en) if lang == "zh" else (ds.description_en, ds.description_zh)
    )
    return str(first or second or "")


def domain_names(session: Session, lang: Lang) -> dict[str, str]:
    return {d.slug: (d.name_zh if lang == "zh" else d.name_en) for d in service.list_domains(session)}


def org_names(session: Session, ids: Iterable[str]) -> dict[str, tuple[str, str]]:
    """Organisation id -> (slug, name)."""
    return {o.id: (o.slug, o.name) for o in org_repository.list_by_ids(session, sorted(set(ids)))}


def memberships(session: Session, principal: Principal) -> list[MembershipOut]:
    return auth_service.memberships_view(session, principal.user_id)


def steward_memberships(session: Session, principal: Principal) -> list[MembershipOut]:
    """The organisations whose datasets the caller looks after (every one, for administrators)."""
    if principal.is_admin:
        return [
            MembershipOut(org_id=o.id, org_slug=o.slug, org_name=o.name, role="steward")
            for o in org_repository.list_all(session)
        ]
    return [m for m in memberships(session, principal) if m.role == "steward"]


def require_steward_page(page: Page, session: Session) -> list[MembershipOut]:
    """Steward-only pages: 403 for everyone who stewards no organisation."""
    assert page.principal is not None
    orgs = steward_memberships(session, page.principal)
    if not orgs:
        raise Forbidden("auth.steward_required")
    return orgs


def is_steward(principal: Principal | None) -> bool:
    if principal is None:
        return False
    return principal.is_admin or "steward" in principal.memberships.values()


def stewarded_datasets(
    session: Session, principal: Principal, orgs: list[MembershipOut], level: str | None = None
) -> list[DatasetOut]:
    """Every dataset of the organisations the caller stewards, through the catalogue's search."""
    found: list[DatasetOut] = []
    for org in orgs:
        offset = 0
        while len(found) < MAX_STEWARD_DATASETS:
            filters = {"org": org.org_id, "level": level}
            result = service.search(session, principal, None, filters, SEARCH_BATCH, offset)
            found.extend(result.items)
            offset += SEARCH_BATCH
            if offset >= result.total or not result.items:
                break
    unique = {ds.id: ds for ds in found}
    return sorted(unique.values(), key=lambda ds: ds.slug)


def human_size(value: int | None) -> str:
    """Bytes for people: 1.5 MiB rather than 1572864."""
    size = float(value or 0)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{int(size)} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TiB"


def steward_tabs(page: Page) -> list[dict[str, str]]:
    """The sub-navigation of the dataset pages; the steward entries only for stewards."""
    tabs = [{"href": "/datasets", "label": page.t("web.datasets.tab.catalogue")}]
    if is_steward(page.principal):
        tabs += [
            {"href": "/datasets/new", "label": page.t("web.datasets.tab.publish")},
            {"href": "/datasets/requests", "label": page.t("web.datasets.tab.requests")},
            {"href": "/datasets/usage", "label": page.t("web.datasets.tab.usage")},
        ]
    path = page.request.url.path
    for tab in tabs:
        tab["current"] = "page" if path == tab["href"] else ""
    return tabs


templates.env.filters["human_size"] = human_size
