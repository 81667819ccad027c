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
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, aliased

from aicommons.portal.core.ids import new_id

from . import search_tokens
from .models import (
    AccessGrant,
    Dataset,
    DatasetDomain,
    DatasetVersion,
    DatasetVersionUse,
    LicenceAcceptance,
    VersionFile,
)
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
# every match would unpack every match's tsvector on PostgreSQL, and for a word found in most
# descriptions the scores barely differ anyway. SQLite follows the same rule, so both order alike.
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
    """The dialect's pieces of a full-text query."""

    match: ColumnElement[bool]
    title_hits: ColumnElement[int]  # how many terms occur in the title (exactly, as substrings)
    tsquery: ColumnElement[Any] | None = None  # PostgreSQL
    bm25: ColumnElement[float] | None = None  # SQLite; lower is more relevant

    def rank_of(self, alias_name: str) -> ColumnElement[Any]:
        """PostgreSQL: the rank of the `datasets` row aliased as `alias_name`; lower is more relevant."""
        return -func.ts_rank_cd(literal_column(f"{alias_name}.search_vector"), self.tsquery)


def _text_query(dialect: str, terms: list[Term]) -> _TextQuery:
    title = Dataset.search_title if dialect == "postgresql" else _FTS.c.title
    padded = " " + title + " "
    hits = [case((padded.like(p), 1), else_=0) for p in search_tokens.title_patterns(terms)]
    title_hits: ColumnElement[int] = hits[0]
    for hit in hits[1:]:
        title_hits = title_hits + hit
    if dialect == "postgresql":
        query = func.to_tsquery(
            literal_column("'simple'::regconfig"), bindparam("tsq", search_tokens.tsquery(terms))
        )
        vector: ColumnElement[Any] = literal_column("datasets.search_vector")
        return _TextQuery(vector.bool_op("@@")(query), title_hits, tsquery=query)
    match = literal_column("datasets_fts").bool_op("MATCH")(bindparam("fts", search_tokens.fts5_match(terms)))
    return _TextQuery(match, title_hits, bm25=func.bm25(literal_column("datasets_fts"), *_BM25_WEIGHTS))


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
    of them. `principal` is (is administrator, organisation ids).

    One statement reads the matches once and returns the total, the facet counts and the page's ids;
    a second fetches the page's rows by primary key.
    """
    dialect = _dialect(session)
    text_query = _text_query(dialect, terms) if terms else None
    where = and_(visibility_clause(*principal), *_filter_conditions(filters, dialect, text_query is not None))
    wanted = [name for name in facets if name in FACETS]
    statement = _page_statement(dialect, text_query, where, wanted, limit, offset)
    with _gin_driven(session, dialect == "postgresql" and text_query is not None):
        rows = session.execute(statement).all()
    total = 0
    counts: dict[str, list[tuple[str, int]]] = {name: [] for name in wanted}
    positions: list[tuple[int, str]] = []
    for facet, value, n in rows:
        if facet == "#":
            positions.append((int(n), str(value)))
        elif facet:
            counts[facet].append((str(value), int(n)))
        else:
            total = int(n)
    ids = [dataset_id for _, dataset_id in sorted(positions)]
    found = {d.id: d for d in session.scalars(select(Dataset).where(Dataset.id.in_(ids)))} if ids else {}
    facet_counts = {name: sorted(rows, key=lambda row: (-row[1], row[0])) for name, rows in counts.items()}
    return SearchPage(total, [found[i] for i in ids if i in found], facet_counts)


def _filter_conditions(filters: dict[str, str], dialect: str, text_search: bool) -> list[ColumnElement[bool]]:
    """Facet filters; in PostgreSQL text searches as `column || '' = value`, which no index serves:
    driven by a facet's index, PostgreSQL would unpack the tsvector of every row with that value."""
    if dialect == "postgresql" and text_search:
        return [FACETS[name] + "" == value for name, value in filters.items()]
    return [FACETS[name] == value for name, value in filters.items()]


def _page_statement(
    dialect: str,
    text_query: _TextQuery | None,
    where: ColumnElement[bool],
    wanted: list[str],
    limit: int,
    offset: int,
) -> Any:
    """Rows ("", NULL, total), (facet, value, count) and ("#", id, position on the page).

    The matches are materialised once, narrow: id, facet values, ordering keys. The rank is used
    only when there are at most RANK_ALL_UP_TO matches; on PostgreSQL it is only computed then.
    """
    columns: list[Any] = [Dataset.id, Dataset.updated_at, Dataset.slug]
    columns += [FACETS[name].label(f"f_{name}") for name in wanted]
    if text_query is not None:
        columns.append(text_query.title_hits.label("hits"))
        if text_query.bm25 is not None:
            columns.append(text_query.bm25.label("bm25"))
    matched = (
        _matching(select(*columns), dialect, text_query)
        .where(where)
        .cte("matched")
        .prefix_with("MATERIALIZED")
    )
    order: list[Any] = []
    if text_query is not None:
        total = select(func.count()).select_from(matched).scalar_subquery()
        if text_query.bm25 is not None:
            score: Any = matched.c.bm25
        else:
            ranked = aliased(Dataset, name="ranked")
            score = select(text_query.rank_of("ranked")).where(ranked.id == matched.c.id).scalar_subquery()
        order = [
            matched.c.hits.desc(),
            case((total <= RANK_ALL_UP_TO, score), else_=null()).asc().nulls_last(),
        ]
    page = (
        select(matched.c.id)
        .order_by(*order, matched.c.updated_at.desc(), matched.c.slug)
        .limit(limit)
        .offset(offset)
        .subquery("page")
    )
    # row_number() over the page as it comes: its position, whatever order the union returns rows in.
    numbered = select(literal("#"), page.c.id, func.row_number().over())
    return union_all(*_facet_selects(dialect, matched, wanted), numbered)


def _facet_selects(dialect: str, matched: Any, wanted: list[str]) -> list[Any]:
    """PostgreSQL: one GROUP BY GROUPING SETS, hashed in a single pass over the matches. SQLite has
    no grouping sets: one GROUP BY per facet over the materialised matches."""
    grouped = [matched.c[f"f_{name}"] for name in wanted]
    if dialect != "postgresql":
        total = select(literal(""), null(), func.count()).select_from(matched)
        return [total] + [
            select(literal(n), c, func.count()).group_by(c) for n, c in zip(wanted, grouped, strict=True)
        ]
    label = case(
        *[(func.grouping(c) == 0, literal(name)) for name, c in zip(wanted, grouped, strict=True)],
        else_=literal(""),
    )
    return [
        select(label, func.coalesce(*grouped) if grouped else null(), func.count())
        .select_from(matched)
        .group_by(func.grouping_sets(*[tuple_(c) for c in grouped], tuple_()))
    ]


@contextmanager
def _gin_driven(session: Session, active: bool) -> Iterator[None]:
    """Text searches on PostgreSQL without sequential scans, for the statement run inside.

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


# --- lineage: jobs that used dataset versions -----------------------------------------------


def record_version_uses(
    session: Session, job_id: str, org_id: str, versions: Sequence[tuple[str, str]], used_at: datetime
) -> None:
    """Note that a job read these (dataset id, version id) pairs, once per version and job.

    ON CONFLICT DO NOTHING on the (version, job) key: a relaunch, or two launches racing in separate
    transactions, neither duplicates a row nor fails (on PostgreSQL the second waits for the first
    to commit, then skips), and the caller's transaction is never aborted by a unique violation.
    """
    rows = [
        {
            "id": new_id(),
            "dataset_id": dataset_id,
            "version_id": version_id,
            "job_id": job_id,
            "org_id": org_id,
            "used_at": used_at,
        }
        for dataset_id, version_id in dict.fromkeys(versions)
    ]
    if not rows:
        return
    insert = postgresql.insert if _dialect(session) == "postgresql" else sqlite.insert
    statement = insert(DatasetVersionUse).on_conflict_do_nothing(index_elements=["version_id", "job_id"])
    session.execute(statement, rows)


@dataclass(frozen=True)
class UseScope:
    """Which uses a query returns. None in a field: no restriction by it."""

    dataset_id: str | None = None
    version_id: str | None = None
    # The organisations that published the datasets (a steward's overview).
    publisher_org_ids: Sequence[str] | None = None
    # The organisations whose jobs used them (what a non-steward may see).
    user_org_ids: Sequence[str] | None = None


@dataclass
class UseRow:
    use: DatasetVersionUse
    dataset_slug: str
    version_number: int


def version_uses(session: Session, scope: UseScope, limit: int, offset: int) -> tuple[int, list[UseRow]]:
    """The total number of uses in scope and one page of them, newest first."""
    conditions: list[ColumnElement[bool]] = []
    if scope.dataset_id is not None:
        conditions.append(DatasetVersionUse.dataset_id == scope.dataset_id)
    if scope.version_id is not None:
        conditions.append(DatasetVersionUse.version_id == scope.version_id)
    if scope.publisher_org_ids is not None:
        conditions.append(Dataset.org_id.in_(list(scope.publisher_org_ids)))
    if scope.user_org_ids is not None:
        conditions.append(DatasetVersionUse.org_id.in_(list(scope.user_org_ids)))

    def joined(query: Select[*_Ts]) -> Select[*_Ts]:
        return (
            query.join(DatasetVersion, DatasetVersion.id == DatasetVersionUse.version_id)
            .join(Dataset, Dataset.id == DatasetVersionUse.dataset_id)
            .where(*conditions)
        )

    total = session.scalar(joined(select(func.count()).select_from(DatasetVersionUse))) or 0
    if total == 0 or offset >= total:
        return int(total), []
    page = session.execute(
        joined(select(DatasetVersionUse, Dataset.slug, DatasetVersion.number))
        .order_by(DatasetVersionUse.used_at.desc(), DatasetVersionUse.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return int(total), [UseRow(use, slug, number) for use, slug, number in page]
