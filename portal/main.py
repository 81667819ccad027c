"""The `aicommons` console script: client commands plus the server-side ones."""

from __future__ import annotations

from aicommons.portal.cli.app import app
from aicommons.portal.server.db_commands import db_app

app.add_typer(db_app, name="db")


def _register_server_commands() -> None:
    from aicommons.portal.server.commands import register

    register(app)


_register_server_commands()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
