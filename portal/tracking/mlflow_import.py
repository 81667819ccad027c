"""MLflow's client, imported once per process under a lock."""

from __future__ import annotations

import threading

_lock = threading.Lock()


def load_mlflow() -> None:
    """MLflow's package imports itself in a cycle (mlflow.exceptions → its protos → mlflow).
    Two threads importing it at once can each be handed the other's half-built modules, and the
    protobuf descriptor pool then stays broken for the life of the process; so the first import
    is serialized. Later calls only take the lock and find the modules loaded."""
    with _lock:
        import mlflow.exceptions
        import mlflow.tracking
        import mlflow.utils.workspace_context  # noqa: F401
