"""The embedded store's presigned URLs: HMAC-signed part uploads and downloads of the local directory.

Only used with `datasets_storage = "local"`; with S3 the URLs point at the object store itself.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import FileResponse

from aicommons.datasets.storage import LocalStore
from aicommons.portal.core.errors import InvalidInput, NotFound

from .datasets import get_store

router = APIRouter(prefix="/storage/local", tags=["datasets"], include_in_schema=False)


def _local(request: Request) -> LocalStore:
    store = get_store(request)
    if not isinstance(store, LocalStore):
        raise NotFound("request.not_found")
    return store


@router.put("/part")
async def put_part(
    request: Request,
    key: Annotated[str, Query(max_length=2000)],
    upload_id: Annotated[str, Query(max_length=64)],
    part: Annotated[int, Query(ge=1, le=10_000)],
    expires: Annotated[str, Query(max_length=20)],
    sig: Annotated[str, Query(max_length=64)],
) -> Response:
    store = _local(request)
    params = {"key": key, "upload_id": upload_id, "part": str(part), "expires": expires, "action": "part"}
    store.check_signature(params, sig)
    body = await request.body()
    etag = store.write_part(key, upload_id, part, iter([body]))
    return Response(status_code=200, headers={"ETag": f'"{etag}"'})


@router.get("/object")
def get_object(
    request: Request,
    key: Annotated[str, Query(max_length=2000)],
    expires: Annotated[str, Query(max_length=20)],
    sig: Annotated[str, Query(max_length=64)],
) -> FileResponse:
    store = _local(request)
    store.check_signature({"key": key, "expires": expires, "action": "object"}, sig)
    if store.size_of(key) is None:
        raise InvalidInput("dataset.upload_unknown")
    return FileResponse(store.root / key, filename=key.rsplit("/", 1)[-1])
