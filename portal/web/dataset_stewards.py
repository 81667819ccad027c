"""Steward pages: access requests to their organisations' datasets (approve, reject, revoke),
dataset usage counted from the audit log (download links issued, job credentials, grants), and
lineage: the jobs that used each version (on the usage page, and as a fragment of the dataset page).

Decisions go through `datasets.grants` exactly as the REST API's; the usage page only reads the
audit log through `portal.audit.service`, with the stewards' own scope (their organisations), and
lineage through `datasets.service`, which decides whose jobs the caller may see.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Form, Response
from sqlalchemy.orm import Session

from aicommons.datasets import grants, service
from aicommons.datasets.schemas import DatasetOut, DatasetUseOut, DatasetUsePage, GrantDecision, GrantOut
from aicommons.portal.api.deps import SessionDep
from aicommons.portal.audit import service as audit_service
from aicommons.portal.audit.models import AuditRecord
from aicommons.portal.auth import repository as users
from aicommons.portal.auth.schemas import MembershipOut
from aicommons.portal.core.errors import AppError
from aicommons.portal.core.principal import Principal

from .dataset_common import org_names, require_steward_page, steward_tabs, stewarded_datasets, title_of
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
AUDIT_BATCH = 1000
MAX_AUDIT_RECORDS = 20_000
LINEAGE_ROWS = 100  # the newest uses shown on a page
# Audit actions of the datasets domain -> the usage column they count in.
USAGE_COLUMNS = {
    "dataset.download_links": "downloads",
    "dataset.licence_accept": "licences",
    "dataset.grant_request": "grant_requests",
    "dataset.grant_approved": "grants_approved",
    "dataset.grant_rejected": "grants_rejected",
    "dataset.grant_revoke": "grants_revoked",
}


# --- access requests ----------------------------------------------------------------------


@dataclass(frozen=True)
class GrantRow:
    slug: str
    title: str
    grant: GrantOut
    org: tuple[str, str]  # slug, name of the requesting organisation
    requested_by: str


def _grant_rows(
    page: Page, session: Session, orgs: list[MembershipOut]
) -> tuple[list[GrantRow], list[GrantRow]]:
    """Pending requests (oldest first) and active grants of the stewarded L3 datasets."""
    assert page.principal is not None
    rows = []
    for ds in stewarded_datasets(session, page.principal, orgs, level="L3"):
        for grant in grants.list_grants(session, page.principal, ds.slug):
            rows.append((ds, grant, grants.grant_out(grant)))
    names = org_names(session, [g.org_id for _, g, _ in rows])
    requesters = {g.requested_by for _, g, _ in rows if g.requested_by}
    usernames = {uid: getattr(users.user_by_id(session, uid), "username", uid) for uid in requesters}
    table = [
        GrantRow(
            slug=ds.slug,
            title=title_of(ds, page.lang),
            grant=out,
            org=names.get(grant.org_id, (grant.org_id, grant.org_id)),
            requested_by=usernames.get(grant.requested_by or "", "—"),
        )
        for ds, grant, out in rows
    ]
    pending = sorted((r for r in table if r.grant.state == "requested"), key=lambda r: r.grant.requested_at)
    return pending, [r for r in table if r.grant.state == "approved"]


def _requests_page(page: Page, session: Session, status: int = 200, **extra: Any) -> Response:
    orgs = require_steward_page(page, session)
    pending, active = _grant_rows(page, session, orgs)
    extra.setdefault("forms", {})
    return render(
        page,
        "datasets_requests.html",
        status,
        tabs=steward_tabs(page),
        pending=pending,
        active=active,
        orgs=orgs,
        **extra,
    )


@router.get("/datasets/requests")
def requests_page(page: SignedInPageDep, session: SessionDep) -> Response:
    return _requests_page(page, session)


def _decide(page: Page, session: Session, slug: str, grant_id: str, action: str, reason: str) -> Response:
    assert page.principal is not None
    require_steward_page(page, session)
    try:
        data = parse_form(
            GrantDecision,
            {"reason": "web.datasets.requests.reason"},
            page.lang,
            reason=reason.strip() or None,
        )
        if action == "revoke":
            grants.revoke(session, page.principal, slug, grant_id[:36], data.reason)
        else:
            grants.decide(session, page.principal, slug, grant_id[:36], action == "approve", data.reason)
    except AppError as error:
        refused = form_refusal(page, session, error, not_found_page=True)
        return _requests_page(page, session, **refused, forms={grant_id: reason})
    done = {"approve": "approved", "reject": "rejected", "revoke": "revoked"}[action]
    flash = success(f"web.datasets.requests.{done}", slug=slug)
    return redirect(page, "/datasets/requests", flash)


@router.post("/datasets/requests/{slug}/{grant_id}/approve", dependencies=[CsrfDep])
def approve(
    page: SignedInPageDep, session: SessionDep, slug: str, grant_id: str, reason: FormStr = ""
) -> Response:
    return _decide(page, session, slug, grant_id, "approve", reason)


@router.post("/datasets/requests/{slug}/{grant_id}/reject", dependencies=[CsrfDep])
def reject(
    page: SignedInPageDep, session: SessionDep, slug: str, grant_id: str, reason: FormStr = ""
) -> Response:
    return _decide(page, session, slug, grant_id, "reject", reason)


@router.post("/datasets/requests/{slug}/{grant_id}/revoke", dependencies=[CsrfDep])
def revoke(
    page: SignedInPageDep, session: SessionDep, slug: str, grant_id: str, reason: FormStr = ""
) -> Response:
    return _decide(page, session, slug, grant_id, "revoke", reason)


# --- usage --------------------------------------------------------------------------------


def _audit_records(
    session: Session, principal: Principal, org_ids: list[str | None]
) -> tuple[list[AuditRecord], bool]:
    """The newest audit records of each scope (None: everything, administrators), up to a cap."""
    found: list[AuditRecord] = []
    truncated = False
    for org_id in org_ids:
        before: int | None = None
        taken = 0
        while True:
            batch = audit_service.list_records(session, principal, org_id, AUDIT_BATCH, before)
            found += [r for r in batch if r.action.startswith("dataset.")]
            taken += len(batch)
            if len(batch) < AUDIT_BATCH:
                break
            if taken >= MAX_AUDIT_RECORDS:
                truncated = True
                break
            before = batch[-1].id
    return found, truncated


def _count_usage(records: list[AuditRecord]) -> dict[str, Counter[str]]:
    """Per dataset slug, how often each kind of access happened."""
    usage: dict[str, Counter[str]] = defaultdict(Counter)
    for record in records:
        data = record.data or {}
        if record.action == "dataset.job_credentials":
            # One credential covers several versions, possibly of the same dataset: count it once each.
            for slug in {str(d).rsplit("@", 1)[0] for d in data.get("datasets") or []}:
                usage[slug]["job_credentials"] += 1
            continue
        column = USAGE_COLUMNS.get(record.action)
        owner_slug = str(data.get("slug") or "")
        if column and owner_slug:
            usage[owner_slug][column] += 1
            if column == "downloads":
                usage[owner_slug]["files_linked"] += int(data.get("files") or 0)
    return usage


def _usage_rows(
    page: Page, session: Session, datasets: list[DatasetOut], usage: dict[str, Counter[str]]
) -> list[dict[str, Any]]:
    assert page.principal is not None
    rows = []
    for ds in datasets:
        counts = usage.get(ds.slug, Counter())
        active = 0
        if ds.level == "L3":
            active = sum(
                1
                for g in grants.list_grants(session, page.principal, ds.slug)
                if grants.grant_out(g).state == "approved"
            )
        rows.append({"ds": ds, "title": title_of(ds, page.lang), "counts": counts, "active_grants": active})
    return rows


@router.get("/datasets/usage")
def usage_page(page: SignedInPageDep, session: SessionDep) -> Response:
    orgs = require_steward_page(page, session)
    assert page.principal is not None
    principal = page.principal
    datasets = stewarded_datasets(session, principal, orgs)
    scopes: list[str | None] = [None] if principal.is_admin else [o.org_id for o in orgs]
    records, truncated = _audit_records(session, principal, scopes)
    rows = _usage_rows(page, session, datasets, _count_usage(records))
    chart = None
    if any(r["counts"]["downloads"] or r["counts"]["job_credentials"] for r in rows):
        chart = {
            "labels": [r["ds"].slug for r in rows],
            "values": [r["counts"]["downloads"] + r["counts"]["job_credentials"] for r in rows],
            "series": page.t("web.datasets.usage.accesses"),
        }
    return render(
        page,
        "datasets_usage.html",
        tabs=steward_tabs(page),
        rows=rows,
        chart=chart,
        truncated=truncated,
        limit=MAX_AUDIT_RECORDS,
        admin=principal.is_admin,
        lineage=_lineage(
            principal,
            service.stewarded_uses(
                session,
                principal,
                None if principal.is_admin else [o.org_id for o in orgs],
                LINEAGE_ROWS,
                org_names=_org_names(session),
            ),
        ),
    )


# --- lineage ------------------------------------------------------------------------------


@dataclass(frozen=True)
class LineageRow:
    use: DatasetUseOut
    org: str  # the using organisation's name
    job_visible: bool  # may the viewer open the job's page


@dataclass(frozen=True)
class Lineage:
    total: int
    rows: list[LineageRow]

    def by_version(self) -> list[tuple[int, list[LineageRow]]]:
        """The rows grouped by version, newest version first; newest use first within each."""
        groups: dict[int, list[LineageRow]] = defaultdict(list)
        for row in self.rows:
            groups[row.use.version].append(row)
        return sorted(groups.items(), key=lambda group: -group[0])


def _org_names(session: Session) -> service.OrgNames:
    return lambda ids: org_names(session, ids)


def _lineage(principal: Principal, found: DatasetUsePage) -> Lineage:
    # The job pages' rule (Principal.can_read, as in scheduler.jobs.service.get): a steward of the
    # publisher sees that another organisation used the data, not that organisation's job.
    rows = [
        LineageRow(use=u, org=u.org_name or u.org_id, job_visible=principal.can_read(u.org_id))
        for u in found.items
    ]
    return Lineage(total=found.total, rows=rows)


@router.get("/datasets/{slug}/lineage")
def lineage_fragment(page: SignedInPageDep, session: SessionDep, slug: str) -> Response:
    """The dataset page's lineage card (loaded by htmx): stewards of the publisher only."""
    assert page.principal is not None
    ds = service.get_for_steward(session, page.principal, slug)
    found = service.dataset_uses(session, page.principal, slug, LINEAGE_ROWS, org_names=_org_names(session))
    return render(page, "datasets_lineage.html", ds=ds, lineage=_lineage(page.principal, found))
