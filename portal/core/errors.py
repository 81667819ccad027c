"""Errors carry a stable code and parameters, and know nothing of HTTP.

`portal.app` maps each kind to a status code once; the message is rendered in the caller's
language from the catalogue in `portal.core.i18n`.
"""

from __future__ import annotations

from typing import Any


class AppError(Exception):
    """Base of every error a user may see. `code` is stable and documented."""

    kind = "invalid"

    def __init__(self, code: str, message: str | None = None, **params: Any) -> None:
        self.code = code
        self.params = params
        self.fallback_message = message
        super().__init__(message or code)


class InvalidInput(AppError):
    kind = "invalid"


class NotFound(AppError):
    kind = "not_found"


class Conflict(AppError):
    kind = "conflict"


class Unauthenticated(AppError):
    kind = "unauthenticated"


class Forbidden(AppError):
    kind = "forbidden"


class Unavailable(AppError):
    kind = "unavailable"
