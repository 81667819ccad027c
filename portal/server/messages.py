"""What `aicommons up|status|down` print, in English and Chinese."""

from __future__ import annotations

from aicommons.portal.cli.messages import current_lang

MESSAGES: dict[str, dict[str, str]] = {
    "starting": {"en": "Starting aicommons… {elapsed} s", "zh": "正在启动 aicommons… {elapsed} 秒"},
    "up": {
        "en": "[bold green]aicommons is up[/] in {elapsed} s",
        "zh": "[bold green]aicommons 已启动[/]，用时 {elapsed} 秒",
    },
    "healthy_after": {"en": "healthy after {s} s", "zh": "{s} 秒后就绪"},
    "data_dir": {"en": "Data directory: {path}", "zh": "数据目录：{path}"},
    "logs": {"en": "Logs: {path}", "zh": "日志：{path}"},
    "admin": {
        "en": "[bold yellow]Bootstrap administrator[/] username: {user}  password: {password}",
        "zh": "[bold yellow]初始管理员[/] 用户名：{user}  密码：{password}",
    },
    "admin_once": {
        "en": "This password is shown only once; change it after signing in.",
        "zh": "该密码只显示一次，请登录后修改。",
    },
    "press_ctrl_c": {
        "en": "Press Ctrl-C (or run `aicommons down`) to stop.",
        "zh": "按 Ctrl-C（或运行 `aicommons down`）停止。",
    },
    "failed": {
        "en": "[bold red]aicommons up failed:[/] {error}",
        "zh": "[bold red]aicommons 启动失败：[/]{error}",
    },
    "interrupted": {
        "en": "Interrupted before the platform was ready; stopping.",
        "zh": "平台就绪前被中断，正在停止。",
    },
    "stopping": {"en": "Stopping aicommons…", "zh": "正在停止 aicommons…"},
    "stopped": {"en": "aicommons stopped.", "zh": "aicommons 已停止。"},
}


def say(key: str, **params: object) -> str:
    return MESSAGES[key][current_lang()].format(**params)
