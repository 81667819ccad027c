"""Typed client calls for flavours, allocations, quotas, bookings and usage (built on AicommonsClient)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aicommons.scheduler.schemas import (
    AllocationApprove,
    AllocationOut,
    AllocationReject,
    AllocationRequest,
    BalanceOut,
    BookingCreate,
    BookingDecision,
    BookingOut,
    FlavourCreate,
    FlavourOut,
    QuotaOut,
    QuotaSet,
    Series,
)

from .http import AicommonsClient


def _params(**values: Any) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in values.items() if v is not None}


def list_flavours(client: AicommonsClient) -> list[FlavourOut]:
    return client._get("/flavours", list[FlavourOut])


def create_flavour(client: AicommonsClient, data: FlavourCreate) -> FlavourOut:
    return client._send("POST", "/flavours", data, FlavourOut)


def list_allocations(client: AicommonsClient, org: str | None = None) -> list[AllocationOut]:
    return client._get("/allocations", list[AllocationOut], params=_params(org=org))


def request_allocation(client: AicommonsClient, data: AllocationRequest) -> AllocationOut:
    return client._send("POST", "/allocations", data, AllocationOut)


def approve_allocation(client: AicommonsClient, allocation_id: str, data: AllocationApprove) -> AllocationOut:
    return client._send("POST", f"/allocations/{allocation_id}/approve", data, AllocationOut)


def reject_allocation(client: AicommonsClient, allocation_id: str, data: AllocationReject) -> AllocationOut:
    return client._send("POST", f"/allocations/{allocation_id}/reject", data, AllocationOut)


def balance(client: AicommonsClient, org: str) -> BalanceOut:
    return client._get("/balance", BalanceOut, params={"org": org})


def list_quotas(client: AicommonsClient, org: str | None = None) -> list[QuotaOut]:
    return client._get("/quotas", list[QuotaOut], params=_params(org=org))


def set_quota(client: AicommonsClient, data: QuotaSet) -> QuotaOut:
    return client._send("PUT", "/quotas", data, QuotaOut)


def list_bookings(client: AicommonsClient, org: str | None = None) -> list[BookingOut]:
    return client._get("/bookings", list[BookingOut], params=_params(org=org))


def request_booking(client: AicommonsClient, data: BookingCreate) -> BookingOut:
    return client._send("POST", "/bookings", data, BookingOut)


def cancel_booking(client: AicommonsClient, booking_id: str, reason: str | None = None) -> BookingOut:
    return client._send("POST", f"/bookings/{booking_id}/cancel", BookingDecision(reason=reason), BookingOut)


def free_capacity(
    client: AicommonsClient, flavour: str, start: datetime, end: datetime, org: str | None = None
) -> Series:
    params = _params(flavour=flavour, start=start, end=end, org=org)
    return client._get("/bookings/free", Series, params=params)


def usage_csv(
    client: AicommonsClient,
    org: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
) -> str:
    return client._request("GET", "/usage.csv", params=_params(org=org, start=start, end=end)).text
