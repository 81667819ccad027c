"""`aicommons datasets mask` masks what the scan would report, column-headed names included."""

from __future__ import annotations

from pathlib import Path

from aicommons.datasets.scan import ScanReport, StreamScanner
from aicommons.portal.client.datasets import mask_folder

CSV = "id,姓名,label\n1,王小明,cat\n2,李华,dog\n"


def _findings(path: str, text: str) -> int:
    report = ScanReport()
    scanner = StreamScanner(report, path)
    scanner.feed(text.encode())
    scanner.close()
    return int(report.as_dict()["total"])


def test_the_cells_of_a_name_column_are_masked(tmp_path: Path) -> None:
    source, target = tmp_path / "raw", tmp_path / "clean"
    source.mkdir()
    (source / "people.csv").write_text(CSV, encoding="utf-8")
    assert _findings("people.csv", CSV) == 2

    counts = mask_folder(source, target)

    masked = (target / "people.csv").read_text(encoding="utf-8")
    assert counts == {"people.csv": 2}
    assert "王小明" not in masked and "李华" not in masked
    assert masked.startswith("id,姓名,label\n") and ",cat\n" in masked
    assert _findings("people.csv", masked) == 0
