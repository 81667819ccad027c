"""Imports every domain's tables so that Alembic and tests see one complete metadata."""

from __future__ import annotations

import importlib

MODEL_MODULES = (
    "aicommons.portal.auth.models",
    "aicommons.portal.orgs.models",
    "aicommons.portal.audit.models",
    "aicommons.datasets.models",
    "aicommons.scheduler.models",
    "aicommons.scheduler.jobs.models",
)


def import_all_models() -> None:
    for name in MODEL_MODULES:
        importlib.import_module(name)
