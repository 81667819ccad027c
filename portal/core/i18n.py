"""Messages in Chinese and English.

Each domain registers its catalogue (code -> {"en": ..., "zh": ...}) at import; messages are
`str.format` templates over the error's parameters. A unit test checks that every registered code
has both languages.
"""

from __future__ import annotations

from typing import Any, Literal

Lang = Literal["en", "zh"]
LANGS: tuple[Lang, ...] = ("en", "zh")

_catalogue: dict[str, dict[str, str]] = {}


def register(messages: dict[str, dict[str, str]]) -> None:
    for code, texts in messages.items():
        missing = [lang for lang in LANGS if not texts.get(lang)]
        if missing:
            raise ValueError(f"message {code!r} lacks {missing}")
        _catalogue[code] = texts


def catalogue() -> dict[str, dict[str, str]]:
    return dict(_catalogue)


def negotiate(accept_language: str | None) -> Lang:
    """Pick zh or en from an Accept-Language header; English when nothing matches."""
    if not accept_language:
        return "en"
    ranked: list[tuple[float, str]] = []
    for part in accept_language.split(","):
        piece = part.strip()
        if not piece:
            continue
        tag, _, q = piece.partition(";q=")
        try:
            weight = float(q) if q else 1.0
        except ValueError:
            weight = 0.0
        ranked.append((weight, tag.strip().lower()))
    for _, tag in sorted(ranked, key=lambda item: -item[0]):
        if tag.startswith("zh"):
            return "zh"
        if tag.startswith("en"):
            return "en"
    return "en"


def translate(
    code: str, lang: Lang, params: dict[str, Any] | None = None, fallback: str | None = None
) -> str:
    texts = _catalogue.get(code)
    template = texts[lang] if texts else (fallback or code)
    try:
        return template.format(**(params or {}))
    except (KeyError, IndexError, ValueError):
        return template


register(
    {
        "request.invalid": {"en": "The request is invalid: {detail}", "zh": "请求无效：{detail}"},
        "request.malformed_json": {"en": "The request body is not valid JSON", "zh": "请求体不是合法的 JSON"},
        "request.not_found": {"en": "No such endpoint", "zh": "没有这个接口"},
        "request.method_not_allowed": {"en": "Method not allowed", "zh": "不允许的请求方法"},
        "server.error": {
            "en": "Internal error; it has been logged (reference {ref})",
            "zh": "服务器内部错误，已记录（编号 {ref}）",
        },
        "db.conflict": {
            "en": "The change conflicts with existing data",
            "zh": "该修改与已有数据冲突",
        },
    }
)
