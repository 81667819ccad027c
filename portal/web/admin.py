"""Administration pages: users, organisations and the audit log."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Response

from aicommons.portal.api.deps import SessionDep
from aicommons.portal.audit import service as audit_service
from aicommons.portal.auth import repository as users
from aicommons.portal.auth import service as auth_service
from aicommons.portal.auth.schemas import UserCreate
from aicommons.portal.core.errors import AppError
from aicommons.portal.core.time import utcnow
from aicommons.portal.orgs import service as orgs_service
from aicommons.portal.orgs.schemas import OrgCreate

from .rendering import (
    CsrfDep,
    Page,
    SignedInPageDep,
    WebRoute,
    form_refusal,
    parse_form,
    redirect,
    render,
    require_admin_page,
    success,
)

router = APIRouter(prefix="/admin", route_class=WebRoute, include_in_schema=False)
FormStr = Annotated[str, Form()]
AUDIT_PAGE_SIZE = 50
AUDIT_CHART_DAYS = 14


# --- users --------------------------------------------------------------------------------

USER_LABELS = {
    "username": "web.login.username",
    "password": "web.admin.users.password",
    "email": "web.admin.users.email",
    "display_name": "web.admin.users.display_name",
    "locale": "web.admin.users.locale",
}


def _users_page(page: Page, session: SessionDep, status: int = 200, **extra: Any) -> Response:
    require_admin_page(page)
    extra.setdefault("form", {"locale": page.lang})
    return render(page, "admin_users.html", status, users=users.list_users(session), **extra)


@router.get("/users")
def users_page(page: SignedInPageDep, session: SessionDep) -> Response:
    return _users_page(page, session)


@router.post("/users", dependencies=[CsrfDep])
def create_user(
    page: SignedInPageDep,
    session: SessionDep,
    username: FormStr = "",
    password: FormStr = "",
    email: FormStr = "",
    display_name: FormStr = "",
    locale: FormStr = "en",
    is_admin: FormStr = "",
) -> Response:
    require_admin_page(page)
    values = {
        "username": username.strip(),
        "password": password,
        "email": email.strip() or None,
        "display_name": display_name.strip() or None,
        "locale": locale,
        "is_admin": is_admin == "on",
    }
    try:
        data = parse_form(UserCreate, USER_LABELS, page.lang, **values)
        user = auth_service.create_user(session, page.principal, data)
    except AppError as error:
        refused = form_refusal(page, session, error)
        form = {**values, "password": ""}
        return _users_page(page, session, **refused, form=form)
    return redirect(page, "/admin/users", success("web.admin.users.created", username=user.username))


# --- organisations ------------------------------------------------------------------------

ORG_LABELS = {"slug": "web.org.slug", "name": "web.org.name", "description": "web.org.description"}


def _orgs_page(page: Page, session: SessionDep, status: int = 200, **extra: Any) -> Response:
    require_admin_page(page)
    assert page.principal is not None
    extra.setdefault("form", {})
    orgs = orgs_service.visible(session, page.principal)
    return render(page, "admin_orgs.html", status, orgs=orgs, **extra)


@router.get("/orgs")
def orgs_page(page: SignedInPageDep, session: SessionDep) -> Response:
    return _orgs_page(page, session)


@router.post("/orgs", dependencies=[CsrfDep])
def create_org(
    page: SignedInPageDep,
    session: SessionDep,
    slug: FormStr = "",
    name: FormStr = "",
    description: FormStr = "",
) -> Response:
    require_admin_page(page)
    assert page.principal is not None
    values = {"slug": slug.strip(), "name": name.strip(), "description": description.strip() or None}
    try:
        data = parse_form(OrgCreate, ORG_LABELS, page.lang, **values)
        org = orgs_service.create(session, page.principal, data)
    except AppError as error:
        refused = form_refusal(page, session, error)
        return _orgs_page(page, session, **refused, form=values)
    return redirect(page, f"/orgs/{org.slug}", success("web.admin.orgs.created", slug=org.slug))


# --- audit log ----------------------------------------------------------------------------


def _events_per_day(session: SessionDep, page: Page) -> dict[str, list[Any]]:
    """Counts of the most recent entries (up to 1000) per day, for the activity chart."""
    assert page.principal is not None
    recent = audit_service.list_records(session, page.principal, limit=1000)
    counts = Counter(r.at.date().isoformat() for r in recent)
    today = utcnow().date()
    days = [(today - timedelta(days=n)).isoformat() for n in range(AUDIT_CHART_DAYS - 1, -1, -1)]
    return {"days": days, "counts": [counts.get(d, 0) for d in days]}


@router.get("/audit")
def audit_page(
    page: SignedInPageDep,
    session: SessionDep,
    before: Annotated[int | None, Query(ge=0, le=2**62)] = None,
) -> Response:
    require_admin_page(page)
    assert page.principal is not None
    records = audit_service.list_records(session, page.principal, limit=AUDIT_PAGE_SIZE + 1, before_id=before)
    has_older = len(records) > AUDIT_PAGE_SIZE
    records = records[:AUDIT_PAGE_SIZE]
    older = records[-1].id if has_older and records else None
    chart = _events_per_day(session, page)
    chart_data = {**chart, "series": page.t("web.admin.audit.chart_series")}
    return render(
        page, "admin_audit.html", records=records, older=older, before=before, chart_data=chart_data
    )
