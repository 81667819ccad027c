"""Reports: usage per organisation, flavour and day; CSV; chart series; utilisation; tenancy."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient

from tests.integration.test_api_allocations import make_flavours

DAY = datetime(2030, 3, 10, tzinfo=UTC)


def _record(
    root: TestClient, org: str, job: str, start: datetime, hours: float, gpus: int, outcome: str
) -> None:
    body = {
        "org": org,
        "flavour": "H100-80G",
        "job_id": job,
        "started_at": start.isoformat(),
        "ended_at": (start + timedelta(hours=hours)).isoformat(),
        "gpus": gpus,
        "outcome": outcome,
    }
    assert root.post("/api/v1/usage", json=body).status_code == 201


def _seed(root: TestClient) -> None:
    make_flavours(root)
    _record(root, "acme", "a1", DAY + timedelta(hours=22), 4, 2, "succeeded")  # 2 h on day 1, 2 h on day 2
    _record(root, "acme", "a2", DAY + timedelta(hours=1), 1, 1, "preempted")
    _record(root, "beta", "b1", DAY + timedelta(hours=5), 3, 4, "succeeded")


RANGE = {"start": DAY.isoformat(), "end": (DAY + timedelta(days=2)).isoformat()}


def test_usage_per_org_flavour_and_day(client_for: Callable[..., TestClient]) -> None:
    root, alice = client_for("root"), client_for("alice")
    _seed(root)
    rows = root.get("/api/v1/usage", params=RANGE).json()
    assert sorted((r["day"], r["org"], r["gpu_seconds"], r["charged_gpu_seconds"]) for r in rows) == [
        ("2030-03-10", "acme", 2 * 7200 + 3600, 2 * 7200),
        ("2030-03-10", "beta", 4 * 3 * 3600, 4 * 3 * 3600),
        ("2030-03-11", "acme", 2 * 7200, 2 * 7200),
    ]
    mine = alice.get("/api/v1/usage", params=RANGE).json()
    assert {r["org"] for r in mine} == {"acme"} and sum(r["gpu_seconds"] for r in mine) == 4 * 7200 + 3600
    assert alice.get("/api/v1/usage", params={**RANGE, "org": "beta"}).status_code == 404


def test_csv_export(client_for: Callable[..., TestClient]) -> None:
    root = client_for("root")
    _seed(root)
    for response in (
        root.get("/api/v1/usage.csv", params=RANGE),
        root.get("/api/v1/usage", params={**RANGE, "format": "csv"}),
    ):
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
        table = list(csv.DictReader(io.StringIO(response.text)))
        assert table[0].keys() == {"day", "org", "flavour", "gpu_seconds", "gpu_hours", "charged_gpu_seconds"}
        assert sum(int(r["gpu_seconds"]) for r in table) == 4 * 7200 + 3600 + 12 * 3600


def test_chart_series_and_utilisation(client_for: Callable[..., TestClient]) -> None:
    root, alice = client_for("root"), client_for("alice")
    _seed(root)
    series = root.get("/api/v1/reports/usage", params=RANGE).json()
    assert series["x"] == ["2030-03-10", "2030-03-11"]
    assert {s["name"]: s["data"] for s in series["series"]} == {"acme": [5.0, 4.0], "beta": [12.0, 0.0]}
    util = root.get("/api/v1/reports/utilisation", params={"flavour": "H100-80G", **RANGE}).json()
    assert util["series"][0]["data"] == [round(100 * 17 / (8 * 24), 2), round(100 * 4 / (8 * 24), 2)]
    assert (
        alice.get("/api/v1/reports/utilisation", params={"flavour": "H100-80G", **RANGE}).status_code == 403
    )


def test_report_ranges_are_checked(client_for: Callable[..., TestClient]) -> None:
    root = client_for("root")
    bad = root.get("/api/v1/usage", params={"start": RANGE["end"], "end": RANGE["start"]})
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "report.range_invalid"
    assert root.get("/api/v1/usage", params={"start": "0001-01-01T00:00:00Z"}).status_code == 422
