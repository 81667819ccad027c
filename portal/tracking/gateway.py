"""Who may reach which MLflow workspace through the portal (pure decisions, no HTTP)."""

from __future__ import annotations

from aicommons.portal.core.errors import Forbidden, InvalidInput
from aicommons.portal.core.principal import Principal

from . import messages as _messages  # noqa: F401  (registers the catalogue)

WORKSPACE_ADMIN_PREFIX = "api/3.0/mlflow/workspaces"


def choose_workspace(principal: Principal, requested: str | None, org_slugs: dict[str, str]) -> str:
    """The workspace (organisation slug) this request may act in.

    `org_slugs` maps the caller's organisation ids to slugs. Without an explicit choice, a caller
    with exactly one organisation works in it.
    """
    mine = {org_slugs[org_id] for org_id in principal.memberships if org_id in org_slugs}
    if requested:
        if requested in mine or principal.is_admin:
            return requested
        raise Forbidden("tracking.workspace_forbidden", workspace=requested)
    if len(mine) == 1:
        return next(iter(mine))
    raise InvalidInput("tracking.workspace_required")


def check_path(principal: Principal, path: str) -> None:
    if path.lstrip("/").startswith(WORKSPACE_ADMIN_PREFIX) and not principal.is_admin:
        raise Forbidden("tracking.admin_only")
