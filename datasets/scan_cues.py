"""Personal names and mainland postal addresses: found where the text says what they are.

A name has no shape of its own, so it is reported only after a cue: a label such as 姓名 or
收件人, a key such as `patient_name` in JSON, CSV or `key: value` text, or a CSV column whose
header names it. The value must then look like a name: 2 to 4 Han characters beginning with a
common surname, or, after a cue that names a person, an English "First Last". An address is
reported after a cue (地址, 住址, address) or, without one, when it has the shape of one: an
administrative division (province, city or district), a road or lane, and a house number (…号).

Precision comes before recall: ordinary prose that mentions 姓名, a product or a place is not a
finding. Functions return (kind, start, end, value) tuples; `scan` turns them into findings.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

Hit = tuple[str, int, int, str]  # kind, start, end, value

HAN = "\u4e00-\u9fff"
# About 150 of the most common single surnames (well over four fifths of the population) and the
# compound ones still in use; characters that are surnames but mostly ordinary words (和, 国, 时…)
# are left out, because a cue followed by prose must not become a name.
SURNAMES = frozenset(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏"
    "吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付傅方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万"
    "钱严覃武戴莫孔向汤常温康施文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关兰焦俞左柳甘祝包"
    "宁尚符舒阮柯纪梅童凌毕单季裴霍涂成苗谷盛曲翁冉骆蓝游辛靳管柴蒙鲍喻祁蒲滕屈饶艾尤穆卓岑"
)
COMPOUND_SURNAMES = frozenset(
    re.findall("..", "欧阳司马上官诸葛东方皇甫尉迟公孙慕容长孙宇文司徒夏侯轩辕令狐钟离端木南宫申屠")
)
NOT_NAMES = frozenset({"未知", "不详", "匿名", "保密", "本人", "同上", "无名"})
# Chinese labels; longer first, so that 紧急联系人 is one cue rather than 联系人 inside it.
_CN_CUES = (
    "紧急联系人|客户姓名|患者姓名|联系人|姓名|名字|患者|病人|就诊人|收件人|收货人|持卡人|户主|申请人"
    "|投保人|被保险人|乘客|监护人"
)
# Labels that open a form field (姓名：…) are followed by prose when there is no separator
# ("姓名和电话"); role labels (患者张三) are not.
_FIELD_CUES = frozenset({"紧急联系人", "客户姓名", "患者姓名", "姓名", "名字"})
_CN_NAME = re.compile(
    rf"(?P<cue>{_CN_CUES})(?P<sep>[\"']?[ \t]*[:：=][ \t]*[\"']?|[ \t]+|)"
    rf"(?P<value>[{HAN}]{{2,4}})(?![{HAN}])"
)
# English keys that name a person (compared without case, `_` or `-`); a bare `name` key is too
# often a class, file or product name for an English value to count, so after it only a Han name
# with a surname does.
_EN_PERSON_KEYS = frozenset(
    f"{who}name"
    for who in re.findall(
        r"\w+",
        "full real patient customer client contact recipient receiver sender holder cardholder owner"
        " account passenger employee student member",
    )
) | {"cardholder", "contact", "recipient", "patient"}
_KEY_SEPARATOR = r"[\"']?[ \t]*[:=][ \t]*[\"']?"


def _literal_led(words: str, tail: str) -> tuple[tuple[str, re.Pattern[str]], ...]:
    """One pattern per spelling, each led by a literal: the engine then skips ahead to it in C,
    where an alternation or IGNORECASE would test every candidate first letter in turn (5 to 10
    times slower on English text). Each comes with its word, to test `word in text` first."""
    return tuple((word, re.compile(re.escape(word) + tail)) for word in words.split())


# The end of a key and its separator; the rest of the key is read backwards in Python.
_EN_KEY_ENDS = _literal_led(
    "name Name NAME contact Contact CONTACT recipient Recipient RECIPIENT patient Patient PATIENT"
    " holder Holder HOLDER",
    _KEY_SEPARATOR,
)
# An English name: two or three capitalised words (Anne, O'Neil, McDonald, Mary-Jane).
_EN_WORD = r"(?:[A-Z][a-z]+|[A-Z]')?[A-Z][a-z]+(?:-[A-Z]?[a-z]+)?"
_ENGLISH_NAME = re.compile(rf"{_EN_WORD}(?: {_EN_WORD}){{1,2}}(?![A-Za-z'])")
_EN_NAME_VALUE = re.compile(rf"[{HAN}]{{2,4}}(?![{HAN}])|{_ENGLISH_NAME.pattern}")
_KEY_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
_PROVINCE = (
    r"(?:北京|天津|上海|重庆)市?|(?:河北|山西|辽宁|吉林|黑龙江|江苏|浙江|安徽|福建|江西|山东|河南|湖北|湖南"
    r"|广东|海南|四川|贵州|云南|陕西|甘肃|青海|台湾)省|内蒙古(?:自治区)?|广西(?:壮族自治区)?|西藏(?:自治区)?"
    r"|宁夏(?:回族自治区)?|新疆(?:维吾尔自治区)?|(?:香港|澳门)(?:特别行政区)?"
)
_CITY = rf"[{HAN}]{{2,7}}?(?:市|自治州|地区|盟)"
_DISTRICT = rf"[{HAN}]{{1,7}}?(?:区|县|旗|市)"
# Province, city, district, town, road, house number; then building, unit and room if any.
_ADDRESS = re.compile(
    rf"(?P<province>{_PROVINCE})?(?P<city>{_CITY})?(?P<district>{_DISTRICT})?"
    rf"(?:[{HAN}]{{1,7}}?(?:镇|乡|街道))?[{HAN}0-9]{{1,12}}?(?:大道|路|街|道|巷|弄|胡同)"
    r"[0-9０-９]{1,5}(?:-[0-9]{1,5})?号"
    rf"(?:院|[0-9A-Za-z一二三四五六七八九十甲乙丙丁-]{{1,6}}(?:号楼|栋|幢|座|单元|层|楼|室|号|院))*"
)
# An address written out starts at a place name, not at the words before it ("我家住在北京市…"):
# its divisions (the part before the road) hold none of these words of prose.
_PROSE = frozenset("在住于到去是的从我你他她们了寄送往")
_ADDRESS_WINDOW = 48
# Cues: 地址 and 住址 (with whatever precedes them: 收货地址, IP地址, the latter left out by the
# value's check), `address` or `addr` as a whole word or the end of a key (home_address).
_ADDRESS_CUES = _literal_led(
    "地址 住址 addr Addr ADDR",
    r"(?:ess|ESS)?(?![A-Za-z0-9])[\"']?[ \t]*[:：=][ \t]*[\"']?(?P<value>[^\"'\t\r\n,，;；。|<>]{4,80})",
)
# A cue's value stops before another field on the same line ("地址：… 电话 138…").
_ADDRESS_STOP = re.compile(r"\s*(?:电话|手机|联系|邮编|邮箱|[Tt]el\b|[Pp]hone|[Ee]-?mail|[0-9]{7,}|\S*@)")
_NON_POSTAL = re.compile(r"[0-9A-Fa-f:.\-/ ]+")  # IP and MAC addresses, "address: 0x7ff…"
_KEEP_IN_MASK = re.compile(rf"(?:{_PROVINCE})?(?:[{HAN}]{{2,7}}?(?:市|自治州|地区|盟))?")


def has_surname(value: str) -> bool:
    return value[:2] in COMPOUND_SURNAMES or value[:1] in SURNAMES


def han_name(value: str) -> bool:
    """2 to 4 Han characters starting with a common surname, and not a placeholder (某, 未知)."""
    return (
        2 <= len(value) <= 4
        and has_surname(value)
        and value not in NOT_NAMES
        and "某" not in value
        and all("\u4e00" <= c <= "\u9fff" for c in value)
    )


def mask_name(value: str) -> str:
    """张三 → 张*, 欧阳娜娜 → 欧阳**, John Smith → J*** S****."""
    if value[:1].isascii():
        return " ".join(w[:1] + "*" * (len(w) - 1) for w in value.split(" "))
    keep = 2 if value[:2] in COMPOUND_SURNAMES and len(value) > 2 else 1
    return value[:keep] + "*" * (len(value) - keep)


def mask_address(value: str) -> str:
    """Keeps the province and city (广东省深圳市*********), masks the rest; all of it without them."""
    keep = _KEEP_IN_MASK.match(value)
    kept = keep.end() if keep else 0
    return value[:kept] + "".join(" " if c == " " else "*" for c in value[kept:])


def cued_findings(text: str) -> Iterator[Hit]:
    """Names after a label or key, addresses after a cue or in the shape of one, in no order."""
    # Substring tests run in C at memory speed: text with no cue skips the regular expressions.
    if _any_in(text, _CN_CUE_CHARS):
        yield from _cn_names(text)
    yield from _en_names(text)
    yield from _cued_addresses(text)
    if "号" in text:
        yield from _shaped_addresses(text)  # the house number is the rarest part of an address


def _any_in(text: str, words: tuple[str, ...]) -> bool:
    return any(word in text for word in words)


# Each Chinese cue holds one of these characters; single characters are found fastest.
_CN_CUE_CHARS = ("名", "人", "患", "户", "客")


def _cn_names(text: str) -> Iterator[Hit]:
    for match in _CN_NAME.finditer(text):
        value = match.group("value")
        if not match.group("sep"):
            after = text[match.end() : match.end() + 1]
            if match.group("cue") in _FIELD_CUES or len(value) > 3 or after not in _NAME_ENDS:
                continue
        if han_name(value):
            yield ("name", match.start("value"), match.end("value"), value)


_NAME_ENDS = frozenset({"", "，", ",", "、", "；", ";", "（", "(", " ", "\t", "\r", "\n", "：", ":"})


def _led_matches(text: str, patterns: tuple[tuple[str, re.Pattern[str]], ...]) -> Iterator[re.Match[str]]:
    for word, pattern in patterns:
        if word in text:
            yield from pattern.finditer(text)


def _en_names(text: str) -> Iterator[Hit]:
    for match in _led_matches(text, _EN_KEY_ENDS):
        key_start = match.start()
        while key_start > 0 and text[key_start - 1] in _KEY_CHARS:
            key_start -= 1
        end = match.end()
        key = text[key_start:end].rstrip("\"' \t:=").replace("_", "").replace("-", "").lower()
        if key != "name" and key not in _EN_PERSON_KEYS:
            continue
        value = _EN_NAME_VALUE.match(text, end)
        if value is None:
            continue
        found = value.group()
        if han_name(found) if not found[:1].isascii() else key != "name":
            yield ("name", end, value.end(), found)


def _cued_addresses(text: str) -> Iterator[Hit]:
    for match in _led_matches(text, _ADDRESS_CUES):
        start, value = match.start("value"), match.group("value")
        stop = _ADDRESS_STOP.search(value)
        value = (value[: stop.start()] if stop else value).rstrip()
        if postal(value):
            yield ("address", start, start + len(value), value)


def postal(value: str) -> bool:
    """Could be a postal address: some Han or, in Latin script, a number and a word; not an IP or
    MAC address, an e-mail address or a URL, not already masked."""
    if len(value) < 4 or "@" in value or "://" in value or "**" in value or _NON_POSTAL.fullmatch(value):
        return False
    if any("\u4e00" <= c <= "\u9fff" for c in value):
        return True
    return any(c.isdigit() for c in value) and re.search(r"[A-Za-z]{3}", value) is not None


# A road (路, 大道, 胡同…) and its house number, led by the road's last character: digits and 号
# are common, 路 followed by a digit is not.
_HOUSE_NUMBERS = _literal_led("路 街 道 巷 弄 同", r"[0-9０-９]{1,5}(?:-[0-9]{1,5})?号")


def _shaped_addresses(text: str) -> Iterator[Hit]:
    done = 0
    for at in sorted(number.end() - 1 for number in _led_matches(text, _HOUSE_NUMBERS)):
        if at >= done:
            hit = _address_ending_near(text, max(done, at - _ADDRESS_WINDOW), at)
            if hit:
                yield hit
                done = hit[2]


def _address_ending_near(text: str, lo: int, at: int) -> Hit | None:
    """The leftmost address in text[lo:] whose house number ends at `at`, starting at a place name."""
    for start in range(lo, at):
        if not "\u4e00" <= text[start] <= "\u9fff":
            continue
        match = _ADDRESS.match(text, start, at + 32)
        if match is None or match.end() <= at:
            continue
        divisions = [d for d in ("province", "city", "district") if match[d]]
        if divisions and not _PROSE.intersection(text[start : match.end(divisions[-1])]):
            return ("address", start, match.end(), match.group())
    return None


NAME_COLUMNS = frozenset(
    {"姓名", "名字", "联系人", "患者", "患者姓名", "病人", "收件人", "收货人", "持卡人", "户主", "客户姓名"}
    | {"fullname", "realname", "patientname", "customername", "contactname", "recipientname"}
    | {"cardholder", "holdername", "ownername", "accountname", "passengername", "name"}
)
ADDRESS_COLUMNS = frozenset(
    {"地址", "住址", "家庭住址", "通讯地址", "收货地址", "联系地址", "户籍地址"}
    | {"address", "addr", "homeaddress", "streetaddress", "mailingaddress", "shippingaddress"}
)


@dataclass(frozen=True)
class TableColumns:
    """Which cells of a CSV or TSV file's rows are names or addresses, by column index."""

    delimiter: str
    kinds: dict[int, str]
    generic_names: frozenset[int]  # columns headed just `name`: Han names only, as for the key


def table_delimiter(path: str) -> str | None:
    lowered = path.lower()
    return "," if lowered.endswith(".csv") else "\t" if lowered.endswith(".tsv") else None


def table_columns(header: str, delimiter: str) -> TableColumns | None:
    """The name and address columns that a header line names, or None when it names none."""
    kinds: dict[int, str] = {}
    generic: set[int] = set()
    for index, (start, end) in enumerate(_cells(header.rstrip("\r\n"), delimiter)):
        label = re.sub(r"[\s_\-\"']", "", header[start:end]).lower()
        if label in NAME_COLUMNS:
            kinds[index] = "name"
            if label == "name":
                generic.add(index)
        elif label in ADDRESS_COLUMNS:
            kinds[index] = "address"
    return TableColumns(delimiter, kinds, frozenset(generic)) if kinds else None


def column_findings(text: str, columns: TableColumns, body_from: int = 0) -> Iterator[Hit]:
    """The name and address cells of every line of `text` from `body_from` on."""
    last = max(columns.kinds)
    line_start = body_from
    while line_start < len(text):
        line_end = text.find("\n", line_start)
        line_end = len(text) if line_end < 0 else line_end
        line = text[line_start:line_end].rstrip("\r")
        for index, (start, end) in enumerate(_cells(line, columns.delimiter)):
            if index > last:
                break
            kind = columns.kinds.get(index)
            if kind is not None and _cell_is(kind, line[start:end], index in columns.generic_names):
                yield (kind, line_start + start, line_start + end, line[start:end])
        line_start = line_end + 1


def _cell_is(kind: str, value: str, generic: bool) -> bool:
    if kind == "address":
        return postal(value)
    return han_name(value) or (not generic and _ENGLISH_NAME.fullmatch(value) is not None)


_QUOTED_CELL = re.compile(r'[ \t]*"((?:[^"]|"")*)"[ \t]*')


def _cells(line: str, delimiter: str) -> Iterator[tuple[int, int]]:
    """(start, end) of each cell's value in a line: quotes and surrounding blanks left out."""
    pos = 0
    while True:
        quoted = _QUOTED_CELL.match(line, pos) if '"' in line else None
        if quoted and (quoted.end() == len(line) or line[quoted.end()] == delimiter):
            yield quoted.start(1), quoted.end(1)
            pos = quoted.end()
        else:
            end = line.find(delimiter, pos)
            end = len(line) if end < 0 else end
            value_start = pos + len(line[pos:end]) - len(line[pos:end].lstrip())
            yield value_start, value_start + len(line[value_start:end].strip())
            pos = end
        if pos >= len(line):
            return
        pos += 1
