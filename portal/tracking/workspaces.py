"""One MLflow workspace per organisation, created on first use through the MLflow client."""

from __future__ import annotations

import threading

from aicommons.portal.core.errors import Unavailable
from aicommons.portal.tracking.mlflow_import import load_mlflow

_known: set[tuple[str, str]] = set()
_lock = threading.Lock()


def ensure_workspace(tracking_uri: str, slug: str, description: str | None = None) -> None:
    if (tracking_uri, slug) in _known:
        return
    # Imported here: MLflow takes seconds to import and only the tracking gateway needs it.
    load_mlflow()
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    with _lock:
        if (tracking_uri, slug) in _known:
            return
        client = MlflowClient(tracking_uri=tracking_uri)
        try:
            client.get_workspace(slug)
        except MlflowException as missing:
            if missing.error_code != "RESOURCE_DOES_NOT_EXIST":
                raise Unavailable("tracking.unavailable", detail=str(missing)[:200]) from missing
            try:
                client.create_workspace(slug, description=description)
            except MlflowException as exc:
                if exc.error_code != "RESOURCE_ALREADY_EXISTS":
                    raise Unavailable("tracking.unavailable", detail=str(exc)[:200]) from exc
        _known.add((tracking_uri, slug))


def warm_up() -> None:
    """Import MLflow's client ahead of the first request: the import takes seconds, longer than the
    stock client's three-second probe of the gateway on a busy machine."""
    load_mlflow()
