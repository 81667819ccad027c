"""Messages of the model-tracking gateway, in English and Chinese."""

from aicommons.portal.core.i18n import register

register(
    {
        "tracking.unavailable": {
            "en": "The model-tracking server is unavailable: {detail}",
            "zh": "模型跟踪服务不可用：{detail}",
        },
        "tracking.workspace_required": {
            "en": (
                "Choose an organisation: set MLFLOW_WORKSPACE (or the X-MLFLOW-WORKSPACE header) to its slug"
            ),
            "zh": "请选择机构：将 MLFLOW_WORKSPACE（或请求头 X-MLFLOW-WORKSPACE）设为机构标识",
        },
        "tracking.workspace_forbidden": {
            "en": "You are not a member of organisation {workspace}",
            "zh": "您不是机构 {workspace} 的成员",
        },
        "tracking.admin_only": {
            "en": "Only platform administrators may manage workspaces",
            "zh": "仅平台管理员可以管理工作空间",
        },
    }
)
