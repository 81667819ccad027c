"""create_app(): the composition root of the HTTP service."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI

from aicommons.datasets.storage import ObjectStore, build_store
from aicommons.datasets.worker import DatasetWorker
from aicommons.portal import __version__, audit
from aicommons.portal.api import (
    allocations,
    auth,
    bookings,
    dataset_lineage,
    dataset_previews,
    dataset_storage,
    datasets,
    flavours,
    health,
    jobs,
    mlflow_gateway,
    models,
    orgs,
    quotas,
    tokens,
    usage,
    users,
)
from aicommons.portal.api import audit as audit_api
from aicommons.portal.api.errors import install_error_handlers
from aicommons.portal.core.db import make_engine, make_sessionmaker
from aicommons.portal.core.settings import Settings, get_settings
from aicommons.portal.models_registry import import_all_models
from aicommons.portal.orgs.directory import Directory, LocalDirectory
from aicommons.portal.tracking.workspaces import warm_up
from aicommons.portal.web import routes as web
from aicommons.scheduler.jobs.loop import ReconcileLoop

API_PREFIX = "/api/v1"


def _api_router() -> APIRouter:
    router = APIRouter(prefix=API_PREFIX)
    for module in (
        health,
        auth,
        users,
        orgs,
        tokens,
        audit_api,
        flavours,
        allocations,
        quotas,
        bookings,
        usage,
        jobs,
        datasets,
        dataset_storage,
        dataset_lineage,
        dataset_previews,
        models,
    ):
        router.include_router(module.router)
    return router


def _directory(settings: Settings) -> Directory:
    if settings.oidc_issuer and settings.oidc_client_secret:
        from aicommons.portal.auth.keycloak_directory import KeycloakDirectory

        return KeycloakDirectory(settings)
    return LocalDirectory()


def _start_scheduler(app: FastAPI, settings: Settings) -> ReconcileLoop | None:
    """The reconcile loop runs in the portal process by default; replicas may run it too (leases)."""
    if not settings.scheduler_enabled:
        return None
    from aicommons.portal.scheduling import make_launcher, make_loop

    app.state.launcher = make_launcher(settings)
    loop = make_loop(app.state.sessionmaker, settings, app.state.launcher)
    app.state.scheduler_loop = loop
    loop.start()
    return loop


def _start_datasets_worker(app: FastAPI, settings: Settings) -> DatasetWorker | None:
    """Uploads are verified and validated in the background, in every replica (leases)."""
    if not settings.datasets_worker_enabled:
        return None

    def store() -> ObjectStore:  # the same store the requests use, built on first use
        if getattr(app.state, "dataset_store", None) is None:
            app.state.dataset_store = build_store(settings)
        current: ObjectStore = app.state.dataset_store
        return current

    worker = DatasetWorker(app.state.sessionmaker, store, settings)
    app.state.datasets_worker = worker
    worker.start()
    return worker


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    import_all_models()
    audit.service.install()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.migrate_on_start:
            from aicommons.portal.server import migrate

            migrate.upgrade(settings.database_url_resolved)
        threading.Thread(target=warm_up, name="aicommons-mlflow-import", daemon=True).start()
        loop = _start_scheduler(app, settings)
        datasets_worker = _start_datasets_worker(app, settings)
        yield
        if datasets_worker is not None:
            datasets_worker.stop()
        if loop is not None:
            loop.stop()
        app.state.engine.dispose()

    app = FastAPI(
        title="aicommons",
        version=__version__,
        description="Shared AI compute and dataset access portal · 共享算力与数据开放平台",
        lifespan=lifespan,
        docs_url="/docs",
        openapi_url=f"{API_PREFIX}/openapi.json",
    )
    app.state.settings = settings
    app.state.engine = make_engine(settings.database_url_resolved)
    app.state.sessionmaker = make_sessionmaker(app.state.engine)
    app.state.directory = _directory(settings)
    install_error_handlers(app)
    app.include_router(_api_router())
    app.add_api_route("/.well-known/jwks.json", auth.jwks, include_in_schema=False)
    app.include_router(mlflow_gateway.router)
    web.install(app)  # the bilingual web UI: pages at /, static files at /static
    return app
