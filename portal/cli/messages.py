"""The CLI's own words, in English and Chinese (server errors arrive already translated)."""

from __future__ import annotations

import os

MESSAGES: dict[str, dict[str, str]] = {
    "logged_in": {"en": "Signed in to {server} as {username}.", "zh": "已以 {username} 身份登录 {server}。"},
    "logged_out": {"en": "Signed out.", "zh": "已退出登录。"},
    "not_logged_in": {
        "en": "Not signed in: run `aicommons login` first.",
        "zh": "尚未登录：请先运行 `aicommons login`。",
    },
    "error": {"en": "Error", "zh": "错误"},
    "prompt_username": {"en": "User name", "zh": "用户名"},
    "prompt_password": {"en": "Password", "zh": "密码"},
    "device_visit": {
        "en": "Open {url} in a browser and enter the code [bold]{code}[/bold]",
        "zh": "请在浏览器中打开 {url} 并输入代码 [bold]{code}[/bold]",
    },
    "device_direct": {"en": "or open directly: {url}", "zh": "或直接打开：{url}"},
    "device_waiting": {"en": "Waiting for approval in the browser…", "zh": "正在等待浏览器中的确认…"},
    "org_created": {"en": "Organisation {slug} created.", "zh": "机构 {slug} 已创建。"},
    "member_added": {
        "en": "{username} added to {slug} as {role}.",
        "zh": "已将 {username} 以 {role} 身份加入 {slug}。",
    },
    "member_removed": {"en": "{username} removed from {slug}.", "zh": "已将 {username} 移出 {slug}。"},
    "token_created": {
        "en": "Token created. Copy it now; it will not be shown again:",
        "zh": "令牌已创建。请立即复制，之后不会再显示：",
    },
    "token_revoked": {"en": "Token {id} revoked.", "zh": "令牌 {id} 已吊销。"},
    "user_created": {"en": "User {username} created.", "zh": "用户 {username} 已创建。"},
    "admin": {"en": "platform administrator", "zh": "平台管理员"},
    "no_orgs": {"en": "No organisations.", "zh": "没有机构。"},
    "col_slug": {"en": "slug", "zh": "标识"},
    "col_name": {"en": "name", "zh": "名称"},
    "col_created": {"en": "created", "zh": "创建时间"},
    "col_user": {"en": "user", "zh": "用户"},
    "col_role": {"en": "role", "zh": "角色"},
    "col_id": {"en": "id", "zh": "编号"},
    "col_prefix": {"en": "prefix", "zh": "前缀"},
    "col_expires": {"en": "expires", "zh": "过期时间"},
    "col_revoked": {"en": "revoked", "zh": "已吊销"},
    "col_admin": {"en": "admin", "zh": "管理员"},
    "organisations": {"en": "Organisations", "zh": "机构"},
    "members": {"en": "Members of {slug}", "zh": "{slug} 的成员"},
    "tokens": {"en": "API tokens", "zh": "API 令牌"},
    "users": {"en": "Users", "zh": "用户"},
}


def current_lang(configured: str | None = None) -> str:
    value = (os.environ.get("AICOMMONS_LANG") or configured or os.environ.get("LANG") or "en").lower()
    return "zh" if value.startswith("zh") else "en"


def say(key: str, lang: str, **params: object) -> str:
    return MESSAGES[key][lang].format(**params)
