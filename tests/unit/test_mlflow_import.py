"""MLflow imported from several threads at once (the lifespan's warm-up racing the first request)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

# A fresh interpreter: in this one MLflow may already be imported, and the race needs a first import.
SCRIPT = textwrap.dedent(
    """
    import threading
    from aicommons.portal.tracking.mlflow_import import load_mlflow

    errors = []

    def first_use():
        try:
            load_mlflow()
            from mlflow.exceptions import MlflowException
            from mlflow.tracking import MlflowClient
        except Exception as exc:
            errors.append(repr(exc)[:200])

    threads = [threading.Thread(target=first_use) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    print(errors)
    """
)


def test_concurrent_first_imports_all_succeed() -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[]", done.stdout
