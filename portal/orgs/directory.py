"""Where organisations live besides the portal's own tables.

With local accounts only there is nothing to keep in step (`LocalDirectory`). With Keycloak, the
implementation in portal.auth.keycloak_directory mirrors portal-side changes into Keycloak groups.
Calls happen inside the request's transaction, after the portal's rows are flushed: if the
directory refuses, the transaction rolls back; if the commit fails after the directory accepted,
the next sign-in mirrors Keycloak's state back, so the two converge.
"""

from __future__ import annotations

from typing import Protocol


class Directory(Protocol):
    def org_created(self, slug: str, name: str) -> None: ...

    def member_added(self, slug: str, username: str, role: str) -> None: ...

    def member_removed(self, slug: str, username: str) -> None: ...


class LocalDirectory:
    def org_created(self, slug: str, name: str) -> None:
        return None

    def member_added(self, slug: str, username: str, role: str) -> None:
        return None

    def member_removed(self, slug: str, username: str) -> None:
        return None
