"""`aicommons scheduler run`: the reconcile loop on its own, for deployments that run it apart from
the portal (the Helm chart's scheduler, or several replicas: leases keep them out of each other's way)."""

from __future__ import annotations

import signal
import threading
from types import FrameType

import typer
from rich.console import Console

scheduler_app = typer.Typer(
    help="The job scheduler (server side) · 作业调度器（服务端）", no_args_is_help=True
)
console = Console()


@scheduler_app.command("run")
def run(
    once: bool = typer.Option(False, help="run one cycle and exit"),
) -> None:
    """Run the scheduler's reconcile loop until stopped · 运行调度循环直到停止."""
    # Imported here so that client commands do not pay for the server's imports.
    from aicommons.portal import audit
    from aicommons.portal.core.db import make_engine, make_sessionmaker
    from aicommons.portal.core.settings import get_settings
    from aicommons.portal.models_registry import import_all_models
    from aicommons.portal.scheduling import make_launcher, make_loop

    settings = get_settings()
    import_all_models()
    audit.service.install()
    engine = make_engine(settings.database_url_resolved)
    loop = make_loop(make_sessionmaker(engine), settings, make_launcher(settings))
    if once:
        report = loop.reconciler.run_once()
        console.print(
            f"admitted {len(report.admitted)}, preempting {len(report.preempted)}, acted on {report.acted_on}"
        )
        return
    stopped = threading.Event()

    def _stop(_signum: int, _frame: FrameType | None) -> None:
        stopped.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    loop.start()
    console.print(
        f"scheduler running (policy {settings.scheduler_policy}, launcher {settings.jobs_launcher})"
    )
    stopped.wait()
    loop.stop()
    engine.dispose()
