"""Dataset pages for everyone signed in: search with facets, a dataset's page (metadata, versions,
label statistics, preview), downloads by security level, licence acceptance, access requests and
metadata exports.

Like every page, these call the same services as the REST API (`aicommons.datasets.service` and
`.grants`) inside the request transaction; what a caller may see or do is decided there.
"""

from __future__ import annotations

import json
import math
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Response
from sqlalchemy.orm import Session

from aicommons.datasets import grants, repository, service
from aicommons.datasets.models import Dataset, DatasetVersion
from aicommons.datasets.schemas import DatasetOut, GrantRequest, SearchResult
from aicommons.portal.api import dataset_previews
from aicommons.portal.api import datasets as datasets_api
from aicommons.portal.api.datasets import StoreDep
from aicommons.portal.api.deps import SessionDep
from aicommons.portal.core.errors import AppError, InvalidInput
from aicommons.portal.orgs import repository as org_repository
from aicommons.portal.orgs import service as orgs_service

from .dataset_common import (
    MODALITIES,
    description_of,
    domain_names,
    is_steward,
    memberships,
    org_names,
    other_title,
    steward_tabs,
    title_of,
)
from .rendering import (
    CsrfDep,
    Page,
    SignedInPageDep,
    WebRoute,
    form_refusal,
    parse_form,
    redirect,
    render,
    success,
)

router = APIRouter(route_class=WebRoute, include_in_schema=False)
FormStr = Annotated[str, Form()]
PAGE_SIZE = 20
FACETS = ("domain", "modality", "task", "licence", "level", "org")
OPEN_GRANTS = ("requested", "approved")
PREVIEW_COLUMNS = 8
PREVIEW_CELL = 160
GRANT_LABELS = {
    "org": "web.datasets.access.org",
    "purpose": "web.datasets.access.purpose",
    "duration_days": "web.datasets.access.duration_days",
}


# --- search -------------------------------------------------------------------------------


@router.get("/datasets")
def search_page(
    page: SignedInPageDep,
    session: SessionDep,
    q: Annotated[str, Query(max_length=200)] = "",
    domain: Annotated[str, Query(max_length=64)] = "",
    modality: Annotated[str, Query(max_length=32)] = "",
    task: Annotated[str, Query(max_length=64)] = "",
    licence: Annotated[str, Query(max_length=100)] = "",
    level: Annotated[str, Query(max_length=8)] = "",
    org: Annotated[str, Query(max_length=64)] = "",
    number: Annotated[int, Query(alias="page", ge=1, le=100_000)] = 1,
) -> Response:
    assert page.principal is not None
    raw = {"domain": domain, "modality": modality, "task": task, "licence": licence, "level": level}
    chosen = {k: v.strip() for k, v in {**raw, "org": org}.items() if v.strip()}
    filters: dict[str, str | None] = dict(chosen)
    if "org" in chosen:
        found = org_repository.by_slug(session, chosen["org"])
        filters["org"] = found.id if found else "-"  # an unknown organisation matches nothing
    offset = (number - 1) * PAGE_SIZE
    result = service.search(session, page.principal, q.strip() or None, filters, PAGE_SIZE, offset)
    org_ids = [ds.org_id for ds in result.items] + [f.value for f in result.facets.get("org", [])]
    orgs = org_names(session, org_ids)
    context = _search_context(page, session, result, orgs, q.strip(), chosen, number)
    return render(page, "datasets.html", tabs=steward_tabs(page), **context)


def _search_context(
    page: Page,
    session: Session,
    result: SearchResult,
    orgs: dict[str, tuple[str, str]],
    q: str,
    chosen: dict[str, str],
    number: int,
) -> dict[str, Any]:
    domains = domain_names(session, page.lang)
    base = {"q": q, **chosen}
    pages = max(1, math.ceil(result.total / PAGE_SIZE))
    return {
        "q": q,
        "chosen": chosen,
        "total": result.total,
        "items": [_result_item(page, ds, orgs, domains) for ds in result.items],
        "facets": _facet_groups(page, result, orgs, domains, base),
        "active": [
            {"label": page.t(f"web.datasets.facet.{name}"), "value": value, "href": _href({**base, name: ""})}
            for name, value in chosen.items()
        ],
        "clear_href": _href({"q": q}),
        "number": number,
        "pages": pages,
        "prev_href": _href({**base, "page": str(number - 1)}) if number > 1 else None,
        "next_href": _href({**base, "page": str(number + 1)}) if number < pages else None,
        "can_publish": is_steward(page.principal),
    }


def _href(params: dict[str, str]) -> str:
    kept = {k: v for k, v in params.items() if v and not (k == "page" and v == "1")}
    return "/datasets" + ("?" + urlencode(kept) if kept else "")


def _result_item(
    page: Page, ds: DatasetOut, orgs: dict[str, tuple[str, str]], domains: dict[str, str]
) -> dict[str, Any]:
    description = description_of(ds, page.lang)
    return {
        "slug": ds.slug,
        "title": title_of(ds, page.lang),
        "other_title": other_title(ds, page.lang),
        "description": description[:240] + ("…" if len(description) > 240 else ""),
        "level": ds.level,
        "licence": ds.licence_name or ds.licence_id,
        "org": orgs.get(ds.org_id, (ds.org_id, ds.org_id))[1],
        "domain": domains.get(ds.domain, ds.domain),
        "modality": _modality(page, ds.modality),
        "task": ds.task,
        "keywords": ds.keywords[:8],
        "published": ds.has_published,
    }


def _modality(page: Page, value: str) -> str:
    return page.t(f"web.datasets.modality.{value}") if value in MODALITIES else value


def _facet_label(page: Page, name: str, value: str, orgs: dict[str, Any], domains: dict[str, str]) -> str:
    if name == "domain":
        return domains.get(value, value)
    if name == "modality":
        return _modality(page, value)
    if name == "level" and value in ("L1", "L2", "L3", "L4"):
        return f"{value} · {page.t(f'web.datasets.level.{value}')}"
    if name == "org":
        return str(orgs.get(value, (value, value))[1])
    return value


def _facet_groups(
    page: Page, result: SearchResult, orgs: dict[str, Any], domains: dict[str, str], base: dict[str, str]
) -> list[dict[str, Any]]:
    groups = []
    for name in FACETS:
        values = []
        for facet in result.facets.get(name, []):
            # The organisation facet counts ids; links and the URL carry the slug.
            param = str(orgs.get(facet.value, (facet.value,))[0]) if name == "org" else facet.value
            active = base.get(name) == param
            values.append(
                {
                    "label": _facet_label(page, name, facet.value, orgs, domains),
                    "count": facet.count,
                    "active": active,
                    "href": _href({**base, name: "" if active else param}),
                }
            )
        groups.append({"name": name, "label": page.t(f"web.datasets.facet.{name}"), "values": values})
    return groups


# --- one dataset --------------------------------------------------------------------------


def _report_version(versions: list[DatasetVersion]) -> DatasetVersion | None:
    """The version whose reports the page shows: the newest ready or published one."""
    ranked = [v for v in versions if v.state in ("published", "ready")]
    ranked = ranked or [v for v in versions if v.state in ("deprecated", "blocked")]
    return max(ranked, key=lambda v: v.number) if ranked else None


def _download_version(versions: list[DatasetVersion]) -> DatasetVersion | None:
    for states in (("published",), ("deprecated",)):
        found = [v for v in versions if v.state in states]
        if found:
            return max(found, key=lambda v: v.number)
    return None


def label_chart(page: Page, version: DatasetVersion | None) -> dict[str, Any] | None:
    report = (version.validation_report if version else None) or {}
    chart = report.get("chart") or {}
    if not chart.get("labels"):
        return None
    return {"labels": chart["labels"], "values": chart["values"], "series": page.t("web.datasets.records")}


def preview_table(version: DatasetVersion | None) -> dict[str, Any] | None:
    """The validation report's first records as a table (already masked by the validator)."""
    rows = ((version.validation_report if version else None) or {}).get("preview") or []
    if not rows:
        return None
    if not all(isinstance(r, dict) for r in rows):
        return {"columns": ["record"], "rows": [[_cell(r)] for r in rows]}
    columns: list[str] = []
    for row in rows:
        columns += [str(k) for k in row if str(k) not in columns]
    columns = columns[:PREVIEW_COLUMNS]
    return {"columns": columns, "rows": [[_cell(row.get(c, "")) for c in columns] for row in rows]}


def _cell(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= PREVIEW_CELL else text[:PREVIEW_CELL] + "…"


def _access(page: Page, session: Session, ds: Dataset) -> dict[str, Any]:
    assert page.principal is not None
    principal = page.principal
    access: dict[str, Any] = {"level": ds.level}
    if ds.level == "L2":
        access["accepted"] = repository.licence_accepted(session, ds.id, principal.user_id)
    if ds.level == "L3":
        # The caller's own organisations' requests; stewards decide on the requests page.
        own = [
            g
            for g in grants.list_grants(session, principal, ds.slug)
            if g.org_id in principal.memberships and g.org_id != ds.org_id
        ]
        names = org_names(session, [g.org_id for g in own])
        rows = [
            {"grant": grants.grant_out(g), "org": names.get(g.org_id, (g.org_id, g.org_id))[1]} for g in own
        ]
        access["grants"] = rows
        # Organisations with a pending or active grant need no second request (the service refuses it).
        covered = {g.org_id for g in own if grants.grant_out(g).state in OPEN_GRANTS}
        access["orgs"] = [
            m for m in memberships(session, principal) if m.org_id != ds.org_id and m.org_id not in covered
        ]
    return access


def dataset_page(page: Page, session: Session, slug: str, status: int = 200, **extra: Any) -> Response:
    assert page.principal is not None
    principal = page.principal
    ds = service.get(session, principal, slug)
    versions = service.list_versions(session, principal, slug)
    shown = _report_version(versions)
    publisher = org_names(session, [ds.org_id]).get(ds.org_id, (ds.org_id, ds.org_id))
    extra.setdefault("request_form", {"duration_days": "90"})
    return render(
        page,
        "datasets_detail.html",
        status,
        tabs=steward_tabs(page),
        ds=ds,
        title=title_of(ds, page.lang),
        other_title=other_title(ds, page.lang),
        description=description_of(ds, page.lang),
        domain=domain_names(session, page.lang).get(ds.domain, ds.domain),
        modality=_modality(page, ds.modality),
        publisher=publisher,
        versions=sorted(versions, key=lambda v: v.number, reverse=True),
        shown=shown,
        chart=label_chart(page, shown),
        preview=preview_table(shown),
        download_version=_download_version(versions),
        steward=principal.is_admin or principal.role_in(ds.org_id) == "steward",
        owner=principal.can_read(ds.org_id),
        access=_access(page, session, ds),
        api_base=f"/api/v1/datasets/{ds.slug}",
        **extra,
    )


@router.get("/datasets/{slug}")
def dataset_detail(page: SignedInPageDep, session: SessionDep, slug: str) -> Response:
    return dataset_page(page, session, slug)


@router.post("/datasets/{slug}/download", dependencies=[CsrfDep])
def download_links(
    page: SignedInPageDep,
    session: SessionDep,
    store: StoreDep,
    slug: str,
    version: FormStr = "",
    accept: FormStr = "",
) -> Response:
    """L1 links; L2 after accepting the licence (ticking the box accepts it, once)."""
    assert page.principal is not None
    ds = service.get(session, page.principal, slug)
    try:
        if not version.strip().isdigit():
            raise InvalidInput("web.datasets.download.no_version")
        if ds.level == "L2" and accept == "yes":
            grants.accept_licence(session, page.principal, slug)
        links = grants.download_links(session, store, page.settings, page.principal, slug, int(version))
    except AppError as error:
        refused = form_refusal(page, session, error)
        return dataset_page(page, session, slug, **refused)
    # Rendered rather than redirected: the links are short-lived and each issue is audited.
    return dataset_page(page, session, slug, links=links)


@router.post("/datasets/{slug}/access", dependencies=[CsrfDep])
def request_access(
    page: SignedInPageDep,
    session: SessionDep,
    slug: str,
    org: FormStr = "",
    purpose: FormStr = "",
    duration_days: FormStr = "",
) -> Response:
    assert page.principal is not None
    service.get(session, page.principal, slug)  # an invisible dataset is a 404 page, not a form error
    form = {"org": org, "purpose": purpose, "duration_days": duration_days}
    try:
        data = parse_form(
            GrantRequest,
            GRANT_LABELS,
            page.lang,
            org=org.strip(),
            purpose=purpose.strip(),
            duration_days=duration_days.strip() or None,
        )
        org_id = orgs_service.get(session, page.principal, data.org).id
        grants.request_access(session, page.principal, slug, org_id, data)
    except AppError as error:
        refused = form_refusal(page, session, error)
        return dataset_page(page, session, slug, **refused, request_form=form)
    flash = success("web.datasets.access.requested", org=data.org)
    return redirect(page, f"/datasets/{slug}#access-heading", flash)


@router.get("/datasets/{slug}/versions/{number:int}/thumbnails/{index:int}")
def thumbnail(
    page: SignedInPageDep, session: SessionDep, store: StoreDep, slug: str, number: int, index: int
) -> Response:
    """The API's thumbnail for the version page's <img> elements, which send the session cookie."""
    assert page.principal is not None
    return dataset_previews.thumbnail_response(session, store, page.principal, slug, number, index)


# --- metadata exports ---------------------------------------------------------------------


@router.get("/datasets/{slug}/croissant.json")
def croissant(page: SignedInPageDep, session: SessionDep, store: StoreDep, slug: str) -> Response:
    """The API's Croissant document (the API wants a bearer token; the browser has a cookie)."""
    assert page.principal is not None
    return datasets_api.export_croissant(page.principal, session, page.settings, store, slug)


@router.get("/datasets/{slug}/dcat.json")
def dcat(page: SignedInPageDep, session: SessionDep, store: StoreDep, slug: str) -> Response:
    assert page.principal is not None
    return datasets_api.export_dcat(page.principal, session, page.settings, store, slug)
