"""`python -m aicommons.portal.server up|status|down`: the platform commands on their own, for
environments where the full `aicommons` CLI is not needed."""

from __future__ import annotations

import typer

from .commands import register


def main() -> None:
    app = typer.Typer(no_args_is_help=True, add_completion=False, help="Run aicommons on this machine.")
    register(app)
    app()


if __name__ == "__main__":
    main()
