"""`aicommons db …`: server-side database maintenance."""

from __future__ import annotations

import typer
from rich.console import Console

from aicommons.portal.core.settings import get_settings

from . import migrate

db_app = typer.Typer(help="Database maintenance (server side) · 数据库维护", no_args_is_help=True)
console = Console()


@db_app.command("upgrade")
def upgrade(revision: str = typer.Argument("heads", help="target revision")) -> None:
    """Apply Alembic migrations · 执行数据库迁移."""
    settings = get_settings()
    url = settings.database_url_resolved
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    migrate.upgrade(url, revision)
    console.print(f"database at revision {', '.join(sorted(migrate.current_revisions(url)))}")


@db_app.command("current")
def current() -> None:
    """Show the applied revision · 显示当前版本."""
    revisions = migrate.current_revisions(get_settings().database_url_resolved)
    console.print(", ".join(sorted(revisions)) or "(empty database)")
