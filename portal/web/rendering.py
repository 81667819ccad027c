"""Templates, the page context, request dependencies and error pages of the web UI."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, TypeVar
from urllib.parse import quote

from fastapi import Depends, Form, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session

from aicommons.portal.api.deps import SessionDep, SettingsDep
from aicommons.portal.api.errors import STATUS_BY_KIND
from aicommons.portal.auth import repository as users
from aicommons.portal.auth import service as auth_service
from aicommons.portal.core.errors import AppError, Forbidden, InvalidInput, NotFound, Unauthenticated
from aicommons.portal.core.i18n import LANGS, Lang, negotiate, translate
from aicommons.portal.core.principal import Principal
from aicommons.portal.core.settings import Settings

from . import session as web_session
from .messages import LANGUAGE_NAMES

HERE = Path(__file__).resolve().parent
M = TypeVar("M", bound=BaseModel)
TEMPLATES_DIR = HERE / "templates"
STATIC_DIR = HERE / "static"

templates = Jinja2Templates(directory=str(TEMPLATES_DIR))
templates.env.trim_blocks = True
templates.env.lstrip_blocks = True
# Root-relative, so the pages work behind a proxy whatever scheme and host it forwards.
templates.env.globals["static"] = lambda path: f"/static/{path}"


# --- dependencies -------------------------------------------------------------------------


def optional_principal(request: Request, session: SessionDep, settings: SettingsDep) -> Principal | None:
    """The signed-in caller from the session cookie, None when anonymous or the session ended."""
    token = web_session.session_token(request)
    principal = None
    if token:
        try:
            principal = auth_service.authenticate(session, settings, token)
        except Unauthenticated:
            principal = _renewed(request, session, settings)
            request.state.session_expired = principal is None
    request.state.principal = principal
    return principal


def _renewed(request: Request, session: Session, settings: Settings) -> Principal | None:
    from .sso import renew_session

    token = renew_session(request, settings)
    if token is None:
        return None
    try:
        return auth_service.authenticate(session, settings, token)
    except Unauthenticated:
        return None


OptionalPrincipalDep = Annotated[Principal | None, Depends(optional_principal)]


def required_principal(principal: OptionalPrincipalDep) -> Principal:
    if principal is None:
        raise Unauthenticated("auth.required", "Sign-in required")
    return principal


PrincipalDep = Annotated[Principal, Depends(required_principal)]


def lang_without_user(request: Request) -> Lang:
    remembered = web_session.normalise_lang(request.cookies.get(web_session.LANG_COOKIE))
    return remembered or negotiate(request.headers.get("accept-language"))


def page_lang(request: Request, session: SessionDep, principal: OptionalPrincipalDep) -> Lang:
    """The user's remembered language; else the anonymous visitor's cookie; else Accept-Language."""
    lang: Lang | None = None
    if principal is not None:
        user = users.user_by_id(session, principal.user_id)
        lang = web_session.normalise_lang(user.locale if user else None)
    lang = lang or lang_without_user(request)
    request.state.lang = lang
    return lang


def check_csrf(request: Request, csrf_token: Annotated[str | None, Form()] = None) -> None:
    submitted = csrf_token or request.headers.get(web_session.CSRF_HEADER)
    if not web_session.csrf_valid(request, submitted):
        raise Forbidden("web.csrf.failed")


CsrfDep = Depends(check_csrf)


@dataclass
class Page:
    """What every template needs: the request, the caller and the language."""

    request: Request
    settings: Settings
    lang: Lang
    principal: Principal | None

    def t(self, key: str, **params: Any) -> str:
        return translate(key, self.lang, params)


def get_page(
    request: Request, settings: SettingsDep, principal: OptionalPrincipalDep, lang: Lang = Depends(page_lang)
) -> Page:
    return Page(request, settings, lang, principal)


def get_signed_in_page(page: Annotated[Page, Depends(get_page)], _: PrincipalDep) -> Page:
    return page


def require_admin_page(page: Page) -> None:
    assert page.principal is not None
    page.principal.require_admin()


PageDep = Annotated[Page, Depends(get_page)]
SignedInPageDep = Annotated[Page, Depends(get_signed_in_page)]


# --- rendering ----------------------------------------------------------------------------


def nav_items(page: Page) -> list[dict[str, str]]:
    if page.principal is None:
        return []
    items = [
        {"href": "/", "label": page.t("web.nav.dashboard")},
        {"href": "/quota", "label": page.t("web.nav.quota")},
        {"href": "/datasets", "label": page.t("web.nav.datasets")},
        {"href": "/tokens", "label": page.t("web.nav.tokens")},
    ]
    if page.principal.is_admin:
        items += [
            {"href": "/admin/users", "label": page.t("web.nav.users")},
            {"href": "/admin/orgs", "label": page.t("web.nav.orgs")},
            {"href": "/admin/allocations", "label": page.t("web.nav.allocations")},
            {"href": "/admin/usage", "label": page.t("web.nav.usage")},
            {"href": "/admin/flavours", "label": page.t("web.nav.flavours")},
            {"href": "/admin/quotas", "label": page.t("web.nav.quotas")},
            {"href": "/admin/audit", "label": page.t("web.nav.audit")},
        ]
    return items


def _is_current(path: str, href: str) -> bool:
    return path == href if href == "/" else path == href or path.startswith(href + "/")


def render(
    page: Page,
    template: str,
    status_code: int = 200,
    *,
    flash: web_session.Flash | None = None,
    **context: Any,
) -> HTMLResponse:
    request = page.request
    pending = web_session.read_flash(request)
    path = request.url.path
    nav = [{**item, "current": _is_current(path, item["href"])} for item in nav_items(page)]
    response = templates.TemplateResponse(
        request,
        template,
        {
            "page": page,
            "t": page.t,
            "lang": page.lang,
            "html_lang": "zh-CN" if page.lang == "zh" else "en",
            "principal": page.principal,
            "nav": nav,
            "languages": [(code, LANGUAGE_NAMES[code]) for code in LANGS],
            "csrf_token": web_session.csrf_token(request),
            "flash": flash or pending,
            "current_path": request.url.path,
            **context,
        },
        status_code=status_code,
    )
    if pending is not None:
        web_session.clear_flash(response)
    web_session.ensure_csrf_cookie(request, response, page.settings)
    return response


def redirect(page: Page, url: str, flash: web_session.Flash | None = None) -> RedirectResponse:
    response = RedirectResponse(url, status_code=303)
    if flash is not None:
        web_session.set_flash(response, page.settings, flash)
    return response


def success(code: str, **params: Any) -> web_session.Flash:
    return web_session.Flash("success", code, params)


def error_message(error: AppError, lang: Lang) -> str:
    return translate(error.code, lang, error.params, error.fallback_message)


def status_of(error: AppError) -> int:
    return STATUS_BY_KIND.get(error.kind, 400)


def form_refusal(
    page: Page, session: Session, error: AppError, not_found_page: bool = False
) -> dict[str, Any]:
    """A service refused what a form sent: undo whatever it wrote, and give the page to render again
    its `status` and `error` (the message in the page's language). With `not_found_page`, a missing
    object is not the form's fault: the error page answers instead."""
    session.rollback()
    if not_found_page and error.kind == "not_found":
        raise error
    return {"status": status_of(error), "error": error_message(error, page.lang)}


def blank(value: str) -> str | None:
    """A form field left empty is absent, so that the schema's default or its "required" applies."""
    value = value.strip()
    return value or None


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def safe_next(target: str | None) -> str:
    """Only local paths: never redirect off-site after sign-in or a language switch."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def parse_form(model: type[M], labels: dict[str, str], lang: Lang, **values: Any) -> M:
    """Validate form input with the same schema the API uses; errors name the fields in `lang`."""
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        names = []
        for error in exc.errors():
            field = str(error.get("loc", ("?",))[0])
            label = translate(labels[field], lang) if field in labels else field
            if label not in names:
                names.append(label)
        raise InvalidInput("web.form.invalid", fields=", ".join(names)) from exc


# --- errors -------------------------------------------------------------------------------


def _error_page(request: Request, error: AppError) -> Response:
    lang: Lang = getattr(request.state, "lang", None) or lang_without_user(request)
    settings: Settings = request.app.state.settings
    principal = getattr(request.state, "principal", None)
    page = Page(request, settings, lang, principal)
    status = status_of(error)
    title_key = {404: "web.error.not_found", 403: "web.error.forbidden"}.get(status, "web.error.title")
    message = error_message(error, lang)
    if is_htmx(request):
        response: Response = render(page, "_alert.html", status, kind="error", message=message)
        response.headers["HX-Retarget"] = "#flash-region"
        response.headers["HX-Reswap"] = "innerHTML"
        return response
    return render(page, "error.html", status, title=translate(title_key, lang), message=message)


def _sign_in_redirect(request: Request) -> Response:
    target = request.url.path if request.method == "GET" else "/"
    if request.url.query and request.method == "GET":
        target += "?" + request.url.query
    url = "/login" if target == "/" else f"/login?next={quote(target, safe='')}"
    if is_htmx(request):
        return Response(status_code=204, headers={"HX-Redirect": url})
    response = RedirectResponse(url, status_code=303)
    if getattr(request.state, "session_expired", False):
        settings: Settings = request.app.state.settings
        web_session.end_session(response, settings)
        web_session.set_flash(response, settings, web_session.Flash("info", "web.login.expired"))
    return response


class WebRoute(APIRoute):
    """Routes whose errors become friendly pages: sign-in redirects, bilingual alerts, 404s."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handler(request)
            except Unauthenticated:
                return _sign_in_redirect(request)
            except AppError as error:
                return _error_page(request, error)
            except RequestValidationError:
                # Only path parameters can fail here (form fields are all optional): a bad address.
                return _error_page(request, NotFound("request.not_found"))

        return route
