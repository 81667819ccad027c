"""The portal as MLflow's gateway: the stock MLflow client talks to /mlflow with a portal token.

MLFLOW_TRACKING_URI=<portal>/mlflow, MLFLOW_TRACKING_TOKEN=<portal token>, MLFLOW_WORKSPACE=<org>.
The gateway checks the caller belongs to the organisation, pins the request to that
organisation's workspace and forwards it to the MLflow server, which listens on loopback only.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse
from starlette.background import BackgroundTask

from aicommons.portal.orgs import repository as orgs
from aicommons.portal.tracking import gateway
from aicommons.portal.tracking.workspaces import ensure_workspace

from .deps import PrincipalDep, SessionDep, SettingsDep

router = APIRouter(include_in_schema=False)

WORKSPACE_HEADER = "x-mlflow-workspace"
# Hop-by-hop headers and the caller's credentials never travel upstream.
DROP_REQUEST = {"host", "authorization", "cookie", "connection", "transfer-encoding", WORKSPACE_HEADER}
DROP_RESPONSE = {"connection", "transfer-encoding", "content-length"}
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]


def _client(request: Request) -> httpx.AsyncClient:
    client: httpx.AsyncClient | None = getattr(request.app.state, "mlflow_http", None)
    if client is None:
        client = request.app.state.mlflow_http = httpx.AsyncClient(timeout=httpx.Timeout(300, connect=10))
    return client


@router.api_route("/mlflow/{path:path}", methods=METHODS)
async def forward(
    path: str, request: Request, principal: PrincipalDep, session: SessionDep, settings: SettingsDep
) -> StreamingResponse:
    gateway.check_path(principal, path)
    slugs = {o.id: o.slug for o in orgs.list_by_ids(session, list(principal.memberships))}
    workspace = gateway.choose_workspace(principal, request.headers.get(WORKSPACE_HEADER), slugs)
    await run_in_threadpool(ensure_workspace, settings.mlflow_url, workspace)
    headers = {k: v for k, v in request.headers.items() if k.lower() not in DROP_REQUEST}
    headers[WORKSPACE_HEADER] = workspace
    # MLflow's server wants a length: stream bodies that declare one (artifact uploads), buffer the rest.
    content = _body(request) if "content-length" in headers else await request.body()
    upstream_request = _client(request).build_request(
        request.method,
        f"{settings.mlflow_url}/{path}",
        params=request.query_params,
        headers=headers,
        content=content,
    )
    upstream = await _client(request).send(upstream_request, stream=True)
    response_headers = {k: v for k, v in upstream.headers.items() if k.lower() not in DROP_RESPONSE}
    return StreamingResponse(
        upstream.aiter_raw(),
        status_code=upstream.status_code,
        headers=response_headers,
        background=BackgroundTask(upstream.aclose),
    )


async def _body(request: Request) -> AsyncIterator[bytes]:
    async for chunk in request.stream():
        yield chunk
