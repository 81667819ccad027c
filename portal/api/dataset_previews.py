"""Previews of a dataset version beyond its masked first rows: the thumbnails of its first images.

The validator made them while the version was processed and stored them beside the manifest
(`<version prefix>/_aicommons/thumbs/N.jpg`); the validation report lists them. Who may see them is
who may read the version's metadata and preview rows (`service.get_version`), and only for levels
whose content may be looked at (`THUMBNAIL_LEVELS`): restricted (L3) data is usable but not
visible, so none is made or served; L4 is never published.

The route answers the JPEG itself: a thumbnail is a few kilobytes, less than a redirect round trip
costs, and one route then works alike with the local store and S3. It takes a bearer token like
every API route; the version page's <img> elements load the same bytes from the web's route
(`portal/web/datasets.py`), which knows the session cookie.
"""

from __future__ import annotations

from fastapi import APIRouter, Path, Response
from sqlalchemy.orm import Session

from aicommons.datasets import service
from aicommons.datasets.storage import ObjectStore, version_prefix
from aicommons.datasets.validation import THUMBNAIL_LEVELS
from aicommons.portal.core.errors import NotFound
from aicommons.portal.core.principal import Principal

from .datasets import NOT_FOUND, Number, Slug, StoreDep
from .deps import PrincipalDep, SessionDep

router = APIRouter(tags=["datasets"])
MAX_THUMBNAILS = 64
ARTIFACTS = "_aicommons"


@router.get(
    "/datasets/{slug}/versions/{number}/thumbnails/{index}",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}}, "description": "A JPEG thumbnail"}, **NOT_FOUND},
)
def get_thumbnail(
    principal: PrincipalDep,
    session: SessionDep,
    store: StoreDep,
    slug: str = Slug,
    number: int = Number,
    index: int = Path(ge=0, lt=MAX_THUMBNAILS),
) -> Response:
    return thumbnail_response(session, store, principal, slug, number, index)


def thumbnail_response(
    session: Session, store: ObjectStore, principal: Principal, slug: str, number: int, index: int
) -> Response:
    data = thumbnail_bytes(session, store, principal, slug, number, index)
    # Private: access depends on the caller. A version's thumbnails never change once made.
    return Response(data, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=3600"})


def thumbnail_bytes(
    session: Session, store: ObjectStore, principal: Principal, slug: str, number: int, index: int
) -> bytes:
    ds, version = service.get_version(session, principal, slug, number)
    if ds.level not in THUMBNAIL_LEVELS:
        raise NotFound("dataset.thumbnails_restricted", level=ds.level)
    listed = ((version.validation_report or {}).get("thumbnails") or [])[:MAX_THUMBNAILS]
    if index >= len(listed) or not isinstance(listed[index], dict):
        raise NotFound("dataset.no_thumbnail", number=number, index=index)
    name = str(listed[index].get("name") or "")
    key = f"{version_prefix(ds.id, version.number)}/{ARTIFACTS}/{name}"
    if not name.startswith("thumbs/") or ".." in name or store.size_of(key) is None:
        raise NotFound("dataset.no_thumbnail", number=number, index=index)
    return b"".join(store.iter_bytes(key))
