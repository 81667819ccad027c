"""Messages of the quota domain (flavours, allocations, ledger, quotas, bookings, usage), en + zh."""

from aicommons.portal.core.i18n import register

register(
    {
        "flavour.not_found": {"en": "Unknown flavour {name}", "zh": "未知的算力规格 {name}"},
        "flavour.name_taken": {"en": "Flavour {name} already exists", "zh": "算力规格 {name} 已存在"},
        "flavour.capacity_below_commitments": {
            "en": "Capacity {capacity} is below the {committed} GPUs already guaranteed",
            "zh": "容量 {capacity} 低于已保障的 {committed} 张卡",
        },
        "allocation.not_found": {"en": "Allocation not found", "zh": "算力配额申请不存在"},
        "allocation.amount_invalid": {
            "en": "GPU-hours must be positive",
            "zh": "GPU 时数必须为正数",
        },
        "allocation.period_invalid": {
            "en": "The validity period must end after it starts",
            "zh": "有效期的结束时间必须晚于开始时间",
        },
        "allocation.not_pending": {
            "en": "The allocation has already been decided ({status})",
            "zh": "该申请已处理（{status}）",
        },
        "allocation.self_approval": {
            "en": "Administrators may not decide their own organisation's requests",
            "zh": "管理员不能审批本机构的申请",
        },
        "allocation.renewal_invalid": {
            "en": "Only an approved allocation of the same organisation can be renewed",
            "zh": "只能续期本机构已批准的配额",
        },
        "ledger.amount_invalid": {"en": "A debit must be positive", "zh": "扣减量必须为正数"},
        "ledger.insufficient_balance": {
            "en": "Not enough GPU-hours: {missing} GPU-seconds are not covered",
            "zh": "GPU 时数不足：缺少 {missing} GPU 秒",
        },
        "quota.negative": {"en": "Quota numbers must not be negative", "zh": "配额数值不能为负"},
        "quota.lend_above_guarantee": {
            "en": "The lending limit cannot exceed the guaranteed GPUs",
            "zh": "可借出上限不能超过保障卡数",
        },
        "quota.over_capacity": {
            "en": "Guarantees would total {total} GPUs, above the capacity of {capacity}",
            "zh": "保障总数将达 {total} 张卡，超过容量 {capacity}",
        },
        "booking.not_found": {"en": "Booking not found", "zh": "预约不存在"},
        "booking.window_invalid": {
            "en": "The booking must end after it starts, and ask for at least one GPU",
            "zh": "预约结束时间必须晚于开始时间，且至少一张卡",
        },
        "booking.over_capacity": {
            "en": "Only {free} GPUs of {flavour} are free throughout that window",
            "zh": "该时段内 {flavour} 仅有 {free} 张卡可用",
        },
        "booking.not_pending": {
            "en": "The booking is not waiting for a decision ({status})",
            "zh": "该预约不在待审批状态（{status}）",
        },
        "booking.not_cancellable": {
            "en": "The booking can no longer be cancelled ({status})",
            "zh": "该预约已无法取消（{status}）",
        },
        "usage.interval_invalid": {
            "en": "A usage interval must end after it starts",
            "zh": "用量区间的结束时间必须晚于开始时间",
        },
        "usage.conflict": {
            "en": "A different usage record exists for this job run interval",
            "zh": "该作业运行区间已有不同的用量记录",
        },
        "report.range_invalid": {
            "en": "The report range must end after it starts and span at most {max_days} days",
            "zh": "报表区间结束须晚于开始，且不超过 {max_days} 天",
        },
    }
)
