"""Messages of the auth domain, in English and Chinese."""

from aicommons.portal.core.i18n import register

register(
    {
        "auth.bad_credentials": {"en": "Wrong username or password", "zh": "用户名或密码错误"},
        "auth.required": {"en": "Sign-in required", "zh": "需要登录"},
        "auth.invalid_token": {"en": "Invalid token", "zh": "令牌无效"},
        "auth.token_expired": {"en": "The token has expired; sign in again", "zh": "令牌已过期，请重新登录"},
        "auth.token_revoked": {"en": "The token has been revoked", "zh": "令牌已被吊销"},
        "auth.user_inactive": {"en": "This account is disabled", "zh": "该账户已停用"},
        "auth.local_disabled": {
            "en": "Local accounts are switched off; sign in through the identity provider",
            "zh": "本地账户已关闭，请通过统一身份认证登录",
        },
        "auth.admin_required": {
            "en": "Only a platform administrator may do this",
            "zh": "仅平台管理员可执行此操作",
        },
        "auth.steward_required": {
            "en": "Only a data steward of the organisation may do this",
            "zh": "仅该机构的数据管理员可执行此操作",
        },
        "auth.forbidden": {"en": "You may not do this", "zh": "无权执行此操作"},
        "auth.job_token_forbidden": {
            "en": "A job token cannot manage API tokens; use your own sign-in",
            "zh": "作业令牌不能管理 API 令牌，请使用您本人的登录凭据",
        },
        "user.not_found": {"en": "User not found", "zh": "用户不存在"},
        "user.username_taken": {"en": "Username {username} is taken", "zh": "用户名 {username} 已被占用"},
        "user.weak_password": {
            "en": "The password must have at least {min} characters",
            "zh": "密码至少需要 {min} 个字符",
        },
        "token.not_found": {"en": "API token not found", "zh": "API 令牌不存在"},
        "token.expiry_too_long": {
            "en": "API tokens may live at most {max} days",
            "zh": "API 令牌有效期最长 {max} 天",
        },
    }
)

register(
    {
        "auth.idp_unreachable": {
            "en": "The identity provider cannot be reached; try again shortly",
            "zh": "无法连接统一身份认证服务，请稍后重试",
        },
        "org.directory_failed": {
            "en": "The identity provider refused the change: {detail}",
            "zh": "统一身份认证服务拒绝了该修改：{detail}",
        },
        "org.member_not_in_directory": {
            "en": "{username} has no account in the identity provider",
            "zh": "{username} 在统一身份认证服务中没有账户",
        },
    }
)

register(
    {
        "auth.sso_failed": {
            "en": "Sign-in through the identity provider failed; try again",
            "zh": "统一身份认证登录失败，请重试",
        },
        "auth.sso_state": {
            "en": "The sign-in request expired or was not started here; try again",
            "zh": "登录请求已过期或并非由本站发起，请重试",
        },
    }
)
