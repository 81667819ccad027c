"""Launchers by name: `create(settings.jobs_launcher, settings=settings)`.

Factories are registered lazily (a function that imports its module when first called), so that
importing the registry never imports Ray or a Kubernetes client.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from .base import Launcher, LauncherError

LauncherFactory = Callable[..., Launcher]

_factories: dict[str, LauncherFactory] = {}
_lock = threading.Lock()


def register(name: str, factory: LauncherFactory) -> None:
    """Make `create(name, **options)` call `factory(**options)`; a later registration replaces it."""
    with _lock:
        _factories[name] = factory


def available() -> list[str]:
    with _lock:
        return sorted(_factories)


def create(name: str, **options: Any) -> Launcher:
    with _lock:
        factory = _factories.get(name)
    if factory is None:
        raise LauncherError("launcher.unknown", name=name, available=", ".join(available()) or "-")
    return factory(**options)


def _local_ray(**options: Any) -> Launcher:
    from .local_ray import LocalRayLauncher

    return LocalRayLauncher.from_options(**options)


def _kuberay(**options: Any) -> Launcher:
    from .kuberay import KubeRayLauncher

    return KubeRayLauncher.from_options(**options)


register("ray", _local_ray)
register("kuberay", _kuberay)
