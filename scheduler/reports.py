"""Reports: usage per organisation, flavour and day; allocation burn-down; utilisation per flavour.

Intervals are split at UTC midnight, so a run over midnight counts on both days. Series are
shaped for charts: {"x": [...], "series": [{"name": ..., "data": [...]}]}.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy.orm import Session

from aicommons.portal.core.errors import InvalidInput
from aicommons.portal.core.principal import Principal
from aicommons.portal.core.time import isoformat

from . import allocations, flavours, repository
from .models import UsageRecord
from .schemas import Series, SeriesLine, UsageDay

MAX_DAYS = 366
CSV_COLUMNS = ("day", "org", "flavour", "gpu_seconds", "gpu_hours", "charged_gpu_seconds")


def check_range(start: datetime, end: datetime) -> None:
    if end <= start or end - start > timedelta(days=MAX_DAYS):
        raise InvalidInput("report.range_invalid", max_days=MAX_DAYS)


def _days(start: datetime, end: datetime) -> Iterator[date]:
    day = start.date()
    while datetime.combine(day, time(), UTC) < end:
        yield day
        day += timedelta(days=1)


def split_by_day(usage: UsageRecord, start: datetime, end: datetime) -> Iterator[tuple[date, int]]:
    """GPU-seconds of a record per UTC day, clipped to [start, end)."""
    lo, hi = max(usage.started_at, start), min(usage.ended_at, end)
    while lo < hi:
        midnight = datetime.combine(lo.date() + timedelta(days=1), time(), UTC)
        piece_end = min(hi, midnight)
        yield lo.date(), usage.gpus * int((piece_end - lo).total_seconds())
        lo = piece_end


def _scope(principal: Principal, org_id: str | None) -> list[str] | None:
    if org_id is not None:
        principal.require_member(org_id)
        return [org_id]
    return None if principal.is_admin else list(principal.memberships)


def usage_by_day(
    session: Session, principal: Principal, start: datetime, end: datetime, org_id: str | None = None
) -> list[UsageDay]:
    check_range(start, end)
    names = repository.flavour_names(session)
    totals: dict[tuple[date, str, str], list[int]] = defaultdict(lambda: [0, 0])
    for usage in repository.usage(session, _scope(principal, org_id), start, end):
        for day, seconds in split_by_day(usage, start, end):
            entry = totals[(day, usage.org_id, usage.flavour_id)]
            entry[0] += seconds
            entry[1] += seconds if usage.charged else 0
    return [
        UsageDay(
            day=day.isoformat(),
            org_id=org,
            flavour=names.get(flavour, flavour),
            gpu_seconds=used,
            charged_gpu_seconds=charged,
            gpu_hours=round(used / 3600, 4),
        )
        for (day, org, flavour), (used, charged) in sorted(totals.items())
    ]


def usage_csv(rows: list[UsageDay]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        org = row.org or row.org_id
        writer.writerow([row.day, org, row.flavour, row.gpu_seconds, row.gpu_hours, row.charged_gpu_seconds])
    return out.getvalue()


def usage_series(rows: list[UsageDay], start: datetime, end: datetime) -> Series:
    """GPU-hours per day, one series per organisation."""
    days = [d.isoformat() for d in _days(start, end)]
    index = {d: i for i, d in enumerate(days)}
    lines: dict[str, list[float]] = {}
    for row in rows:
        data = lines.setdefault(row.org or row.org_id, [0.0] * len(days))
        data[index[row.day]] = round(data[index[row.day]] + row.gpu_seconds / 3600, 4)
    return Series(x=days, series=[SeriesLine(name=name, data=data) for name, data in sorted(lines.items())])


def burndown(session: Session, principal: Principal, allocation_id: str) -> Series:
    """Remaining GPU-hours of one allocation after each debit, from its grant on."""
    allocation = allocations.get(session, principal, allocation_id)
    remaining = allocation.granted_gpu_seconds or 0
    x, data = [isoformat(allocation.decided_at or allocation.valid_from)], [round(remaining / 3600, 4)]
    for entry in repository.entries_of_allocation(session, allocation_id):
        remaining -= entry.gpu_seconds
        x.append(isoformat(entry.at))
        data.append(round(remaining / 3600, 4))
    return Series(x=x, series=[SeriesLine(name=allocation.id, data=data)])


def utilisation(
    session: Session, principal: Principal, flavour_name: str, start: datetime, end: datetime
) -> Series:
    """Share of a flavour's capacity used per day (GPU-hours used / capacity × 24 h), in percent.

    Administrators only: it shows every organisation's use together.
    """
    principal.require_admin()
    check_range(start, end)
    flavour = flavours.get(session, flavour_name)
    days = [d.isoformat() for d in _days(start, end)]
    used = dict.fromkeys(days, 0)
    for usage in repository.usage(session, None, start, end, flavour.id):
        for day, seconds in split_by_day(usage, start, end):
            used[day.isoformat()] += seconds
    per_day = flavour.capacity_gpus * 86400
    data = [round(100 * used[d] / per_day, 2) if per_day else 0.0 for d in days]
    return Series(x=days, series=[SeriesLine(name=flavour.name, data=data)])
