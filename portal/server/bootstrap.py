"""Preparing a data directory and database before the portal serves."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy.orm import Session

from aicommons.portal.auth import repository as users
from aicommons.portal.auth import service as auth_service
from aicommons.portal.core.db import make_engine, make_sessionmaker, transaction
from aicommons.portal.core.errors import AppError
from aicommons.portal.core.settings import Settings
from aicommons.scheduler import flavours
from aicommons.scheduler.schemas import FlavourCreate, FlavourUpdate

from . import migrate


def prepare(settings: Settings, declared_flavours: Mapping[str, int] | None = None) -> str | None:
    """Migrate the database, create the first administrator and register declared flavours.

    Returns the administrator's one-time password on first start, None afterwards.
    """
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    migrate.upgrade(settings.database_url_resolved)
    engine = make_engine(settings.database_url_resolved)
    try:
        with transaction(make_sessionmaker(engine)) as session:
            from aicommons.portal import audit

            audit.service.install()
            password = auth_service.bootstrap_admin(session, settings)
            _register_flavours(session, settings, declared_flavours or {})
            return password
    finally:
        engine.dispose()


def _register_flavours(session: Session, settings: Settings, declared: Mapping[str, int]) -> None:
    """`aicommons up --flavor NAME=COUNT` also makes the flavour bookable in the portal.

    The change is recorded in the audit log as the bootstrap administrator's.
    """
    if not declared:
        return
    admin = users.user_by_username(session, settings.bootstrap_admin_username)
    if admin is None or not admin.is_admin:
        return
    principal = auth_service.principal_for(session, admin, "bootstrap")
    for name, count in declared.items():
        existing = {f.name: f for f in flavours.list_all(session)}.get(name)
        try:
            if existing is None:
                flavours.create(session, principal, FlavourCreate(name=name, capacity_gpus=count))
            elif existing.capacity_gpus != count:
                flavours.update(session, principal, name, FlavourUpdate(capacity_gpus=count))
        except AppError:
            # A capacity below what is already guaranteed stays as it is; the admin decides.
            continue
