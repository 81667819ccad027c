"""All queries of the datasets domain."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.orm import Session

from .models import AccessGrant, Dataset, DatasetDomain, DatasetVersion, LicenceAcceptance, VersionFile

FACETS = {
    "domain": Dataset.domain,
    "modality": Dataset.modality,
    "task": Dataset.task,
    "licence": Dataset.licence_id,
    "level": Dataset.level,
    "org": Dataset.org_id,
}


def domain(session: Session, slug: str) -> DatasetDomain | None:
    return session.get(DatasetDomain, slug)


def domains(session: Session) -> list[DatasetDomain]:
    return list(session.scalars(select(DatasetDomain).order_by(DatasetDomain.slug)))


def dataset_by_slug(session: Session, slug: str) -> Dataset | None:
    return session.scalars(select(Dataset).where(Dataset.slug == slug)).first()


def version(session: Session, dataset_id: str, number: int) -> DatasetVersion | None:
    return session.scalars(
        select(DatasetVersion).where(DatasetVersion.dataset_id == dataset_id, DatasetVersion.number == number)
    ).first()


def versions(session: Session, dataset_id: str) -> list[DatasetVersion]:
    return list(
        session.scalars(
            select(DatasetVersion)
            .where(DatasetVersion.dataset_id == dataset_id)
            .order_by(DatasetVersion.number)
        )
    )


def versions_by_ids(session: Session, ids: Sequence[str]) -> list[tuple[DatasetVersion, Dataset]]:
    rows = session.execute(
        select(DatasetVersion, Dataset)
        .join(Dataset, Dataset.id == DatasetVersion.dataset_id)
        .where(DatasetVersion.id.in_(list(ids)))
    )
    return [(v, d) for v, d in rows]


def next_version_number(session: Session, dataset_id: str) -> int:
    current = session.scalar(
        select(func.max(DatasetVersion.number)).where(DatasetVersion.dataset_id == dataset_id)
    )
    return int(current or 0) + 1


def files(session: Session, version_id: str) -> list[VersionFile]:
    return list(
        session.scalars(
            select(VersionFile).where(VersionFile.version_id == version_id).order_by(VersionFile.path)
        )
    )


def active_grant(session: Session, dataset_id: str, org_id: str, now: datetime) -> AccessGrant | None:
    return session.scalars(
        select(AccessGrant).where(
            AccessGrant.dataset_id == dataset_id,
            AccessGrant.org_id == org_id,
            AccessGrant.state == "approved",
            or_(AccessGrant.expires_at.is_(None), AccessGrant.expires_at > now),
        )
    ).first()


def open_grant(session: Session, dataset_id: str, org_id: str, now: datetime) -> AccessGrant | None:
    pending = session.scalars(
        select(AccessGrant).where(
            AccessGrant.dataset_id == dataset_id,
            AccessGrant.org_id == org_id,
            AccessGrant.state == "requested",
        )
    ).first()
    return pending or active_grant(session, dataset_id, org_id, now)


def grants(session: Session, dataset_id: str, org_ids: Sequence[str] | None = None) -> list[AccessGrant]:
    query = (
        select(AccessGrant)
        .where(AccessGrant.dataset_id == dataset_id)
        .order_by(AccessGrant.requested_at.desc())
    )
    if org_ids is not None:
        query = query.where(AccessGrant.org_id.in_(list(org_ids)))
    return list(session.scalars(query))


def grant(session: Session, grant_id: str) -> AccessGrant | None:
    return session.get(AccessGrant, grant_id)


def licence_accepted(session: Session, dataset_id: str, user_id: str) -> bool:
    return (
        session.scalars(
            select(LicenceAcceptance.id).where(
                LicenceAcceptance.dataset_id == dataset_id, LicenceAcceptance.user_id == user_id
            )
        ).first()
        is not None
    )


def visibility_clause(is_admin: bool, org_ids: Sequence[str]) -> ColumnElement[bool]:
    if is_admin:
        return Dataset.id.is_not(None)
    public = and_(Dataset.has_published.is_(True), Dataset.level != "L4")
    return or_(public, Dataset.org_id.in_(list(org_ids))) if org_ids else public


def search(
    session: Session,
    visible: ColumnElement[bool],
    terms: list[str],
    filters: dict[str, str],
    limit: int,
    offset: int,
) -> tuple[int, list[Dataset], dict[str, list[tuple[str, int]]]]:
    conditions: list[ColumnElement[bool]] = [visible]
    for term in terms:
        escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        conditions.append(Dataset.search_text.like(f"%{escaped}%", escape="\\"))
    for name, value in filters.items():
        conditions.append(FACETS[name] == value)
    where = and_(*conditions)
    total = session.scalar(select(func.count()).select_from(Dataset).where(where)) or 0
    items = list(
        session.scalars(
            select(Dataset)
            .where(where)
            .order_by(Dataset.updated_at.desc(), Dataset.slug)
            .limit(limit)
            .offset(offset)
        )
    )
    facets: dict[str, list[tuple[str, int]]] = {}
    for name, column in FACETS.items():
        rows: Any = session.execute(
            select(column, func.count()).where(where).group_by(column).order_by(func.count().desc(), column)
        )
        facets[name] = [(str(value), int(count)) for value, count in rows]
    return int(total), items, facets
