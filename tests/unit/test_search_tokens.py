"""The search tokeniser and the query syntaxes built from it: pure functions."""

from __future__ import annotations

import pytest

from aicommons.datasets import search_tokens
from aicommons.datasets.search_tokens import Term

pytestmark = pytest.mark.unit


def test_chinese_runs_become_bigrams_closed_by_their_last_character() -> None:
    assert search_tokens.tokens("交通流量") == ["交通", "通流", "流量", "量"]
    assert search_tokens.tokens("肺") == ["肺"]


def test_latin_words_are_folded_and_lightly_stemmed() -> None:
    assert search_tokens.tokens("Ｔｒａｆｆｉｃ-Flow Sensors, Café; cities 2023 class") == [
        "traffic",
        "flow",
        "sensor",
        "cafe",
        "city",
        "2023",
        "class",
    ]


def test_mixed_text_splits_at_script_changes() -> None:
    assert search_tokens.tokens("GPS轨迹") == ["gps", "轨迹", "迹"]


def test_queries_use_the_same_tokens() -> None:
    assert search_tokens.query_terms("交通流 Vehicles") == [Term(("交通", "通流")), Term(("vehicle",))]
    assert search_tokens.query_terms("量") == [Term(("量",), prefix=True)]
    assert search_tokens.query_terms("traffic traffic") == [Term(("traffic",))]


def test_stop_words_are_dropped_unless_nothing_else_is_left() -> None:
    assert search_tokens.query_terms("the flow of traffic") == [Term(("flow",)), Term(("traffic",))]
    assert search_tokens.query_terms("the") == [Term(("the",))]


@pytest.mark.parametrize("q", ["", None, "!!! ???", "“”‘’", "x" * 300, "\x00\x01"])
def test_nothing_searchable_gives_no_terms(q: str | None) -> None:
    assert search_tokens.query_terms(q) == []


def test_operators_and_quotes_never_reach_the_query_syntax() -> None:
    terms = search_tokens.query_terms("\"z' & b | !c ( d:* ) <-> NEAR(e) -f*")
    for token in (t for term in terms for t in term.tokens):
        assert token.isalnum()
    assert search_tokens.tsquery(terms) == "'z' & 'b' & 'c' & 'd' & 'near' & 'e' & 'f'"
    assert search_tokens.fts5_match(terms) == '"z" AND "b" AND "c" AND "d" AND "near" AND "e" AND "f"'


def test_query_syntaxes_and_title_patterns() -> None:
    terms = [Term(("交通", "通流")), Term(("量",), prefix=True)]
    assert search_tokens.tsquery(terms) == "'交通' & '通流' & '量':*"
    assert search_tokens.fts5_match(terms) == '"交通" AND "通流" AND "量"*'
    assert search_tokens.title_patterns(terms) == ["% 交通 通流 %", "% 量%"]


def test_long_queries_are_capped() -> None:
    terms = search_tokens.query_terms(" ".join(f"w{i}" for i in range(50)))
    assert len(terms) == search_tokens.MAX_QUERY_TERMS
    run = search_tokens.query_terms("数" * 100)
    assert len(run[0].tokens) == search_tokens.MAX_RUN_BIGRAMS


def test_dataset_tokens_keep_titles_apart() -> None:
    title, body = search_tokens.dataset_tokens(
        slug="city-traffic",
        titles=["Traffic", "交通"],
        keywords=["GPS"],
        descriptions=["Loop counts", None],
        facets=["transport", "Transport", "交通运输", "forecasting", "tabular"],
        provenance="Bureau",
    )
    assert title == "traffic 交通 通 city traffic"
    assert body.split()[:3] == ["gps", "loop", "count"] and "运输" in body.split()


def test_fts_rowids_are_stable_and_positive() -> None:
    first = search_tokens.fts_rowid("00000000-0000-4000-8000-000000000001")
    assert first == search_tokens.fts_rowid("00000000-0000-4000-8000-000000000001")
    assert 0 < first < 2**63
    assert first != search_tokens.fts_rowid("00000000-0000-4000-8000-000000000002")
