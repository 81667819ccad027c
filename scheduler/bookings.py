"""Bookings: an organisation reserves N GPUs of a flavour for [start, end); never over-booked.

Capacity checks lock the flavour row, so that two concurrent bookings cannot both take the last
GPUs. What is bookable at an instant: capacity, minus other live bookings (requested or confirmed),
minus what other organisations' guarantees keep for themselves (guaranteed minus lending limit).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from aicommons.portal.core.audit import AuditEvent, record
from aicommons.portal.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from aicommons.portal.core.principal import Principal
from aicommons.portal.core.settings import Settings
from aicommons.portal.core.time import isoformat, utcnow

from . import flavours, policy, repository
from .models import Booking
from .schemas import BookingCreate, BookingDecision, BookingOut, Series, SeriesLine

MAX_RANGE = timedelta(days=366)


def _window(booking: Booking) -> policy.Window:
    return policy.Window(booking.starts_at, booking.ends_at, booking.gpus)


def request(
    session: Session, principal: Principal, settings: Settings, org_id: str, data: BookingCreate
) -> Booking:
    principal.require_member(org_id)
    if data.ends_at <= data.starts_at:
        raise InvalidInput("booking.window_invalid")
    flavour = flavours.resolve(session, data.flavour, lock=True)
    held = repository.held_back(session, flavour.id, except_org=org_id)
    others = [_window(b) for b in repository.live_bookings(session, flavour.id, data.starts_at, data.ends_at)]
    if not policy.booking_fits(flavour.capacity_gpus, held, others, data.starts_at, data.ends_at, data.gpus):
        free = max(
            0, flavour.capacity_gpus - held - policy.peak_reserved(others, data.starts_at, data.ends_at)
        )
        raise Conflict("booking.over_capacity", free=free, flavour=flavour.name)
    booking = Booking(
        org_id=org_id,
        flavour_id=flavour.id,
        gpus=data.gpus,
        starts_at=data.starts_at,
        ends_at=data.ends_at,
        status="requested" if settings.booking_requires_approval else "confirmed",
        purpose=data.purpose,
        requested_by=principal.user_id,
    )
    session.add(booking)
    session.flush()
    event_data = {"flavour": flavour.name, "gpus": data.gpus, "status": booking.status}
    record(session, principal, AuditEvent("booking.request", "booking", booking.id, org_id, None, event_data))
    return booking


def get(session: Session, principal: Principal, booking_id: str) -> Booking:
    booking = repository.booking(session, booking_id)
    if booking is None or not principal.can_read(booking.org_id):
        raise NotFound("booking.not_found")
    return booking


def visible(session: Session, principal: Principal, org_id: str | None = None) -> list[Booking]:
    if org_id is not None:
        principal.require_member(org_id)
        return repository.bookings(session, [org_id])
    return repository.bookings(session, None if principal.is_admin else list(principal.memberships))


def decide(
    session: Session,
    principal: Principal,
    settings: Settings,
    booking_id: str,
    approve: bool,
    data: BookingDecision,
) -> Booking:
    """Confirm or reject a requested booking (administrators; its capacity is already held)."""
    principal.require_admin()
    booking = get(session, principal, booking_id)
    if booking.status != "requested":
        raise Conflict("booking.not_pending", status=booking.status)
    own = booking.org_id in principal.memberships or booking.requested_by == principal.user_id
    if own and not settings.allow_self_approval:
        raise Forbidden("allocation.self_approval")
    booking.status = "confirmed" if approve else "rejected"
    booking.decided_by, booking.decided_at, booking.reason = principal.user_id, utcnow(), data.reason
    action = "booking.approve" if approve else "booking.reject"
    record(session, principal, AuditEvent(action, "booking", booking.id, booking.org_id, data.reason))
    return booking


def cancel(session: Session, principal: Principal, booking_id: str, data: BookingDecision) -> Booking:
    booking = get(session, principal, booking_id)
    if booking.status not in repository.LIVE_BOOKING or booking.ends_at <= utcnow():
        raise Conflict("booking.not_cancellable", status=booking.status)
    booking.status = "cancelled"
    booking.decided_by, booking.decided_at, booking.reason = principal.user_id, utcnow(), data.reason
    record(
        session, principal, AuditEvent("booking.cancel", "booking", booking.id, booking.org_id, data.reason)
    )
    return booking


def free(
    session: Session,
    principal: Principal,
    flavour_name: str,
    start: datetime,
    end: datetime,
    org_id: str | None,
) -> Series:
    """Bookable GPUs of a flavour over [start, end) as a step series (as seen by ``org_id``)."""
    if org_id is not None:
        principal.require_member(org_id)
    if end <= start or end - start > MAX_RANGE:
        raise InvalidInput("report.range_invalid", max_days=MAX_RANGE.days)
    flavour = flavours.get(session, flavour_name)
    held = repository.held_back(session, flavour.id, except_org=org_id)
    windows = [_window(b) for b in repository.live_bookings(session, flavour.id, start, end)]
    steps = policy.free_steps(flavour.capacity_gpus, held, windows, start, end)
    steps.append((end, steps[-1][1]))
    return Series(
        x=[isoformat(t) for t, _ in steps],
        series=[SeriesLine(name=flavour.name, data=[float(v) for _, v in steps])],
    )


def to_out(booking: Booking, flavour_names: dict[str, str]) -> BookingOut:
    return BookingOut(
        id=booking.id,
        org_id=booking.org_id,
        flavour=flavour_names.get(booking.flavour_id, booking.flavour_id),
        gpus=booking.gpus,
        starts_at=booking.starts_at,
        ends_at=booking.ends_at,
        status=booking.status,
        purpose=booking.purpose,
        created_at=booking.created_at,
        decided_at=booking.decided_at,
        reason=booking.reason,
    )
