"""The reconcile loop's thread: a cycle every period, sooner when nudged or while jobs are moving,
and a heartbeat that keeps this replica's leases alive while a cycle is busy."""

from __future__ import annotations

import logging
import threading

from .reconciler import Reconciler

log = logging.getLogger(__name__)
BUSY_PERIOD_S = 0.1  # while a job is starting or stopping, look again soon


class ReconcileLoop:
    def __init__(self, reconciler: Reconciler, period_s: float) -> None:
        self.reconciler = reconciler
        self.period_s = period_s
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        if self._threads:
            return
        self._stop.clear()
        for name, target in (("aicommons-scheduler", self._run), ("aicommons-heartbeat", self._beat)):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def nudge(self) -> None:
        """Run the next cycle now (a job was submitted or cancelled)."""
        self._wake.set()

    def stop(self, timeout_s: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        for thread in self._threads:
            thread.join(timeout_s)
        self._threads.clear()

    def _run(self) -> None:
        while not self._stop.is_set():
            busy = False
            try:
                busy = self.reconciler.run_once().busy
            except Exception:
                log.exception("scheduler cycle failed; retrying")
            self._wake.wait(BUSY_PERIOD_S if busy else self.period_s)
            self._wake.clear()

    def _beat(self) -> None:
        interval = max(0.5, self.reconciler.settings.scheduler_lease_s / 3)
        while not self._stop.wait(interval):
            try:
                self.reconciler.heartbeat()
            except Exception:
                log.exception("scheduler heartbeat failed")
