"""The migrations build exactly the tables the models declare, on both backends, and go back down."""

from __future__ import annotations

from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from aicommons.portal.core.db import Base, make_engine
from aicommons.portal.models_registry import import_all_models
from aicommons.portal.server import migrate

# Made by the search migration (0005) for the database to maintain, deliberately not in the models:
# PostgreSQL's tsvector column and its GIN index; SQLite's FTS5 table and its shadow tables.
SEARCH_ONLY = ("search_vector", "ix_datasets_search", "datasets_fts")


def _differences(url: str) -> list[Any]:
    import_all_models()
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            found = compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()
    return [d for d in found if not any(name in repr(d) for name in SEARCH_ONLY)]


def test_migrations_at_head_match_the_models(empty_database: str) -> None:
    migrate.upgrade(empty_database)
    assert _differences(empty_database) == []


def test_every_migration_goes_down_to_nothing(empty_database: str) -> None:
    migrate.upgrade(empty_database)
    command.downgrade(migrate.alembic_config(empty_database), "base")
    engine = make_engine(empty_database)
    try:
        left = set(inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()
    assert left == set()
