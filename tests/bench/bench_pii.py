"""Personal-data scan throughput (MB/s on one core) and recall on planted values.

Generates mixed Chinese/English text with planted resident ID numbers (valid check digits), mobile
numbers, e-mails and bank cards (valid Luhn), plus decoys (wrong check digits). Compares the
scanner with a naive baseline that runs every recogniser line by line. Presidio is not installed
here and was not measured. Prints a JSON object on its last line.

    python tests/bench/bench_pii_scan.py [--mb 20]
"""

from __future__ import annotations

import argparse
import json
import random
import time

from aicommons.datasets.scan import RECOGNISERS, ScanReport, StreamScanner, gb11643_check_digit

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


def _id(rng: random.Random) -> str:
    first = (
        f"{rng.choice(['110105', '440305', '510108'])}{rng.randint(1950, 2010)}{rng.randint(1, 12):02d}"
        f"{rng.randint(1, 28):02d}{rng.randint(0, 999):03d}"
    )
    return first + gb11643_check_digit(first)


def _card(rng: random.Random) -> str:
    body = "62" + "".join(str(rng.randint(0, 9)) for _ in range(13))
    total = 0
    for index, char in enumerate(reversed(body)):
        n = int(char) * (2 if index % 2 == 0 else 1)
        total += n - 9 if n > 9 else n
    return body + str((10 - total % 10) % 10)


def corpus(megabytes: float, seed: int = 7) -> tuple[bytes, dict[str, int]]:
    rng = random.Random(seed)
    lines: list[str] = []
    planted = {"cn_id": 0, "mobile": 0, "bank_card": 0, "email": 0}
    size = 0
    while size < megabytes * 1_000_000:
        words = [rng.choice(WORDS) for _ in range(rng.randint(8, 20))]
        roll = rng.random()
        if roll < 0.02:
            words.insert(rng.randint(0, len(words)), _id(rng))
            planted["cn_id"] += 1
        elif roll < 0.04:
            words.insert(rng.randint(0, len(words)), f"1{rng.choice('3589')}{rng.randint(0, 999999999):09d}")
            planted["mobile"] += 1
        elif roll < 0.05:
            words.insert(rng.randint(0, len(words)), _card(rng))
            planted["bank_card"] += 1
        elif roll < 0.06:
            words.insert(rng.randint(0, len(words)), f"user{rng.randint(1, 99999)}@example.cn")
            planted["email"] += 1
        elif roll < 0.07:
            valid = _id(rng)
            words.insert(0, valid[:17] + ("0" if valid[17] != "0" else "1"))  # decoy: wrong check digit
        line = " ".join(words)
        lines.append(line)
        size += len(line.encode()) + 1
    return ("\n".join(lines) + "\n").encode(), planted


def run_scanner(data: bytes) -> tuple[float, ScanReport]:
    report = ScanReport()
    start = time.perf_counter()
    scanner = StreamScanner(report, "bench.txt")
    for offset in range(0, len(data), 1024 * 1024):
        scanner.feed(data[offset : offset + 1024 * 1024])
    scanner.close()
    return time.perf_counter() - start, report


def run_naive(data: bytes) -> tuple[float, dict[str, int]]:
    counts = {r.kind: 0 for r in RECOGNISERS}
    start = time.perf_counter()
    for raw in data.decode("utf-8").splitlines():
        for recogniser in RECOGNISERS:
            for match in recogniser.pattern.finditer(raw):
                if recogniser.validate(match.group()):
                    counts[recogniser.kind] += 1
    return time.perf_counter() - start, counts


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mb", type=float, default=20.0)
    args = parser.parse_args()
    data, planted = corpus(args.mb)
    mb = len(data) / 1_000_000
    scan_s, report = run_scanner(data)
    naive_s, naive_counts = run_naive(data)
    recall = {k: round(min(report.counts[k], n) / n, 4) if n else None for k, n in planted.items()}
    result = {
        "bench": "pii_scan",
        "corpus_mb": round(mb, 2),
        "scanner_mb_per_s": round(mb / scan_s, 2),
        "naive_line_mb_per_s": round(mb / naive_s, 2),
        "speedup": round(naive_s / scan_s, 2),
        "planted": planted,
        "found": report.counts,
        "naive_found": naive_counts,
        "recall": recall,
        "presidio": "not measured (not installed)",
    }
    print(f"scanner {result['scanner_mb_per_s']} MB/s, naive per-line {result['naive_line_mb_per_s']} MB/s")
    print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
