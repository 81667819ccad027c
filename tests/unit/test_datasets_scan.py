"""Personal-data recognisers: check digits, Luhn, masking, streaming."""

from __future__ import annotations

import pytest

from aicommons.datasets.scan import (
    ScanReport,
    StreamScanner,
    find,
    gb11643_check_digit,
    luhn_valid,
    mask_text,
    scan_bytes,
    valid_cn_id,
)

VALID_IDS = ["11010519491231002X", "440524188001010014", "51010820000101001X"]


def _with_check(first17: str) -> str:
    return first17 + gb11643_check_digit(first17)


@pytest.mark.parametrize("value", VALID_IDS)
def test_valid_resident_ids(value: str) -> None:
    assert valid_cn_id(value)
    assert [f.kind for f in find(f"身份证号：{value}。")] == ["cn_id"]


def test_wrong_check_digit_is_not_an_id() -> None:
    bad = "110105194912310021"
    assert not valid_cn_id(bad)
    assert all(f.kind != "cn_id" for f in find(bad))


def test_impossible_dates_are_not_ids() -> None:
    month_13 = _with_check("11010519491331002")
    assert not [f for f in find(month_13) if f.kind == "cn_id"]


def test_luhn() -> None:
    assert luhn_valid("4111111111111111")
    assert luhn_valid("6212345678901232")
    assert not luhn_valid("4111111111111112")
    assert not luhn_valid("12345")


def test_bank_cards_need_luhn() -> None:
    assert [f.kind for f in find("card 4111 1111 1111 1111 ok")] == ["bank_card"]
    assert [f.kind for f in find("card 6212345678901232")] == ["bank_card"]
    assert find("order 4111111111111112") == []


def test_an_id_number_is_not_reported_as_a_card() -> None:
    value = VALID_IDS[0]
    assert [f.kind for f in find(value)] == ["cn_id"]


@pytest.mark.parametrize("text", ["13812345678", "+86 13812345678", "电话:15900001111,"])
def test_mobiles(text: str) -> None:
    assert [f.kind for f in find(text)] == ["mobile"]


@pytest.mark.parametrize("text", ["12812345678", "138123456789", "order 1381234567"])
def test_not_mobiles(text: str) -> None:
    assert all(f.kind != "mobile" for f in find(text))


def test_email_and_passport() -> None:
    kinds = [f.kind for f in find("mail li.lei@example.com.cn passport E12345678 or EA1234567")]
    assert kinds == ["email", "passport", "passport"]
    assert find("model E123456789 version") == []


def test_masking_keeps_shape_and_hides_the_middle() -> None:
    text = "id 11010519491231002X tel 13812345678 mail alice@example.com card 4111111111111111"
    masked, count = mask_text(text)
    assert count == 4
    assert "110105********002X" in masked and "138****5678" in masked
    assert "a***@example.com" in masked and "4111********1111" in masked
    assert find(masked) == []


def test_stream_scanner_counts_lines_across_chunks() -> None:
    report = ScanReport()
    scanner = StreamScanner(report, "f.txt")
    data = ("clean line\n" * 1000 + "call 13812345678\n").encode()
    for start in range(0, len(data), 777):
        scanner.feed(data[start : start + 777])
    scanner.close()
    assert report.counts["mobile"] == 1
    assert report.samples == [{"kind": "mobile", "path": "f.txt", "line": 1001, "masked": "138****5678"}]


def test_samples_are_limited_and_never_raw() -> None:
    report = scan_bytes(("13812345678\n" * 20).encode())
    assert report.counts["mobile"] == 20 and len(report.samples) == 5
    assert "13812345678" not in str(report.as_dict())
