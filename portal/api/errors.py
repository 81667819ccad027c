"""Mapping every error to HTTP once: a stable code, a message in the caller's language, no traceback."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException

from aicommons.portal.core.errors import AppError
from aicommons.portal.core.i18n import negotiate, translate
from aicommons.portal.core.ids import new_secret

log = logging.getLogger("aicommons.api")

STATUS_BY_KIND = {
    "invalid": 422,
    "not_found": 404,
    "conflict": 409,
    "unauthenticated": 401,
    "forbidden": 403,
    "unavailable": 503,
}


def error_body(code: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, **extra}}


def _lang(request: Request) -> Any:
    return negotiate(request.headers.get("accept-language"))


async def _app_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AppError)
    status = STATUS_BY_KIND.get(exc.kind, 400)
    message = translate(exc.code, _lang(request), exc.params, exc.fallback_message)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(error_body(exc.code, message), status_code=status, headers=headers)


def _field_path(loc: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in loc)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    lang = _lang(request)
    fields = [
        {"field": _field_path(tuple(e.get("loc", ()))), "message": str(e.get("msg", ""))}
        for e in exc.errors()
    ]
    if any(e.get("type") == "json_invalid" for e in exc.errors()):
        message = translate("request.malformed_json", lang)
    else:
        detail = "; ".join(f"{f['field']}: {f['message']}" for f in fields[:5])
        message = translate("request.invalid", lang, {"detail": detail})
    return JSONResponse(error_body("request.invalid", message, fields=fields), status_code=422)


async def _integrity_error(request: Request, exc: Exception) -> JSONResponse:
    log.info("integrity error: %s", exc)
    return JSONResponse(error_body("db.conflict", translate("db.conflict", _lang(request))), status_code=409)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = {404: "request.not_found", 405: "request.method_not_allowed"}.get(
        exc.status_code, "request.invalid"
    )
    message = translate(code, _lang(request), {"detail": exc.detail})
    return JSONResponse(error_body(code, message), status_code=exc.status_code, headers=exc.headers)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    ref = new_secret(6)
    log.exception("unhandled error, reference %s", ref)
    message = translate("server.error", _lang(request), {"ref": ref})
    return JSONResponse(error_body("server.error", message, reference=ref), status_code=500)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AppError, _app_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(IntegrityError, _integrity_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
