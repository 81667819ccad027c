"""Personal-data scan: fast regular expressions confirmed by check digits, and masking.

Recognisers: mainland resident ID numbers (18 characters, GB 11643 check digit), mainland mobile
numbers, e-mail addresses, bank card numbers (Luhn) and passport numbers; personal names and
mainland postal addresses where the text says so (see `names`). Pure functions only: the caller
streams text in and gets findings, masked samples and masked text out.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from .scan_cues import (
    TableColumns,
    column_findings,
    cued_findings,
    mask_address,
    mask_name,
    table_columns,
    table_delimiter,
)

KINDS = ("cn_id", "mobile", "email", "bank_card", "passport", "name", "address")
# Found by what surrounds them rather than by their own shape: they yield to a number found inside them.
CUED_KINDS = frozenset({"name", "address"})
ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK = "10X98765432"
SAMPLES_PER_KIND = 5
TEXT_SUFFIXES = frozenset(
    {".txt", ".csv", ".tsv", ".json", ".jsonl", ".ndjson", ".xml", ".md", ".yaml", ".yml", ".log", ".html"}
)


def gb11643_check_digit(first17: str) -> str:
    total = sum(int(d) * w for d, w in zip(first17, ID_WEIGHTS, strict=True))
    return ID_CHECK[total % 11]


def valid_cn_id(value: str) -> bool:
    value = value.upper()
    if len(value) != 18 or not value[:17].isdigit():
        return False
    return gb11643_check_digit(value[:17]) == value[17]


def luhn_valid(digits: str) -> bool:
    if not digits.isdigit() or len(digits) < 12:
        return False
    total = 0
    for index, char in enumerate(reversed(digits)):
        n = int(char)
        if index % 2 == 1:
            n *= 2
            if n > 9:
                n -= 9
        total += n
    return total % 10 == 0


def _digits(value: str) -> str:
    return "".join(c for c in value if c.isdigit())


def mask_cn_id(value: str) -> str:
    return value[:6] + "*" * 8 + value[14:]


def mask_mobile(value: str) -> str:
    return value[:-8] + "****" + value[-4:]


def mask_email(value: str) -> str:
    local, _, domain = value.partition("@")
    return (local[:1] + "***@" + domain) if local else value


def mask_card(value: str) -> str:
    digits = _digits(value)
    return digits[:4] + "*" * (len(digits) - 8) + digits[-4:]


def mask_passport(value: str) -> str:
    return value[:1] + "*" * (len(value) - 4) + value[-3:]


@dataclass(frozen=True)
class Recogniser:
    kind: str
    pattern: re.Pattern[str]
    validate: Callable[[str], bool]
    mask: Callable[[str], str]


def _always(_: str) -> bool:
    return True


RECOGNISERS: tuple[Recogniser, ...] = (
    Recogniser(
        "cn_id",
        re.compile(
            r"(?<![0-9A-Za-z])[1-9]\d{5}(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[0-9Xx](?![0-9A-Za-z])"
        ),
        valid_cn_id,
        mask_cn_id,
    ),
    Recogniser(
        "bank_card",
        re.compile(r"(?<![0-9])(?:[3-6]\d{15,18}|[3-6]\d{3}(?:[ -]\d{4}){3}(?:[ -]?\d{1,3})?)(?![0-9])"),
        lambda v: luhn_valid(_digits(v)),
        mask_card,
    ),
    Recogniser(
        "mobile",
        re.compile(r"(?<![0-9])(?:(?:\+|00)?86[- ]?)?1[3-9]\d{9}(?![0-9])"),
        _always,
        mask_mobile,
    ),
    Recogniser(
        "email",
        re.compile(r"[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63})*\.[A-Za-z]{2,24}"),
        _always,
        mask_email,
    ),
    Recogniser(
        "passport",
        re.compile(r"(?<![0-9A-Za-z])(?:[EG]\d{8}|E[A-HJ-NP-Z]\d{7})(?![0-9A-Za-z])"),
        _always,
        mask_passport,
    ),
)


@dataclass(frozen=True)
class Finding:
    kind: str
    start: int
    end: int
    value: str

    @property
    def masked(self) -> str:
        return _MASKS[self.kind](self.value)


_MASKS: dict[str, Callable[[str], str]] = {r.kind: r.mask for r in RECOGNISERS}
_MASKS |= {"name": mask_name, "address": mask_address}


_RUN = re.compile(r"[0-9]{11,}[Xx]?")
# Patterns led by a literal character, one per leading character: the engine skips ahead to a
# literal in C, where a leading class or alternation tests each candidate in turn (4 to 20 times
# slower here); `char in text` first skips a pattern whose literal is absent.
_SPACED_CARDS = tuple(
    (lead, re.compile(lead + r"[0-9]{3}[ -][0-9]{4}[ -][0-9]{4}[ -][0-9]{4}")) for lead in "3456"
)
# A 17 to 19-digit card written in groups ends in a short group; tried as a tail of the four groups
# before them, so that a number that merely follows a card ("… 7896 2024", "… 7896, 15") is not
# swallowed by the card and does not make its Luhn check fail.
_CARD_TAIL = re.compile(r"[ -]?[0-9]{1,3}(?![0-9])")
_PASSPORTS = (("E", re.compile(r"E(?:[0-9]{8}|[A-HJ-NP-Z][0-9]{7})")), ("G", re.compile(r"G[0-9]{8}")))
_EMAIL_DOMAIN = re.compile(r"[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63})*\.[A-Za-z]{2,24}")
_EMAIL_LOCAL = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._%+-")
_ID_SHAPE = RECOGNISERS[0].pattern


def _alnum_at(text: str, index: int) -> bool:
    return 0 <= index < len(text) and text[index].isascii() and text[index].isalnum()


def _classify_run(value: str) -> str | None:
    """A maximal run of digits (maybe ending in X): which kind of number it is, if any."""
    n = len(value)
    if n == 18 and _ID_SHAPE.fullmatch(value) and valid_cn_id(value):
        return "cn_id"
    if not value[-1].isdigit():
        return None
    if n == 11 and value[1] in "3456789" and value[0] == "1":
        return "mobile"
    if n == 13 and value.startswith("861") and value[3] in "3456789":
        return "mobile"
    if (
        16 <= n <= 19
        and value[0] in "3456"
        and luhn_valid(value)
        and not (n == 18 and _ID_SHAPE.fullmatch(value))
    ):
        return "bank_card"
    return None


def _emails(text: str) -> Iterator[Finding]:
    at = text.find("@")
    while at >= 0:
        start = at
        while start > 0 and at - start < 64 and text[start - 1] in _EMAIL_LOCAL:
            start -= 1
        domain = _EMAIL_DOMAIN.match(text, at + 1)
        if start < at and domain:
            yield Finding("email", start, domain.end(), text[start : domain.end()])
        at = text.find("@", at + 1)


def _led(text: str, patterns: tuple[tuple[str, re.Pattern[str]], ...]) -> Iterator[re.Match[str]]:
    for lead, pattern in patterns:
        if lead in text:
            yield from pattern.finditer(text)


def _spaced_cards(text: str) -> Iterator[Finding]:
    """Cards written in groups of four, with their short last group where it makes the Luhn check
    pass, else without it (the number after the card is then something else)."""
    for match in _led(text, _SPACED_CARDS):
        start, end = match.span()
        if text[start - 1 : start].isdigit():
            continue
        tail = _CARD_TAIL.match(text, end)
        if tail and luhn_valid(_digits(text[start : tail.end()])):
            yield Finding("bank_card", start, tail.end(), text[start : tail.end()])
        elif not text[end : end + 1].isdigit() and luhn_valid(_digits(match.group())):
            yield Finding("bank_card", start, end, match.group())


def find(text: str, columns: TableColumns | None = None, body_from: int = 0) -> list[Finding]:
    """Every confirmed finding in `text`, in order.

    Candidates come from patterns that start with a plain character class, so the regular
    expression engine skips ahead in C; boundaries and check digits are then tested in Python.
    An 18-character ID number can pass Luhn by chance, so ID-shaped runs are never cards.
    Names and addresses are found after their cues (`names`); with the `columns` of a table's
    header, the cells of its name and address columns from `body_from` on are findings too.
    """
    findings: list[Finding] = []
    for match in _RUN.finditer(text):
        start, end = match.span()
        if _alnum_at(text, start - 1) or _alnum_at(text, end):
            continue
        kind = _classify_run(match.group())
        if kind is not None:
            findings.append(Finding(kind, start, end, match.group()))
    findings.extend(_spaced_cards(text))
    for match in _led(text, _PASSPORTS):
        if not (_alnum_at(text, match.start() - 1) or _alnum_at(text, match.end())):
            findings.append(Finding("passport", match.start(), match.end(), match.group()))
    if "@" in text:
        findings.extend(_emails(text))
    findings.extend(Finding(*hit) for hit in cued_findings(text))
    if columns is not None:
        findings.extend(Finding(*hit) for hit in column_findings(text, columns, body_from))
    findings.sort(key=lambda f: (f.start, -f.end))  # of two starting together, the longer first
    return _without_overlaps(findings)


def _without_overlaps(findings: list[Finding]) -> list[Finding]:
    """The first of overlapping findings wins, except that a number beats the name or address
    it lies in (a number's check digits make it the surer finding)."""
    kept: list[Finding] = []
    for finding in findings:
        if kept and finding.start < kept[-1].end:
            if kept[-1].kind in CUED_KINDS and finding.kind not in CUED_KINDS:
                kept[-1] = finding
            continue
        kept.append(finding)
    return kept


def mask_text(text: str, path: str | None = None) -> tuple[str, int]:
    """The text with every finding masked in place, and how many were masked.

    With the `path` of a CSV or TSV file, the cells of its name and address columns (named in its
    header line) are masked too."""
    columns, body_from = None, 0
    delimiter = table_delimiter(path) if path else None
    if delimiter:
        body_from = text.find("\n") + 1 or len(text)
        columns = table_columns(text[:body_from], delimiter)
    findings = find(text, columns, body_from)
    if not findings:
        return text, 0
    parts: list[str] = []
    cursor = 0
    for finding in findings:
        parts.append(text[cursor : finding.start])
        parts.append(finding.masked)
        cursor = finding.end
    parts.append(text[cursor:])
    return "".join(parts), len(findings)


@dataclass
class ScanReport:
    """Counts per kind and a few masked samples with where they were found."""

    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    samples: list[dict[str, Any]] = field(default_factory=list)
    files_scanned: int = 0
    bytes_scanned: int = 0

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def add(self, path: str, line_no: int, findings: Iterable[Finding]) -> None:
        for finding in findings:
            self.counts[finding.kind] += 1
            if sum(1 for s in self.samples if s["kind"] == finding.kind) < SAMPLES_PER_KIND:
                self.samples.append(
                    {"kind": finding.kind, "path": path, "line": line_no, "masked": finding.masked}
                )

    def as_dict(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "counts": dict(self.counts),
            "samples": list(self.samples),
            "files_scanned": self.files_scanned,
            "bytes_scanned": self.bytes_scanned,
        }


def is_text_path(path: str) -> bool:
    dot = path.rfind(".")
    return dot >= 0 and path[dot:].lower() in TEXT_SUFFIXES


class StreamScanner:
    """Scans one file delivered in byte chunks, splitting only at line ends."""

    def __init__(self, report: ScanReport, path: str) -> None:
        self.report = report
        self.path = path
        self._pending = b""
        self._line = 1
        # A CSV or TSV file's first line names its columns: name and address columns make findings.
        self._delimiter = table_delimiter(path)
        self._columns: TableColumns | None = None
        report.files_scanned += 1

    def feed(self, chunk: bytes) -> None:
        self.report.bytes_scanned += len(chunk)
        data = self._pending + chunk
        cut = data.rfind(b"\n")
        if cut < 0 and len(data) < 4 * 1024 * 1024:
            self._pending = data
            return
        cut = len(data) if cut < 0 else cut + 1
        self._scan(data[:cut])
        self._pending = data[cut:]

    def close(self) -> None:
        if self._pending:
            self._scan(self._pending)
            self._pending = b""

    def _scan(self, data: bytes) -> None:
        text = data.decode("utf-8", errors="replace")
        body_from = 0
        if self._delimiter and self._line == 1:
            body_from = text.find("\n") + 1 or len(text)
            self._columns = table_columns(text[:body_from].lstrip("\ufeff"), self._delimiter)
        findings = find(text, self._columns, body_from)
        if findings:
            for line_no, group in _by_line(text, findings, self._line):
                self.report.add(self.path, line_no, group)
        self._line += text.count("\n")


def _by_line(text: str, findings: list[Finding], first_line: int) -> Iterator[tuple[int, list[Finding]]]:
    line_no, cursor = first_line, 0
    for finding in findings:
        line_no += text.count("\n", cursor, finding.start)
        cursor = finding.start
        yield line_no, [finding]


def scan_bytes(data: bytes, path: str = "<memory>") -> ScanReport:
    report = ScanReport()
    scanner = StreamScanner(report, path)
    scanner.feed(data)
    scanner.close()
    return report
