"""The example training scripts are valid Python for the interpreter the platform runs (the PyTorch
one cannot be run here: no torch, no GPU), and the CPU one keeps its command-line contract."""

from __future__ import annotations

import ast
import py_compile
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SCRIPTS = sorted(EXAMPLES.glob("*/train.py"))
# What every job is given (scheduler reconcile loop, portal.scheduling), and the registration switch.
CONTRACT = (
    "MLFLOW_TRACKING_URI",
    "MLFLOW_EXPERIMENT_NAME",
    "AICOMMONS_JOB_ID",
    "AICOMMONS_DATASET_VERSIONS",
    "AICOMMONS_CHECKPOINT_DIR",
    "aicommons.job_id",
    "--register-name",
)


def test_every_example_has_a_script_and_a_readme() -> None:
    folders = {path.parent.name for path in SCRIPTS}
    assert {"cpu-train", "pytorch-gpu"} <= folders
    for script in SCRIPTS:
        assert (script.parent / "README.md").is_file(), script.parent


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda path: path.parent.name)
def test_example_compiles(script: Path, tmp_path: Path) -> None:
    py_compile.compile(str(script), cfile=str(tmp_path / "train.pyc"), doraise=True)


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda path: path.parent.name)
def test_example_reads_the_platform_environment(script: Path) -> None:
    """Both examples honour the variables every job is given, and register models on request."""
    tree = ast.parse(script.read_text())
    strings = {node.value for node in ast.walk(tree) if isinstance(node, ast.Constant)}
    missing = [name for name in CONTRACT if name not in strings]
    assert not missing, f"{script.parent.name} does not use {missing}"
