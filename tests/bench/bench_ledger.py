"""Ledger benchmark on a real PostgreSQL (prints figures; JSON on its last line).

1. Debit throughput: 50 concurrent writers (threads, each its own session and transactions) against
   a baseline of 1 writer measured in the same run; plus 50 writers all on one organisation.
2. Balance query p95 with 10,000 allocations and 1,000,000 usage records (and as many ledger
   entries), bulk-loaded with COPY and set-based INSERT … SELECT into a dedicated database that is
   created and dropped here. Balances read the allocations' running totals through the
   (org_id, status, valid_until) index, so they do not scan the ledger.

Run: .venv/bin/python -m tests.bench.bench_ledger   (needs `bash infra/services.sh up`)
"""

from __future__ import annotations

import json
import statistics
import threading
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from aicommons.portal.core.db import make_engine, make_sessionmaker, transaction
from aicommons.portal.core.principal import Principal
from aicommons.portal.server import migrate
from aicommons.scheduler import allocations, ledger
from tests.bench.services_env import postgres_url

WRITERS = 50
BASELINE_DEBITS = 1000
DEBITS_PER_WRITER = 40
THROUGHPUT_ORGS = 10
ALLOCATIONS = 10_000
BALANCE_ORGS = 100
USAGE_RECORDS = 1_000_000
BALANCE_QUERIES = 1000
TARGET_P95_MS = 20
DB_NAME = "aicommons_bench_ledger"
NOW = datetime.now(UTC)
ADMIN = Principal(user_id="bench", username="bench", is_admin=True)


def _base_url() -> str:
    return postgres_url()


def _seed_throughput_orgs(engine: Engine) -> tuple[list[str], str]:
    """Organisations tp-000… with three approved allocations each (two flavour-specific, one any)."""
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO flavours VALUES ('f-h100','H100-80G','nvidia',8,NULL,now())"))
        conn.execute(
            text(
                "INSERT INTO organisations (id, slug, name, created_at) "
                "SELECT 'tp-' || lpad(i::text, 3, '0'), 'tp-' || i, 'tp', now() FROM generate_series(0, :n) i"
            ),
            {"n": THROUGHPUT_ORGS},
        )
        conn.execute(
            text(
                "INSERT INTO allocations (id, org_id, flavour_id, status, purpose, requested_gpu_seconds,"
                " granted_gpu_seconds, used_gpu_seconds, valid_from, valid_until, requested_at)"
                " SELECT 'tp-a-' || o || '-' || k, 'tp-' || lpad(o::text, 3, '0'),"
                " CASE WHEN k < 2 THEN 'f-h100' END, 'approved', 'bench', 10e12, 10e12, 0,"
                " now() - interval '1 day', now() + (k + 1) * interval '10 days', now()"
                " FROM generate_series(0, :n) o, generate_series(0, 2) k"
            ),
            {"n": THROUGHPUT_ORGS},
        )
    return [f"tp-{i:03d}" for i in range(THROUGHPUT_ORGS + 1)], "f-h100"


def _debits_per_s(
    factory: sessionmaker[Session], writers: int, per_writer: int, orgs: list[str], tag: str
) -> float:
    barrier = threading.Barrier(writers + 1)
    errors: list[BaseException] = []

    def work(w: int) -> None:
        barrier.wait()
        for i in range(per_writer):
            try:
                with transaction(factory) as session:
                    ledger.debit(
                        session,
                        org_id=orgs[(w + i) % len(orgs)],
                        flavour_id="f-h100",
                        gpu_seconds=3600 + i,
                        charge_key=f"{tag}-{w}-{i}",
                        at=NOW,
                    )
            except BaseException as exc:
                errors.append(exc)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(writers)]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise SystemExit(f"{len(errors)} debits failed: {errors[0]!r}")
    return writers * per_writer / elapsed


def _bulk_load(engine: Engine) -> float:
    """10,000 allocations over 100 organisations (COPY), 1,000,000 usage records and ledger entries."""
    started = time.perf_counter()
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute(
            "INSERT INTO organisations (id, slug, name, created_at) "
            "SELECT 'b-' || lpad(i::text, 3, '0'), 'b-' || i, 'bench', now()"
            f" FROM generate_series(0, {BALANCE_ORGS - 1}) i"
        )
        columns = (
            "id, org_id, flavour_id, status, purpose, requested_gpu_seconds, granted_gpu_seconds,"
            " used_gpu_seconds, valid_from, valid_until, requested_at"
        )
        with cursor.copy(f"COPY allocations ({columns}) FROM STDIN") as copy:
            for i in range(ALLOCATIONS):
                start = NOW - timedelta(days=(i % 60))
                copy.write_row(
                    (
                        f"b-a-{i:05d}",
                        f"b-{i % BALANCE_ORGS:03d}",
                        "f-h100" if i % 3 else None,
                        "approved" if i % 10 else "requested",
                        "bench",
                        10_000_000,
                        10_000_000,
                        0,
                        start,
                        start + timedelta(days=30 + i % 90),
                        start,
                    )
                )
        cursor.execute(
            "INSERT INTO usage_records (org_id, flavour_id, job_id, attempt, started_at, ended_at, gpus,"
            " outcome, gpu_seconds, charged, charged_gpu_seconds, uncovered_gpu_seconds, created_at)"
            " SELECT 'b-' || lpad((i %% %s)::text, 3, '0'), 'f-h100', 'job-' || i, 0,"
            " now() - i * interval '1 second', now() - i * interval '1 second' + interval '100 seconds',"
            " 1, 'succeeded', 100, true, 100, 0, now() FROM generate_series(1, %s) i",
            (BALANCE_ORGS, USAGE_RECORDS),
        )
        cursor.execute(
            "INSERT INTO ledger_entries (charge_key, seq, allocation_id, org_id, flavour_id, gpu_seconds, at,"
            " created_at) SELECT 'usage:job-' || i, 0, 'b-a-' || lpad((i %% %s)::text, 5, '0'),"
            " 'b-' || lpad(((i %% %s) %% %s)::text, 3, '0'), 'f-h100', 100, now(), now()"
            " FROM generate_series(1, %s) i",
            (ALLOCATIONS, ALLOCATIONS, BALANCE_ORGS, USAGE_RECORDS),
        )
        cursor.execute(
            "UPDATE allocations a SET used_gpu_seconds = s.total FROM (SELECT allocation_id, sum(gpu_seconds)"
            " AS total FROM ledger_entries GROUP BY allocation_id) s WHERE a.id = s.allocation_id"
        )
        raw.commit()
        driver = raw.driver_connection
        assert driver is not None
        driver.autocommit = True
        for statement in ("VACUUM ANALYZE allocations", "ANALYZE usage_records", "ANALYZE ledger_entries"):
            driver.execute(statement)
    finally:
        raw.close()
    return time.perf_counter() - started


def _balance_p95_ms(factory: sessionmaker[Session]) -> tuple[float, float]:
    timings: list[float] = []
    with factory() as session:
        for i in range(BALANCE_QUERIES):
            org = f"b-{(i * 37) % BALANCE_ORGS:03d}"
            started = time.perf_counter()
            allocations.balance(session, ADMIN, org)
            timings.append((time.perf_counter() - started) * 1000)
            session.rollback()
    timings.sort()
    return timings[int(len(timings) * 0.95) - 1], statistics.median(timings)


def main() -> None:
    base = _base_url()
    admin = make_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{DB_NAME}"'))
    url = make_url(base).set(database=DB_NAME).render_as_string(hide_password=False)
    total_started = time.perf_counter()
    try:
        migrate.upgrade(url)
        engine = make_engine(url, pool_size=WRITERS + 2, max_overflow=0)
        factory = make_sessionmaker(engine)
        orgs, _ = _seed_throughput_orgs(engine)
        baseline = _debits_per_s(factory, 1, BASELINE_DEBITS, orgs[:1], "base")
        print(f"1 writer: {baseline:.0f} debits/s ({BASELINE_DEBITS} debits)")
        parallel = _debits_per_s(factory, WRITERS, DEBITS_PER_WRITER, orgs[1:], "par")
        print(f"{WRITERS} writers over {THROUGHPUT_ORGS} organisations: {parallel:.0f} debits/s")
        one_org = _debits_per_s(factory, WRITERS, DEBITS_PER_WRITER // 2, orgs[:1], "one")
        print(f"{WRITERS} writers on one organisation (serialised by its row locks): {one_org:.0f} debits/s")
        load_s = _bulk_load(engine)
        print(
            f"bulk load: {ALLOCATIONS} allocations, {USAGE_RECORDS} usage records"
            f" and as many ledger entries in {load_s:.1f} s"
        )
        p95, median = _balance_p95_ms(factory)
        print(
            f"balance query over {BALANCE_QUERIES} calls: p50 {median:.2f} ms,"
            f" p95 {p95:.2f} ms (target {TARGET_P95_MS})"
        )
        engine.dispose()
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)'))
        admin.dispose()
    result = {
        "bench": "ledger",
        "writers": WRITERS,
        "debits_per_s": round(parallel, 1),
        "baseline_debits_per_s_1_writer": round(baseline, 1),
        "single_org_debits_per_s_50_writers": round(one_org, 1),
        "throughput_orgs": THROUGHPUT_ORGS,
        "balance_p95_ms": round(p95, 3),
        "balance_p50_ms": round(median, 3),
        "target_balance_p95_ms": TARGET_P95_MS,
        "allocations": ALLOCATIONS,
        "usage_records": USAGE_RECORDS,
        "ledger_entries": USAGE_RECORDS,
        "bulk_load_s": round(load_s, 1),
        "total_s": round(time.perf_counter() - total_started, 1),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
