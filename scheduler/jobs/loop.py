"""The scheduler's reconcile loop: a cycle every period, sooner when nudged or while jobs are moving,
and a heartbeat that keeps this replica's leases alive while a cycle is busy."""

from __future__ import annotations

from aicommons.portal.core.loops import BackgroundLoop

from .reconciler import Reconciler


class ReconcileLoop(BackgroundLoop):
    name = "aicommons-scheduler"  # busy_period_s: while a job is starting or stopping

    def __init__(self, reconciler: Reconciler, period_s: float) -> None:
        super().__init__()
        self.reconciler = reconciler
        self._period_s = period_s

    def cycle(self) -> bool:
        return self.reconciler.run_once().busy

    def heartbeat(self) -> object:
        return self.reconciler.heartbeat()

    def period_s(self) -> float:
        return self._period_s

    def heartbeat_interval_s(self) -> float:
        return max(0.5, self.reconciler.settings.scheduler_lease_s / 3)
