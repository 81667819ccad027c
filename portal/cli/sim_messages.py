"""The simulator command's own words, in English and Chinese."""

from __future__ import annotations

MESSAGES: dict[str, dict[str, str]] = {
    "loaded": {
        "en": "Workload {name}: {jobs} jobs, {flavours} flavours ({gpus} GPUs), {tenants} tenants, "
        "{bookings} bookings.",
        "zh": "工作负载 {name}：{jobs} 个作业，{flavours} 种算力规格（{gpus} 张卡），{tenants} 个租户，"
        "{bookings} 个预约。",
    },
    "dropped": {
        "en": "{count} jobs dropped: they ask for more GPUs than their flavour has.",
        "zh": "已丢弃 {count} 个作业：所需卡数超过其算力规格的容量。",
    },
    "results": {"en": "Policies compared", "zh": "调度策略对比"},
    "tenants": {"en": "Tenants under {policy}", "zh": "{policy} 策略下的各租户"},
    "col_policy": {"en": "policy", "zh": "策略"},
    "col_finished": {"en": "done", "zh": "完成"},
    "col_jct": {"en": "JCT h", "zh": "完成时间 时"},
    "col_jct_p95": {"en": "p95", "zh": "p95"},
    "col_wait": {"en": "queued h", "zh": "排队 时"},
    "col_wait_p95": {"en": "p95", "zh": "p95"},
    "col_vs": {"en": "÷ {baseline}", "zh": "÷ {baseline}"},
    "col_util": {"en": "busy", "zh": "利用率"},
    "col_preempt": {"en": "preempted", "zh": "抢占"},
    "col_speed": {"en": "jobs/s", "zh": "作业/秒"},
    "col_tenant": {"en": "tenant", "zh": "租户"},
    "col_entitled": {"en": "entitlement", "zh": "保障份额"},
    "col_demand": {"en": "demand", "zh": "需求"},
    "col_share": {"en": "share", "zh": "实得份额"},
    "col_attained": {"en": "guarantee attained", "zh": "保障达成率"},
    "starved": {
        "en": "Tenants short of their guarantee for more than 5% of what they asked: {tenants}",
        "zh": "保障未达成（缺口超过所需的 5%）的租户：{tenants}",
    },
    "not_starved": {
        "en": "Every tenant asking for its guarantee got at least 95% of it.",
        "zh": "所有需求达到保障的租户均获得了至少 95% 的保障。",
    },
    "unknown_policy": {
        "en": "Unknown policy {policy}; choose from {choices}.",
        "zh": "未知策略 {policy}；可选：{choices}。",
    },
    "bad_workload": {"en": "Cannot load the workload: {error}", "zh": "无法加载工作负载：{error}"},
}


def say(key: str, lang: str, **params: object) -> str:
    texts = MESSAGES[key]
    return texts.get(lang, texts["en"]).format(**params)
