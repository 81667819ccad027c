"""The one tokeniser of catalogue search, for Chinese and English alike, and the query syntaxes built from it.

Chinese has no spaces between words, so CJK text (Han, kana, Hangul) is indexed as overlapping
character bigrams, each run closed by its last character on its own: "交通流量" → 交通 通流 流量 量.
A substring of two or more characters then matches through its bigrams, and every single
character starts some token, so a one-character query is a prefix match. Latin-script text becomes
lower-cased, accent-free words with a light plural stemming ("vehicles" → "vehicle").

Both stores see the same space-separated token strings: PostgreSQL through `to_tsvector('simple', …)`
and SQLite through an FTS5 table. A query goes through the same tokeniser and comes out as a list of
`Term`s, which only ever contain letters and digits; the builders below quote them for `to_tsquery`
and FTS5 `MATCH`, so quotes, operators and punctuation in what a user typed cannot reach either syntax.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

# Han (with extension A and compatibility ideographs), kana, Hangul, and the supplementary Han planes.
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\U00020000-\U0003134f"
_TOKEN = re.compile(rf"(?P<cjk>[{_CJK}]+)|(?P<word>[^\W_{_CJK}]+)")
MAX_WORD = 64  # longer "words" are noise (hashes, base64); PostgreSQL refuses lexemes past 2 KiB anyway
MAX_QUERY_CHARS = 200
MAX_QUERY_TERMS = 12
MAX_RUN_BIGRAMS = 16  # per CJK query run: 17 characters in a row are as selective as it gets
STOP_WORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "for",
        "from",
        "in",
        "into",
        "is",
        "of",
        "on",
        "or",
        "the",
        "to",
        "with",
        "without",
    ]
)


@dataclass(frozen=True)
class Term:
    """One query term: the tokens of one word or CJK run (all must occur), or one token as a prefix."""

    tokens: tuple[str, ...]
    prefix: bool = False


def _fold(text: str) -> str:
    """Full-width forms to ASCII and lower case (NFKC, then case folding)."""
    return unicodedata.normalize("NFKC", text).casefold()


def _unaccent(word: str) -> str:
    if word.isascii():
        return word
    decomposed = unicodedata.normalize("NFKD", word)
    return unicodedata.normalize("NFC", "".join(c for c in decomposed if not unicodedata.combining(c)))


def _stem(word: str) -> str:
    """Plural to singular for plain English words; the same rule runs on documents and queries."""
    if len(word) <= 3 or not word.isalpha() or not word.isascii():
        return word
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith("sses"):
        return word[:-2]
    if word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def _bigrams(run: str) -> list[str]:
    if len(run) == 1:
        return [run]
    return [run[i : i + 2] for i in range(len(run) - 1)] + [run[-1]]


def tokens(text: str) -> list[str]:
    """Index tokens of one text, in order (ranking by cover density uses positions)."""
    out: list[str] = []
    for match in _TOKEN.finditer(_fold(text)):
        if match.group("cjk"):
            out.extend(_bigrams(match.group("cjk")))
        else:
            word = match.group("word")
            if len(word) <= MAX_WORD:
                out.append(_stem(_unaccent(word)))
    return out


def index_text(parts: Iterable[str | None]) -> str:
    """The token string stored for a document made of these parts."""
    return " ".join(t for part in parts if part for t in tokens(part))


def dataset_tokens(
    *,
    slug: str,
    titles: Sequence[str | None],
    keywords: Sequence[str],
    descriptions: Sequence[str | None],
    facets: Sequence[str | None],
    provenance: str | None,
) -> tuple[str, str]:
    """(title tokens, body tokens) of a dataset: titles and slug apart, because title matches rank first.

    `facets` are the domain slug and its English and Chinese names, the task and the modality.
    """
    title = index_text([*titles, slug.replace("-", " ")])
    body = index_text([" ".join(keywords), *descriptions, *facets, provenance])
    return title, body


def query_terms(q: str | None) -> list[Term]:
    """What the user typed as terms that must all match; [] when nothing searchable is left."""
    terms: list[Term] = []
    for match in _TOKEN.finditer(_fold((q or "")[:MAX_QUERY_CHARS])):
        run = match.group("cjk")
        if run:
            grams = tuple(run[i : i + 2] for i in range(len(run) - 1))[:MAX_RUN_BIGRAMS]
            terms.append(Term(grams) if grams else Term((run,), prefix=True))
        elif len(match.group("word")) <= MAX_WORD:
            terms.append(Term((_stem(_unaccent(match.group("word"))),)))
    unique = list(dict.fromkeys(terms))
    meaningful = [t for t in unique if t.prefix or len(t.tokens) > 1 or t.tokens[0] not in STOP_WORDS]
    return (meaningful or unique)[:MAX_QUERY_TERMS]


def tsquery(terms: list[Term]) -> str:
    """PostgreSQL `to_tsquery('simple', …)` text: every token ANDed, prefixes with `:*`.

    A Chinese run's bigrams are ANDed rather than chained with `<->`: a phrase makes PostgreSQL
    recheck each candidate row against its (out-of-line) tsvector, which costs more than the rare
    false positive it removes; titles are still ordered by exact substring (`title_patterns`).
    """
    return " & ".join(f"'{t}'" + (":*" if term.prefix else "") for term in terms for t in term.tokens)


def fts5_match(terms: list[Term]) -> str:
    """SQLite FTS5 `MATCH` text with the same meaning: every token quoted and ANDed, prefixes starred."""
    return " AND ".join(f'"{t}"' + ("*" if term.prefix else "") for term in terms for t in term.tokens)


def title_patterns(terms: list[Term]) -> list[str]:
    """LIKE patterns that find each term in a stored title token string padded with spaces."""
    return [f"% {' '.join(t.tokens)}{'' if t.prefix else ' '}%" for t in terms]


def fts_rowid(dataset_id: str) -> int:
    """A stable 63-bit SQLite FTS5 rowid for a dataset id (the table's own rowid may be renumbered)."""
    return int.from_bytes(hashlib.blake2b(dataset_id.encode(), digest_size=8).digest(), "big") >> 1
