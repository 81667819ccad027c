"""Typer commands `up`, `status` and `down`, added to the root CLI by `register(app)`.

Heavy imports stay inside the commands so that `aicommons --help` remains fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

DataDirOption = Annotated[
    Path | None,
    typer.Option("--data-dir", help="Data directory (default: AICOMMONS_DATA_DIR or ~/.aicommons).",
                 file_okay=False, resolve_path=False),
]  # fmt: skip


def _settings(data_dir: Path | None = None, port: int | None = None) -> Any:
    from aicommons.portal.core.settings import Settings

    overrides: dict[str, Any] = {}
    if data_dir is not None:
        overrides["data_dir"] = data_dir.expanduser().resolve()
    if port is not None:
        overrides["port"] = port
    settings = Settings(**overrides)
    if data_dir is None:
        settings.data_dir = settings.data_dir.expanduser().resolve()
    return settings


def up(
    flavour: Annotated[
        list[str] | None,
        typer.Option(
            "--flavor",
            "--flavour",
            metavar="NAME=COUNT",
            help="Declare COUNT accelerators of flavour NAME as a Ray custom resource "
            "(repeatable), e.g. --flavor H100-80G=8.",
        ),
    ] = None,
    port: Annotated[
        int | None, typer.Option("--port", help="Portal port (default: AICOMMONS_PORT or 8600).")
    ] = None,
    data_dir: DataDirOption = None,
    no_ray: Annotated[bool, typer.Option("--no-ray", help="Do not start a local Ray head.")] = False,
    no_mlflow: Annotated[bool, typer.Option("--no-mlflow", help="Do not start an MLflow server.")] = False,
    external: Annotated[
        bool,
        typer.Option(
            "--external",
            help="Start only the portal; database, MLflow and Ray come from "
            "AICOMMONS_* environment variables.",
        ),
    ] = False,
) -> None:
    """Start the portal, a local Ray head and MLflow; Ctrl-C stops all · 启动门户、Ray 与 MLflow."""
    from .plan import PlanError, UpOptions, parse_flavours
    from .supervisor import run_up

    console = Console(soft_wrap=True)
    try:
        flavours = parse_flavours(flavour or [])
    except PlanError as exc:
        raise typer.BadParameter(str(exc), param_hint="--flavor") from None
    options = UpOptions(flavours=flavours, with_ray=not no_ray, with_mlflow=not no_mlflow, external=external)
    raise typer.Exit(run_up(_settings(data_dir, port), options, console))


def status(
    data_dir: DataDirOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Show whether the platform started by `up` is healthy (exit 0 if so) · 查看平台运行状态."""
    from .control import platform_status, print_status

    settings = _settings(data_dir)
    console = Console(soft_wrap=True)
    raise typer.Exit(print_status(platform_status(settings.data_dir), console, as_json=as_json))


def down(
    data_dir: DataDirOption = None,
    timeout: Annotated[
        float, typer.Option("--timeout", help="Seconds to wait for everything to stop.")
    ] = 60.0,
) -> None:
    """Stop the platform started by `up` and wait until every process is gone · 停止平台."""
    from .control import down as stop_platform

    settings = _settings(data_dir)
    console = Console(soft_wrap=True)
    raise typer.Exit(
        stop_platform(settings.data_dir, console, timeout_s=timeout, grace_s=settings.up_stop_grace_s)
    )


def register(app: typer.Typer) -> None:
    app.command("up")(up)
    app.command("status")(status)
    app.command("down")(down)
