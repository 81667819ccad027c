"""All queries of the datasets domain."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVarTuple

from sqlalchemy import (
    ColumnElement,
    Select,
    String,
    and_,
    bindparam,
    case,
    column,
    false,
    func,
    literal,
    literal_column,
    null,
    or_,
    select,
    table,
    text,
    true,
    tuple_,
    union_all,
)
from sqlalchemy.orm import Session, aliased

from . import search_tokens
from .models import AccessGrant, Dataset, DatasetDomain, DatasetVersion, LicenceAcceptance, VersionFile
from .search_tokens import Term

FACETS = {
    "domain": Dataset.domain,
    "modality": Dataset.modality,
    "task": Dataset.task,
    "licence": Dataset.licence_id,
    "level": Dataset.level,
    "org": Dataset.org_id,
}


def domain(session: Session, slug: str) -> DatasetDomain | None:
    return session.get(DatasetDomain, slug)


def domains(session: Session) -> list[DatasetDomain]:
    return list(session.scalars(select(DatasetDomain).order_by(DatasetDomain.slug)))


def dataset_by_slug(session: Session, slug: str) -> Dataset | None:
    return session.scalars(select(Dataset).where(Dataset.slug == slug)).first()


def version(session: Session, dataset_id: str, number: int) -> DatasetVersion | None:
    return session.scalars(
        select(DatasetVersion).where(DatasetVersion.dataset_id == dataset_id, DatasetVersion.number == number)
    ).first()


def versions(session: Session, dataset_id: str) -> list[DatasetVersion]:
    return list(
        session.scalars(
            select(DatasetVersion)
            .where(DatasetVersion.dataset_id == dataset_id)
            .order_by(DatasetVersion.number)
        )
    )


def versions_by_ids(session: Session, ids: Sequence[str]) -> list[tuple[DatasetVersion, Dataset]]:
    rows = session.execute(
        select(DatasetVersion, Dataset)
        .join(Dataset, Dataset.id == DatasetVersion.dataset_id)
        .where(DatasetVersion.id.in_(list(ids)))
    )
    return [(v, d) for v, d in rows]


def next_version_number(session: Session, dataset_id: str) -> int:
    current = session.scalar(
        select(func.max(DatasetVersion.number)).where(DatasetVersion.dataset_id == dataset_id)
    )
    return int(current or 0) + 1


def files(session: Session, version_id: str) -> list[VersionFile]:
    return list(
        session.scalars(
            select(VersionFile).where(VersionFile.version_id == version_id).order_by(VersionFile.path)
        )
    )


def active_grant(session: Session, dataset_id: str, org_id: str, now: datetime) -> AccessGrant | None:
    return session.scalars(
        select(AccessGrant).where(
            AccessGrant.dataset_id == dataset_id,
            AccessGrant.org_id == org_id,
            AccessGrant.state == "approved",
            or_(AccessGrant.expires_at.is_(None), AccessGrant.expires_at > now),
        )
    ).first()


def open_grant(session: Session, dataset_id: str, org_id: str, now: datetime) -> AccessGrant | None:
    pending = session.scalars(
        select(AccessGrant).where(
            AccessGrant.dataset_id == dataset_id,
            AccessGrant.org_id == org_id,
            AccessGrant.state == "requested",
        )
    ).first()
    return pending or active_grant(session, dataset_id, org_id, now)


def grants(session: Session, dataset_id: str, org_ids: Sequence[str] | None = None) -> list[AccessGrant]:
    query = (
        select(AccessGrant)
        .where(AccessGrant.dataset_id == dataset_id)
        .order_by(AccessGrant.requested_at.desc())
    )
    if org_ids is not None:
        query = query.where(AccessGrant.org_id.in_(list(org_ids)))
    return list(session.scalars(query))


def grant(session: Session, grant_id: str) -> AccessGrant | None:
    return session.get(AccessGrant, grant_id)


def licence_accepted(session: Session, dataset_id: str, user_id: str) -> bool:
    return (
        session.scalars(
            select(LicenceAcceptance.id).where(
                LicenceAcceptance.dataset_id == dataset_id, LicenceAcceptance.user_id == user_id
            )
        ).first()
        is not None
    )


def visibility_clause(is_admin: bool, org_ids: Sequence[str]) -> ColumnElement[bool]:
    """Datasets of one's organisations, and published ones below L4 of everyone.

    Written as a CASE, which no index can serve, so that PostgreSQL drives a text search from the
    GIN index instead of from the has_published index, which would unpack every published row's tsvector.
    """
    if is_admin:
        return true()
    whens: list[tuple[ColumnElement[bool], Any]] = (
        [(Dataset.org_id.in_(list(org_ids)), true())] if org_ids else []
    )
    whens.append((Dataset.has_published.is_(True), Dataset.level != "L4"))
    return case(*whens, else_=false())


@dataclass
class SearchPage:
    total: int
    items: list[Dataset]
    facets: dict[str, list[tuple[str, int]]]


_Ts = TypeVarTuple("_Ts")
# Above this many matches, relevance is "more query terms in the title first, then newest": ranking
# every match would unpack every match's tsvector (PostgreSQL) or score every row (SQLite), and for
# a word in most descriptions the scores barely differ anyway.
RANK_ALL_UP_TO = 500
# SQLite's full-text index (created by migration 0005). Its rowid is derived from the dataset id,
# not the table's implicit rowid, which VACUUM and Alembic's table rebuilds are free to renumber.
_FTS = table("datasets_fts", column("dataset_id", String), column("title", String), column("body", String))
_FTS_UPSERT = text(
    "INSERT OR REPLACE INTO datasets_fts(rowid, dataset_id, title, body) VALUES (:rowid, :id, :title, :body)"
)
# Title matches weigh ten times body matches in SQLite's bm25 (the first column is the unindexed id).
_BM25_WEIGHTS = (0.0, 10.0, 1.0)


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


def index_for_search(session: Session, ds: Dataset) -> None:
    """Bring the SQLite FTS row of a dataset in step with its token columns (PostgreSQL needs nothing)."""
    if _dialect(session) != "sqlite":
        return
    session.flush()
    session.execute(
        _FTS_UPSERT,
        {
            "rowid": search_tokens.fts_rowid(ds.id),
            "id": ds.id,
            "title": ds.search_title,
            "body": ds.search_body,
        },
    )


@dataclass
class _TextQuery:
    match: ColumnElement[bool]
    rank: ColumnElement[Any]  # ascending order puts the most relevant first
    title_hits: ColumnElement[int]
    tsquery: ColumnElement[Any] | None = None  # PostgreSQL

    def rank_of(self, alias_name: str) -> ColumnElement[Any]:
        """The PostgreSQL rank of the row of `datasets` aliased as `alias_name`."""
        return -func.ts_rank_cd(literal_column(f"{alias_name}.search_vector"), self.tsquery)


def _text_query(dialect: str, terms: list[Term]) -> _TextQuery:
    padded = " " + Dataset.search_title + " "
    hits = [case((padded.like(p), 1), else_=0) for p in search_tokens.title_patterns(terms)]
    title_hits: ColumnElement[int] = hits[0]
    for hit in hits[1:]:
        title_hits = title_hits + hit
    if dialect == "postgresql":
        query = func.to_tsquery(
            literal_column("'simple'::regconfig"), bindparam("tsq", search_tokens.tsquery(terms))
        )
        vector: ColumnElement[Any] = literal_column("datasets.search_vector")
        return _TextQuery(vector.bool_op("@@")(query), -func.ts_rank_cd(vector, query), title_hits, query)
    match = literal_column("datasets_fts").bool_op("MATCH")(bindparam("fts", search_tokens.fts5_match(terms)))
    return _TextQuery(match, func.bm25(literal_column("datasets_fts"), *_BM25_WEIGHTS), title_hits)


def _matching(query: Select[*_Ts], dialect: str, text_query: _TextQuery | None) -> Select[*_Ts]:
    if text_query is None:
        return query
    if dialect == "sqlite":
        query = query.join(_FTS, _FTS.c.dataset_id == Dataset.id)
    return query.where(text_query.match)


def search(
    session: Session,
    principal: tuple[bool, Sequence[str]],
    terms: list[Term],
    filters: dict[str, str],
    limit: int,
    offset: int,
    facets: Sequence[str] = tuple(FACETS),
) -> SearchPage:
    """Visible datasets matching every term and filter, most relevant first, and facet counts over all
    of them. `principal` is (is administrator, organisation ids)."""
    dialect = _dialect(session)
    where = and_(visibility_clause(*principal), *(FACETS[name] == value for name, value in filters.items()))
    text_query = _text_query(dialect, terms) if terms else None
    wanted = [name for name in facets if name in FACETS]
    if dialect == "postgresql":
        with _gin_driven(session, text_query is not None):
            total, counts, ids = _postgres_page(session, text_query, where, wanted, limit, offset)
        found = {d.id: d for d in session.scalars(select(Dataset).where(Dataset.id.in_(ids)))}
        return SearchPage(total, [found[i] for i in ids if i in found], counts)
    total, counts = _sqlite_facets(session, text_query, where, wanted)
    order: list[Any] = []
    if text_query is not None:
        order = [text_query.title_hits.desc()]
        if total <= RANK_ALL_UP_TO:
            order.append(text_query.rank)
    items = session.scalars(
        _matching(select(Dataset), dialect, text_query)
        .where(where)
        .order_by(*order, Dataset.updated_at.desc(), Dataset.slug)
        .limit(limit)
        .offset(offset)
    )
    return SearchPage(total, list(items), counts)


def _by_count(counts: dict[str, list[tuple[str, int]]]) -> dict[str, list[tuple[str, int]]]:
    return {name: sorted(rows, key=lambda row: (-row[1], row[0])) for name, rows in counts.items()}


def _postgres_page(
    session: Session,
    text_query: _TextQuery | None,
    where: ColumnElement[bool],
    wanted: list[str],
    limit: int,
    offset: int,
) -> tuple[int, dict[str, list[tuple[str, int]]], list[str]]:
    """Total, facet counts and the ids of the page, in the page's order, from one statement."""
    total = 0
    counts: dict[str, list[tuple[str, int]]] = {name: [] for name in wanted}
    positions: list[tuple[int, str]] = []
    for facet, value, n in session.execute(_postgres_statement(text_query, where, wanted, limit, offset)):
        if facet == "#":
            positions.append((int(n), str(value)))
        elif facet:
            counts[facet].append((str(value), int(n)))
        else:
            total = int(n)
    return total, _by_count(counts), [dataset_id for _, dataset_id in sorted(positions)]


def _postgres_statement(
    text_query: _TextQuery | None, where: ColumnElement[bool], wanted: list[str], limit: int, offset: int
) -> Any:
    """Rows (facet name, value, count), ("", NULL, total) and ("#", id, position on the page).

    The matches are read once and materialised narrow (id, facets, ordering keys), grouped by
    GROUPING SETS in one hashed pass, and sorted for the page. The rank (ts_rank_cd, which unpacks
    each tsvector) is computed only when there are at most RANK_ALL_UP_TO matches.
    """
    columns: list[Any] = [Dataset.id, Dataset.updated_at, Dataset.slug]
    columns += [FACETS[name].label(f"f_{name}") for name in wanted]
    if text_query is not None:
        columns.append(text_query.title_hits.label("hits"))
    matched = (
        _matching(select(*columns), "postgresql", text_query)
        .where(where)
        .cte("matched")
        .prefix_with("MATERIALIZED")
    )
    grouped = [matched.c[f"f_{name}"] for name in wanted]
    label = case(
        *[(func.grouping(c) == 0, literal(name)) for name, c in zip(wanted, grouped, strict=True)],
        else_=literal(""),
    )
    facet_rows = (
        select(label, func.coalesce(*grouped) if grouped else null(), func.count())
        .select_from(matched)
        .group_by(func.grouping_sets(*[tuple_(c) for c in grouped], tuple_()))
    )
    order: list[Any] = []
    if text_query is not None:
        total = select(func.count()).select_from(matched).scalar_subquery()
        ranked = aliased(Dataset, name="ranked")
        score = select(text_query.rank_of("ranked")).where(ranked.id == matched.c.id).scalar_subquery()
        rank = case((total <= RANK_ALL_UP_TO, score), else_=null())
        order = [matched.c.hits.desc(), rank.asc().nulls_last()]
    page = (
        select(matched.c.id)
        .order_by(*order, matched.c.updated_at.desc(), matched.c.slug)
        .limit(limit)
        .offset(offset)
        .subquery("page")
    )
    # row_number() over the page as it comes: its position, whatever order the union returns rows in.
    return union_all(facet_rows, select(literal("#"), page.c.id, func.row_number().over()))


@contextmanager
def _gin_driven(session: Session, active: bool) -> Iterator[None]:
    """Text searches on PostgreSQL without sequential scans, for this transaction's statements here.

    The planner does not count the cost of unpacking each row's out-of-line tsvector, so for a very
    common word it picks a scan that does exactly that for every row, many times slower than the GIN
    bitmap, which for AND-only queries never needs the tsvector (no recheck).
    """
    if not active:
        yield
        return
    # One round trip: the select list is evaluated left to right, so this reads the setting first.
    previous = session.scalar(
        text("SELECT current_setting('enable_seqscan'), set_config('enable_seqscan', 'off', true)")
    )
    try:
        yield
    finally:
        session.execute(text("SELECT set_config('enable_seqscan', :value, true)"), {"value": previous})


def _sqlite_facets(
    session: Session, text_query: _TextQuery | None, where: ColumnElement[bool], wanted: list[str]
) -> tuple[int, dict[str, list[tuple[str, int]]]]:
    """SQLite: the total and each wanted facet's counts. It has no grouping sets: the matches are
    materialised once and grouped once per facet, in one statement."""
    columns = [FACETS[name].label(f"f_{name}") for name in wanted]
    matched = (
        _matching(select(Dataset.id, *columns), "sqlite", text_query)
        .where(where)
        .cte("matched")
        .prefix_with("MATERIALIZED")
    )
    parts = [select(literal(""), null(), func.count()).select_from(matched)]
    for name in wanted:
        column_ = matched.c[f"f_{name}"]
        parts.append(select(literal(name), column_, func.count()).group_by(column_))
    total = 0
    counts: dict[str, list[tuple[str, int]]] = {name: [] for name in wanted}
    for facet, value, n in session.execute(union_all(*parts)):
        if facet:
            counts[facet].append((str(value), int(n)))
        else:
            total = int(n)
    return total, _by_count(counts)
