"""Bookings of GPUs for a time window, and the free capacity calendar."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Path, Query
from sqlalchemy.orm import Session

from aicommons.scheduler import bookings as service
from aicommons.scheduler import repository
from aicommons.scheduler.schemas import NAME_PATTERN, BookingCreate, BookingDecision, BookingOut, Series, When

from .allocations import NOT_FOUND, OrgQuery, org_id_of, org_slugs
from .deps import PrincipalDep, SessionDep, SettingsDep

router = APIRouter(tags=["bookings"])
BookingId = Path(max_length=36)
DECIDE: dict[int | str, dict[str, Any]] = {**NOT_FOUND, 409: {"description": "Not waiting for a decision"}}


def _out(session: Session, bookings: list[Any]) -> list[BookingOut]:
    names, slugs = repository.flavour_names(session), org_slugs(session)
    return [service.to_out(b, names).model_copy(update={"org": slugs.get(b.org_id)}) for b in bookings]


@router.get("/bookings", response_model=list[BookingOut], responses=NOT_FOUND)
def list_bookings(
    principal: PrincipalDep, session: SessionDep, org: str | None = OrgQuery
) -> list[BookingOut]:
    return _out(session, service.visible(session, principal, org_id_of(session, principal, org)))


@router.post(
    "/bookings",
    response_model=BookingOut,
    status_code=201,
    responses={**NOT_FOUND, 409: {"description": "Not enough free capacity in the window"}},
)
def request_booking(
    principal: PrincipalDep, session: SessionDep, settings: SettingsDep, body: BookingCreate
) -> BookingOut:
    org_id = org_id_of(session, principal, body.org)
    assert org_id is not None
    return _out(session, [service.request(session, principal, settings, org_id, body)])[0]


@router.get("/bookings/free", response_model=Series, responses=NOT_FOUND)
def free_capacity(
    principal: PrincipalDep,
    session: SessionDep,
    flavour: str = Query(max_length=64, pattern=NAME_PATTERN),
    start: When = Query(),
    end: When = Query(),
    org: str | None = OrgQuery,
) -> Series:
    """Bookable GPUs over [start, end) as a step series, as seen by ``org`` (if given)."""
    org_id = org_id_of(session, principal, org)
    return service.free(session, principal, flavour, start, end, org_id)


@router.get("/bookings/{booking_id}", response_model=BookingOut, responses=NOT_FOUND)
def get_booking(principal: PrincipalDep, session: SessionDep, booking_id: str = BookingId) -> BookingOut:
    return _out(session, [service.get(session, principal, booking_id)])[0]


@router.post("/bookings/{booking_id}/approve", response_model=BookingOut, responses=DECIDE)
def approve_booking(
    principal: PrincipalDep,
    session: SessionDep,
    settings: SettingsDep,
    body: BookingDecision,
    booking_id: str = BookingId,
) -> BookingOut:
    return _out(session, [service.decide(session, principal, settings, booking_id, True, body)])[0]


@router.post("/bookings/{booking_id}/reject", response_model=BookingOut, responses=DECIDE)
def reject_booking(
    principal: PrincipalDep,
    session: SessionDep,
    settings: SettingsDep,
    body: BookingDecision,
    booking_id: str = BookingId,
) -> BookingOut:
    return _out(session, [service.decide(session, principal, settings, booking_id, False, body)])[0]


@router.post("/bookings/{booking_id}/cancel", response_model=BookingOut, responses=DECIDE)
def cancel_booking(
    principal: PrincipalDep, session: SessionDep, body: BookingDecision, booking_id: str = BookingId
) -> BookingOut:
    return _out(session, [service.cancel(session, principal, booking_id, body)])[0]
