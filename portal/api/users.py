"""Local accounts, managed by administrators."""

from __future__ import annotations

from fastapi import APIRouter

from aicommons.portal.auth import repository
from aicommons.portal.auth import service as auth_service
from aicommons.portal.auth.schemas import UserCreate, UserOut

from .deps import PrincipalDep, SessionDep

router = APIRouter(prefix="/users", tags=["users"])


@router.get("", response_model=list[UserOut])
def list_users(principal: PrincipalDep, session: SessionDep) -> list[UserOut]:
    principal.require_admin()
    return [UserOut.model_validate(u) for u in repository.list_users(session)]


@router.post("", response_model=UserOut, status_code=201, responses={409: {"description": "Username taken"}})
def create_user(principal: PrincipalDep, session: SessionDep, body: UserCreate) -> UserOut:
    return UserOut.model_validate(auth_service.create_user(session, principal, body))
