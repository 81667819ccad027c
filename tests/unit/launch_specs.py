"""The launch spec the launcher tests share: a 3 × 2-GPU job with a working directory and pip packages."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aicommons.scheduler.launchers.base import LaunchSpec


def launch_spec(job_id: str = "job-1", **extra: Any) -> LaunchSpec:
    return LaunchSpec(
        job_id=job_id,
        entrypoint="python train.py --epochs 2",
        working_dir=Path("/data/archives/abc.zip"),
        pip=("numpy==2.*",),
        env={"AICOMMONS_JOB_ID": job_id, "MLFLOW_WORKSPACE": "acme"},
        flavour="H100-80G",
        gpus_per_worker=2,
        workers=3,
        cpus=1.5,
        memory_bytes=2 * 1024**3,
        time_limit_s=3600,
        **extra,
    )
