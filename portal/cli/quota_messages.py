"""The quota commands' own words, in English and Chinese."""

from __future__ import annotations

MESSAGES: dict[str, dict[str, str]] = {
    "allocation_requested": {"en": "Allocation {id} requested.", "zh": "已提交算力配额申请 {id}。"},
    "allocation_decided": {
        "en": "Allocation {id} is now {state}.",
        "zh": "算力配额 {id} 当前状态：{state}。",
    },
    "balance": {"en": "Balance of {org}: {hours} GPU-hours", "zh": "{org} 余额：{hours} GPU 时"},
    "quota_set": {"en": "Quota of {org} on {flavour} saved.", "zh": "已保存 {org} 在 {flavour} 上的配额。"},
    "booking_made": {"en": "Booking {id}: {status}.", "zh": "预约 {id}：{status}。"},
    "flavour_created": {"en": "Flavour {name} created.", "zh": "算力规格 {name} 已创建。"},
    "nothing": {"en": "Nothing to show.", "zh": "没有可显示的内容。"},
}


def say(key: str, lang: str, **params: object) -> str:
    texts = MESSAGES[key]
    return texts.get(lang, texts["en"]).format(**params)
