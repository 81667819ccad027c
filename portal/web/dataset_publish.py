"""The stewards' publish wizard: (1) describe the dataset, (2) create a version and upload its files
from the browser, (3) read the validation and personal-data reports, override a personal-data
block with a justification, publish.

The browser uploads straight to the object store (`static/upload.js`): two same-origin JSON
endpoints here plan and complete the upload with `datasets.uploads`, because the REST API takes
bearer tokens only and the browser holds a session cookie. They check the CSRF header like every
state-changing form.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.orm import Session

from aicommons.datasets import policy, repository, service, uploads
from aicommons.datasets.schemas import DatasetCreate, OverrideRequest, UploadRequest, VersionCreate
from aicommons.portal.api.datasets import StoreDep
from aicommons.portal.api.deps import SessionDep
from aicommons.portal.api.errors import error_body
from aicommons.portal.core.errors import AppError, InvalidInput
from aicommons.portal.core.i18n import translate
from aicommons.portal.orgs import service as orgs_service

from . import session as web_session
from .dataset_common import (
    LABEL_FORMATS,
    LEVELS,
    MODALITIES,
    require_steward_page,
    steward_tabs,
    title_of,
)
from .datasets import label_chart, preview_table
from .rendering import (
    CsrfDep,
    Page,
    PageDep,
    SignedInPageDep,
    WebRoute,
    error_message,
    form_refusal,
    parse_form,
    redirect,
    render,
    status_of,
    success,
)

router = APIRouter(route_class=WebRoute, include_in_schema=False)
# JSON for upload.js: errors stay JSON (in the page's language) instead of becoming HTML pages.
json_router = APIRouter(include_in_schema=False)
FormStr = Annotated[str, Form()]
MAX_FILES_LISTED = 200
LIST_SEPARATORS = re.compile(r"[,\n，、;；]+")

DATASET_LABELS = {
    "org": "web.datasets.form.org",
    "slug": "web.datasets.form.slug",
    "title_en": "web.datasets.form.title_en",
    "title_zh": "web.datasets.form.title_zh",
    "description_en": "web.datasets.form.description_en",
    "description_zh": "web.datasets.form.description_zh",
    "domain": "web.datasets.form.domain",
    "modality": "web.datasets.form.modality",
    "task": "web.datasets.form.task",
    "label_format": "web.datasets.form.label_format",
    "label_schema": "web.datasets.form.classes",
    "licence_id": "web.datasets.form.licence_id",
    "licence_name": "web.datasets.form.licence_name",
    "licence_text": "web.datasets.form.licence_text",
    "level": "web.datasets.form.level",
    "keywords": "web.datasets.form.keywords",
    "provenance": "web.datasets.form.provenance",
    "contact": "web.datasets.form.contact",
}


class DatasetForm(BaseModel):
    """The step-1 form as typed: text everywhere; `DatasetCreate` (the API's schema) judges it."""

    org: str = ""
    slug: str = ""
    title_en: str = ""
    title_zh: str = ""
    description_en: str = ""
    description_zh: str = ""
    domain: str = ""
    modality: str = ""
    task: str = ""
    label_format: str = ""
    classes: str = ""
    label_column: str = "label"
    licence_id: str = ""
    licence_name: str = ""
    licence_text: str = ""
    level: str = ""
    keywords: str = ""
    provenance: str = ""
    contact: str = ""


def _items(text: str) -> list[str]:
    """A list typed as text: commas (also Chinese ones), semicolons or new lines between items."""
    return [item.strip() for item in LIST_SEPARATORS.split(text) if item.strip()]


def _dataset_create(form: DatasetForm, page: Page) -> DatasetCreate:
    licence_id = form.licence_id.strip()
    if licence_id == "custom" and not (form.licence_name.strip() and form.licence_text.strip()):
        raise InvalidInput("dataset.custom_licence_text")
    return parse_form(
        DatasetCreate,
        DATASET_LABELS,
        page.lang,
        org=form.org.strip(),
        slug=form.slug.strip(),
        title_en=form.title_en.strip(),
        title_zh=form.title_zh.strip(),
        description_en=form.description_en.strip(),
        description_zh=form.description_zh.strip(),
        domain=form.domain.strip(),
        modality=form.modality.strip(),
        task=form.task.strip(),
        label_format=form.label_format.strip(),
        label_schema={"classes": _items(form.classes), "label_column": form.label_column.strip() or "label"},
        licence_id=licence_id,
        licence_name=form.licence_name.strip() or None,
        licence_text=form.licence_text.strip() or None,
        level=form.level.strip(),
        keywords=_items(form.keywords),
        provenance=form.provenance.strip(),
        contact=form.contact.strip(),
    )


# --- step 1: describe ---------------------------------------------------------------------


def _new_page(page: Page, session: Session, form: DatasetForm, status: int = 200, **extra: Any) -> Response:
    orgs = require_steward_page(page, session)
    return render(
        page,
        "datasets_new.html",
        status,
        tabs=steward_tabs(page),
        orgs=orgs,
        domains=service.list_domains(session),
        modalities=MODALITIES,
        label_formats=LABEL_FORMATS,
        levels=LEVELS,
        form=form,
        **extra,
    )


@router.get("/datasets/new")
def new_dataset(page: SignedInPageDep, session: SessionDep) -> Response:
    return _new_page(page, session, DatasetForm(modality="text", label_format="csv", level="L1"))


@router.post("/datasets/new", dependencies=[CsrfDep])
def create_dataset(
    page: SignedInPageDep, session: SessionDep, form: Annotated[DatasetForm, Form()]
) -> Response:
    assert page.principal is not None
    require_steward_page(page, session)
    try:
        data = _dataset_create(form, page)
        org_id = _org_id(page, session, data.org)
        created = service.create(session, page.principal, org_id, data)
    except AppError as error:
        refused = form_refusal(page, session, error)
        return _new_page(page, session, form, **refused)
    flash = success("web.datasets.new.created", slug=created.slug)
    return redirect(page, f"/datasets/{created.slug}/versions/new", flash)


def _org_id(page: Page, session: Session, slug: str) -> str:
    assert page.principal is not None
    return orgs_service.get(session, page.principal, slug).id


# --- step 2: a version and its files --------------------------------------------------------


@router.get("/datasets/{slug}/versions/new")
def new_version(page: SignedInPageDep, session: SessionDep, slug: str) -> Response:
    assert page.principal is not None
    ds = service.get_for_steward(session, page.principal, slug)
    versions = repository.versions(session, ds.id)
    return render(
        page,
        "datasets_version_new.html",
        tabs=steward_tabs(page),
        ds=ds,
        title=title_of(ds, page.lang),
        versions=versions,
    )


@router.post("/datasets/{slug}/versions", dependencies=[CsrfDep])
def create_version(page: SignedInPageDep, session: SessionDep, slug: str, notes: FormStr = "") -> Response:
    assert page.principal is not None
    data = parse_form(VersionCreate, {"notes": "web.datasets.version.notes"}, page.lang, notes=notes.strip())
    version = service.create_version(session, page.principal, slug, data)
    flash = success("web.datasets.version.created", number=version.number)
    return redirect(page, f"/datasets/{slug}/versions/{version.number}", flash)


def version_page(
    page: Page, session: Session, slug: str, number: int, status: int = 200, **extra: Any
) -> Response:
    assert page.principal is not None
    ds, version = service.steward_version(session, page.principal, slug, number)
    files = repository.files(session, version.id)
    reasons = list(version.blocked_reasons or [])
    return render(
        page,
        "datasets_version.html",
        status,
        tabs=steward_tabs(page),
        ds=ds,
        title=title_of(ds, page.lang),
        version=version,
        files=files[:MAX_FILES_LISTED],
        file_total=len(files),
        chart=label_chart(page, version),
        preview=preview_table(version),
        reasons=reasons,
        can_override=version.state == "blocked" and policy.can_override(reasons),
        can_publish=version.state == "ready" and policy.can_publish(ds.level),
        can_upload=version.state in policy.MUTABLE_STATES,
        step=3 if version.state in ("ready", "blocked", "published", "deprecated") else 2,
        **extra,
    )


@router.get("/datasets/{slug}/versions/{number:int}")
def version_detail(page: SignedInPageDep, session: SessionDep, slug: str, number: int) -> Response:
    return version_page(page, session, slug, number)


@router.get("/datasets/{slug}/versions/{number:int}/processing")
def version_processing(page: SignedInPageDep, session: SessionDep, slug: str, number: int) -> Response:
    """The verification card alone, polled every second while the version is `validating`; once
    decided, htmx reloads the whole page (reports, or the files to send again)."""
    assert page.principal is not None
    ds, version = service.steward_version(session, page.principal, slug, number)
    if version.state != "validating":
        return Response(status_code=200, headers={"HX-Refresh": "true"})
    return render(page, "datasets_version_processing.html", ds=ds, version=version)


def _json_refusal(page: Page) -> JSONResponse | None:
    if page.principal is None:
        message = translate("auth.required", page.lang, None, "Sign-in required")
        return JSONResponse(error_body("auth.required", message), status_code=401)
    if not web_session.csrf_valid(page.request, page.request.headers.get(web_session.CSRF_HEADER)):
        return JSONResponse(error_body("web.csrf.failed", page.t("web.csrf.failed")), status_code=403)
    return None


def _json_error(page: Page, error: AppError) -> JSONResponse:
    return JSONResponse(error_body(error.code, error_message(error, page.lang)), status_code=status_of(error))


@json_router.post("/datasets/{slug}/versions/{number:int}/upload/plan")
def plan_upload(
    page: PageDep, session: SessionDep, store: StoreDep, body: UploadRequest, slug: str, number: int
) -> Response:
    """upload.js sends the manifest (path, size, sha256) and gets presigned part URLs back."""
    refusal = _json_refusal(page)
    if refusal is not None:
        return refusal
    assert page.principal is not None
    try:
        plan = uploads.plan(session, store, page.settings, page.principal, slug, number, body)
    except AppError as error:
        session.rollback()
        return _json_error(page, error)
    return JSONResponse(plan.model_dump(mode="json"))


@json_router.post("/datasets/{slug}/versions/{number:int}/upload/complete")
def complete_upload(
    request: Request, page: PageDep, session: SessionDep, store: StoreDep, slug: str, number: int
) -> Response:
    refusal = _json_refusal(page)
    if refusal is not None:
        return refusal
    assert page.principal is not None
    try:
        version = uploads.complete(session, store, page.principal, slug, number)
        state = version.state
        session.commit()  # before the nudge, so that the worker's next cycle sees the version
    except AppError as error:
        session.rollback()
        return _json_error(page, error)
    worker = getattr(request.app.state, "datasets_worker", None)
    if worker is not None:
        worker.nudge()
    return JSONResponse(
        {
            "state": state,
            "state_label": page.t(f"web.datasets.state.{state}"),
            # The version page shows the verification and refreshes itself until it is decided.
            "next": f"/datasets/{slug}/versions/{number}?step=review#reports-heading",
        }
    )


# --- step 3: review, override, publish ------------------------------------------------------


@router.post("/datasets/{slug}/versions/{number:int}/override", dependencies=[CsrfDep])
def override_block(
    page: SignedInPageDep, session: SessionDep, slug: str, number: int, justification: FormStr = ""
) -> Response:
    assert page.principal is not None
    service.steward_version(session, page.principal, slug, number)
    try:
        labels = {"justification": "web.datasets.override.justification"}
        data = parse_form(OverrideRequest, labels, page.lang, justification=justification.strip())
        service.override(session, page.principal, slug, number, data.justification)
    except AppError as error:
        refused = form_refusal(page, session, error)
        return version_page(page, session, slug, number, **refused, justification=justification)
    return redirect(page, f"/datasets/{slug}/versions/{number}", success("web.datasets.override.done"))


@router.post("/datasets/{slug}/versions/{number:int}/publish", dependencies=[CsrfDep])
def publish_version(page: SignedInPageDep, session: SessionDep, slug: str, number: int) -> Response:
    assert page.principal is not None
    service.steward_version(session, page.principal, slug, number)
    try:
        service.publish(session, page.principal, slug, number)
    except AppError as error:
        refused = form_refusal(page, session, error)
        return version_page(page, session, slug, number, **refused)
    return redirect(page, f"/datasets/{slug}", success("web.datasets.publish.done", number=number))
