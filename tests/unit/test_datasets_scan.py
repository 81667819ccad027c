"""Personal-data recognisers: check digits, Luhn, masking, streaming."""

from __future__ import annotations

import pytest

from aicommons.datasets.scan import (
    KINDS,
    ScanReport,
    StreamScanner,
    find,
    gb11643_check_digit,
    luhn_valid,
    mask_address,
    mask_name,
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


def _found(text: str, kind: str) -> list[str]:
    return [f.value for f in find(text) if f.kind == kind]


def _luhn_complete(body: str) -> str:
    return next(body + d for d in "0123456789" if luhn_valid(body + d))


CARD = _luhn_complete("622202123456789")  # 6222021234567894


@pytest.mark.parametrize(
    "text",
    [
        f"{CARD[:4]} {CARD[4:8]} {CARD[8:12]} {CARD[12:]} 2024",  # a year after the card
        f"{CARD[:4]} {CARD[4:8]} {CARD[8:12]} {CARD[12:]} 15",  # a short number after it
        f"张三,{CARD[:4]} {CARD[4:8]} {CARD[8:12]} {CARD[12:]} 15,cat",
        f"{CARD[:4]}-{CARD[4:8]}-{CARD[8:12]}-{CARD[12:]}-7",
    ],
)
def test_a_number_after_a_spaced_card_is_not_swallowed(text: str) -> None:
    cards = [f for f in find(text) if f.kind == "bank_card"]
    assert [c.masked for c in cards] == ["6222********7894"]
    assert _digits_of(cards[0].value) == CARD


def _digits_of(value: str) -> str:
    return "".join(c for c in value if c.isdigit())


def test_a_spaced_nineteen_digit_card_keeps_its_last_group() -> None:
    card = _luhn_complete("621700123456789012")
    text = f"卡号 {card[:4]} {card[4:8]} {card[8:12]} {card[12:16]} {card[16:]} 有效"
    assert [_digits_of(v) for v in _found(text, "bank_card")] == [card]


def test_two_spaced_cards_in_a_row_are_both_found() -> None:
    spaced = f"{CARD[:4]} {CARD[4:8]} {CARD[8:12]} {CARD[12:]}"
    assert len(_found(f"{spaced} {spaced}", "bank_card")) == 2


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("姓名：张三，电话 13812345678", "张三"),
        ("姓名:欧阳娜娜", "欧阳娜娜"),
        ('{"姓名": "李小龙", "label": 1}', "李小龙"),
        ("患者王小明，男，45岁", "王小明"),
        ("收件人 赵六", "赵六"),
        ("持卡人=孙悟空;", "孙悟空"),
        ('{"patient_name": "John Smith"}', "John Smith"),
        ("Cardholder: Mary Jane Watson\n", "Mary Jane Watson"),
        ("full-name = Anne O'Neil", "Anne O'Neil"),
        ("name: 王五", "王五"),
    ],
)
def test_names_after_a_cue(text: str, name: str) -> None:
    assert _found(text, "name") == [name]


@pytest.mark.parametrize(
    "text",
    [
        "请填写姓名和电话。",  # 姓名 in prose, no name after it
        "姓名是必填项，名字不能为空",
        "我的名字叫做小明",  # no surname right after the cue
        "患者高血压病史三年",  # a surname character starting an ordinary word, no boundary
        "姓名：某某",  # already anonymised
        "姓名：未知",
        '{"name": "Traffic Light", "file_name": "王五.jpg", "class_name": "张三"}',
        "username: John Smith",  # a login name, not a person's name
        "model name: ResNet Fifty",  # a bare `name` key takes only Han names
        "张三丰太极拳是一种武术",  # no cue at all
    ],
)
def test_no_names_in_ordinary_text(text: str) -> None:
    assert _found(text, "name") == []


@pytest.mark.parametrize(
    ("text", "address"),
    [
        ("地址：广东省深圳市南山区科技园路1号 电话 13812345678", "广东省深圳市南山区科技园路1号"),
        ("我家住在北京市朝阳区建国路88号院3号楼。", "北京市朝阳区建国路88号院3号楼"),
        ("寄到浙江省杭州市西湖区文三路90号2栋301室吧", "浙江省杭州市西湖区文三路90号2栋301室"),
        ("新疆维吾尔自治区乌鲁木齐市天山区解放南路12号", "新疆维吾尔自治区乌鲁木齐市天山区解放南路12号"),
        ("他住在朝阳区建国路88号", "朝阳区建国路88号"),
        ("收货地址=上海市浦东新区世纪大道100号;", "上海市浦东新区世纪大道100号"),
        ('{"home_address": "12 Main Street, Springfield"}', "12 Main Street"),
        ("住址: 某小区3栋", "某小区3栋"),
    ],
)
def test_addresses(text: str, address: str) -> None:
    assert _found(text, "address") == [address]


@pytest.mark.parametrize(
    "text",
    [
        "我去了北京市朝阳区，那里很热闹",  # a place, not an address
        "今天路口的红绿灯3号坏了",
        "上海市发布了第12号文件",  # a number, but no road
        "IP地址：192.168.1.1",
        "MAC address: 00:1A:2B:3C:4D:5E",
        "邮箱地址：li@example.com",
        "网址: http://example.com/a1",
        "地址栏",
        "the address space of a process",
    ],
)
def test_no_addresses_in_ordinary_text(text: str) -> None:
    assert _found(text, "address") == []


def test_masks_of_names_and_addresses() -> None:
    assert mask_name("张三") == "张*" and mask_name("欧阳娜娜") == "欧阳**"
    assert mask_name("John Smith") == "J*** S****"
    assert mask_address("广东省深圳市南山区科技园路1号") == "广东省深圳市*********"
    assert mask_address("北京市朝阳区建国路88号") == "北京市*********"
    assert mask_address("12 Main St") == "** **** **"
    text = "姓名：张三；地址：上海市浦东新区世纪大道100号；卡 " + CARD
    masked, count = mask_text(text)
    assert count == 3
    assert masked == "姓名：张*；地址：上海市************；卡 6222********7894"
    assert find(masked) == []


def test_a_number_inside_an_address_wins() -> None:
    findings = find("地址：北京市朝阳区建国路88号 13812345678")
    assert [f.kind for f in findings] == ["address", "mobile"]
    assert [f.kind for f in find("住址：朝阳区 11010519491231002X 号")] == ["cn_id"]


CSV = "\n".join(
    [
        "id,姓名,Address,name,label",
        '1,张三,"上海市浦东新区世纪大道100号, 2楼",李四,cat',
        "2,Tom Hanks,无,Tom Hanks,dog\n",
    ]
)


def test_csv_name_and_address_columns() -> None:
    report = scan_bytes(CSV.encode(), "people.csv")
    assert report.counts["name"] == 3  # 张三, 李四, Tom Hanks (not in the column headed `name`)
    assert report.counts["address"] == 1
    masked, count = mask_text(CSV, "people.csv")
    assert count == 4
    assert '1,张*,"上海市************* **",李*,cat' in masked  # the whole quoted cell
    assert "2,T** H****,无,Tom Hanks,dog" in masked


def test_csv_columns_only_with_a_path_and_a_header() -> None:
    masked, count = mask_text(CSV)  # no path: the header is not read as one, only the address's shape
    assert count == 1 and "1,张三," in masked and "李四" in masked
    no_header = "1,张三,北京\n"
    assert scan_bytes(no_header.encode(), "rows.csv").total == 0
    tsv = "姓名\t地址\n王五\t北京市海淀区中关村大街1号\n"
    assert scan_bytes(tsv.encode(), "rows.tsv").counts == {**dict.fromkeys(KINDS, 0), "name": 1, "address": 1}


def test_findings_split_across_fed_chunks() -> None:
    report = ScanReport()
    scanner = StreamScanner(report, "notes.txt")
    data = "第一行\n收件人：欧阳娜娜，地址：浙江省杭州市西湖区文三路90号\n".encode()
    cut = data.index("娜".encode()) + 1  # inside a character, inside the name
    for piece in (data[:cut], data[cut : cut + 20], data[cut + 20 :]):
        scanner.feed(piece)
    scanner.close()
    assert report.counts["name"] == 1 and report.counts["address"] == 1
    assert {s["masked"] for s in report.samples} == {"欧阳**", "浙江省杭州市*********"}
    assert all(s["line"] == 2 for s in report.samples)


def test_csv_header_split_across_fed_chunks() -> None:
    report = ScanReport()
    scanner = StreamScanner(report, "people.csv")
    data = b"id,full_name\n1,John Smith\n"
    scanner.feed(data[:5])
    scanner.feed(data[5:])
    scanner.close()
    assert report.counts["name"] == 1
    assert report.samples[0]["masked"] == "J*** S****" and report.samples[0]["line"] == 2
