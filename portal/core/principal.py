"""Who is calling: produced by portal.auth, read by every domain's service."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from .errors import Forbidden, NotFound

OrgRole = Literal["member", "steward"]


@dataclass(frozen=True)
class Principal:
    user_id: str
    username: str
    is_admin: bool = False
    # organisation id -> role in it
    memberships: dict[str, OrgRole] = field(default_factory=dict)
    auth_method: str = "password"
    # Set when a short-lived job token authenticated the call (auth_method "job"): the job it belongs to.
    job_id: str | None = None

    def role_in(self, org_id: str) -> OrgRole | None:
        return self.memberships.get(org_id)

    def can_read(self, org_id: str) -> bool:
        """What belongs to an organisation (its jobs, bookings, allocations, unpublished datasets)
        is for its members and the administrators."""
        return self.is_admin or org_id in self.memberships

    def require_member(self, org_id: str) -> None:
        """Non-members get NotFound, so that existence is not leaked across tenants."""
        if not self.can_read(org_id):
            raise NotFound("org.not_found", "Organisation not found")

    def require_steward(self, org_id: str) -> None:
        self.require_member(org_id)
        if not self.is_admin and self.memberships.get(org_id) != "steward":
            raise Forbidden("auth.steward_required", "Only a data steward of the organisation may do this")

    def require_admin(self) -> None:
        if not self.is_admin:
            raise Forbidden("auth.admin_required", "Only a platform administrator may do this")
