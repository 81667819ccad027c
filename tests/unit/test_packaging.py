"""aicommons installs under one namespace and shadows nothing (Hugging Face's `datasets` above all)."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _run(code: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    # Run outside the repository, so the source folders on disk cannot be picked up by accident.
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, timeout=120)


def test_hugging_face_datasets_and_ours_are_both_importable(tmp_path: Path) -> None:
    result = _run(
        "import datasets, aicommons.datasets, aicommons.portal, aicommons.scheduler;"
        "assert hasattr(datasets, 'load_dataset'), datasets.__file__;"
        "assert 'aicommons' not in datasets.__file__;"
        "print(datasets.__version__)",
        tmp_path,
    )
    assert result.returncode == 0, result.stderr


def test_no_top_level_portal_or_scheduler_module(tmp_path: Path) -> None:
    result = _run(
        "import importlib.util as u;"
        "print([n for n in ('portal', 'scheduler') if u.find_spec(n) is not None])",
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_every_source_package_is_declared() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    declared = set(config["tool"]["setuptools"]["packages"])
    mapping = config["tool"]["setuptools"]["package-dir"]
    on_disk = set()
    for name, folder in mapping.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            relative = init.parent.relative_to(ROOT / folder)
            on_disk.add(".".join([name, *relative.parts]) if relative.parts else name)
    assert on_disk == declared


def test_console_script_runs(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "aicommons.portal.main", "--help"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "login" in result.stdout and "orgs" in result.stdout
