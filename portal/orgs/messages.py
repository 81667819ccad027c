"""Messages of the organisations domain, in English and Chinese."""

from aicommons.portal.core.i18n import register

register(
    {
        "org.not_found": {"en": "Organisation not found", "zh": "机构不存在"},
        "org.slug_taken": {
            "en": "An organisation with slug {slug} already exists",
            "zh": "标识为 {slug} 的机构已存在",
        },
        "org.member_exists": {"en": "{username} is already a member", "zh": "{username} 已是成员"},
        "org.member_not_found": {"en": "{username} is not a member", "zh": "{username} 不是成员"},
        "org.last_steward": {
            "en": "The organisation must keep at least one data steward",
            "zh": "机构至少需要保留一名数据管理员",
        },
    }
)
