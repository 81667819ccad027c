"""`aicommons up`: start Ray, MLflow and the portal as children, wait until all are healthy, keep
them running and stop every one of them on Ctrl-C, SIGTERM (what `aicommons down` sends) or SIGHUP.

Ray and MLflow are launched first and boot in parallel while this process migrates the database
and creates the bootstrap administrator; the portal is launched last.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import FrameType

from rich.console import Console, Group
from rich.live import Live
from rich.spinner import Spinner
from rich.table import Table

from aicommons.portal.core.settings import Settings

from . import control, processes
from .health import port_is_free, probe_all
from .messages import say
from .plan import PlanError, ServicePlan, UpOptions, detect_gpus, plan_services, ports_in_use
from .processes import Child
from .state import PlatformLock, UpState, read_state, remove_state, write_state

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_ALREADY_RUNNING = 3

PrepareFn = Callable[[Settings], "str | None"]


class StartupFailed(Exception):
    pass


@dataclass
class ServiceRun:
    plan: ServicePlan
    child: Child | None = None
    healthy: bool = False
    detail: str = "waiting"
    healthy_after_s: float | None = None


@dataclass
class Supervisor:
    settings: Settings
    options: UpOptions
    console: Console
    prepare: PrepareFn
    env: dict[str, str] = field(default_factory=lambda: dict(os.environ))
    stop_requested: threading.Event = field(default_factory=threading.Event)
    runs: list[ServiceRun] = field(default_factory=list)
    state: UpState | None = None
    started_monotonic: float = field(default_factory=time.monotonic)

    # ----- entry point -------------------------------------------------------------------------

    def run(self) -> int:
        data_dir = self.settings.data_dir
        data_dir.mkdir(parents=True, exist_ok=True)
        lock = PlatformLock(data_dir)
        if not lock.acquire():
            self._report_already_running()
            return EXIT_ALREADY_RUNNING
        with lock:
            control.clean_stale(data_dir, self.console)
            previous = self._install_signal_handlers()
            try:
                return self._run_locked()
            finally:
                self._stop_children()
                remove_state(data_dir)
                self._restore_signal_handlers(previous)

    def _run_locked(self) -> int:
        try:
            self.runs = [ServiceRun(plan) for plan in self._plan()]
            password = self._start()
        except (PlanError, StartupFailed) as exc:
            self.console.print(say("failed", error=exc), soft_wrap=True)
            return EXIT_FAILED
        if self.stop_requested.is_set():
            self.console.print(say("interrupted"))
            return EXIT_FAILED
        self._mark_ready()
        self._print_ready(password)
        return self._watch()

    # ----- planning and starting ---------------------------------------------------------------

    def _plan(self) -> list[ServicePlan]:
        with_ray = self.options.with_ray and not self.options.external
        num_gpus = detect_gpus() if with_ray else 0
        plans = plan_services(self.settings, self.options, self.env, num_gpus)
        taken = ports_in_use(self.settings, plans, port_is_free)
        if taken:
            raise PlanError("; ".join(taken))
        return plans

    def _start(self) -> str | None:
        self.started_monotonic = time.monotonic()
        self.state = UpState(
            supervisor_pid=os.getpid(),
            data_dir=str(self.settings.data_dir),
            started_at=datetime.now(UTC).isoformat(timespec="seconds"),
            supervisor_start_ticks=processes.process_start_ticks(os.getpid()),
        )
        with Live(self._render(), console=self.console, refresh_per_second=8, transient=True) as live:
            for run in self.runs:
                if run.plan.name != "portal":
                    self._launch(run)
            live.update(self._render(phase="preparing the database"))
            password = self._prepare()
            if self.stop_requested.is_set():
                return password
            for run in self.runs:
                if run.plan.name == "portal":
                    self._launch(run)
            self._wait_healthy(live)
        return password

    def _launch(self, run: ServiceRun) -> None:
        assert self.state is not None
        record = run.plan.record()
        if run.plan.spec is not None:
            try:
                run.child = processes.launch(run.plan.spec)
            except OSError as exc:
                raise StartupFailed(f"could not start {run.plan.title}: {exc}") from exc
            record.pid = run.child.pid
            record.pgid = run.child.pgid
            record.start_ticks = run.child.start_ticks
            run.detail = "starting"
        self.state.services[run.plan.name] = record
        self.state.urls.update(run.plan.links)
        write_state(self.settings.data_dir, self.state)

    def _prepare(self) -> str | None:
        try:
            return self.prepare(self.settings)
        except Exception as exc:
            raise StartupFailed(f"preparing the database failed: {type(exc).__name__}: {exc}") from exc

    def _wait_healthy(self, live: Live) -> None:
        deadline = self.started_monotonic + self.settings.up_start_timeout_s
        while not all(run.healthy for run in self.runs):
            if self.stop_requested.is_set():
                return
            for run in self.runs:
                self._check_startup(run)
            live.update(self._render())
            if time.monotonic() > deadline:
                waiting = ", ".join(r.plan.title for r in self.runs if not r.healthy)
                raise StartupFailed(
                    f"not healthy after {self.settings.up_start_timeout_s:.0f} s: {waiting}{self._log_hint()}"
                )
            self.stop_requested.wait(0.25)

    def _check_startup(self, run: ServiceRun) -> None:
        if run.healthy:
            return
        if run.child is not None and (code := run.child.exited()) is not None:
            log = run.child.spec.log_path
            raise StartupFailed(
                f"{run.plan.title} exited with code {code} while starting; last lines of {log}:\n"
                f"{processes.tail(log)}"
            )
        ok, _ = probe_all(run.plan.checks, timeout_s=1.0)
        run.detail = "healthy" if ok else "starting"
        if ok:
            run.healthy = True
            run.healthy_after_s = time.monotonic() - self.started_monotonic

    def _log_hint(self) -> str:
        logs = [str(r.child.spec.log_path) for r in self.runs if r.child and not r.healthy]
        return f" (see {', '.join(logs)})" if logs else ""

    def _mark_ready(self) -> None:
        assert self.state is not None
        self.state.ready = True
        write_state(self.settings.data_dir, self.state)

    # ----- output ------------------------------------------------------------------------------

    def _render(self, phase: str | None = None) -> Group:
        elapsed = time.monotonic() - self.started_monotonic
        table = Table.grid(padding=(0, 2))
        for run in self.runs:
            if run.healthy:
                mark: str | Spinner = "[green]✓[/]"
                note = f"healthy after {run.healthy_after_s:.1f} s"
            else:
                mark = Spinner("dots", style="cyan")
                note = run.detail
            table.add_row(mark, run.plan.title, note)
        title = say("starting", elapsed=f"{elapsed:.0f}") + (f" · {phase}" if phase else "")
        return Group(title, table)

    def _print_ready(self, password: str | None) -> None:
        elapsed = time.monotonic() - self.started_monotonic
        self.console.print(say("up", elapsed=f"{elapsed:.1f}"), soft_wrap=True)
        table = Table(show_header=False, box=None, padding=(0, 2))
        for run in self.runs:
            timing = say("healthy_after", s=f"{run.healthy_after_s:.1f}") if run.healthy_after_s else ""
            for label, url in run.plan.links.items():
                table.add_row(label, url, timing)
                timing = ""
        self.console.print(table)
        self.console.print(say("data_dir", path=self.settings.data_dir), soft_wrap=True)
        self.console.print(say("logs", path=self.settings.data_dir / "logs"), soft_wrap=True)
        if password:
            user = self.settings.bootstrap_admin_username
            self.console.print(say("admin", user=user, password=password), soft_wrap=True)
            self.console.print(say("admin_once"))
        self.console.print(say("press_ctrl_c"))
        self.console.file.flush()

    def _report_already_running(self) -> None:
        try:
            state = read_state(self.settings.data_dir)
        except Exception:
            state = None
        where = f" (supervisor pid {state.supervisor_pid}" if state else ""
        if state and state.urls.get("Portal"):
            where += f", portal {state.urls['Portal']}"
        where += ")" if state else ""
        self.console.print(
            f"[bold red]aicommons is already running on data directory {self.settings.data_dir}"
            f"[/]{where}.\nUse `aicommons status` to inspect it or `aicommons down` to stop it.",
            soft_wrap=True,
        )

    # ----- running and stopping ----------------------------------------------------------------

    def _watch(self) -> int:
        while not self.stop_requested.wait(0.5):
            for run in self.runs:
                if run.child is not None and (code := run.child.exited()) is not None:
                    log = run.child.spec.log_path
                    self.console.print(
                        f"[bold red]{run.plan.title} exited unexpectedly (code {code}); stopping "
                        f"the platform.[/] Last lines of {log}:\n{processes.tail(log)}",
                        soft_wrap=True,
                    )
                    return EXIT_FAILED
        return EXIT_OK

    def _stop_children(self) -> None:
        children = [run.child for run in self.runs if run.child is not None]
        if not children:
            return
        self.console.print(say("stopping"))
        grace = self.settings.up_stop_grace_s
        # The portal first (it uses the others), then Ray and MLflow together.
        portal = [c for c in children if c.spec.name == "portal"]
        others = [c for c in children if c.spec.name != "portal"]
        for group in (portal, others):
            processes.stop_groups_in_parallel(
                [(c.pgid, c.pid if c.spec.name == "ray" else None, c.process.poll) for c in group],
                grace,
            )
        for child in children:
            with contextlib.suppress(Exception):
                child.process.wait(timeout=1)
        self.console.print(say("stopped"))

    def _install_signal_handlers(self) -> dict[int, object]:
        def request_stop(signum: int, _frame: FrameType | None) -> None:
            self.stop_requested.set()

        previous: dict[int, object] = {}
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            previous[signum] = signal.signal(signum, request_stop)
        return previous

    @staticmethod
    def _restore_signal_handlers(previous: dict[int, object]) -> None:
        for signum, handler in previous.items():
            with contextlib.suppress(Exception):
                signal.signal(signum, handler)  # type: ignore[arg-type]


def default_prepare(settings: Settings, options: UpOptions | None = None) -> str | None:
    from aicommons.portal.server import bootstrap

    declared = {f.name: f.count for f in options.flavours} if options else {}
    return bootstrap.prepare(settings, declared)


def run_up(settings: Settings, options: UpOptions, console: Console) -> int:
    def prepare(prepared_settings: Settings) -> str | None:
        return default_prepare(prepared_settings, options)

    return Supervisor(settings=settings, options=options, console=console, prepare=prepare).run()
