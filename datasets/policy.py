"""Pure decisions: version states, who may see, download or mount a dataset, manifest paths."""

from __future__ import annotations

import hashlib
import json
import math
import posixpath
import re
from datetime import datetime
from typing import Any

from aicommons.portal.core.errors import Conflict, InvalidInput
from aicommons.portal.core.principal import Principal

LEVELS = ("L1", "L2", "L3", "L4")
DOWNLOADABLE = frozenset({"L1", "L2"})
# Versions: draft → uploading → validating → ready | blocked → published → deprecated
TRANSITIONS: dict[str, frozenset[str]] = {
    "draft": frozenset({"uploading"}),
    "uploading": frozenset({"uploading", "validating"}),
    "validating": frozenset({"ready", "blocked"}),
    "ready": frozenset({"uploading", "published"}),
    "blocked": frozenset({"uploading", "ready"}),
    "published": frozenset({"deprecated"}),
    "deprecated": frozenset(),
}
MUTABLE_STATES = frozenset({"draft", "uploading", "ready", "blocked"})
MAX_PATH = 1024
MAX_PARTS = 10_000
_SEGMENT_BAD = re.compile(r"[\x00-\x1f\\]")


def transition(current: str, target: str) -> str:
    """The one guard for every version state change."""
    if target not in TRANSITIONS.get(current, frozenset()):
        raise Conflict("dataset.bad_transition", current=current, target=target)
    return target


def check_relative_path(path: str) -> str:
    """A manifest path: relative, forward slashes, no traversal, no control characters."""
    if (
        not path
        or len(path) > MAX_PATH
        or path.startswith("/")
        or _SEGMENT_BAD.search(path)
        or re.match(r"^[A-Za-z]:", path)
        or posixpath.normpath(path) != path
        or any(part in ("", ".", "..") for part in path.split("/"))
        or path.startswith("_aicommons/")
    ):
        raise InvalidInput("dataset.bad_path", path=path[:200])
    return path


def part_size_for(size: int, preferred: int) -> int:
    """The preferred part size, grown so that no file needs more than MAX_PARTS parts."""
    minimum = math.ceil(size / MAX_PARTS) if size else 0
    size_mib = 1024 * 1024
    return max(preferred, math.ceil(minimum / size_mib) * size_mib, 5 * size_mib)


def part_count(size: int, part_size: int) -> int:
    return max(1, math.ceil(size / part_size))


def manifest_digest(entries: list[dict[str, Any]]) -> str:
    """sha256 over the canonical manifest (path, size, sha256 sorted by path)."""
    canonical = json.dumps(
        sorted(
            ({"path": e["path"], "size": e["size"], "sha256": e["sha256"]} for e in entries),
            key=lambda e: e["path"],
        ),
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


def block_reasons(level: str, pii_total: int, validation_errors: int) -> list[str]:
    reasons = []
    if validation_errors:
        reasons.append("validation")
    if pii_total and level in DOWNLOADABLE:
        reasons.append("personal_data")
    return reasons


def can_override(reasons: list[str]) -> bool:
    """A steward may override a personal-data block with a justification, never a broken format."""
    return reasons == ["personal_data"]


def can_publish(level: str) -> bool:
    return level != "L4"


def can_see(principal: Principal, org_id: str, level: str, has_published: bool) -> bool:
    """Members of the owner see everything; others see published datasets below L4."""
    if principal.can_read(org_id):
        return True
    return has_published and level != "L4"


def grant_active(state: str, expires_at: datetime | None, now: datetime) -> bool:
    return state == "approved" and (expires_at is None or expires_at > now)


def download_refusal(level: str, accepted_licence: bool) -> str | None:
    """None when the caller may download; otherwise the error code explaining why not."""
    if level not in DOWNLOADABLE:
        return "dataset.not_downloadable"
    if level == "L2" and not accepted_licence:
        return "dataset.licence_not_accepted"
    return None


def job_access_refusal(level: str, owner_org: str, job_org: str, has_grant: bool) -> str | None:
    """Whether a job of `job_org` may read a published version of a dataset owned by `owner_org`."""
    if owner_org == job_org:
        return None
    if level == "L4":
        return "dataset.not_found"
    if level == "L3" and not has_grant:
        return "dataset.no_grant"
    return None
