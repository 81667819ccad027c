"""The threads of a background reconcile loop (DESIGN.md §5): a cycle every period, sooner when the
API nudges it or while work is in motion, and a heartbeat that keeps the loop's leases alive while
a long cycle runs. The scheduler's loop and the datasets worker are both one of these."""

from __future__ import annotations

import logging
import threading

log = logging.getLogger(__name__)


class BackgroundLoop:
    """Subclasses say what a cycle and a heartbeat do, and how often each runs."""

    name = "aicommons-loop"
    busy_period_s = 0.1  # while work is in motion (a job starting or stopping), look again soon

    def __init__(self) -> None:
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    # --- what a subclass provides ---------------------------------------------------------------

    def cycle(self) -> bool:
        """One pass; True while work is in motion (the next pass comes after `busy_period_s`)."""
        raise NotImplementedError

    def heartbeat(self) -> object:
        """Renew the leases held while a cycle runs."""
        raise NotImplementedError

    def period_s(self) -> float:
        raise NotImplementedError

    def heartbeat_interval_s(self) -> float:
        raise NotImplementedError

    # --- the threads ----------------------------------------------------------------------------

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def start(self) -> None:
        if self._threads:
            return
        self._stop.clear()
        for name, target in ((self.name, self._run), (f"{self.name}-heartbeat", self._beat)):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def nudge(self) -> None:
        """Run the next cycle now."""
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
                busy = self.cycle()
            except Exception:
                log.exception("%s cycle failed; retrying", self.name)
            self._wake.wait(self.busy_period_s if busy else self.period_s())
            self._wake.clear()

    def _beat(self) -> None:
        while not self._stop.wait(self.heartbeat_interval_s()):
            try:
                self.heartbeat()
            except Exception:
                log.exception("%s heartbeat failed", self.name)
