"""dataset search: token columns, PostgreSQL tsvector + GIN index, SQLite FTS5 table

Revision ID: 0005
Revises: 0003
Create Date: 2026-11-24 09:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# The backfill must tokenise exactly as the running service does, so it uses the service's
# tokeniser (a pure, dependency-free module) rather than a frozen copy.
from aicommons.datasets import search_tokens

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Titles weigh A, everything else B; ts_rank_cd's default weights make an A hit 2.5 times a B hit.
SEARCH_VECTOR = (
    "setweight(to_tsvector('simple'::regconfig, search_title), 'A') || "
    "setweight(to_tsvector('simple'::regconfig, search_body), 'B')"
)
BATCH = 1000
# A narrow heap for PostgreSQL: what search filters, counts and orders by stays in the row (PLAIN,
# or MAIN for the title tokens), everything long (descriptions, search_vector, …) goes to TOAST as
# soon as a row passes 128 bytes. A search then reads a few thousand 8 KiB pages, not a whole table
# of 3 KiB rows; only the 20 rows of a page are de-TOASTed to be shown.
INLINE_COLUMNS = {
    "id": "PLAIN",
    "org_id": "PLAIN",
    "slug": "PLAIN",
    "domain": "PLAIN",
    "modality": "PLAIN",
    "task": "PLAIN",
    "licence_id": "PLAIN",
    "level": "PLAIN",
    "search_title": "MAIN",
}
# SQLite rows stay wide (no TOAST): this index covers what search filters, counts and orders by, so
# a match costs one index lookup instead of reading its whole row.
SQLITE_COVER = ["id", "has_published", "level", "org_id", "domain", "modality", "task", "licence_id"]
SQLITE_COVER += ["updated_at", "slug"]


def upgrade() -> None:
    op.add_column("datasets", sa.Column("search_title", sa.Text(), nullable=False, server_default=""))
    op.add_column("datasets", sa.Column("search_body", sa.Text(), nullable=False, server_default=""))
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        op.execute("CREATE VIRTUAL TABLE datasets_fts USING fts5(dataset_id UNINDEXED, title, body)")
        op.execute(f"CREATE INDEX ix_datasets_search_cover ON datasets ({', '.join(SQLITE_COVER)})")
    if bind.dialect.name == "postgresql":
        _set_storage(INLINE_COLUMNS)
        op.execute("ALTER TABLE datasets SET (toast_tuple_target = 128)")
    _backfill(bind)
    if bind.dialect.name == "postgresql":
        # Adding a stored generated column rewrites the table, so every row takes the new layout.
        generated = f"GENERATED ALWAYS AS ({SEARCH_VECTOR}) STORED"
        op.execute(f"ALTER TABLE datasets ADD COLUMN search_vector tsvector {generated}")
        op.execute("CREATE INDEX ix_datasets_search_vector ON datasets USING gin (search_vector)")


def _backfill(bind: sa.Connection) -> None:
    """Tokens for the rows that exist, exactly as `service._index_for_search` writes them for new ones."""
    query = sa.text(
        "SELECT d.id, d.slug, d.title_en, d.title_zh, d.description_en, d.description_zh, d.domain,"
        " d.task, d.modality, d.provenance, d.keywords, m.name_en, m.name_zh"
        " FROM datasets d LEFT JOIN dataset_domains m ON m.slug = d.domain"
    ).columns(keywords=sa.JSON())
    batch: list[dict[str, object]] = []
    for row in bind.execute(query).mappings().all():
        title, body = search_tokens.dataset_tokens(
            slug=row["slug"],
            titles=[row["title_en"], row["title_zh"]],
            keywords=row["keywords"] or [],
            descriptions=[row["description_en"], row["description_zh"]],
            facets=[row["domain"], row["name_en"], row["name_zh"], row["task"], row["modality"]],
            provenance=row["provenance"],
        )
        batch.append(
            {"id": row["id"], "title": title, "body": body, "rowid": search_tokens.fts_rowid(row["id"])}
        )
        if len(batch) >= BATCH:
            _write(bind, batch)
            batch = []
    _write(bind, batch)


def _write(bind: sa.Connection, batch: list[dict[str, object]]) -> None:
    if not batch:
        return
    bind.execute(
        sa.text("UPDATE datasets SET search_title = :title, search_body = :body WHERE id = :id"), batch
    )
    if bind.dialect.name == "sqlite":
        bind.execute(
            sa.text(
                "INSERT INTO datasets_fts(rowid, dataset_id, title, body) VALUES (:rowid, :id, :title, :body)"
            ),
            batch,
        )


def _set_storage(storage: dict[str, str]) -> None:
    clauses = ", ".join(f"ALTER COLUMN {name} SET STORAGE {kind}" for name, kind in storage.items())
    op.execute(f"ALTER TABLE datasets {clauses}")


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_datasets_search_vector")
        op.execute("ALTER TABLE datasets DROP COLUMN IF EXISTS search_vector")
        op.execute("ALTER TABLE datasets RESET (toast_tuple_target)")
        _set_storage({name: "EXTENDED" for name in INLINE_COLUMNS if name != "search_title"})
    else:
        op.execute("DROP INDEX IF EXISTS ix_datasets_search_cover")
        op.execute("DROP TABLE IF EXISTS datasets_fts")
    with op.batch_alter_table("datasets", schema=None) as batch_op:
        batch_op.drop_column("search_body")
        batch_op.drop_column("search_title")
