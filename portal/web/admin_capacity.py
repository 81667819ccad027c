"""Capacity pages for administrators: flavours grouped by pool, and concurrency quotas per
organisation and flavour.

Like every page, these parse the form with the API's schemas and call the same scheduler services
the REST API calls (`aicommons.scheduler.flavours`, `.quotas`) in the request transaction; the
rules (capacity not below commitments, guarantees within capacity, lending within the guarantee)
live in those services, not here.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Response
from sqlalchemy.orm import Session

from aicommons.portal.api.deps import SessionDep
from aicommons.portal.core.errors import AppError, InvalidInput
from aicommons.portal.orgs import repository as org_repository
from aicommons.portal.orgs import service as orgs_service
from aicommons.scheduler import flavours, quotas, repository
from aicommons.scheduler.schemas import FlavourCreate, FlavourUpdate, QuotaOut, QuotaSet

from .rendering import (
    CsrfDep,
    Page,
    SignedInPageDep,
    WebRoute,
    blank,
    form_refusal,
    parse_form,
    redirect,
    render,
    require_admin_page,
    success,
)

router = APIRouter(route_class=WebRoute, include_in_schema=False)
FormStr = Annotated[str, Form()]

FLAVOUR_LABELS = {
    "name": "web.admin.flavours.name",
    "pool": "web.admin.flavours.pool",
    "capacity_gpus": "web.admin.flavours.capacity",
    "description": "web.admin.flavours.description",
}
QUOTA_LABELS = {
    "org": "web.quota.org",
    "flavour": "web.quota.flavour",
    "guaranteed_gpus": "web.admin.quotas.guaranteed",
    "borrow_limit_gpus": "web.admin.quotas.borrow",
    "lend_limit_gpus": "web.admin.quotas.lend",
    "reason": "web.quota.reason",
}


# --- flavours -------------------------------------------------------------------------------


def _flavours_page(page: Page, session: Session, status: int = 200, **extra: Any) -> Response:
    require_admin_page(page)
    pools: dict[str, list[dict[str, Any]]] = {}
    for flavour in sorted(flavours.list_all(session), key=lambda f: (f.pool, f.name)):
        guaranteed = repository.guaranteed_total(session, flavour.id)
        pools.setdefault(flavour.pool, []).append({"flavour": flavour, "guaranteed": guaranteed})
    extra.setdefault("form", {})
    extra.setdefault("capacity_forms", {})
    return render(page, "admin_capacity_flavours.html", status, pools=pools, **extra)


@router.get("/admin/flavours")
def flavours_page(page: SignedInPageDep, session: SessionDep) -> Response:
    return _flavours_page(page, session)


@router.post("/admin/flavours", dependencies=[CsrfDep])
def create_flavour(
    page: SignedInPageDep,
    session: SessionDep,
    name: FormStr = "",
    pool: FormStr = "",
    capacity_gpus: FormStr = "",
    description: FormStr = "",
) -> Response:
    require_admin_page(page)
    assert page.principal is not None
    form = {"name": name, "pool": pool, "capacity_gpus": capacity_gpus, "description": description}
    values: dict[str, Any] = {"name": name.strip(), "capacity_gpus": blank(capacity_gpus)}
    if blank(pool):
        values["pool"] = pool.strip()  # left empty: the schema's default pool
    values["description"] = blank(description)
    try:
        data = parse_form(FlavourCreate, FLAVOUR_LABELS, page.lang, **values)
        created = flavours.create(session, page.principal, data)
    except AppError as error:
        refused = form_refusal(page, session, error)
        return _flavours_page(page, session, **refused, form=form)
    return redirect(page, "/admin/flavours", success("web.admin.flavours.created", name=created.name))


@router.post("/admin/flavours/{name}/capacity", dependencies=[CsrfDep])
def change_capacity(
    page: SignedInPageDep, session: SessionDep, name: str, capacity_gpus: FormStr = ""
) -> Response:
    require_admin_page(page)
    assert page.principal is not None
    try:
        data = parse_form(FlavourUpdate, FLAVOUR_LABELS, page.lang, capacity_gpus=blank(capacity_gpus))
        if data.capacity_gpus is None:
            # An empty field would change nothing; say so rather than pretend it was saved.
            raise InvalidInput("web.form.invalid", fields=page.t(FLAVOUR_LABELS["capacity_gpus"]))
        updated = flavours.update(session, page.principal, name[:64], data)
    except AppError as error:
        refused = form_refusal(page, session, error, not_found_page=True)
        forms = {name: capacity_gpus}
        return _flavours_page(page, session, **refused, capacity_forms=forms)
    flash = success("web.admin.flavours.updated", name=updated.name, capacity=updated.capacity_gpus)
    return redirect(page, "/admin/flavours", flash)


# --- quotas ---------------------------------------------------------------------------------


def _quota_rows(session: Session, page: Page) -> list[QuotaOut]:
    assert page.principal is not None
    names = repository.flavour_names(session)
    slugs = {org.id: org.slug for org in org_repository.list_all(session)}
    rows = [
        quotas.to_out(q, names).model_copy(update={"org": slugs.get(q.org_id)})
        for q in quotas.visible(session, page.principal)
    ]
    return sorted(rows, key=lambda q: (q.org or q.org_id, q.flavour))


def _quotas_page(page: Page, session: Session, status: int = 200, **extra: Any) -> Response:
    require_admin_page(page)
    extra.setdefault("form", {})
    return render(
        page,
        "admin_capacity_quotas.html",
        status,
        quotas=_quota_rows(session, page),
        orgs=org_repository.list_all(session),
        flavours=flavours.list_all(session),
        **extra,
    )


@router.get("/admin/quotas")
def quotas_page(page: SignedInPageDep, session: SessionDep) -> Response:
    return _quotas_page(page, session)


@router.post("/admin/quotas", dependencies=[CsrfDep])
def set_quota(
    page: SignedInPageDep,
    session: SessionDep,
    org: FormStr = "",
    flavour: FormStr = "",
    guaranteed_gpus: FormStr = "",
    borrow_limit_gpus: FormStr = "",
    lend_limit_gpus: FormStr = "",
    reason: FormStr = "",
) -> Response:
    require_admin_page(page)
    assert page.principal is not None
    form = {"org": org, "flavour": flavour, "guaranteed_gpus": guaranteed_gpus}
    form |= {"borrow_limit_gpus": borrow_limit_gpus, "lend_limit_gpus": lend_limit_gpus, "reason": reason}
    try:
        data = parse_form(
            QuotaSet,
            QUOTA_LABELS,
            page.lang,
            org=org.strip(),
            flavour=flavour.strip(),
            guaranteed_gpus=blank(guaranteed_gpus),
            borrow_limit_gpus=blank(borrow_limit_gpus) or 0,
            lend_limit_gpus=blank(lend_limit_gpus) or 0,
            reason=blank(reason),
        )
        org_id = orgs_service.get(session, page.principal, data.org).id
        quotas.set_quota(session, page.principal, org_id, data)
    except AppError as error:
        refused = form_refusal(page, session, error)
        return _quotas_page(page, session, **refused, form=form)
    flash = success("web.admin.quotas.saved", org=data.org, flavour=data.flavour)
    return redirect(page, "/admin/quotas", flash)
