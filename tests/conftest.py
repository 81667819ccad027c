"""Shared fixtures: the portal on SQLite and on a real PostgreSQL, seeded users, callers by marker.

Every API test runs once per database backend. On PostgreSQL each test runs inside one outer
transaction that is rolled back at its end (requests commit to savepoints); on SQLite each test
gets a fresh copy of a migrated database file.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from aicommons.portal.app import create_app
from aicommons.portal.auth import service as auth_service
from aicommons.portal.auth.schemas import UserCreate
from aicommons.portal.core.db import make_engine, transaction
from aicommons.portal.core.principal import Principal
from aicommons.portal.core.settings import Settings
from aicommons.portal.orgs.models import Membership, Organisation
from aicommons.portal.server import migrate

pytest_plugins = [
    "tests.fixtures.services",
    "tests.fixtures.ray_head",
    "tests.fixtures.kube_apiserver",
    "tests.fixtures.empty_database",
]

PASSWORD = "correct-horse-battery"
SEED_ORGS = {"acme": "Acme Robotics", "beta": "Beta Vision"}
# username -> (admin?, {org slug: role})
SEED_USERS: dict[str, tuple[bool, dict[str, str]]] = {
    "root": (True, {}),
    "alice": (False, {"acme": "member"}),
    "bob": (False, {"acme": "steward"}),
    "carol": (False, {"beta": "member"}),
    "dave": (False, {"beta": "steward"}),
}


@dataclass
class Portal:
    app: FastAPI
    settings: Settings
    sessionmaker: sessionmaker[Session]
    backend: str

    def client(self, username: str | None = None, lang: str | None = None) -> TestClient:
        client = TestClient(self.app, raise_server_exceptions=False)
        if lang:
            client.headers["Accept-Language"] = lang
        if username:
            response = client.post("/api/v1/auth/token", json={"username": username, "password": PASSWORD})
            assert response.status_code == 200, response.text
            client.headers["Authorization"] = f"Bearer {response.json()['access_token']}"
        return client

    def principal(self, username: str) -> Principal:
        with transaction(self.sessionmaker) as session:
            from aicommons.portal.auth import repository

            user = repository.user_by_username(session, username)
            assert user is not None
            return auth_service.principal_for(session, user, "test")


def _seed(session: Session) -> None:
    orgs = {}
    for slug, name in SEED_ORGS.items():
        org = Organisation(slug=slug, name=name)
        session.add(org)
        orgs[slug] = org
    session.flush()
    for username, (is_admin, roles) in SEED_USERS.items():
        user = auth_service.create_user(
            session, None, UserCreate(username=username, password=PASSWORD, is_admin=is_admin)
        )
        for slug, role in roles.items():
            session.add(Membership(org_id=orgs[slug].id, user_id=user.id, role=role))
    session.flush()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite") / "template.db"
    url = f"sqlite:///{path}"
    migrate.upgrade(url)
    engine = make_engine(url)
    with Session(engine) as session:
        _seed(session)
        session.commit()
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def postgres_test_url(postgres_url: str) -> Iterator[str]:
    """A fresh database for this test session on the real PostgreSQL server, migrated and seeded."""
    admin_engine = make_engine(postgres_url, isolation_level="AUTOCOMMIT")
    # Parallel sessions (helpers, a second checkout) each set their own name; WITH (FORCE) below
    # would otherwise cut off another session's connections.
    name = os.environ.get("AICOMMONS_TEST_DB", "aicommons_test")
    with admin_engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(postgres_url).set(database=name).render_as_string(hide_password=False)
    migrate.upgrade(url)
    engine = make_engine(url)
    with Session(engine) as session:
        _seed(session)
        session.commit()
    engine.dispose()
    yield url
    admin_engine.dispose()


def _settings(tmp_path: Path, url: str) -> Settings:
    # Local accounts only: the identity-provider tests configure Keycloak explicitly.
    # The reconcile loop is driven explicitly by the scheduler tests, not by a background thread;
    # so is the datasets worker (tests.fixtures.datasets_processing), should a test run the lifespan.
    return Settings(
        data_dir=tmp_path / "data",
        database_url=url,
        migrate_on_start=False,
        oidc_issuer=None,
        scheduler_enabled=False,
        datasets_worker_enabled=False,
    )


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def portal(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Portal]:
    if request.param == "sqlite":
        path = tmp_path / "portal.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        settings = _settings(tmp_path, f"sqlite:///{path}")
        app = create_app(settings)
        yield Portal(app, settings, app.state.sessionmaker, "sqlite")
        app.state.engine.dispose()
        return
    url = request.getfixturevalue("postgres_test_url")
    yield from _postgres_portal(tmp_path, url)


def _postgres_portal(tmp_path: Path, url: str) -> Iterator[Portal]:
    settings = _settings(tmp_path, url)
    app = create_app(settings)
    engine: Engine = app.state.engine
    connection = engine.connect()
    outer = connection.begin()
    app.state.sessionmaker = sessionmaker(
        bind=connection, expire_on_commit=False, join_transaction_mode="create_savepoint"
    )
    try:
        yield Portal(app, settings, app.state.sessionmaker, "postgres")
    finally:
        outer.rollback()
        connection.close()
        engine.dispose()


@pytest.fixture
def api(portal: Portal, request: pytest.FixtureRequest) -> TestClient:
    """A client signed in as the user named by @pytest.mark.as_user(...), anonymous without it."""
    marker = request.node.get_closest_marker("as_user")
    return portal.client(marker.args[0] if marker else None)


@pytest.fixture
def client_for(portal: Portal) -> Callable[..., TestClient]:
    return portal.client
