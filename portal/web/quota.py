"""GPU-quota pages: balances, allocations, burn-down and bookings (members); allocation decisions
and usage reports (administrators).

Like every page, these parse the form with the API's schemas and call the same scheduler services
the REST API calls (`aicommons.scheduler.*`) in the request transaction; nothing is decided here.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Response
from sqlalchemy.orm import Session

from aicommons.portal.api.deps import SessionDep
from aicommons.portal.auth import service as auth_service
from aicommons.portal.core.errors import AppError
from aicommons.portal.core.time import utcnow
from aicommons.portal.orgs import repository as org_repository
from aicommons.portal.orgs import service as orgs_service
from aicommons.scheduler import allocations, bookings, flavours, reports, repository
from aicommons.scheduler.schemas import (
    AllocationApprove,
    AllocationOut,
    AllocationReject,
    AllocationRequest,
    BookingCreate,
    BookingDecision,
    UsageDay,
)

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
USAGE_DAYS = 30

ALLOCATION_LABELS = {
    "org": "web.quota.org",
    "flavour": "web.quota.flavour",
    "gpu_hours": "web.quota.gpu_hours",
    "valid_from": "web.quota.valid_from",
    "valid_until": "web.quota.valid_until",
    "purpose": "web.quota.purpose",
    "reason": "web.quota.reason",
}
BOOKING_LABELS = {
    "org": "web.quota.org",
    "flavour": "web.quota.flavour",
    "gpus": "web.quota.gpus",
    "starts_at": "web.quota.starts_at",
    "ends_at": "web.quota.ends_at",
    "purpose": "web.quota.purpose",
    "reason": "web.quota.reason",
}


def _org_slugs(session: Session) -> dict[str, str]:
    return {org.id: org.slug for org in org_repository.list_all(session)}


def _allocations_out(session: Session, items: list[Any]) -> list[AllocationOut]:
    names, slugs = repository.flavour_names(session), _org_slugs(session)
    return [allocations.to_out(a, names).model_copy(update={"org": slugs.get(a.org_id)}) for a in items]


# --- members: /quota ----------------------------------------------------------------------


def _quota_page(
    page: Page, session: SessionDep, selected: str | None = None, status: int = 200, **extra: Any
) -> Response:
    assert page.principal is not None
    principal = page.principal
    names = repository.flavour_names(session)
    orgs: list[dict[str, Any]] = []
    for membership in auth_service.memberships_view(session, principal.user_id):
        org_allocations = _allocations_out(
            session, allocations.visible(session, principal, membership.org_id)
        )
        org_allocations.sort(key=lambda a: a.requested_at, reverse=True)
        org_bookings = [
            bookings.to_out(b, names) for b in bookings.visible(session, principal, membership.org_id)
        ]
        org_bookings.sort(key=lambda b: b.starts_at, reverse=True)
        orgs.append(
            {
                "membership": membership,
                "balance": allocations.balance(session, principal, membership.org_id),
                "allocations": org_allocations,
                "bookings": org_bookings,
            }
        )
    every = [a for org in orgs for a in org["allocations"]]
    chosen = next((a for a in every if a.id == selected), None)
    if chosen is None:
        active = [a for a in every if a.state == "active"]
        chosen = max(active, key=lambda a: a.decided_at or a.requested_at) if active else None
    burndown = None
    if chosen is not None:
        series = reports.burndown(session, principal, chosen.id)
        burndown = {**series.model_dump(), "unit": page.t("web.quota.gpu_hours")}
    extra.setdefault("form", {})
    extra.setdefault("booking_form", {})
    return render(
        page,
        "quota.html",
        status,
        orgs=orgs,
        flavours=flavours.list_all(session),
        chosen=chosen,
        burndown=burndown,
        now=utcnow(),
        **extra,
    )


@router.get("/quota")
def quota_page(
    page: SignedInPageDep,
    session: SessionDep,
    allocation: Annotated[str | None, Query(max_length=36)] = None,
) -> Response:
    return _quota_page(page, session, allocation)


@router.post("/quota/allocations", dependencies=[CsrfDep])
def request_allocation(
    page: SignedInPageDep,
    session: SessionDep,
    org: FormStr = "",
    flavour: FormStr = "",
    gpu_hours: FormStr = "",
    valid_from: FormStr = "",
    valid_until: FormStr = "",
    purpose: FormStr = "",
) -> Response:
    assert page.principal is not None
    form = {
        "org": org,
        "flavour": flavour,
        "gpu_hours": gpu_hours,
        "valid_from": valid_from,
        "valid_until": valid_until,
        "purpose": purpose,
    }
    try:
        data = parse_form(
            AllocationRequest,
            ALLOCATION_LABELS,
            page.lang,
            org=org.strip(),
            flavour=blank(flavour),
            gpu_hours=blank(gpu_hours),
            valid_from=blank(valid_from),
            valid_until=blank(valid_until),
            purpose=purpose.strip(),
        )
        org_id = orgs_service.get(session, page.principal, data.org).id
        created = allocations.request(session, page.principal, org_id, data)
    except AppError as error:
        refused = form_refusal(page, session, error)
        return _quota_page(page, session, None, **refused, form=form)
    hours = round(created.requested_gpu_seconds / 3600, 4)
    return redirect(page, "/quota", success("web.quota.requested", hours=hours, org=data.org))


@router.post("/quota/bookings", dependencies=[CsrfDep])
def request_booking(
    page: SignedInPageDep,
    session: SessionDep,
    org: FormStr = "",
    flavour: FormStr = "",
    gpus: FormStr = "",
    starts_at: FormStr = "",
    ends_at: FormStr = "",
    purpose: FormStr = "",
) -> Response:
    assert page.principal is not None
    form = {"org": org, "flavour": flavour, "gpus": gpus, "starts_at": starts_at, "ends_at": ends_at}
    form["purpose"] = purpose
    try:
        data = parse_form(
            BookingCreate,
            BOOKING_LABELS,
            page.lang,
            org=org.strip(),
            flavour=flavour.strip(),
            gpus=blank(gpus),
            starts_at=blank(starts_at),
            ends_at=blank(ends_at),
            purpose=blank(purpose),
        )
        org_id = orgs_service.get(session, page.principal, data.org).id
        booking = bookings.request(session, page.principal, page.settings, org_id, data)
    except AppError as error:
        refused = form_refusal(page, session, error)
        return _quota_page(page, session, None, **refused, booking_form=form)
    code = "web.quota.booking_confirmed" if booking.status == "confirmed" else "web.quota.booking_requested"
    return redirect(page, "/quota", success(code, gpus=booking.gpus, flavour=data.flavour))


@router.post("/quota/bookings/{booking_id}/cancel", dependencies=[CsrfDep])
def cancel_booking(
    page: SignedInPageDep, session: SessionDep, booking_id: str, reason: FormStr = ""
) -> Response:
    assert page.principal is not None
    try:
        data = parse_form(BookingDecision, BOOKING_LABELS, page.lang, reason=blank(reason))
        bookings.cancel(session, page.principal, booking_id[:36], data)
    except AppError as error:
        refused = form_refusal(page, session, error, not_found_page=True)
        return _quota_page(page, session, None, **refused)
    return redirect(page, "/quota", success("web.quota.booking_cancelled"))


# --- administrators: /admin/allocations -----------------------------------------------------


def _pending_page(page: Page, session: SessionDep, status: int = 200, **extra: Any) -> Response:
    require_admin_page(page)
    assert page.principal is not None
    pending = _allocations_out(session, allocations.visible(session, page.principal, status="requested"))
    pending.sort(key=lambda a: a.requested_at)
    extra.setdefault("forms", {})
    return render(page, "admin_allocations.html", status, pending=pending, **extra)


@router.get("/admin/allocations")
def pending_allocations(page: SignedInPageDep, session: SessionDep) -> Response:
    return _pending_page(page, session)


@router.post("/admin/allocations/{allocation_id}/approve", dependencies=[CsrfDep])
def approve_allocation(
    page: SignedInPageDep,
    session: SessionDep,
    allocation_id: str,
    gpu_hours: FormStr = "",
    valid_from: FormStr = "",
    valid_until: FormStr = "",
    reason: FormStr = "",
) -> Response:
    require_admin_page(page)
    assert page.principal is not None
    form = {"gpu_hours": gpu_hours, "valid_from": valid_from, "valid_until": valid_until, "reason": reason}
    try:
        data = parse_form(
            AllocationApprove,
            ALLOCATION_LABELS,
            page.lang,
            gpu_hours=blank(gpu_hours),
            valid_from=blank(valid_from),
            valid_until=blank(valid_until),
            reason=blank(reason),
        )
        approved = allocations.approve(session, page.principal, page.settings, allocation_id[:36], data)
    except AppError as error:
        refused = form_refusal(page, session, error, not_found_page=True)
        return _pending_page(page, session, **refused, forms={allocation_id: form})
    hours = round((approved.granted_gpu_seconds or 0) / 3600, 4)
    return redirect(page, "/admin/allocations", success("web.admin.allocations.approved", hours=hours))


@router.post("/admin/allocations/{allocation_id}/reject", dependencies=[CsrfDep])
def reject_allocation(
    page: SignedInPageDep, session: SessionDep, allocation_id: str, reason: FormStr = ""
) -> Response:
    require_admin_page(page)
    assert page.principal is not None
    try:
        data = parse_form(AllocationReject, ALLOCATION_LABELS, page.lang, reason=reason.strip())
        allocations.reject(session, page.principal, page.settings, allocation_id[:36], data)
    except AppError as error:
        refused = form_refusal(page, session, error, not_found_page=True)
        forms = {allocation_id: {"reject_reason": reason}}
        return _pending_page(page, session, **refused, forms=forms)
    return redirect(page, "/admin/allocations", success("web.admin.allocations.rejected"))


# --- administrators: /admin/usage -----------------------------------------------------------


def _usage_rows(page: Page, session: SessionDep) -> tuple[Any, Any, list[UsageDay]]:
    require_admin_page(page)
    assert page.principal is not None
    end = utcnow()
    start = end - timedelta(days=USAGE_DAYS)
    rows = reports.usage_by_day(session, page.principal, start, end)
    slugs = _org_slugs(session)
    return start, end, [row.model_copy(update={"org": slugs.get(row.org_id)}) for row in rows]


@router.get("/admin/usage")
def usage_page(page: SignedInPageDep, session: SessionDep) -> Response:
    start, end, rows = _usage_rows(page, session)
    assert page.principal is not None
    # One table row per organisation and flavour: the report's daily rows added up for display.
    totals: dict[tuple[str, str], list[float]] = {}
    for row in rows:
        entry = totals.setdefault((row.org or row.org_id, row.flavour), [0.0, 0.0])
        entry[0] += row.gpu_seconds / 3600
        entry[1] += row.charged_gpu_seconds / 3600
    table = [
        {"org": org, "flavour": flavour, "gpu_hours": round(used, 2), "charged_gpu_hours": round(charged, 2)}
        for (org, flavour), (used, charged) in sorted(totals.items())
    ]
    chart: dict[str, Any] = {"x": [], "series": [], "unit": "%"}
    for flavour in flavours.list_all(session):
        series = reports.utilisation(session, page.principal, flavour.name, start, end)
        chart["x"] = series.x
        chart["series"] += [line.model_dump() for line in series.series]
    return render(page, "admin_usage.html", table=table, chart=chart, start=start, end=end, days=USAGE_DAYS)


@router.get("/admin/usage.csv")
def usage_csv(page: SignedInPageDep, session: SessionDep) -> Response:
    """The same CSV as the API's ``/api/v1/usage.csv`` (which wants a bearer token, not a cookie)."""
    _, _, rows = _usage_rows(page, session)
    headers = {"Content-Disposition": 'attachment; filename="usage.csv"'}
    return Response(reports.usage_csv(rows), media_type="text/csv; charset=utf-8", headers=headers)
