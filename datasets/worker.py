"""The datasets worker's threads: a cycle every period (sooner when a completed upload nudges it)
that verifies and validates the versions waiting in `validating`, one leased version at a time,
and sweeps abandoned uploads every `datasets_sweep_period_s`; a heartbeat keeps the leases of the
versions in hand alive while a long pass runs.

Every portal replica may run one: leases decide which replica works on which version, and an
expired lease (a replica that died mid-pass) is taken over by the next cycle of any replica.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from aicommons.portal.core.db import transaction
from aicommons.portal.core.loops import BackgroundLoop
from aicommons.portal.core.settings import Settings
from aicommons.portal.core.time import utcnow

from . import processing, uploads
from .storage import ObjectStore

log = logging.getLogger(__name__)


def worker_id() -> str:
    """A lease owner unique to this process and worker (the column holds 64 characters)."""
    return f"{socket.gethostname()[:30]}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


class DatasetWorker(BackgroundLoop):
    name = "aicommons-datasets"

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        store: Callable[[], ObjectStore],
        settings: Settings,
        owner: str | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        super().__init__()
        self.session_factory = session_factory
        self.store = store  # resolved on use: a store that is down must not stop the portal starting
        self.settings = settings
        self.owner = owner or worker_id()
        self.clock = clock
        self._held: set[str] = set()
        self._held_lock = threading.Lock()
        self._next_sweep = 0.0  # monotonic time; the first cycle sweeps

    def cycle(self) -> bool:
        self.run_once()
        return False  # run_once works until nothing waits: the next cycle is a period away

    def period_s(self) -> float:
        return self.settings.datasets_worker_period_s

    def heartbeat_interval_s(self) -> float:
        return max(0.5, self.settings.datasets_lease_s / 3)

    @property
    def held(self) -> list[str]:
        with self._held_lock:
            return sorted(self._held)

    # --- one cycle ----------------------------------------------------------------------------

    def run_once(self) -> list[str]:
        """Sweep if due, then process versions one by one while any is waiting; the ids processed."""
        self._sweep_if_due()
        done: list[str] = []
        while not self.stopping:
            version_id = self._claim_one()
            if version_id is None:
                break
            self._process(version_id)
            done.append(version_id)
        return done

    def _claim_one(self) -> str | None:
        # One at a time, so that other replicas take the next versions in parallel.
        with transaction(self.session_factory) as session:
            ids = processing.claim(session, self.owner, self.settings.datasets_lease_s, self.clock(), limit=1)
        if not ids:
            return None
        with self._held_lock:
            self._held.add(ids[0])
        return ids[0]

    def _process(self, version_id: str) -> None:
        try:
            state = processing.process(self.session_factory, self.store(), version_id, self.owner)
            log.info("dataset version %s processed: %s", version_id, state or "lease lost")
        except Exception:
            # The lease is kept, not released: it expires in `datasets_lease_s` (the heartbeat no
            # longer renews it) and any replica retries then. Released at once, the same cycle would
            # claim the version again and spin on a fault that persists (an unreadable object).
            log.exception(
                "processing dataset version %s failed; retried when its lease expires (%.0f s)",
                version_id,
                self.settings.datasets_lease_s,
            )
        finally:
            with self._held_lock:
                self._held.discard(version_id)

    def _sweep_if_due(self) -> None:
        if time.monotonic() < self._next_sweep:
            return
        self._next_sweep = time.monotonic() + self.settings.datasets_sweep_period_s
        with transaction(self.session_factory) as session:
            swept = uploads.sweep_abandoned(session, self.store(), self.settings, self.clock())
        for item in swept:
            log.info("abandoned upload of %s v%s swept back to draft", item.dataset, item.number)

    # --- heartbeat ----------------------------------------------------------------------------

    def heartbeat(self) -> int:
        """Extend the leases of the versions in hand; how many are still this worker's."""
        held = self.held
        if not held:
            return 0
        until = self.clock() + timedelta(seconds=self.settings.datasets_lease_s)
        with transaction(self.session_factory) as session:
            return processing.renew(session, self.owner, held, until)
