"""The ledger under concurrency on a real PostgreSQL: 50 writers, thousands of debits, exact totals.

Each writer is a thread with its own session and its own transactions. Every charge key is sent by
two different writers at about the same time, so replays race with first writes. One organisation
has more than enough GPU-hours (totals must match demand to the second), the other too few (its
allocations must end exactly at zero, never below).
"""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from aicommons.portal.core.db import make_engine, make_sessionmaker, transaction
from aicommons.portal.orgs.models import Organisation
from aicommons.portal.server import migrate
from aicommons.scheduler import ledger
from aicommons.scheduler.models import Allocation, Flavour, LedgerEntry

WRITERS = 50
CHARGES = 1500  # distinct charge keys; each sent twice, so 3000 debit calls
NOW = datetime(2030, 1, 15, tzinfo=UTC)


@pytest.fixture
def ledger_db(postgres_url: str) -> Iterator[sessionmaker[Session]]:
    admin = make_engine(postgres_url, isolation_level="AUTOCOMMIT")
    name = "aicommons_ledger_concurrency"
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(postgres_url).set(database=name).render_as_string(hide_password=False)
    migrate.upgrade(url)
    engine = make_engine(url, pool_size=WRITERS + 2, max_overflow=0)
    try:
        yield make_sessionmaker(engine)
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _seed(factory: sessionmaker[Session], grants: dict[str, list[tuple[int, int]]]) -> dict[str, str]:
    """Organisations with approved H100 allocations: slug -> [(GPU-seconds, days valid)]."""
    ids: dict[str, str] = {}
    with transaction(factory) as session:
        flavour = Flavour(name="H100-80G", pool="nvidia", capacity_gpus=8)
        session.add(flavour)
        session.flush()
        for slug, allocations in grants.items():
            org = Organisation(slug=slug, name=slug)
            session.add(org)
            session.flush()
            ids[slug] = org.id
            for amount, days in allocations:
                session.add(
                    Allocation(
                        org_id=org.id,
                        flavour_id=flavour.id if days % 2 else None,
                        status="approved",
                        purpose="load",
                        requested_gpu_seconds=amount,
                        granted_gpu_seconds=amount,
                        used_gpu_seconds=0,
                        valid_from=NOW - timedelta(days=1),
                        valid_until=NOW + timedelta(days=days),
                    )
                )
        ids["flavour"] = flavour.id
    return ids


def test_fifty_writers_never_double_charge_and_never_go_negative(ledger_db: sessionmaker[Session]) -> None:
    rng = random.Random(7)
    amounts = {f"charge-{i}": rng.randint(1, 7200) for i in range(CHARGES)}
    rich_keys = {k for i, k in enumerate(amounts) if i % 2 == 0}
    demand_rich = sum(amounts[k] for k in rich_keys)
    demand_poor = sum(v for k, v in amounts.items() if k not in rich_keys)
    poor_grant = demand_poor // 3
    ids = _seed(
        ledger_db,
        {
            "rich": [(demand_rich // 2, 3), (demand_rich // 2, 10), (demand_rich, 5)],
            "poor": [(poor_grant - poor_grant // 2, 7), (poor_grant // 2, 2)],
        },
    )
    # every key twice, by two different writers
    calls = [k for k in amounts for _ in range(2)]
    rng.shuffle(calls)
    per_writer = [calls[i::WRITERS] for i in range(WRITERS)]
    results: dict[str, list[ledger.DebitResult]] = {k: [] for k in amounts}
    errors: list[BaseException] = []
    barrier = threading.Barrier(WRITERS)
    lock = threading.Lock()

    def write(keys: list[str]) -> None:
        barrier.wait()
        for key in keys:
            org = "rich" if key in rich_keys else "poor"
            try:
                with transaction(ledger_db) as session:
                    result = ledger.debit(
                        session,
                        org_id=ids[org],
                        flavour_id=ids["flavour"],
                        gpu_seconds=amounts[key],
                        charge_key=key,
                        at=NOW,
                    )
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)
                continue
            with lock:
                results[key].append(result)

    threads = [threading.Thread(target=write, args=(keys,)) for keys in per_writer]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors[:3]
    assert len(calls) == 2 * CHARGES >= 3000

    with ledger_db() as session:
        _check_each_charge_once(session, amounts, results)
        _check_running_totals(session)
        rich_used, poor_used = (_used(session, ids[o]) for o in ("rich", "poor"))
        assert rich_used == demand_rich, "everything charged, to the second"
        assert poor_used == poor_grant, "the poor organisation is used up exactly, never below zero"
        poor_charged = sum(results[k][0].charged for k in amounts if k not in rich_keys)
        assert poor_charged == poor_grant


def _check_each_charge_once(
    session: Session, amounts: dict[str, int], results: dict[str, list[ledger.DebitResult]]
) -> None:
    entries: dict[str, int] = {}
    for key, amount in session.execute(
        select(LedgerEntry.charge_key, func.sum(LedgerEntry.gpu_seconds)).group_by(LedgerEntry.charge_key)
    ):
        entries[key] = int(amount)
    for key, amount in amounts.items():
        first, second = results[key]
        assert first.charged == second.charged == entries.get(key, 0), key
        assert first.charged + first.uncovered == amount
        assert entries.get(key, 0) <= amount


def _check_running_totals(session: Session) -> None:
    ledger_sums: dict[str, int] = dict(
        session.execute(
            select(LedgerEntry.allocation_id, func.sum(LedgerEntry.gpu_seconds)).group_by(
                LedgerEntry.allocation_id
            )
        ).all()
    )
    for allocation in session.scalars(select(Allocation)):
        assert allocation.used_gpu_seconds == int(ledger_sums.get(allocation.id, 0))
        assert 0 <= allocation.used_gpu_seconds <= (allocation.granted_gpu_seconds or 0)


def _used(session: Session, org_id: str) -> int:
    return int(
        session.scalar(select(func.sum(Allocation.used_gpu_seconds)).where(Allocation.org_id == org_id)) or 0
    )
