"""Messages of the launchers (backend errors a user or operator may read), en + zh."""

from aicommons.portal.core.i18n import register

register(
    {
        "launcher.unknown": {
            "en": "Unknown launcher {name} (available: {available})",
            "zh": "未知的作业启动器 {name}（可用：{available}）",
        },
        "launcher.bad_option": {
            "en": "Launcher {name}: {detail}",
            "zh": "作业启动器 {name} 配置有误：{detail}",
        },
        "launcher.unreachable": {
            "en": "The compute backend at {address} cannot be reached: {detail}",
            "zh": "无法连接计算后端 {address}：{detail}",
        },
        "launcher.submit_failed": {
            "en": "The compute backend refused job {job}: {detail}",
            "zh": "计算后端拒绝了作业 {job}：{detail}",
        },
        "launcher.status_failed": {
            "en": "The compute backend could not report on job {job}: {detail}",
            "zh": "计算后端无法报告作业 {job} 的状态：{detail}",
        },
        "launcher.stop_failed": {
            "en": "The compute backend could not stop job {job}: {detail}",
            "zh": "计算后端无法停止作业 {job}：{detail}",
        },
        "launcher.logs_failed": {
            "en": "The compute backend could not return the logs of job {job}: {detail}",
            "zh": "计算后端无法返回作业 {job} 的日志：{detail}",
        },
        "launcher.job_missing": {
            "en": "The compute backend does not know job {job}",
            "zh": "计算后端中没有作业 {job}",
        },
        "launcher.working_dir_missing": {
            "en": "The job's working directory {path} does not exist",
            "zh": "作业的工作目录 {path} 不存在",
        },
        "launcher.kuberay_no_submitter": {
            "en": "Job {job} has no submitter pod in namespace {namespace} yet (or it was cleaned up): "
            "Kubernetes has no logs for it",
            "zh": "作业 {job} 在命名空间 {namespace} 中还没有提交器 Pod（或已被清理）："
            "Kubernetes 中没有它的日志",
        },
        "launcher.kuberay_workdir_failed": {
            "en": "The job's working directory could not be stored on {endpoint}: {detail}",
            "zh": "无法将作业的工作目录存储到 {endpoint}：{detail}",
        },
    }
)
