"""Personal-data scan: our scanner against Microsoft Presidio on the same corpus, in the same run.

The corpus is mixed Chinese/English text with planted mainland resident ID numbers (valid GB 11643
check digits), mainland mobile numbers (bare, +86 and 0086), e-mail addresses, bank cards (valid
Luhn, bare and spaced) and passport numbers, personal names after a cue (姓名：张三, 收件人 李四,
"patient_name": "John Smith") and mainland addresses (after 地址： or bare, province to house
number), plus decoys: ID numbers with a wrong check digit, which a scanner should not report.
Each planted value is remembered by its position, so recall counts a value as found only when a
finding covers it.

Throughput is corpus megabytes per second of CPU time of this one process (time.process_time), that
is MB/s per core, which the other work on a shared machine does not inflate.

"Presidio's defaults" here means `AnalyzerEngine()` as it comes, the recognisers of its default
registry for English, its context enhancer and score handling, with one change forced by this
machine: the default NLP engine loads the `en_core_web_lg` spaCy model, which is downloaded from
GitHub, which cannot be reached. The engine is spaCy's blank English pipeline instead (tokeniser,
no statistical model), so no spaCy NER entities (names, places) are produced, none of which this
corpus plants anyway, and Presidio's measured throughput is an upper bound: the real model adds
tagging, parsing and NER time on top. Names and addresses are the exception: Presidio's defaults
find them (PERSON, LOCATION) only through that NER model, so with the blank pipeline they find
none, and the model is an English one in any case. A second Presidio row registers our recognisers (the same
regular expressions, with the ID check digit and Luhn as Presidio `validate_result`) in Presidio's
registry, to separate what its framework costs from what its default recognisers miss; our name and address
finders join it as one Presidio recogniser that calls them.

    python -m tests.bench.bench_pii [--mb 2]     (needs presidio-analyzer: pip install -e '.[dev]')
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aicommons.datasets.scan import (
    KINDS,
    RECOGNISERS,
    ScanReport,
    StreamScanner,
    find,
    gb11643_check_digit,
    luhn_valid,
)
from aicommons.datasets.scan_cues import cued_findings

WORDS = [
    "交通",
    "信号灯",
    "路口",
    "the",
    "model",
    "train",
    "图像",
    "label",
    "城市",
    "data",
    "订单",
    "2024-05-01",
    "42",
]
# Presidio is fastest on texts of about 1 KiB here (measured 256 B to 64 KiB): its context enhancer
# walks the whole document's tokens for every result, so long texts cost it quadratically.
CHUNK = 1024
# Which Presidio entity types stand for which of our kinds, for typed recall.
PRESIDIO_TYPES = {
    "cn_id": {"CN_RESIDENT_ID"},
    "mobile": {"PHONE_NUMBER", "CN_MOBILE"},
    "email": {"EMAIL_ADDRESS"},
    "bank_card": {"CREDIT_CARD", "CN_BANK_CARD"},
    "passport": {"CN_PASSPORT"},
    "name": {"PERSON", "CN_NAME"},
    "address": {"LOCATION", "CN_ADDRESS"},
}


def _id(rng: random.Random) -> str:
    first = (
        f"{rng.choice(['110105', '440305', '510108', '330106'])}{rng.randint(1950, 2010)}"
        f"{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}{rng.randint(0, 999):03d}"
    )
    return first + gb11643_check_digit(first)


def _card(rng: random.Random) -> str:
    body = "62" + "".join(str(rng.randint(0, 9)) for _ in range(13))
    check = next(d for d in "0123456789" if luhn_valid(body + d))
    card = body + check
    return " ".join(card[i : i + 4] for i in range(0, 16, 4)) if rng.random() < 0.3 else card


def _mobile(rng: random.Random) -> str:
    number = f"1{rng.choice('3456789')}{rng.randint(0, 999_999_999):09d}"
    return rng.choice(["", "", "+86 ", "0086-"]) + number


SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华"
FIRST_NAMES = ["John", "Mary", "Wei", "Anna", "David", "Li"]
LAST_NAMES = ["Smith", "Wang", "Brown", "Chen", "Taylor", "Zhang"]
CN_NAME_CUES = ["姓名：", "姓名:", "联系人 ", "收件人：", "患者", '"姓名": "']
PLACES = [
    ("广东省", "深圳市", "南山区"),
    ("浙江省", "杭州市", "西湖区"),
    ("北京市", "", "朝阳区"),
    ("上海市", "", "浦东新区"),
    ("四川省", "成都市", "武侯区"),
]
ROADS = ["科技园路", "文三路", "建国路", "世纪大道", "人民南路", "解放街"]


def _name(rng: random.Random) -> tuple[str, str]:
    """(cue, name): the cue is what makes it findable, recall counts the name."""
    if rng.random() < 0.25:
        cue = rng.choice(['"patient_name": "', "Cardholder: ", "full_name="])
        return cue, f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
    given = "".join(rng.choice(GIVEN) for _ in range(rng.randint(1, 2)))
    return rng.choice(CN_NAME_CUES), rng.choice(SURNAMES) + given


def _address(rng: random.Random) -> tuple[str, str]:
    province, city, district = rng.choice(PLACES)
    street = f"{rng.choice(ROADS)}{rng.randint(1, 999)}号"
    if rng.random() < 0.5:
        street += f"{rng.randint(1, 30)}栋{rng.randint(101, 2505)}室"
    return rng.choice(["地址：", "住址 :", "", ""]), f"{province}{city}{district}{street}"


PLANTERS: dict[str, Callable[[random.Random], str | tuple[str, str]]] = {
    "cn_id": _id,
    "mobile": _mobile,
    "email": lambda rng: f"user{rng.randint(1, 99999)}@example.cn",
    "bank_card": _card,
    "passport": lambda rng: f"E{rng.randint(0, 99_999_999):08d}",
    "name": _name,
    "address": _address,
}


@dataclass
class Corpus:
    text: str
    planted: list[tuple[str, int, int]] = field(default_factory=list)  # kind, start, end
    decoys: list[tuple[int, int]] = field(default_factory=list)

    @property
    def megabytes(self) -> float:
        return len(self.text.encode()) / 1_000_000


def corpus(megabytes: float, seed: int = 7) -> Corpus:
    rng = random.Random(seed)
    parts: list[str] = []
    planted: list[tuple[str, int, int]] = []
    decoys: list[tuple[int, int]] = []
    offset = size = 0
    while size < megabytes * 1_000_000:
        words = [rng.choice(WORDS) for _ in range(rng.randint(8, 20))]
        roll, special = rng.random(), None
        if roll < 0.06:
            kind = rng.choice(list(PLANTERS))
            value = PLANTERS[kind](rng)
            special = (kind, *value) if isinstance(value, tuple) else (kind, "", value)
        elif roll < 0.07:
            valid = _id(rng)
            special = ("decoy", "", valid[:17] + ("0" if valid[17] != "0" else "1"))
        if special:
            kind, cue, value = special
            at = rng.randint(0, len(words))
            before = " ".join(words[:at])
            start = offset + len(before) + (1 if before else 0) + len(cue)
            end = start + len(value)
            decoys.append((start, end)) if kind == "decoy" else planted.append((kind, start, end))
            words.insert(at, cue + value)
        line = " ".join(words) + "\n"
        parts.append(line)
        offset += len(line)
        size += len(line.encode())
    return Corpus("".join(parts), planted, decoys)


Span = tuple[str, int, int]  # kind or entity type, start, end (character offsets)


def ours(text: str) -> list[Span]:
    """Our scanner as an upload runs it: StreamScanner over 1 MiB chunks of bytes (this is what is timed)."""
    report = ScanReport()
    scanner = StreamScanner(report, "bench.txt")
    data = text.encode()
    for start in range(0, len(data), 1024 * 1024):
        scanner.feed(data[start : start + 1024 * 1024])
    scanner.close()
    return []


def our_spans(text: str) -> list[Span]:
    """Where our findings are, for recall: `find` is what StreamScanner runs on each run of whole lines."""
    return [(f.kind, f.start, f.end) for f in find(text)]


def presidio_engine(custom: bool) -> Any:
    import spacy
    from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
    from presidio_analyzer.nlp_engine import SpacyNlpEngine

    class BlankSpacyEngine(SpacyNlpEngine):  # type: ignore[misc]
        """spaCy's blank English pipeline: the model Presidio would download cannot be fetched here."""

        def load(self) -> None:
            self.nlp = {"en": spacy.blank("en")}

    nlp = BlankSpacyEngine(models=[{"lang_code": "en", "model_name": "blank"}])
    nlp.load()
    registry = RecognizerRegistry(supported_languages=["en"])
    registry.load_predefined_recognizers(languages=["en"], nlp_engine=nlp)
    if custom:
        for recognizer in _our_recognizers():
            registry.add_recognizer(recognizer)
    return AnalyzerEngine(registry=registry, nlp_engine=nlp, supported_languages=["en"])


def _our_recognizers() -> list[Any]:
    from presidio_analyzer import Pattern, PatternRecognizer

    entities = {"cn_id": "CN_RESIDENT_ID", "mobile": "CN_MOBILE", "bank_card": "CN_BANK_CARD"}
    entities |= {"passport": "CN_PASSPORT", "email": "CN_EMAIL"}

    class Ours(PatternRecognizer):  # type: ignore[misc]
        def __init__(self, kind: str, regex: str, validate: Callable[[str], bool]) -> None:
            pattern = Pattern(kind, regex, 0.5)
            super().__init__(
                entities[kind], name=f"aicommons_{kind}", patterns=[pattern], global_regex_flags=0
            )
            self._validate = validate

        def validate_result(self, pattern_text: str) -> bool:
            return self._validate(pattern_text)

    def validator(kind: str, validate: Callable[[str], bool]) -> Callable[[str], bool]:
        if kind != "bank_card":
            return validate
        # As our scanner does: an 18-digit number shaped like an ID is never a card, even if Luhn passes.
        id_shape = RECOGNISERS[0].pattern
        return lambda value: validate(value) and not (len(value) == 18 and id_shape.fullmatch(value))

    return [Ours(r.kind, r.pattern.pattern, validator(r.kind, r.validate)) for r in RECOGNISERS] + [
        _our_cued_recognizer()
    ]


def _our_cued_recognizer() -> Any:
    """Our name and address finders (cues, shapes, no single pattern) as one Presidio recogniser."""
    from presidio_analyzer import EntityRecognizer, RecognizerResult

    types = {"name": "CN_NAME", "address": "CN_ADDRESS"}

    class OursCued(EntityRecognizer):  # type: ignore[misc]
        def load(self) -> None:
            pass

        def analyze(self, text: str, entities: list[str], nlp_artifacts: Any = None) -> list[Any]:
            return [
                RecognizerResult(types[kind], start, end, 0.85)
                for kind, start, end, _ in cued_findings(text)
                if types[kind] in entities
            ]

    return OursCued(supported_entities=list(types.values()), name="aicommons_cued")


def presidio(engine: Any, text: str) -> list[Span]:
    """Presidio over line-aligned chunks of about CHUNK characters."""
    spans: list[Span] = []
    start = 0
    while start < len(text):
        end = text.find("\n", start + CHUNK)
        end = len(text) if end < 0 else end + 1
        for result in engine.analyze(text=text[start:end], language="en"):
            spans.append((result.entity_type, start + result.start, start + result.end))
        start = end
    return spans


def measure(detect: Callable[[str], list[Span]], data: Corpus) -> tuple[float, list[Span]]:
    started = time.process_time()
    spans = detect(data.text)
    return time.process_time() - started, spans


def recall(data: Corpus, spans: list[Span], typed: Callable[[str, str], bool]) -> dict[str, dict[str, Any]]:
    """Per planted kind: share found with the right type, share covered by any finding at all, and
    the types of the findings that covered them."""
    by_start = sorted(spans, key=lambda s: s[1])
    starts = [s[1] for s in by_start]
    out: dict[str, dict[str, Any]] = {}
    for kind in PLANTERS:
        wanted = [(s, e) for k, s, e in data.planted if k == kind]
        right = anything = 0
        found_as: dict[str, int] = {}
        for start, end in wanted:
            hits = _overlapping(by_start, starts, start, end)
            right += any(typed(kind, h[0]) for h in hits)
            anything += bool(hits)
            for entity in {h[0] for h in hits}:
                found_as[entity] = found_as.get(entity, 0) + 1
        n = max(len(wanted), 1)
        out[kind] = {"typed": round(right / n, 4), "any": round(anything / n, 4), "found_as": found_as}
    return out


def _overlapping(spans: list[Span], starts: list[int], start: int, end: int) -> list[Span]:
    import bisect

    index = bisect.bisect_left(starts, start - 64)
    hits = []
    while index < len(spans) and spans[index][1] < end:
        if spans[index][2] > start:
            hits.append(spans[index])
        index += 1
    return hits


def decoys_reported(data: Corpus, spans: list[Span]) -> int:
    starts = sorted(spans, key=lambda s: s[1])
    keys = [s[1] for s in starts]
    return sum(1 for start, end in data.decoys if _overlapping(starts, keys, start, end))


def main() -> None:
    # tldextract (used by Presidio's e-mail and URL recognisers) tries to refresh the public suffix
    # list from the network, fails here and falls back to its bundled copy: keep its traceback quiet.
    logging.getLogger("tldextract").setLevel(logging.CRITICAL)
    parser = argparse.ArgumentParser()
    parser.add_argument("--mb", type=float, default=2.0)
    args = parser.parse_args()
    assert set(PLANTERS) == set(KINDS), "every kind the scanner reports is planted"
    data = corpus(args.mb)
    mb = data.megabytes
    rows: dict[str, dict[str, Any]] = {}
    ours_s, _ = measure(ours, data)
    ours_spans = our_spans(data.text)
    rows["aicommons"] = _row(mb, ours_s, data, ours_spans, lambda kind, found: kind == found)
    for name, custom in (("presidio_defaults", False), ("presidio_with_our_recognisers", True)):
        engine = presidio_engine(custom)
        engine.analyze(text="warm up 13812345678", language="en")
        seconds, spans = measure(lambda text, e=engine: presidio(e, text), data)
        rows[name] = _row(mb, seconds, data, spans, lambda kind, found: found in PRESIDIO_TYPES[kind])
    base = rows["aicommons"]["mb_per_cpu_s"]
    print(f"corpus {mb:.2f} MB, {len(data.planted)} planted values, {len(data.decoys)} decoy IDs")
    columns = (("cn_id", "ID"), ("mobile", "mobile"), ("bank_card", "card"), ("email", "email"))
    columns += (("passport", "passport"), ("name", "name"), ("address", "address"))
    print(f"{'':30} {'MB/s/core':>9} " + " ".join(f"{label:>8}" for _, label in columns) + "   decoys")
    for name, row in rows.items():
        cells = " ".join(f"{row['recall'][kind]['typed']:>8.2f}" for kind, _ in columns)
        print(f"{name:30} {row['mb_per_cpu_s']:9.3f} {cells} {row['decoys_reported']:8d}")
    print("(typed recall; 'any' in the JSON counts a value covered by a finding of any type)")
    result = {
        "bench": "pii",
        "corpus_mb": round(mb, 2),
        "planted": {k: sum(1 for p in data.planted if p[0] == k) for k in PLANTERS},
        "decoys": len(data.decoys),
        "presidio_nlp": "spacy.blank('en') (en_core_web_lg cannot be downloaded here)",
        "presidio_names_addresses": (
            "Presidio's defaults find PERSON and LOCATION only through spaCy NER (en_core_web_lg, an "
            "English model), which cannot be downloaded here: with the blank pipeline they find none"
        ),
        **rows,
        "throughput_ratio_vs_presidio_defaults": round(base / rows["presidio_defaults"]["mb_per_cpu_s"], 1),
        "throughput_ratio_vs_presidio_custom": round(
            base / rows["presidio_with_our_recognisers"]["mb_per_cpu_s"], 1
        ),
    }
    print(json.dumps(result, ensure_ascii=False))


def _row(
    mb: float, seconds: float, data: Corpus, spans: list[Span], typed: Callable[[str, str], bool]
) -> dict[str, Any]:
    return {
        "mb_per_cpu_s": round(mb / seconds, 3),
        "cpu_s": round(seconds, 2),
        "recall": recall(data, spans, typed),
        "decoys_reported": decoys_reported(data, spans),
    }


if __name__ == "__main__":
    main()
