"""Pure parts of the model views: downsampling metric series and reading the dataset-versions tag."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest

from aicommons.portal.tracking.models_view import downsample, parse_dataset_versions
from aicommons.portal.tracking.schemas import MetricPoint

T0 = datetime(2025, 1, 1, tzinfo=UTC)


def _points(values: list[float | None]) -> list[MetricPoint]:
    return [MetricPoint(step=i, timestamp=T0, value=v) for i, v in enumerate(values)]


def test_short_series_are_untouched() -> None:
    points = _points([3.0, 2.0, 1.0])
    assert downsample(points, 1000) == points


@pytest.mark.parametrize(("count", "limit"), [(1001, 1000), (10_000, 1000), (50_000, 1000), (7, 4), (99, 10)])
def test_long_series_fit_the_limit_in_order_with_both_ends(count: int, limit: int) -> None:
    points = _points([math.sin(i / 50) for i in range(count)])
    sampled = downsample(points, limit)
    assert 2 < len(sampled) <= limit
    steps = [p.step for p in sampled]
    assert steps == sorted(set(steps))
    assert steps[0] == 0 and steps[-1] == count - 1


def test_spikes_and_dips_survive() -> None:
    values: list[float | None] = [1.0] * 10_000
    values[4321], values[7777] = 99.0, -42.0
    sampled = downsample(_points(values), 100)
    kept = {p.step: p.value for p in sampled}
    assert kept.get(4321) == 99.0 and kept.get(7777) == -42.0


def test_missing_values_do_not_hide_real_ones() -> None:
    values: list[float | None] = [None if i % 2 else float(i) for i in range(5000)]
    sampled = downsample(_points(values), 50)
    assert len(sampled) <= 50
    assert sum(p.value is not None for p in sampled) >= 24


def test_dataset_versions_as_json_objects() -> None:
    refs = parse_dataset_versions('[{"dataset": "street-signs", "version": 3, "version_id": "abc-1"}]')
    assert [(r.dataset, r.version, r.version_id, r.label) for r in refs] == [
        ("street-signs", "3", "abc-1", "street-signs@3")
    ]


@pytest.mark.parametrize(
    "tag",
    ['["street-signs@3", "lidar:12"]', '{"street-signs": 3, "lidar": 12}', "street-signs@3, lidar@12"],
)
def test_dataset_versions_as_text_or_mapping(tag: str) -> None:
    refs = parse_dataset_versions(tag)
    assert [(r.dataset, r.version) for r in refs] == [("street-signs", "3"), ("lidar", "12")]


def test_unreadable_dataset_entries_are_kept_as_labels_without_links() -> None:
    refs = parse_dataset_versions('["../../etc@1", "0f8c2a1e-2b7d-4a51-9d0e-7c4a2a9b1f00"]')
    assert refs[0].dataset is None and refs[0].label == "../../etc@1"
    assert refs[1].dataset is None and refs[1].version_id == "0f8c2a1e-2b7d-4a51-9d0e-7c4a2a9b1f00"
    assert parse_dataset_versions(None) == [] and parse_dataset_versions("  ") == []
