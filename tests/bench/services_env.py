"""Where the benchmarks find the real services: the environment, else `infra/services.sh env`."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def services_env(*names: str, missing: str) -> dict[str, str]:
    """The values of `names`; exits with `missing` when the services are not up."""
    env = {name: os.environ[name] for name in names if name in os.environ}
    if len(env) < len(names):
        out = subprocess.run(["bash", str(ROOT / "infra/services.sh"), "env"], capture_output=True, text=True)
        for line in out.stdout.splitlines():
            name, _, value = line.removeprefix("export ").partition("=")
            if name in names and name not in env:
                env[name] = value.strip("'\"")
    if len(env) < len(names):
        raise SystemExit(missing)
    return env


def postgres_url() -> str:
    name = "AICOMMONS_TEST_DATABASE_URL"
    return services_env(name, missing="no PostgreSQL: run `bash infra/services.sh up`")[name]
