"""Access: licence acceptance (L2), organisation grants (L3), and presigned download links (L1/L2)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session

from aicommons.portal.core.audit import AuditEvent, record
from aicommons.portal.core.errors import Conflict, Forbidden, NotFound
from aicommons.portal.core.principal import Principal
from aicommons.portal.core.settings import Settings
from aicommons.portal.core.time import utcnow

from . import policy, repository, service
from .models import AccessGrant, LicenceAcceptance
from .schemas import DownloadLink, DownloadLinks, GrantOut, GrantRequest
from .storage import ObjectStore
from .uploads import data_key


def accept_licence(session: Session, principal: Principal, slug: str) -> None:
    ds = service.get(session, principal, slug)
    if repository.licence_accepted(session, ds.id, principal.user_id):
        return
    session.add(LicenceAcceptance(dataset_id=ds.id, user_id=principal.user_id))
    session.flush()
    record(
        session,
        principal,
        AuditEvent(
            "dataset.licence_accept",
            "dataset",
            ds.id,
            org_id=ds.org_id,
            data={"slug": ds.slug, "licence": ds.licence_id},
        ),
    )


def download_links(
    session: Session, store: ObjectStore, settings: Settings, principal: Principal, slug: str, number: int
) -> DownloadLinks:
    ds, version = service.get_version(session, principal, slug, number)
    if version.state not in ("published", "deprecated"):
        raise Conflict("dataset.not_published", number=number)
    accepted = repository.licence_accepted(session, ds.id, principal.user_id)
    refusal = policy.download_refusal(ds.level, accepted)
    if refusal is not None:
        raise Forbidden(refusal, level=ds.level)
    ttl = timedelta(seconds=settings.datasets_download_url_ttl_s)
    files = [
        DownloadLink(
            path=f.path,
            size=f.size,
            sha256=f.sha256,
            url=store.presign_get(data_key(ds, version, f.path), ttl, f.path.rsplit("/", 1)[-1]),
        )
        for f in repository.files(session, version.id)
    ]
    record(
        session,
        principal,
        AuditEvent(
            "dataset.download_links",
            "dataset_version",
            version.id,
            org_id=ds.org_id,
            data={"slug": slug, "number": number, "files": len(files), "ttl_s": int(ttl.total_seconds())},
        ),
    )
    return DownloadLinks(version=number, expires_at=utcnow() + ttl, files=files)


def grant_out(grant: AccessGrant) -> GrantOut:
    out = GrantOut.model_validate(grant)
    if grant.state == "approved" and not policy.grant_active(grant.state, grant.expires_at, utcnow()):
        out.state = "expired"
    return out


def request_access(
    session: Session, principal: Principal, slug: str, org_id: str, data: GrantRequest
) -> AccessGrant:
    principal.require_member(org_id)
    ds = service.get(session, principal, slug)
    if ds.level != "L3":
        raise Conflict("dataset.grant_not_needed")
    if repository.open_grant(session, ds.id, org_id, utcnow()) is not None:
        raise Conflict("dataset.grant_pending")
    grant = AccessGrant(
        dataset_id=ds.id,
        org_id=org_id,
        purpose=data.purpose,
        duration_days=data.duration_days,
        requested_by=principal.user_id,
    )
    session.add(grant)
    session.flush()
    record(
        session,
        principal,
        AuditEvent(
            "dataset.grant_request",
            "dataset_grant",
            grant.id,
            org_id=ds.org_id,
            reason=data.purpose,
            data={"slug": slug, "requesting_org": org_id, "duration_days": data.duration_days},
        ),
    )
    return grant


def list_grants(session: Session, principal: Principal, slug: str) -> list[AccessGrant]:
    """Stewards of the publisher see every grant; others see their organisations' own."""
    ds = service.get(session, principal, slug)
    if principal.is_admin or principal.role_in(ds.org_id) == "steward":
        return repository.grants(session, ds.id)
    return repository.grants(session, ds.id, list(principal.memberships))


def _decidable(session: Session, principal: Principal, slug: str, grant_id: str) -> AccessGrant:
    ds = service.get_for_steward(session, principal, slug)
    grant = repository.grant(session, grant_id)
    if grant is None or grant.dataset_id != ds.id:
        raise NotFound("dataset.grant_not_found")
    return grant


def decide(
    session: Session, principal: Principal, slug: str, grant_id: str, approve: bool, reason: str | None
) -> AccessGrant:
    grant = _decidable(session, principal, slug, grant_id)
    if grant.state != "requested":
        raise Conflict("dataset.grant_bad_state", state=grant.state)
    now = utcnow()
    grant.state = "approved" if approve else "rejected"
    grant.decided_by, grant.decided_at, grant.decision_reason = principal.user_id, now, reason
    if approve:
        grant.expires_at = now + timedelta(days=grant.duration_days)
    ds = service.get(session, principal, slug)
    record(
        session,
        principal,
        AuditEvent(
            f"dataset.grant_{grant.state}",
            "dataset_grant",
            grant.id,
            org_id=ds.org_id,
            reason=reason,
            data={
                "slug": slug,
                "requesting_org": grant.org_id,
                "expires_at": grant.expires_at.isoformat() if grant.expires_at else None,
            },
        ),
    )
    return grant


def revoke(
    session: Session, principal: Principal, slug: str, grant_id: str, reason: str | None
) -> AccessGrant:
    grant = _decidable(session, principal, slug, grant_id)
    if grant.state != "approved":
        raise Conflict("dataset.grant_bad_state", state=grant.state)
    grant.state = "revoked"
    grant.decided_by, grant.decided_at, grant.decision_reason = principal.user_id, utcnow(), reason
    ds = service.get(session, principal, slug)
    record(
        session,
        principal,
        AuditEvent(
            "dataset.grant_revoke",
            "dataset_grant",
            grant.id,
            org_id=ds.org_id,
            reason=reason,
            data={"slug": slug, "requesting_org": grant.org_id},
        ),
    )
    return grant
