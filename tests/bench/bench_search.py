"""Catalogue search benchmark: 100,000 bilingual datasets, ~200 varied queries (prints figures; JSON last).

The same generated catalogue is loaded into a dedicated PostgreSQL database (created and dropped
here) and into an embedded SQLite file, both migrated to head. The queries (Chinese words and
substrings, single characters, English words and phrases, mixed, with and without facet filters,
common and rare terms, second pages) run through `service.search` as a member of one organisation,
once to warm up and once measured. The baseline is the catalogue's previous query, kept verbatim
below: `search_text LIKE '%term%'` for each whitespace-separated term, then COUNT, the page, and one
GROUP BY per facet, on the same data in the same run.

Run: .venv/bin/python -m tests.bench.bench_search   (needs `bash infra/services.sh up`)
"""

from __future__ import annotations

import json
import os
import random
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Column,
    ColumnElement,
    Connection,
    Engine,
    MetaData,
    Table,
    and_,
    func,
    or_,
    select,
    text,
)
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from aicommons.datasets import repository, search_tokens, service
from aicommons.datasets.models import Dataset
from aicommons.portal.core.db import make_engine
from aicommons.portal.core.principal import Principal
from aicommons.portal.server import migrate
from tests.bench.services_env import postgres_url

DATASETS = 100_000
ORGS = 200
QUERIES = 200
TARGET_P95_MS = 50
DB_NAME = "aicommons_bench_search"
SEED = 20261124
NOW = datetime(2026, 11, 24, tzinfo=UTC)

# domain -> subjects (English, Chinese); the first ones are common, the last ones rare.
SUBJECTS: dict[str, list[tuple[str, str]]] = {
    "transport": [
        ("traffic flow", "交通流量"),
        ("vehicle trajectories", "车辆轨迹"),
        ("parking occupancy", "停车位占用"),
        ("bus ridership", "公交客流"),
        ("road defects", "道路病害"),
        ("license plates", "车牌识别"),
        ("railway signalling", "铁路信号"),
    ],
    "medical": [
        ("chest x-ray", "胸部X光"),
        ("ct scans", "CT影像"),
        ("pathology slides", "病理切片"),
        ("electronic health records", "电子病历"),
        ("retinal images", "眼底图像"),
        ("ecg signals", "心电信号"),
        ("dental panoramas", "口腔全景片"),
    ],
    "finance": [
        ("credit card transactions", "信用卡交易"),
        ("stock quotes", "股票行情"),
        ("loan applications", "贷款申请"),
        ("fraud alerts", "欺诈预警"),
        ("insurance claims", "保险理赔"),
    ],
    "city-management": [
        ("street cameras", "街道监控"),
        ("waste collection", "垃圾清运"),
        ("citizen complaints", "市民投诉"),
        ("building permits", "建筑许可"),
        ("manhole covers", "井盖巡检"),
    ],
    "education": [
        ("exam answers", "考试答卷"),
        ("lecture transcripts", "课堂转写"),
        ("handwritten essays", "手写作文"),
        ("course reviews", "课程评价"),
    ],
    "manufacturing": [
        ("surface defects", "表面缺陷"),
        ("weld seams", "焊缝检测"),
        ("machine vibration", "设备振动"),
        ("assembly lines", "装配产线"),
        ("pcb boards", "电路板"),
    ],
    "energy": [
        ("power load", "电力负荷"),
        ("wind turbines", "风电机组"),
        ("solar panels", "光伏组件"),
        ("substation inspections", "变电站巡检"),
    ],
    "retail": [
        ("product reviews", "商品评论"),
        ("shelf images", "货架图像"),
        ("sales receipts", "销售小票"),
        ("customer queries", "客服问答"),
    ],
    "tourism": [
        ("scenic spot reviews", "景区评价"),
        ("hotel bookings", "酒店预订"),
        ("museum exhibits", "博物馆展品"),
    ],
    "meteorology": [
        ("rainfall radar", "降水雷达"),
        ("air temperature", "气温观测"),
        ("typhoon tracks", "台风路径"),
    ],
    "environment": [
        ("air quality", "空气质量"),
        ("water quality", "水质监测"),
        ("noise levels", "噪声监测"),
        ("bird sightings", "鸟类观测"),
    ],
    "agriculture": [
        ("crop diseases", "作物病害"),
        ("soil moisture", "土壤墒情"),
        ("livestock counts", "牲畜数量"),
        ("pest traps", "虫情测报"),
    ],
    "general": [
        ("news articles", "新闻语料"),
        ("speech commands", "语音指令"),
        ("dialogue turns", "对话语料"),
        ("scanned documents", "扫描文档"),
    ],
}
CITIES = [
    ("Shanghai", "上海"),
    ("Beijing", "北京"),
    ("Shenzhen", "深圳"),
    ("Hangzhou", "杭州"),
    ("Chengdu", "成都"),
    ("Wuhan", "武汉"),
    ("Nanjing", "南京"),
    ("Xi'an", "西安"),
    ("Chongqing", "重庆"),
    ("Guangzhou", "广州"),
    ("Suzhou", "苏州"),
    ("Tianjin", "天津"),
    ("Qingdao", "青岛"),
    ("Xiamen", "厦门"),
    ("Harbin", "哈尔滨"),
    ("Kunming", "昆明"),
    ("Lhasa", "拉萨"),
    ("Urumqi", "乌鲁木齐"),
]
KINDS = [
    ("dataset", "数据集"),
    ("corpus", "语料库"),
    ("benchmark", "基准"),
    ("records", "记录"),
    ("annotations", "标注集"),
    ("survey", "调查数据"),
]
SENSORS = [
    ("cameras", "摄像头"),
    ("loop detectors", "线圈检测器"),
    ("mobile phones", "手机"),
    ("drones", "无人机"),
    ("satellites", "卫星"),
    ("questionnaires", "问卷"),
    ("hospital systems", "医院信息系统"),
    ("IoT gateways", "物联网网关"),
]
MODALITIES = ["image", "text", "tabular", "audio", "video", "time-series", "multimodal"]
TASKS = [
    "image-classification",
    "object-detection",
    "segmentation",
    "text-classification",
    "ner",
    "forecasting",
    "regression",
    "anomaly-detection",
    "speech-recognition",
    "question-answering",
]
LICENCES = ["CC-BY-4.0", "CC-BY-NC-4.0", "CC0-1.0", "ODC-BY-1.0", "MIT", "Apache-2.0", "custom"]
LEVELS = ["L1"] * 4 + ["L2"] * 3 + ["L3"] * 2 + ["L4"]
JSON_COLUMNS = ("label_schema", "keywords")
LIKE_EVERY = 4  # the baseline runs every 4th query: each takes seconds


def _base_url() -> str:
    return postgres_url()


def _dataset_row(rng: random.Random, i: int) -> dict[str, Any]:
    domain = rng.choice(list(SUBJECTS))
    subjects = SUBJECTS[domain]
    # Skewed: the first subject of a domain is ten times as frequent as its last.
    subject_en, subject_zh = subjects[min(int(rng.expovariate(0.6)), len(subjects) - 1)]
    city_en, city_zh = rng.choice(CITIES)
    kind_en, kind_zh = rng.choice(KINDS)
    sensor_en, sensor_zh = rng.choice(SENSORS)
    year = rng.randint(2015, 2026)
    # One dataset in a thousand carries a project code: the rare terms of the query set.
    code = f" Project P{i % 97:02d}X{i // 1000:03d}." if i % 1000 == 7 else ""
    other_en, other_zh = rng.choice(rng.choice(list(SUBJECTS.values())))
    level = rng.choice(LEVELS)
    updated = NOW - timedelta(minutes=rng.randint(0, 2_000_000))
    licence = rng.choice(LICENCES)
    row: dict[str, Any] = {
        "id": f"00000000-0000-4000-8000-{i:012d}",
        "org_id": f"org-{i % ORGS:03d}",
        "slug": f"{subject_en.replace(' ', '-')}-{city_en.lower().replace(chr(39), '')}-{i}"[:64],
        "title_en": f"{city_en} {subject_en} {kind_en} {year}",
        "title_zh": f"{city_zh}{subject_zh}{kind_zh}（{year}年）",
        "description_en": (
            f"{subject_en.capitalize()} collected by {sensor_en} in {city_en} during {year}, "
            f"cleaned and labelled for {rng.choice(TASKS).replace('-', ' ')}. "
            f"Cross-referenced with {other_en}.{code}"
        ),
        "description_zh": (
            f"{year}年在{city_zh}通过{sensor_zh}采集的{subject_zh}数据，经清洗和人工标注，"
            f"并与{other_zh}数据关联。{code}"
        ),
        "domain": domain,
        "modality": rng.choice(MODALITIES),
        "task": rng.choice(TASKS),
        "label_format": "csv",
        "label_schema": {"classes": [], "label_column": "label"},
        "licence_id": licence,
        "licence_name": "Bench licence" if licence == "custom" else None,
        "licence_text": "Terms." if licence == "custom" else None,
        "level": level,
        "keywords": sorted({subject_zh, subject_en.split()[0], city_zh, sensor_en.split()[0]}),
        "provenance": f"{sensor_en} of the {city_en} bureau",
        "contact": "data@example.org",
        "has_published": level != "L4" and rng.random() < 0.8,
        "created_by": None,
        "created_at": updated,
        "updated_at": updated,
    }
    row["search_text"] = _old_search_text(row)
    row["search_title"], row["search_body"] = search_tokens.dataset_tokens(
        slug=row["slug"],
        titles=[row["title_en"], row["title_zh"]],
        keywords=row["keywords"],
        descriptions=[row["description_en"], row["description_zh"]],
        facets=[domain, None, None, row["task"], row["modality"]],
        provenance=row["provenance"],
    )
    return row


def _old_search_text(row: dict[str, Any]) -> str:
    """What `service._search_text` stores: the LIKE baseline searches it."""
    parts = [row[k] for k in ("slug", "title_en", "title_zh", "description_en", "description_zh")]
    parts += [row["domain"], row["task"], row["modality"], row["provenance"], " ".join(row["keywords"])]
    return " ".join(p for p in parts if p).lower()


def _rows() -> list[dict[str, Any]]:
    rng = random.Random(SEED)
    return [_dataset_row(rng, i) for i in range(DATASETS)]


def _load(engine: Engine, rows: list[dict[str, Any]], indexed: bool) -> float:
    """Organisations and datasets; `indexed`: the schema at head (tokens, search index), else at 0003."""
    started = time.perf_counter()
    columns = [c for c in rows[0] if indexed or c not in ("search_title", "search_body")]
    with engine.begin() as conn:
        conn.execute(
            text("INSERT INTO organisations (id, slug, name, created_at) VALUES (:id, :slug, :name, :at)"),
            [{"id": f"org-{o:03d}", "slug": f"org-{o}", "name": f"Org {o}", "at": NOW} for o in range(ORGS)],
        )
        if engine.dialect.name == "postgresql":
            _copy_rows(conn, rows, columns, indexed)
        else:
            _insert_rows(conn, rows, columns, indexed)
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("VACUUM ANALYZE datasets"))
        else:
            conn.execute(text("ANALYZE"))
            if indexed:
                conn.execute(text("INSERT INTO datasets_fts(datasets_fts) VALUES ('optimize')"))
            conn.commit()
    return time.perf_counter() - started


def _copy_rows(conn: Connection, rows: list[dict[str, Any]], columns: list[str], indexed: bool) -> None:
    """COPY, with the GIN index built afterwards (as the migration's backfill would leave it)."""
    if indexed:
        conn.execute(text("DROP INDEX ix_datasets_search_vector"))
    cursor = conn.connection.cursor()
    with cursor.copy(f"COPY datasets ({', '.join(columns)}) FROM STDIN") as copy:  # type: ignore[attr-defined]
        for row in rows:
            copy.write_row([json.dumps(row[c]) if c in JSON_COLUMNS else row[c] for c in columns])
    if indexed:
        conn.execute(text("CREATE INDEX ix_datasets_search_vector ON datasets USING gin (search_vector)"))


def _insert_rows(conn: Connection, rows: list[dict[str, Any]], columns: list[str], indexed: bool) -> None:
    # Only these columns: the ORM table would add the token columns, which the 0003 schema lacks.
    table = Table(
        "datasets", MetaData(), *[Column(c.name, c.type) for c in Dataset.__table__.c if c.name in columns]
    )
    insert = table.insert()
    for start in range(0, len(rows), 5000):
        batch = [{c: r[c] for c in columns} for r in rows[start : start + 5000]]
        conn.execute(insert, batch)
        if indexed:
            conn.execute(
                text(
                    "INSERT INTO datasets_fts(rowid, dataset_id, title, body)"
                    " VALUES (:rowid, :id, :search_title, :search_body)"
                ),
                [{**r, "rowid": search_tokens.fts_rowid(r["id"])} for r in rows[start : start + 5000]],
            )


def _queries() -> list[tuple[str, dict[str, str | None]]]:
    """About 200 queries: what people type, with and without facets, common and rare."""
    rng = random.Random(SEED + 1)
    subjects = [s for rows in SUBJECTS.values() for s in rows]
    texts: list[str] = []
    for en, zh in subjects:
        texts += [zh, en]
    texts += [zh[1:3] for _, zh in subjects[:12]]  # substrings across word boundaries
    texts += [city_zh for _, city_zh in CITIES[:6]] + ["数据", "traffic", "image", "2023", "量", "病"]
    texts += [f"{city_zh} {zh}" for (_, city_zh), (_, zh) in zip(CITIES, subjects[::3], strict=False)]
    texts += [
        f"{en.split()[0]} {city_en}" for (city_en, _), (en, _) in zip(CITIES, subjects[1::3], strict=False)
    ]
    texts += [f"{zh[:2]} {en.split()[-1]}" for en, zh in subjects[2::4]]  # mixed Chinese and English
    texts += [f"P{(k * 1000 + 7) % 97:02d}X{k:03d}" for k in range(3, 99, 12)]  # rare project codes
    texts += ["无人机 风电", "typhoon 上海", "qwertyuiop", "病理 切片 2024"]
    queries: list[tuple[str, dict[str, str | None]]] = []
    for q in texts[: QUERIES - 3]:
        filters: dict[str, str | None] = {}
        pick = rng.random()
        if pick < 0.25:
            filters["domain"] = rng.choice(list(SUBJECTS))
        elif pick < 0.4:
            filters["level"] = rng.choice(["L1", "L2", "L3"])
            filters["licence"] = rng.choice(LICENCES)
        elif pick < 0.5:
            filters["modality"] = rng.choice(MODALITIES)
            filters["org"] = f"org-{rng.randrange(ORGS):03d}"
        queries.append((q, filters))
    queries += [("", {"domain": "transport"}), ("", {"org": "org-007"}), ("", {})]
    return queries[:QUERIES]


def like_search(
    session: Session, principal: Principal, q: str | None, filters: dict[str, str | None], limit: int = 20
) -> tuple[int, list[Dataset], dict[str, list[tuple[str, int]]]]:
    """The catalogue's previous search, verbatim: LIKE per whitespace term, COUNT, page, GROUP BY each."""
    terms = [t for t in (q or "").lower().split() if t][:10]
    active = {k: v for k, v in filters.items() if v and k in repository.FACETS}
    public = and_(Dataset.has_published.is_(True), Dataset.level != "L4")
    conditions: list[ColumnElement[bool]] = [or_(public, Dataset.org_id.in_(list(principal.memberships)))]
    for term in terms:
        escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        conditions.append(Dataset.search_text.like(f"%{escaped}%", escape="\\"))
    for name, value in active.items():
        conditions.append(repository.FACETS[name] == value)
    where = and_(*conditions)
    total = session.scalar(select(func.count()).select_from(Dataset).where(where)) or 0
    items = list(
        session.scalars(
            select(Dataset).where(where).order_by(Dataset.updated_at.desc(), Dataset.slug).limit(limit)
        )
    )
    facets: dict[str, list[tuple[str, int]]] = {}
    for name, column in repository.FACETS.items():
        rows: Any = session.execute(
            select(column, func.count()).where(where).group_by(column).order_by(func.count().desc(), column)
        )
        facets[name] = [(str(value), int(count)) for value, count in rows]
    return int(total), items, facets


@dataclass
class Timings:
    wall_ms: list[float] = field(default_factory=list)
    cpu_ms: list[float] = field(default_factory=list)  # this thread plus, on PostgreSQL, its backend
    totals: list[int] = field(default_factory=list)


def _backend_cpu_ns(session: Session) -> Callable[[], int]:
    """CPU time of this session's PostgreSQL backend (the server is local), from /proc schedstat."""
    if session.get_bind().dialect.name != "postgresql":
        return lambda: 0
    pid = session.scalar(text("SELECT pg_backend_pid()"))
    path = Path(f"/proc/{pid}/schedstat")
    if not path.exists():
        return lambda: 0
    return lambda: int(path.read_text().split()[0])


def _timed(
    engine: Engine,
    queries: list[tuple[str, dict[str, str | None]]],
    run: Callable[[Session, str, dict[str, str | None]], int],
    warm_up: int,
) -> Timings:
    """The first `warm_up` queries once unmeasured, then every query once.

    Wall time is what a caller waits; CPU time (client thread and database backend) is the work
    itself, which the other processes on a shared machine do not inflate (they make it wait instead).
    """
    timings = Timings()
    with Session(engine) as session:
        for q, filters in queries[:warm_up]:
            run(session, q, filters)
            session.rollback()
        for q, filters in queries:
            backend_ns = _backend_cpu_ns(session)  # pins the connection for this transaction
            cpu_before, backend_before = time.thread_time_ns(), backend_ns()
            started = time.perf_counter()
            timings.totals.append(run(session, q, filters))
            timings.wall_ms.append((time.perf_counter() - started) * 1000)
            cpu = time.thread_time_ns() - cpu_before + backend_ns() - backend_before
            timings.cpu_ms.append(cpu / 1e6)
            session.rollback()
    return timings


def _summary(timings: list[float]) -> dict[str, float]:
    ordered = sorted(timings)
    return {
        "p50": round(statistics.median(ordered), 2),
        "p95": round(ordered[max(0, int(len(ordered) * 0.95) - 1)], 2),
        "max": round(ordered[-1], 2),
    }


def _line(figures: dict[str, float]) -> str:
    return "  ".join(f"{k} {figures[k]:8.2f} ms" for k in ("p50", "p95", "max"))


MEMBER = Principal(user_id="bench", username="bench", memberships={"org-042": "member"})


def _indexed(session: Session, q: str, filters: dict[str, str | None]) -> int:
    return service.search(session, MEMBER, q, filters).total


def _like(session: Session, q: str, filters: dict[str, str | None]) -> int:
    return like_search(session, MEMBER, q, filters)[0]


def _bench_backend(
    name: str,
    new: Engine,
    old: Engine,
    rows: list[dict[str, Any]],
    queries: list[tuple[str, dict[str, str | None]]],
) -> dict[str, Any]:
    """Indexed search on the schema at head; the LIKE baseline on the same rows in the schema before it."""
    load_s = _load(new, rows, indexed=True)
    _load(old, rows, indexed=False)
    fts_t = _timed(new, queries, _indexed, warm_up=len(queries))
    subset = queries[::LIKE_EVERY]
    like_t = _timed(old, subset, _like, warm_up=5)
    fts, old_summary = _summary(fts_t.wall_ms), _summary(like_t.wall_ms)
    same, cpu = _summary(fts_t.wall_ms[::LIKE_EVERY]), _summary(fts_t.cpu_ms)
    found = sum(1 for n in fts_t.totals if n)
    print(
        f"{name}: loaded {DATASETS} datasets in {load_s:.1f} s; {len(queries)} queries, {found} with results"
    )
    for label, figures in (
        (f"indexed, all {len(queries)}", fts),
        ("  CPU time", cpu),
        (f"indexed, {len(subset)}", same),
        (f"LIKE, {len(subset)}", old_summary),
        ("  CPU time", _summary(like_t.cpu_ms)),
    ):
        print(f"  {label:<18} {_line(figures)}")
    print(f"  p95 speed-up over LIKE on the same queries: {old_summary['p95'] / same['p95']:.1f}x")
    agree = sum(1 for a, b in zip(fts_t.totals[::LIKE_EVERY], like_t.totals, strict=True) if a == b)
    print(f"  totals equal to LIKE's for {agree} of {len(subset)} queries (LIKE also matches inside words)")
    slowest = sorted(
        zip(fts_t.wall_ms, fts_t.cpu_ms, queries, fts_t.totals, strict=True), key=lambda r: -r[0]
    )
    for ms, cpu_ms, (q, filters), total in slowest[:6]:
        print(f"  slow: {ms:7.2f} ms (CPU {cpu_ms:6.2f})  total {total:6d}  q={q!r} filters={filters}")
    return {"indexed": fts, "cpu": cpu, "like": old_summary, "same": same, "load_s": round(load_s, 1)}


@contextmanager
def _postgres_databases(base: str) -> Iterator[tuple[Engine, Engine]]:
    """Two fresh databases on the test server, at head and at 0003 (the catalogue before search)."""
    admin = make_engine(base, isolation_level="AUTOCOMMIT")
    names = (DB_NAME, DB_NAME + "_like")
    engines: list[Engine] = []
    try:
        for name, revision in zip(names, ("heads", "0003"), strict=True):
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                conn.execute(text(f'CREATE DATABASE "{name}"'))
            url = make_url(base).set(database=name).render_as_string(hide_password=False)
            migrate.upgrade(url, revision)
            engines.append(make_engine(url))
        yield engines[0], engines[1]
    finally:
        for engine in engines:
            engine.dispose()
        with admin.connect() as conn:
            for name in names:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def _sqlite_databases() -> Iterator[tuple[Engine, Engine]]:
    with tempfile.TemporaryDirectory() as tmp:
        engines = []
        for name, revision in (("search.db", "heads"), ("like.db", "0003")):
            url = f"sqlite:///{tmp}/{name}"
            migrate.upgrade(url, revision)
            engines.append(make_engine(url))
        try:
            yield engines[0], engines[1]
        finally:
            for engine in engines:
                engine.dispose()


def main() -> None:
    print(f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    queries = _queries()
    rows = _rows()
    with _postgres_databases(_base_url()) as (new, old):
        pg = _bench_backend("PostgreSQL", new, old, rows, queries)
    with _sqlite_databases() as (new, old):
        lite = _bench_backend("SQLite", new, old, rows, queries)
    print(f"load average after: {os.getloadavg()[0]:.1f}")
    result = {
        "bench": "search",
        "datasets": DATASETS,
        "queries": len(queries),
        "pg_p50_ms": pg["indexed"]["p50"],
        "pg_p95_ms": pg["indexed"]["p95"],
        "pg_max_ms": pg["indexed"]["max"],
        "pg_cpu_p50_ms": pg["cpu"]["p50"],
        "pg_cpu_p95_ms": pg["cpu"]["p95"],
        "sqlite_p50_ms": lite["indexed"]["p50"],
        "sqlite_p95_ms": lite["indexed"]["p95"],
        "sqlite_max_ms": lite["indexed"]["max"],
        "sqlite_cpu_p95_ms": lite["cpu"]["p95"],
        "like_p95_ms": pg["like"]["p95"],
        "sqlite_like_p95_ms": lite["like"]["p95"],
        "like_queries": len(queries[::LIKE_EVERY]),
        "pg_speedup_p95": round(pg["like"]["p95"] / pg["same"]["p95"], 1),
        "sqlite_speedup_p95": round(lite["like"]["p95"] / lite["same"]["p95"], 1),
        "target_p95_ms": TARGET_P95_MS,
        "ok": pg["indexed"]["p95"] < TARGET_P95_MS,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
