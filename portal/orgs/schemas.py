"""Wire types for organisations and memberships."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

SLUG_PATTERN = r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$"


class OrgCreate(BaseModel):
    slug: str = Field(pattern=SLUG_PATTERN, description="lower-case letters, digits and dashes")
    name: str = Field(min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=2000)


class OrgUpdate(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=2000)


class OrgOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    slug: str
    name: str
    description: str | None
    created_at: datetime


class MemberAdd(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    role: Literal["member", "steward"] = "member"


class MemberOut(BaseModel):
    user_id: str
    username: str
    display_name: str | None
    role: Literal["member", "steward"]
    joined_at: datetime
