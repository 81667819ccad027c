"""API tokens for scripts: shown once, stored hashed, revocable, expiring."""

from __future__ import annotations

from fastapi import APIRouter, Path

from aicommons.portal.auth import service as auth_service
from aicommons.portal.auth.schemas import ApiTokenCreate, ApiTokenCreated, ApiTokenOut

from .deps import PrincipalDep, SessionDep, SettingsDep

router = APIRouter(prefix="/tokens", tags=["api tokens"])


@router.get("", response_model=list[ApiTokenOut])
def list_tokens(principal: PrincipalDep, session: SessionDep) -> list[ApiTokenOut]:
    return [ApiTokenOut.model_validate(t) for t in auth_service.list_api_tokens(session, principal)]


@router.post("", response_model=ApiTokenCreated, status_code=201)
def create_token(
    principal: PrincipalDep, session: SessionDep, settings: SettingsDep, body: ApiTokenCreate
) -> ApiTokenCreated:
    created = auth_service.create_api_token(session, settings, principal, body)
    out = ApiTokenOut.model_validate(created.record)
    return ApiTokenCreated(**out.model_dump(), token=created.secret)


@router.delete("/{token_id}", response_model=ApiTokenOut, responses={404: {"description": "No such token"}})
def revoke_token(
    principal: PrincipalDep, session: SessionDep, token_id: str = Path(max_length=64)
) -> ApiTokenOut:
    return ApiTokenOut.model_validate(auth_service.revoke_api_token(session, principal, token_id))
