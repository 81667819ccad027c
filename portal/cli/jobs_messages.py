"""The job commands' own words, in English and Chinese."""

from __future__ import annotations

MESSAGES: dict[str, dict[str, str]] = {
    "packing": {"en": "Packing {path} …", "zh": "正在打包 {path} …"},
    "uploaded": {
        "en": "Working directory uploaded ({size} bytes, sha256 {sha})",
        "zh": "工作目录已上传（{size} 字节，sha256 {sha}）",
    },
    "submitted": {"en": "Job {id} submitted: {state}", "zh": "作业 {id} 已提交：{state}"},
    "cancelled": {
        "en": "Job {id}: {state} (stop requested: {stop})",
        "zh": "作业 {id}：{state}（已请求停止：{stop}）",
    },
    "not_waiting": {"en": "Job {id} is {state}, not waiting.", "zh": "作业 {id} 当前为 {state}，不在排队。"},
    "why": {"en": "Why job {id} waits: {message}", "zh": "作业 {id} 等待原因：{message}"},
    "position": {
        "en": "Position: {org} in its organisation's line, {flavour} in the flavour's line",
        "zh": "排队位置：本机构第 {org} 位，该规格第 {flavour} 位",
    },
    "eta": {
        "en": "Expected start: between {earliest} and {latest}",
        "zh": "预计开始：{earliest} 至 {latest}",
    },
    "eta_unknown": {"en": "Expected start: unknown", "zh": "预计开始：未知"},
    "bad_duration": {
        "en": "{value!r} is not a duration: use seconds or e.g. 90m, 2h, 1h30m, 1d",
        "zh": "{value!r} 不是有效的时长：请写秒数，或如 90m、2h、1h30m、1d",
    },
    "not_a_directory": {"en": "{path} is not a directory", "zh": "{path} 不是目录"},
    "finished": {"en": "Job {id} ended: {state}", "zh": "作业 {id} 已结束：{state}"},
}


def say(key: str, lang: str, **params: object) -> str:
    texts = MESSAGES[key]
    return texts.get(lang, texts["en"]).format(**params)
