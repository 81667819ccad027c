"""Request-scoped dependencies: settings, the database transaction, the caller and language."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from aicommons.portal.auth import service as auth_service
from aicommons.portal.core.errors import Unauthenticated
from aicommons.portal.core.i18n import Lang, negotiate
from aicommons.portal.core.principal import Principal
from aicommons.portal.core.settings import Settings
from aicommons.portal.orgs.directory import Directory

_bearer = HTTPBearer(auto_error=False, description="An access token (JWT) or an API token (aic_…)")


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_session(request: Request) -> Iterator[Session]:
    """The request owns the transaction: commit when the handler returns, roll back on error."""
    session: Session = request.app.state.sessionmaker()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


SessionDep = Annotated[Session, Depends(get_session, scope="function")]
SettingsDep = Annotated[Settings, Depends(get_settings)]


def get_principal(
    session: SessionDep,
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None or not credentials.credentials:
        raise Unauthenticated("auth.required", "Sign-in required")
    return auth_service.authenticate(session, settings, credentials.credentials)


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def get_lang(request: Request) -> Lang:
    return negotiate(request.headers.get("accept-language"))


def get_directory(request: Request) -> Directory:
    directory: Directory = request.app.state.directory
    return directory


DirectoryDep = Annotated[Directory, Depends(get_directory)]
