"""Messages of the job domain and the reasons a job waits, en + zh."""

from aicommons.portal.core.i18n import register

register(
    {
        "job.not_found": {"en": "Job not found", "zh": "作业不存在"},
        "job.illegal_transition": {
            "en": "Job {job} cannot go from {current} to {target}",
            "zh": "作业 {job} 不能从 {current} 变为 {target}",
        },
        "job.already_ended": {"en": "The job has already ended ({state})", "zh": "作业已结束（{state}）"},
        "job.not_waiting": {
            "en": "The job is not waiting in the queue ({state})",
            "zh": "该作业不在排队（{state}）",
        },
        "job.state_unknown": {"en": "Unknown job state {state}", "zh": "未知的作业状态 {state}"},
        "job.gpus_over_capacity": {
            "en": "The job asks for {gpus} GPUs but {flavour} has only {capacity}",
            "zh": "作业申请 {gpus} 张卡，但 {flavour} 总共只有 {capacity} 张",
        },
        "job.time_limit_over_max": {
            "en": "The time limit may be at most {max_hours} hours",
            "zh": "运行时限最多为 {max_hours} 小时",
        },
        "job.archive_not_found": {
            "en": "No working-directory archive {sha256} was uploaded for this organisation",
            "zh": "本机构未上传工作目录压缩包 {sha256}",
        },
        "job.archive_too_large": {
            "en": "The working directory is larger than the limit of {limit_mb} MB",
            "zh": "工作目录超过 {limit_mb} MB 的上限",
        },
        "job.archive_checksum_mismatch": {
            "en": "The archive's SHA-256 is {actual}, not the expected {expected}",
            "zh": "压缩包的 SHA-256 为 {actual}，与预期的 {expected} 不符",
        },
        "job.archive_invalid": {
            "en": "The working directory archive is not usable: {detail}",
            "zh": "工作目录压缩包不可用：{detail}",
        },
        "job.archive_unsafe_path": {
            "en": "The archive holds an unsafe path: {path}",
            "zh": "压缩包中含有不安全的路径：{path}",
        },
        "job.logs_unavailable": {
            "en": "Logs are not available: {detail}",
            "zh": "暂时无法获取日志：{detail}",
        },
        "job.reason.pending": {
            "en": "Queued; the scheduler's next cycle will place it",
            "zh": "已排队，等待调度器下一轮安排",
        },
        "job.reason.no_balance": {
            "en": "Not enough GPU-hours: the job needs {needed_hours} and {balance_hours} are left",
            "zh": "GPU 时数不足：作业需要 {needed_hours}，剩余 {balance_hours}",
        },
        "job.reason.quota_full": {
            "en": "Your organisation's quota on {flavour} is in use ({used} of {limit} GPUs)",
            "zh": "本机构在 {flavour} 上的配额已用满（{used}/{limit} 张卡）",
        },
        "job.reason.waiting_for_capacity": {
            "en": "Waiting for capacity: {free} of the {gpus} GPUs needed are free on {flavour}",
            "zh": "等待资源：{flavour} 上空闲 {free} 张卡，作业需要 {gpus} 张",
        },
        "job.reason.booked_window": {
            "en": "{held} GPUs of {flavour} are held for another organisation's booking",
            "zh": "{flavour} 上有 {held} 张卡为其他机构的预约保留",
        },
        "job.reason.behind_jobs": {
            "en": "Behind {ahead} jobs in line",
            "zh": "前面还有 {ahead} 个作业在排队",
        },
        "job.reason.reclaiming": {
            "en": "Reclaiming your guaranteed GPUs on {flavour}: stopping {preempting} borrowed jobs",
            "zh": "正在收回本机构在 {flavour} 上的保障资源：正在停止 {preempting} 个借用作业",
        },
        "job.message.lost": {
            "en": "The compute backend no longer knows this job",
            "zh": "计算后端已找不到该作业",
        },
        "job.message.launch_failed": {
            "en": "The job could not be started: {detail}",
            "zh": "作业无法启动：{detail}",
        },
        "job.message.timed_out": {
            "en": "Stopped at its time limit of {seconds} s",
            "zh": "已达到 {seconds} 秒的运行时限，已停止",
        },
        "job.message.cancelled": {"en": "Cancelled by {user}", "zh": "已由 {user} 取消"},
        "job.message.preempted": {
            "en": "Preempted to give capacity back; queued again in its place",
            "zh": "因归还资源被抢占，已按原位置重新排队",
        },
    }
)
