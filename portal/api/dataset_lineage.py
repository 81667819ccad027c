"""Dataset lineage: the platform jobs that used a dataset's versions, read from the dataset side.

Who sees what is decided in `datasets.service` (administrators and the publisher's stewards see
every use; everyone else only their own organisations'); this router only adds the organisations'
names, which the datasets domain does not read itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy.orm import Session

from aicommons.datasets import service
from aicommons.datasets.schemas import DatasetUsePage
from aicommons.portal.orgs import repository as orgs

from .datasets import NOT_FOUND, Number, Slug
from .deps import PrincipalDep, SessionDep

router = APIRouter(tags=["datasets"])

Limit = Annotated[int, Query(ge=1, le=service.MAX_USES_PAGE, description="uses per page")]
Offset = Annotated[int, Query(ge=0, le=1_000_000)]


def org_names_in(session: Session) -> service.OrgNames:
    """Organisation id -> (slug, name), read in the caller's session."""

    def names(ids: list[str]) -> Mapping[str, tuple[str, str]]:
        return {o.id: (o.slug, o.name) for o in orgs.list_by_ids(session, ids)}

    return names


@router.get("/datasets/{slug}/uses", response_model=DatasetUsePage, responses=NOT_FOUND)
def dataset_uses(
    principal: PrincipalDep,
    session: SessionDep,
    slug: str = Slug,
    limit: Limit = 50,
    offset: Offset = 0,
) -> DatasetUsePage:
    """Jobs that used any version of the dataset, newest first. Stewards of the publishing
    organisation see every organisation's jobs; others see only their own organisations' jobs."""
    return service.dataset_uses(session, principal, slug, limit, offset, org_names_in(session))


@router.get("/datasets/{slug}/versions/{number}/uses", response_model=DatasetUsePage, responses=NOT_FOUND)
def version_uses(
    principal: PrincipalDep,
    session: SessionDep,
    slug: str = Slug,
    number: int = Number,
    limit: Limit = 50,
    offset: Offset = 0,
) -> DatasetUsePage:
    """Jobs that used one version of the dataset, newest first, with the same visibility."""
    return service.version_uses(session, principal, slug, number, limit, offset, org_names_in(session))
