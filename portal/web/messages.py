"""Every string of the web UI, in English and Chinese.

Registered in the shared catalogue (`portal.core.i18n`) under the `web.` prefix, so the same
unit test that guards the API's messages guards these: both languages, Chinese really Chinese.
Language names are the one exception: each is written in its own language (see `LANGUAGE_NAMES`).
"""

from __future__ import annotations

from aicommons.portal.core.i18n import register

# Shown in the language switch: each language names itself.
LANGUAGE_NAMES = {"en": "English", "zh": "中文"}

MESSAGES: dict[str, dict[str, str]] = {
    # --- layout -------------------------------------------------------------------------
    "web.brand": {"en": "aicommons", "zh": "aicommons 共享算力平台"},
    "web.brand.tagline": {
        "en": "Shared GPU compute and governed datasets",
        "zh": "共享 GPU 算力与受监管的数据集",
    },
    "web.skip_to_content": {"en": "Skip to main content", "zh": "跳到主要内容"},
    "web.nav.label": {"en": "Main navigation", "zh": "主导航"},
    "web.nav.dashboard": {"en": "Dashboard", "zh": "工作台"},
    "web.nav.tokens": {"en": "API tokens", "zh": "API 令牌"},
    "web.nav.admin": {"en": "Administration", "zh": "平台管理"},
    "web.nav.users": {"en": "Users", "zh": "用户"},
    "web.nav.orgs": {"en": "Organisations", "zh": "机构"},
    "web.nav.audit": {"en": "Audit log", "zh": "审计日志"},
    "web.lang.label": {"en": "Language", "zh": "语言"},
    "web.lang.switch_to": {"en": "Switch the language to {name}", "zh": "将界面语言切换为{name}"},
    "web.user_menu.label": {"en": "Account", "zh": "账户"},
    "web.user_menu.signed_in_as": {"en": "Signed in as {username}", "zh": "当前用户：{username}"},
    "web.user_menu.admin_badge": {"en": "administrator", "zh": "平台管理员"},
    "web.logout": {"en": "Sign out", "zh": "退出登录"},
    "web.footer": {
        "en": "aicommons · open compute and data platform",
        "zh": "aicommons · 开放算力与数据平台",
    },
    "web.close": {"en": "Dismiss", "zh": "关闭"},
    "web.coming_soon": {"en": "Coming soon", "zh": "即将推出"},
    "web.none": {"en": "None yet", "zh": "暂无"},
    "web.yes": {"en": "Yes", "zh": "是"},
    "web.no": {"en": "No", "zh": "否"},
    "web.required": {"en": "required", "zh": "必填"},
    # --- sign-in ------------------------------------------------------------------------
    "web.login.title": {"en": "Sign in", "zh": "登录"},
    "web.login.intro": {
        "en": "Sign in with your aicommons account.",
        "zh": "请使用您的 aicommons 账户登录。",
    },
    "web.login.username": {"en": "Username", "zh": "用户名"},
    "web.login.password": {"en": "Password", "zh": "密码"},
    "web.login.submit": {"en": "Sign in", "zh": "登录"},
    "web.login.sso": {"en": "Sign in with your organisation account", "zh": "使用机构统一身份登录"},
    "web.login.or_local": {"en": "or with a local account", "zh": "或使用本地账户"},
    "web.login.signed_out": {"en": "You have signed out.", "zh": "您已退出登录。"},
    "web.login.expired": {
        "en": "Your session has ended; please sign in again.",
        "zh": "会话已结束，请重新登录。",
    },
    # --- dashboard ----------------------------------------------------------------------
    "web.dashboard.title": {"en": "Dashboard", "zh": "工作台"},
    "web.dashboard.welcome": {"en": "Welcome, {name}", "zh": "欢迎，{name}"},
    "web.dashboard.intro": {
        "en": "Your organisations, GPU-hour balance and jobs at a glance.",
        "zh": "一览您的机构、GPU 时长余额与作业。",
    },
    "web.dashboard.orgs": {"en": "Your organisations", "zh": "我的机构"},
    "web.dashboard.no_orgs": {
        "en": "You are not a member of any organisation yet. Ask a platform administrator or a data "
        "steward of your organisation to add you.",
        "zh": "您还不是任何机构的成员。请联系平台管理员或本机构的数据管理员将您加入。",
    },
    "web.dashboard.all_orgs_admin": {
        "en": "As an administrator you can see every organisation.",
        "zh": "作为平台管理员，您可以查看所有机构。",
    },
    "web.dashboard.balance": {"en": "GPU-hour balance", "zh": "GPU 时长余额"},
    "web.dashboard.balance_soon": {
        "en": "Balances, allocations and quotas will appear here.",
        "zh": "余额、算力券与配额将显示在这里。",
    },
    "web.dashboard.jobs": {"en": "Running and queued jobs", "zh": "运行中与排队的作业"},
    "web.dashboard.jobs_soon": {
        "en": "Your jobs, their queue position and ETA will appear here.",
        "zh": "您的作业及其排队位置、预计开始时间将显示在这里。",
    },
    "web.dashboard.runs": {"en": "Recent runs", "zh": "最近的实验运行"},
    "web.dashboard.runs_soon": {
        "en": "Recent MLflow runs of your organisations will appear here.",
        "zh": "本机构最近的 MLflow 运行记录将显示在这里。",
    },
    "web.dashboard.open_org": {"en": "Open {name}", "zh": "打开 {name}"},
    # --- roles --------------------------------------------------------------------------
    "web.role.member": {"en": "member", "zh": "成员"},
    "web.role.steward": {"en": "data steward", "zh": "数据管理员"},
    "web.role.admin": {"en": "administrator", "zh": "平台管理员"},
    "web.role.label": {"en": "Role", "zh": "角色"},
    # --- organisation -------------------------------------------------------------------
    "web.org.title": {"en": "Organisation {name}", "zh": "机构：{name}"},
    "web.org.slug": {"en": "Identifier", "zh": "标识"},
    "web.org.name": {"en": "Name", "zh": "名称"},
    "web.org.description": {"en": "Description", "zh": "简介"},
    "web.org.created": {"en": "Created", "zh": "创建时间"},
    "web.org.your_role": {"en": "Your role", "zh": "您的角色"},
    "web.org.members": {"en": "Members", "zh": "成员"},
    "web.org.member_count": {"en": "{count} members", "zh": "共 {count} 名成员"},
    "web.org.member.username": {"en": "Username", "zh": "用户名"},
    "web.org.member.display_name": {"en": "Name", "zh": "姓名"},
    "web.org.member.joined": {"en": "Joined", "zh": "加入时间"},
    "web.org.member.actions": {"en": "Actions", "zh": "操作"},
    "web.org.member.remove": {"en": "Remove", "zh": "移除"},
    "web.org.member.remove_label": {"en": "Remove {username}", "zh": "移除 {username}"},
    "web.org.member.remove_confirm": {
        "en": "Remove {username} from the organisation?",
        "zh": "确定将 {username} 移出该机构吗？",
    },
    "web.org.add_member": {"en": "Add a member", "zh": "添加成员"},
    "web.org.add_member.help": {
        "en": "The user must already have an aicommons account.",
        "zh": "该用户须已有 aicommons 账户。",
    },
    "web.org.add_member.submit": {"en": "Add member", "zh": "添加成员"},
    "web.org.member_added": {
        "en": "{username} was added as {role}.",
        "zh": "已将 {username} 添加为{role}。",
    },
    "web.org.member_removed": {"en": "{username} was removed.", "zh": "已移除 {username}。"},
    # --- API tokens ---------------------------------------------------------------------
    "web.tokens.title": {"en": "API tokens", "zh": "API 令牌"},
    "web.tokens.intro": {
        "en": "Tokens let scripts and the aicommons CLI act as you. Treat them like passwords.",
        "zh": "令牌可让脚本和 aicommons 命令行以您的身份操作，请像密码一样妥善保管。",
    },
    "web.tokens.create": {"en": "Create a token", "zh": "创建令牌"},
    "web.tokens.name": {"en": "Name", "zh": "名称"},
    "web.tokens.name_help": {
        "en": "What the token is for, e.g. “laptop CLI”.",
        "zh": "令牌的用途，例如“笔记本命令行”。",
    },
    "web.tokens.expires_in_days": {"en": "Valid for (days)", "zh": "有效期（天）"},
    "web.tokens.submit": {"en": "Create token", "zh": "创建令牌"},
    "web.tokens.created": {"en": "Token {name} created.", "zh": "已创建令牌 {name}。"},
    "web.tokens.secret_once": {
        "en": "Copy this token now. It will not be shown again.",
        "zh": "请立即复制此令牌，它不会再次显示。",
    },
    "web.tokens.secret_label": {"en": "New token", "zh": "新令牌"},
    "web.tokens.copy": {"en": "Copy", "zh": "复制"},
    "web.tokens.copied": {"en": "Copied", "zh": "已复制"},
    "web.tokens.list": {"en": "Your tokens", "zh": "我的令牌"},
    "web.tokens.prefix": {"en": "Starts with", "zh": "前缀"},
    "web.tokens.created_at": {"en": "Created", "zh": "创建时间"},
    "web.tokens.expires_at": {"en": "Expires", "zh": "过期时间"},
    "web.tokens.last_used": {"en": "Last used", "zh": "最近使用"},
    "web.tokens.never_used": {"en": "never", "zh": "从未使用"},
    "web.tokens.status": {"en": "Status", "zh": "状态"},
    "web.tokens.active": {"en": "active", "zh": "有效"},
    "web.tokens.revoked": {"en": "revoked", "zh": "已吊销"},
    "web.tokens.expired": {"en": "expired", "zh": "已过期"},
    "web.tokens.revoke": {"en": "Revoke", "zh": "吊销"},
    "web.tokens.revoke_label": {"en": "Revoke token {name}", "zh": "吊销令牌 {name}"},
    "web.tokens.revoke_confirm": {
        "en": "Revoke token {name}? Scripts using it will stop working.",
        "zh": "确定吊销令牌 {name} 吗？使用它的脚本将无法继续工作。",
    },
    "web.tokens.revoked_flash": {"en": "Token {name} revoked.", "zh": "已吊销令牌 {name}。"},
    "web.tokens.none": {"en": "You have no API tokens.", "zh": "您还没有 API 令牌。"},
    # --- administration -----------------------------------------------------------------
    "web.admin.users.title": {"en": "Users", "zh": "用户管理"},
    "web.admin.users.create": {"en": "Create a user", "zh": "创建用户"},
    "web.admin.users.username_help": {
        "en": "Lower-case letters, digits, dot, dash and underscore.",
        "zh": "小写字母、数字、点、短横线和下划线。",
    },
    "web.admin.users.display_name": {"en": "Display name", "zh": "显示名称"},
    "web.admin.users.email": {"en": "E-mail", "zh": "电子邮箱"},
    "web.admin.users.password": {"en": "Initial password", "zh": "初始密码"},
    "web.admin.users.password_help": {
        "en": "At least 10 characters; hand it over safely.",
        "zh": "至少 10 个字符，请通过安全渠道告知用户。",
    },
    "web.admin.users.locale": {"en": "Preferred language", "zh": "首选语言"},
    "web.admin.users.is_admin": {"en": "Platform administrator", "zh": "平台管理员"},
    "web.admin.users.active": {"en": "Active", "zh": "已启用"},
    "web.admin.users.created_at": {"en": "Created", "zh": "创建时间"},
    "web.admin.users.submit": {"en": "Create user", "zh": "创建用户"},
    "web.admin.users.created": {"en": "User {username} created.", "zh": "已创建用户 {username}。"},
    "web.admin.users.count": {"en": "{count} users", "zh": "共 {count} 个用户"},
    "web.admin.orgs.title": {"en": "Organisations", "zh": "机构管理"},
    "web.admin.orgs.create": {"en": "Create an organisation", "zh": "创建机构"},
    "web.admin.orgs.slug_help": {
        "en": "Lower-case letters, digits and dashes; used in addresses.",
        "zh": "小写字母、数字和短横线，用于网址。",
    },
    "web.admin.orgs.submit": {"en": "Create organisation", "zh": "创建机构"},
    "web.admin.orgs.created": {"en": "Organisation {slug} created.", "zh": "已创建机构 {slug}。"},
    "web.admin.orgs.count": {"en": "{count} organisations", "zh": "共 {count} 个机构"},
    "web.admin.audit.title": {"en": "Audit log", "zh": "审计日志"},
    "web.admin.audit.intro": {
        "en": "Every grant, membership change and credential, newest first. Entries are never changed.",
        "zh": "所有授权、成员变更与凭证记录，最新的在前。记录只增不改。",
    },
    "web.admin.audit.chart": {"en": "Events per day (last 14 days)", "zh": "每日事件数（近 14 天）"},
    "web.admin.audit.chart_series": {"en": "Events", "zh": "事件数"},
    "web.admin.audit.at": {"en": "Time (UTC)", "zh": "时间（UTC）"},
    "web.admin.audit.actor": {"en": "Actor", "zh": "操作者"},
    "web.admin.audit.action": {"en": "Action", "zh": "操作"},
    "web.admin.audit.target": {"en": "Target", "zh": "对象"},
    "web.admin.audit.details": {"en": "Details", "zh": "详情"},
    "web.admin.audit.system": {"en": "system", "zh": "系统"},
    "web.admin.audit.empty": {"en": "No audit entries.", "zh": "暂无审计记录。"},
    "web.admin.audit.older": {"en": "Older entries", "zh": "更早的记录"},
    "web.admin.audit.newest": {"en": "Newest entries", "zh": "最新的记录"},
    "web.admin.audit.pager": {"en": "Audit log pages", "zh": "审计日志分页"},
    # --- feedback -----------------------------------------------------------------------
    "web.flash.success": {"en": "Done", "zh": "操作成功"},
    "web.flash.error": {"en": "Something went wrong", "zh": "操作未成功"},
    "web.lang.changed": {"en": "Language set to English.", "zh": "界面语言已切换为中文。"},
    "web.form.invalid": {"en": "Please check: {fields}", "zh": "请检查以下内容：{fields}"},
    "web.csrf.failed": {
        "en": "The form has expired or was not sent by this site. Reload the page and try again.",
        "zh": "表单已过期或并非来自本站，请刷新页面后重试。",
    },
    "web.error.title": {"en": "Something went wrong", "zh": "出错了"},
    "web.error.not_found": {"en": "Page not found", "zh": "页面不存在"},
    "web.error.forbidden": {"en": "Not allowed", "zh": "无权访问"},
    "web.error.back": {"en": "Back to the dashboard", "zh": "返回工作台"},
}

register(MESSAGES)
