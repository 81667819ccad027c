"""Identifiers: random, URL-safe, sortable enough for humans to read in logs."""

from __future__ import annotations

import secrets
import uuid


def new_id() -> str:
    return str(uuid.uuid4())


def new_secret(nbytes: int = 32) -> str:
    return secrets.token_urlsafe(nbytes)
