"""Preparing a data directory and database before the portal serves."""

from __future__ import annotations

from aicommons.portal.auth import service as auth_service
from aicommons.portal.core.db import make_engine, make_sessionmaker, transaction
from aicommons.portal.core.settings import Settings

from . import migrate


def prepare(settings: Settings) -> str | None:
    """Migrate the database and create the first administrator.

    Returns the administrator's one-time password on first start, None afterwards.
    """
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    migrate.upgrade(settings.database_url_resolved)
    engine = make_engine(settings.database_url_resolved)
    try:
        with transaction(make_sessionmaker(engine)) as session:
            return auth_service.bootstrap_admin(session, settings)
    finally:
        engine.dispose()
