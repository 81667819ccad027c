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


# Model views (experiments, runs, metric series, registered models).
register(
    {
        "tracking.experiment_not_found": {
            "en": "No such experiment in this organisation",
            "zh": "该机构中没有这个实验",
        },
        "tracking.run_not_found": {
            "en": "No such run in this organisation",
            "zh": "该机构中没有这个运行记录",
        },
        "tracking.metric_not_found": {
            "en": "The run logged no metric named {key}",
            "zh": "该运行记录没有名为 {key} 的指标",
        },
        "tracking.model_not_found": {
            "en": "No such registered model in this organisation",
            "zh": "该机构中没有这个已注册模型",
        },
    }
)
