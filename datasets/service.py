"""Use cases of the catalogue: datasets, domains, versions, publishing, search."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from sqlalchemy.orm import Session

from aicommons.portal.core.audit import AuditEvent, record
from aicommons.portal.core.errors import Conflict, InvalidInput, NotFound
from aicommons.portal.core.principal import Principal
from aicommons.portal.core.time import utcnow

from . import messages as _messages  # noqa: F401  (registers the catalogue)
from . import policy, repository, search_tokens
from .models import Dataset, DatasetDomain, DatasetVersion
from .schemas import (
    DatasetCreate,
    DatasetOut,
    DatasetUpdate,
    DatasetUseOut,
    DatasetUsePage,
    DomainIn,
    FacetCount,
    SearchResult,
    VersionCreate,
)


def _search_text(ds: Dataset) -> str:
    parts = [
        ds.slug,
        ds.title_en,
        ds.title_zh,
        ds.description_en,
        ds.description_zh,
        ds.domain,
        ds.task,
        ds.modality,
        ds.provenance,
        " ".join(ds.keywords or []),
    ]
    return " ".join(p for p in parts if p).lower()


def _index_for_search(session: Session, ds: Dataset) -> None:
    found = repository.domain(session, ds.domain)
    ds.search_title, ds.search_body = search_tokens.dataset_tokens(
        slug=ds.slug,
        titles=[ds.title_en, ds.title_zh],
        keywords=ds.keywords or [],
        descriptions=[ds.description_en, ds.description_zh],
        facets=[
            ds.domain,
            found.name_en if found else None,
            found.name_zh if found else None,
            ds.task,
            ds.modality,
        ],
        provenance=ds.provenance,
    )
    repository.index_for_search(session, ds)


def list_domains(session: Session) -> list[DatasetDomain]:
    return repository.domains(session)


def add_domain(session: Session, principal: Principal, data: DomainIn) -> DatasetDomain:
    principal.require_admin()
    if repository.domain(session, data.slug) is not None:
        raise Conflict("dataset.domain_exists", domain=data.slug)
    domain = DatasetDomain(slug=data.slug, name_en=data.name_en, name_zh=data.name_zh)
    session.add(domain)
    session.flush()
    record(session, principal, AuditEvent("dataset.domain_add", "dataset_domain", data.slug))
    return domain


def create(session: Session, principal: Principal, org_id: str, data: DatasetCreate) -> Dataset:
    principal.require_steward(org_id)
    if repository.domain(session, data.domain) is None:
        raise InvalidInput("dataset.unknown_domain", domain=data.domain)
    if repository.dataset_by_slug(session, data.slug) is not None:
        raise Conflict("dataset.slug_taken", slug=data.slug)
    values = data.model_dump(exclude={"org", "label_schema"})
    ds = Dataset(
        org_id=org_id, label_schema=data.label_schema.model_dump(), created_by=principal.user_id, **values
    )
    ds.keywords = sorted({k.strip() for k in data.keywords if k.strip()})
    ds.search_text = _search_text(ds)
    session.add(ds)
    session.flush()
    _index_for_search(session, ds)
    record(
        session,
        principal,
        AuditEvent(
            "dataset.create", "dataset", ds.id, org_id=org_id, data={"slug": ds.slug, "level": ds.level}
        ),
    )
    return ds


def get(session: Session, principal: Principal, slug: str) -> Dataset:
    ds = repository.dataset_by_slug(session, slug)
    if ds is None or not policy.can_see(principal, ds.org_id, ds.level, ds.has_published):
        raise NotFound("dataset.not_found")
    return ds


def get_for_steward(session: Session, principal: Principal, slug: str) -> Dataset:
    ds = repository.dataset_by_slug(session, slug)
    if ds is None:
        raise NotFound("dataset.not_found")
    if not policy.can_see(principal, ds.org_id, ds.level, ds.has_published):
        raise NotFound("dataset.not_found")
    principal.require_steward(ds.org_id)
    return ds


def update(session: Session, principal: Principal, slug: str, data: DatasetUpdate) -> Dataset:
    ds = get_for_steward(session, principal, slug)
    for name, value in data.model_dump(exclude_none=True).items():
        setattr(ds, name, value)
    ds.search_text = _search_text(ds)
    ds.updated_at = utcnow()
    _index_for_search(session, ds)
    return ds


def list_versions(session: Session, principal: Principal, slug: str) -> list[DatasetVersion]:
    ds = get(session, principal, slug)
    found = repository.versions(session, ds.id)
    if principal.can_read(ds.org_id):
        return found
    return [v for v in found if v.state in ("published", "deprecated")]


def get_version(
    session: Session, principal: Principal, slug: str, number: int
) -> tuple[Dataset, DatasetVersion]:
    ds = get(session, principal, slug)
    version = repository.version(session, ds.id, number)
    owner = principal.can_read(ds.org_id)
    if version is None or (not owner and version.state not in ("published", "deprecated")):
        raise NotFound("dataset.version_not_found", number=number)
    return ds, version


def steward_version(
    session: Session, principal: Principal, slug: str, number: int
) -> tuple[Dataset, DatasetVersion]:
    ds = get_for_steward(session, principal, slug)
    version = repository.version(session, ds.id, number)
    if version is None:
        raise NotFound("dataset.version_not_found", number=number)
    return ds, version


def create_version(session: Session, principal: Principal, slug: str, data: VersionCreate) -> DatasetVersion:
    ds = get_for_steward(session, principal, slug)
    version = DatasetVersion(
        dataset_id=ds.id,
        number=repository.next_version_number(session, ds.id),
        notes=data.notes,
        created_by=principal.user_id,
    )
    session.add(version)
    session.flush()
    record(
        session,
        principal,
        AuditEvent(
            "dataset.version_create",
            "dataset_version",
            version.id,
            org_id=ds.org_id,
            data={"slug": ds.slug, "number": version.number},
        ),
    )
    return version


def override(
    session: Session, principal: Principal, slug: str, number: int, justification: str
) -> DatasetVersion:
    ds, version = steward_version(session, principal, slug, number)
    if version.state != "blocked" or not policy.can_override(list(version.blocked_reasons or [])):
        raise Conflict("dataset.override_not_allowed")
    version.state = policy.transition(version.state, "ready")
    version.override_justification = justification
    version.override_by = principal.user_id
    record(
        session,
        principal,
        AuditEvent(
            "dataset.scan_override",
            "dataset_version",
            version.id,
            org_id=ds.org_id,
            reason=justification,
            data={"slug": ds.slug, "number": number, "findings": (version.scan_report or {}).get("counts")},
        ),
    )
    return version


def publish(session: Session, principal: Principal, slug: str, number: int) -> DatasetVersion:
    ds, version = steward_version(session, principal, slug, number)
    if not policy.can_publish(ds.level):
        raise Conflict("dataset.not_publishable")
    version.state = policy.transition(version.state, "published")
    version.published_at = utcnow()
    ds.has_published = True
    ds.updated_at = utcnow()
    record(
        session,
        principal,
        AuditEvent(
            "dataset.publish",
            "dataset_version",
            version.id,
            org_id=ds.org_id,
            data={"slug": ds.slug, "number": number, "digest": version.digest},
        ),
    )
    return version


def deprecate(session: Session, principal: Principal, slug: str, number: int) -> DatasetVersion:
    ds, version = steward_version(session, principal, slug, number)
    version.state = policy.transition(version.state, "deprecated")
    version.deprecated_at = utcnow()
    record(
        session,
        principal,
        AuditEvent(
            "dataset.deprecate",
            "dataset_version",
            version.id,
            org_id=ds.org_id,
            data={"slug": ds.slug, "number": number},
        ),
    )
    return version


def search(
    session: Session,
    principal: Principal,
    q: str | None,
    filters: dict[str, str | None],
    limit: int = 20,
    offset: int = 0,
    facets: Sequence[str] = tuple(repository.FACETS),
) -> SearchResult:
    """Full-text search over what the principal may see, Chinese and English alike, with facet counts.

    Any text is a valid query: it is tokenised, never parsed, so quotes and operators are just
    punctuation. A query with nothing searchable in it (only punctuation) matches nothing.
    """
    terms = search_tokens.query_terms(q)
    if q and q.strip() and not terms:
        return SearchResult(
            total=0, items=[], facets={name: [] for name in facets if name in repository.FACETS}
        )
    active = {k: v for k, v in filters.items() if v and k in repository.FACETS}
    page = repository.search(
        session,
        (principal.is_admin, list(principal.memberships)),
        terms,
        active,
        min(max(limit, 1), 100),
        max(offset, 0),
        facets,
    )
    return SearchResult(
        total=page.total,
        items=[DatasetOut.model_validate(d) for d in page.items],
        facets={k: [FacetCount(value=v, count=c) for v, c in rows] for k, rows in page.facets.items()},
    )


# --- lineage: which jobs used a dataset's versions ------------------------------------------

MAX_USES_PAGE = 200
# Organisation ids -> (slug, name); supplied by the caller, which may read the organisations.
OrgNames = Callable[[list[str]], Mapping[str, tuple[str, str]]]


def _users_visible(principal: Principal, ds: Dataset) -> list[str] | None:
    """Whose uses the caller may see: everyone's (None) for administrators and the publisher's
    stewards; otherwise only their own organisations', so no other tenant's job ids leak."""
    if principal.is_admin or principal.role_in(ds.org_id) == "steward":
        return None
    return list(principal.memberships)


def _use_page(
    session: Session,
    scope: repository.UseScope,
    limit: int,
    offset: int,
    org_names: OrgNames | None,
) -> DatasetUsePage:
    limit, offset = min(max(limit, 1), MAX_USES_PAGE), max(offset, 0)
    if any(ids is not None and not ids for ids in (scope.user_org_ids, scope.publisher_org_ids)):
        return DatasetUsePage(total=0, limit=limit, offset=offset, items=[])
    total, rows = repository.version_uses(session, scope, limit, offset)
    names = org_names(sorted({r.use.org_id for r in rows})) if org_names and rows else {}
    items = [
        DatasetUseOut(
            job_id=r.use.job_id,
            org_id=r.use.org_id,
            org_slug=names[r.use.org_id][0] if r.use.org_id in names else None,
            org_name=names[r.use.org_id][1] if r.use.org_id in names else None,
            dataset=r.dataset_slug,
            version=r.version_number,
            used_at=r.use.used_at,
        )
        for r in rows
    ]
    return DatasetUsePage(total=total, limit=limit, offset=offset, items=items)


def dataset_uses(
    session: Session,
    principal: Principal,
    slug: str,
    limit: int = 50,
    offset: int = 0,
    org_names: OrgNames | None = None,
) -> DatasetUsePage:
    """Jobs that used any version of the dataset, newest first, as far as the caller may see them."""
    ds = get(session, principal, slug)
    scope = repository.UseScope(dataset_id=ds.id, user_org_ids=_users_visible(principal, ds))
    return _use_page(session, scope, limit, offset, org_names)


def version_uses(
    session: Session,
    principal: Principal,
    slug: str,
    number: int,
    limit: int = 50,
    offset: int = 0,
    org_names: OrgNames | None = None,
) -> DatasetUsePage:
    """Jobs that used one version, newest first, as far as the caller may see them."""
    ds, version = get_version(session, principal, slug, number)
    scope = repository.UseScope(version_id=version.id, user_org_ids=_users_visible(principal, ds))
    return _use_page(session, scope, limit, offset, org_names)


def stewarded_uses(
    session: Session,
    principal: Principal,
    publisher_org_ids: Sequence[str] | None,
    limit: int = 50,
    offset: int = 0,
    org_names: OrgNames | None = None,
) -> DatasetUsePage:
    """Every use of the datasets the given organisations publish (None: of all datasets, for
    administrators); the caller must steward each of them."""
    if publisher_org_ids is None:
        principal.require_admin()
    else:
        for org_id in publisher_org_ids:
            principal.require_steward(org_id)
    scope = repository.UseScope(publisher_org_ids=publisher_org_ids)
    return _use_page(session, scope, limit, offset, org_names)
