"""Pages for everyone signed in: sign-in, dashboard, organisations, API tokens, language.

Every handler parses the form, calls the same service the REST API calls, and renders or
redirects (post/redirect/get). Errors from services become a bilingual alert on the same page.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Form, Response
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

from aicommons.portal.api.deps import SessionDep
from aicommons.portal.auth import oidc_login
from aicommons.portal.auth import repository as users
from aicommons.portal.auth import service as auth_service
from aicommons.portal.auth.schemas import ApiTokenCreate
from aicommons.portal.core.errors import AppError, NotFound
from aicommons.portal.core.time import utcnow
from aicommons.portal.orgs import service as orgs_service
from aicommons.portal.orgs.schemas import MemberAdd

from . import admin, admin_capacity, dataset_publish, dataset_stewards, datasets, jobs, models, quota, sso
from . import session as web_session
from .rendering import (
    STATIC_DIR,
    CsrfDep,
    Page,
    PageDep,
    SignedInPageDep,
    WebRoute,
    error_message,
    form_refusal,
    is_htmx,
    parse_form,
    redirect,
    render,
    safe_next,
    status_of,
    success,
)

router = APIRouter(route_class=WebRoute, include_in_schema=False)
FormStr = Annotated[str, Form()]


def install(app: FastAPI) -> None:
    """Mount the static files and the pages on the application."""
    app.mount("/static", StaticFiles(directory=str(STATIC_DIR)), name="static")
    app.include_router(router)
    app.include_router(admin.router)
    app.include_router(quota.router)
    app.include_router(admin_capacity.router)
    app.include_router(jobs.router)
    app.include_router(models.router)
    # Fixed dataset paths (/datasets/new, /requests, /usage) before /datasets/{slug}.
    app.include_router(dataset_publish.router)
    app.include_router(dataset_publish.json_router)
    app.include_router(dataset_stewards.router)
    app.include_router(datasets.router)
    sso.install(app)


# --- sign-in ------------------------------------------------------------------------------


@router.get("/login")
def login_form(page: PageDep, next: str = "/") -> Response:
    if page.principal is not None:
        return redirect(page, safe_next(next))
    return render(page, "login.html", next=safe_next(next), username="", **_sign_in_options(page))


def _sign_in_options(page: Page) -> dict[str, Any]:
    return {
        "sso_enabled": bool(page.settings.oidc_issuer),
        "local_enabled": page.settings.local_accounts_enabled,
    }


@router.post("/login", dependencies=[CsrfDep])
def login(
    page: PageDep,
    session: SessionDep,
    username: FormStr = "",
    password: FormStr = "",
    next: FormStr = "/",
) -> Response:
    try:
        issued = auth_service.login(session, page.settings, username.strip(), password)
    except AppError as error:
        refused = form_refusal(page, session, error)
        return render(
            page,
            "login.html",
            refused["status"],
            next=safe_next(next),
            username=username,
            error=refused["error"],
            **_sign_in_options(page),
        )
    response = redirect(page, safe_next(next))
    web_session.start_session(response, page.settings, issued.access_token, issued.expires_in)
    # A language picked explicitly before signing in is the latest choice: remember it on the user.
    chosen = web_session.normalise_lang(page.request.cookies.get(web_session.LANG_COOKIE))
    user = users.user_by_username(session, username.strip())
    if chosen and user is not None and user.locale != chosen:
        principal = auth_service.principal_for(session, user, "password")
        auth_service.set_locale(session, principal, chosen)
    return response


@router.get("/logout")
def logout_form(page: PageDep) -> Response:
    if page.principal is None:
        return redirect(page, "/login")
    return render(page, "logout.html")


@router.post("/logout", dependencies=[CsrfDep])
def logout(page: PageDep) -> Response:
    signed_in_with_sso = bool(page.request.cookies.get(sso.REFRESH_COOKIE))
    response = redirect(page, "/login", web_session.Flash("info", "web.login.signed_out"))
    if signed_in_with_sso and page.settings.oidc_issuer:
        # End the provider's session too, or the next "sign in" would silently reuse it.
        response = RedirectResponse(oidc_login.logout_url(page.settings), status_code=303)
    web_session.end_session(response, page.settings)
    sso.end_sso(response)
    return response


@router.post("/lang/{code}", dependencies=[CsrfDep])
def switch_language(page: PageDep, session: SessionDep, code: str, next: FormStr = "/") -> Response:
    lang = web_session.normalise_lang(code)
    if lang is None:
        raise NotFound("request.not_found")
    if page.principal is not None:
        auth_service.set_locale(session, page.principal, lang)
    response = redirect(page, safe_next(next), web_session.Flash("success", "web.lang.changed"))
    web_session.remember_lang(response, page.settings, lang)
    return response


# --- dashboard ----------------------------------------------------------------------------


@router.get("/")
def dashboard(page: SignedInPageDep, session: SessionDep) -> Response:
    assert page.principal is not None
    user = users.user_by_id(session, page.principal.user_id)
    name = (user.display_name if user else None) or page.principal.username
    memberships = auth_service.memberships_view(session, page.principal.user_id)
    summary = jobs.dashboard_summary(page, session, memberships)
    return render(page, "dashboard.html", name=name, memberships=memberships, **summary)


# --- organisations ------------------------------------------------------------------------

MEMBER_LABELS = {"username": "web.org.member.username", "role": "web.role.label"}


def _org_page(page: Page, session: SessionDep, slug: str, status: int = 200, **extra: Any) -> Response:
    assert page.principal is not None
    org = orgs_service.get(session, page.principal, slug)
    members = orgs_service.list_members(session, page.principal, slug)
    role = page.principal.role_in(org.id)
    can_manage = page.principal.is_admin or role == "steward"
    return render(
        page, "org.html", status, org=org, members=members, role=role, can_manage=can_manage, **extra
    )


@router.get("/orgs/{slug}")
def org_page(page: SignedInPageDep, session: SessionDep, slug: str) -> Response:
    return _org_page(page, session, slug)


@router.post("/orgs/{slug}/members", dependencies=[CsrfDep])
def add_member(
    page: SignedInPageDep, session: SessionDep, slug: str, username: FormStr = "", role: FormStr = "member"
) -> Response:
    assert page.principal is not None
    try:
        data = parse_form(MemberAdd, MEMBER_LABELS, page.lang, username=username.strip(), role=role)
        added = orgs_service.add_member(session, page.principal, slug, data)
    except AppError as error:
        refused = form_refusal(page, session, error, not_found_page=True)
        form = {"username": username, "role": role}
        return _org_page(page, session, slug, **refused, form=form)
    flash = success("web.org.member_added", username=added.username, role=page.t(f"web.role.{added.role}"))
    return redirect(page, f"/orgs/{slug}", flash)


@router.post("/orgs/{slug}/members/{username}/remove", dependencies=[CsrfDep])
def remove_member(page: SignedInPageDep, session: SessionDep, slug: str, username: str) -> Response:
    assert page.principal is not None
    try:
        orgs_service.remove_member(session, page.principal, slug, username)
    except AppError as error:
        session.rollback()
        if error.kind == "not_found" or is_htmx(page.request):
            raise
        return _org_page(page, session, slug, status_of(error), error=error_message(error, page.lang))
    if is_htmx(page.request):
        # The row disappears; the message goes to the page's live region.
        message = page.t("web.org.member_removed", username=username)
        return render(page, "_removed_row.html", message=message)
    return redirect(page, f"/orgs/{slug}", success("web.org.member_removed", username=username))


# --- API tokens ---------------------------------------------------------------------------

TOKEN_LABELS = {"name": "web.tokens.name", "expires_in_days": "web.tokens.expires_in_days"}


def _tokens_page(page: Page, session: SessionDep, status: int = 200, **extra: Any) -> Response:
    assert page.principal is not None
    tokens = auth_service.list_api_tokens(session, page.principal)
    tokens = sorted(tokens, key=lambda t: t.created_at, reverse=True)
    extra.setdefault("form", {"name": "", "expires_in_days": 90})
    return render(page, "tokens.html", status, tokens=tokens, now=utcnow(), **extra)


@router.get("/tokens")
def tokens_page(page: SignedInPageDep, session: SessionDep) -> Response:
    secret = page.request.cookies.get(web_session.NEW_TOKEN_COOKIE)
    response = _tokens_page(page, session, secret=secret if secret else None)
    web_session.take_secret(page.request, response)
    return response


@router.post("/tokens", dependencies=[CsrfDep])
def create_token(
    page: SignedInPageDep, session: SessionDep, name: FormStr = "", expires_in_days: FormStr = "90"
) -> Response:
    assert page.principal is not None
    try:
        data = parse_form(
            ApiTokenCreate, TOKEN_LABELS, page.lang, name=name.strip(), expires_in_days=expires_in_days
        )
        created = auth_service.create_api_token(session, page.settings, page.principal, data)
    except AppError as error:
        refused = form_refusal(page, session, error)
        form = {"name": name, "expires_in_days": expires_in_days}
        return _tokens_page(page, session, **refused, form=form)
    # Post/redirect/get, so that reloading cannot create a second token: the secret crosses the
    # redirect in a short-lived HttpOnly cookie that the next page shows once and deletes.
    response = redirect(page, "/tokens", success("web.tokens.created", name=created.record.name))
    web_session.hand_over_secret(response, page.settings, created.secret)
    return response


@router.post("/tokens/{token_id}/revoke", dependencies=[CsrfDep])
def revoke_token(page: SignedInPageDep, session: SessionDep, token_id: str) -> Response:
    assert page.principal is not None
    record = auth_service.revoke_api_token(session, page.principal, token_id)
    if is_htmx(page.request):
        return render(page, "_token_row.html", token=record, now=utcnow())
    return redirect(page, "/tokens", success("web.tokens.revoked_flash", name=record.name))
