"""The `aicommons` console script: client commands plus the server-side ones."""

from __future__ import annotations

from aicommons.portal.cli.app import app
from aicommons.portal.server.db_commands import db_app
from aicommons.portal.server.scheduler_commands import scheduler_app

app.add_typer(db_app, name="db")
app.add_typer(scheduler_app, name="scheduler")


def _register_server_commands() -> None:
    from aicommons.portal.server.commands import register

    register(app)


_register_server_commands()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
