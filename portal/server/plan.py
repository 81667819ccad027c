"""What `aicommons up` starts, as pure data: accelerator flavours, GPU detection, the Ray resource
JSON and the command line, environment, URLs and health checks of every child."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from aicommons.portal.core.settings import Settings

from .health import free_port
from .processes import ChildSpec, child_env
from .state import HealthCheck, ServiceRecord

# Names Ray gives its own resources; a flavour may not take them.
RESERVED_RESOURCES = frozenset({"CPU", "GPU", "memory", "object_store_memory", "TPU", "NPU", "HPU"})
FLAVOUR_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")
# Ray puts unix sockets at <temp>/session_<date>_<pid>/sockets/plasma_store: about 70 characters
# after the temp dir, and sun_path holds 107.
RAY_TEMP_DIR_MAX = 36
# Ray workers take ports 10002-19999 unless told otherwise; its own ports must stay out of that range.
RAY_WORKER_PORTS = range(10002, 20000)


class PlanError(ValueError):
    """A user-facing configuration error: bad flavour, unusable port, etc."""


@dataclass(frozen=True)
class Flavour:
    name: str
    count: int

    def __str__(self) -> str:
        return f"{self.name}={self.count}"


def parse_flavour(text: str) -> Flavour:
    """`NAME=COUNT`, e.g. `H100-80G=8`: a Ray custom resource with COUNT units (a positive integer)."""
    name, sep, count_text = text.strip().partition("=")
    name, count_text = name.strip(), count_text.strip()
    if not sep:
        raise PlanError(f"flavour {text!r}: expected NAME=COUNT, e.g. H100-80G=8")
    if not name:
        raise PlanError(f"flavour {text!r}: the name before '=' is empty (expected NAME=COUNT)")
    if not FLAVOUR_NAME.match(name):
        raise PlanError(
            f"flavour {text!r}: name {name!r} may hold only letters, digits, '.', '_' and '-' "
            "(starting with a letter or digit, at most 63 characters)"
        )
    if name in RESERVED_RESOURCES:
        raise PlanError(f"flavour {text!r}: {name!r} is a resource Ray defines itself; use another name")
    try:
        count = int(count_text)
    except ValueError:
        raise PlanError(f"flavour {text!r}: count {count_text!r} is not a whole number") from None
    if count <= 0:
        raise PlanError(f"flavour {text!r}: count must be a positive whole number, got {count}")
    return Flavour(name, count)


def parse_flavours(texts: Iterable[str]) -> list[Flavour]:
    flavours: list[Flavour] = []
    seen: set[str] = set()
    for text in texts:
        flavour = parse_flavour(text)
        if flavour.name in seen:
            raise PlanError(f"flavour {flavour.name!r} is declared more than once")
        seen.add(flavour.name)
        flavours.append(flavour)
    return flavours


def ray_resources(flavours: Iterable[Flavour]) -> dict[str, int]:
    return {flavour.name: flavour.count for flavour in flavours}


def ray_resources_json(flavours: Iterable[Flavour]) -> str:
    return json.dumps(ray_resources(flavours), sort_keys=True, separators=(",", ":"))


def parse_nvidia_smi_list(output: str) -> int:
    """Count GPUs in `nvidia-smi -L` output (`GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-…)`).
    MIG devices, listed indented under their GPU, are not counted."""
    return sum(1 for line in output.splitlines() if re.match(r"^GPU \d+:", line))


Runner = Callable[..., "subprocess.CompletedProcess[str]"]


def detect_gpus(run: Runner = subprocess.run, which: Callable[[str], str | None] = shutil.which) -> int:
    """Number of NVIDIA GPUs on this machine; 0 without nvidia-smi or when it fails."""
    binary = which("nvidia-smi")
    if not binary:
        return 0
    try:
        result = run([binary, "-L"], capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return 0
    if result.returncode != 0:
        return 0
    return parse_nvidia_smi_list(result.stdout)


def ray_temp_dir(data_dir: Path, uid: int | None = None) -> Path:
    """<data_dir>/ray when short enough for Ray's socket paths, else /tmp/aicommons-ray-<uid>-<hash>."""
    preferred = data_dir.expanduser().resolve() / "ray"
    if len(str(preferred)) <= RAY_TEMP_DIR_MAX:
        return preferred
    uid = os.getuid() if uid is None else uid
    digest = hashlib.sha256(str(preferred).encode()).hexdigest()[:8]
    return Path("/tmp") / f"aicommons-ray-{uid}-{digest}"


@dataclass
class ServicePlan:
    """One service of the platform: a child to launch (None for an external one) and how to check it."""

    name: str
    title: str
    url: str | None
    checks: list[HealthCheck]
    spec: ChildSpec | None = None
    links: dict[str, str] = field(default_factory=dict)

    def record(self) -> ServiceRecord:
        return ServiceRecord(
            name=self.name,
            url=self.url,
            checks=list(self.checks),
            log=str(self.spec.log_path) if self.spec else None,
            external=self.spec is None,
        )


def settings_env(settings: Settings) -> dict[str, str]:
    """Environment that makes a child's Settings agree with the supervisor's."""
    return {
        "AICOMMONS_DATA_DIR": str(settings.data_dir),
        "AICOMMONS_HOST": settings.host,
        "AICOMMONS_PORT": str(settings.port),
        "AICOMMONS_MLFLOW_PORT": str(settings.mlflow_port),
        "AICOMMONS_RAY_GCS_PORT": str(settings.ray_gcs_port),
        "AICOMMONS_RAY_DASHBOARD_PORT": str(settings.ray_dashboard_port),
        "AICOMMONS_RAY_CLIENT_PORT": str(settings.ray_client_port),
    }


def logs_dir(settings: Settings) -> Path:
    return settings.data_dir / "logs"


def plan_portal(settings: Settings, base_env: Mapping[str, str], with_scheduler: bool = True) -> ServicePlan:
    base = f"http://{settings.host}:{settings.port}"
    env = child_env(
        base_env,
        {
            **settings_env(settings),
            # `up` has just migrated the database in bootstrap.prepare().
            "AICOMMONS_MIGRATE_ON_START": "false",
            "PYTHONUNBUFFERED": "1",
            # Without a Ray to launch on, jobs wait in the queue rather than fail.
            "AICOMMONS_SCHEDULER_ENABLED": "true" if with_scheduler else "false",
        },
    )
    argv = [
        sys.executable, "-m", "uvicorn", "aicommons.portal.app:create_app", "--factory",
        "--host", settings.host, "--port", str(settings.port),
    ]  # fmt: skip
    return ServicePlan(
        name="portal",
        title="Portal",
        url=base,
        checks=[HealthCheck("http", f"{base}/api/v1/health")],
        spec=ChildSpec("portal", argv, env, logs_dir(settings) / "portal.log", cwd=settings.data_dir),
        links={"Portal": base, "API docs": f"{base}/docs"},
    )


def mlflow_paths(settings: Settings) -> tuple[Path, Path]:
    root = settings.data_dir / "mlflow"
    return root / "mlflow.db", root / "artifacts"


def plan_mlflow(settings: Settings, base_env: Mapping[str, str]) -> ServicePlan:
    db_path, artifacts = mlflow_paths(settings)
    url = f"http://{settings.host}:{settings.mlflow_port}"
    env = child_env(
        base_env,
        {
            # MLflow 3 otherwise starts a job runner with seven huey consumer processes (GenAI
            # scorers, prompt optimisation) that the platform does not use.
            "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
            "PYTHONUNBUFFERED": "1",
        },
        drop=("MLFLOW_TRACKING_URI", "MLFLOW_ENABLE_WORKSPACES", "MLFLOW_WORKSPACE"),
    )
    argv = [
        sys.executable, "-m", "mlflow", "server",
        "--host", settings.host, "--port", str(settings.mlflow_port),
        "--backend-store-uri", f"sqlite:///{db_path}",
        "--serve-artifacts", "--artifacts-destination", artifacts.as_uri(),
        "--enable-workspaces",
        # The default of four workers means four copies of MLflow importing at once.
        "--workers", str(max(1, settings.mlflow_workers)),
    ]  # fmt: skip
    return ServicePlan(
        name="mlflow",
        title="MLflow",
        url=url,
        checks=[HealthCheck("http", f"{url}/health")],
        spec=ChildSpec("mlflow", argv, env, logs_dir(settings) / "mlflow.log", cwd=db_path.parent),
        links={"MLflow": url},
    )


def check_ray_ports(settings: Settings) -> None:
    ports = {
        "AICOMMONS_RAY_GCS_PORT": settings.ray_gcs_port,
        "AICOMMONS_RAY_DASHBOARD_PORT": settings.ray_dashboard_port,
        "AICOMMONS_RAY_CLIENT_PORT": settings.ray_client_port,
    }
    for env_name, port in ports.items():
        if port in RAY_WORKER_PORTS:
            raise PlanError(
                f"{env_name}={port} lies in Ray's worker port range 10002-19999; choose another port"
            )


def plan_ray(
    settings: Settings,
    base_env: Mapping[str, str],
    flavours: list[Flavour],
    num_gpus: int,
    num_cpus: int | None = None,
    agent_port: int | None = None,
) -> ServicePlan:
    check_ray_ports(settings)
    host = "127.0.0.1"
    dashboard = f"http://{host}:{settings.ray_dashboard_port}"
    agent_port = agent_port or settings.ray_dashboard_agent_port or free_port(host)
    env = child_env(
        base_env,
        {
            "RAY_USAGE_STATS_ENABLED": "0",
            "PYTHONUNBUFFERED": "1",
            # A job's `python …` entrypoint must find the interpreter that has the platform's packages.
            "PATH": os.pathsep.join([os.path.dirname(sys.executable), base_env.get("PATH", os.defpath)]),
        },
        drop=("RAY_ADDRESS",),
    )
    argv = [
        sys.executable, "-m", "ray.scripts.scripts", "start", "--head", "--block",
        f"--node-ip-address={host}",
        f"--port={settings.ray_gcs_port}",
        "--include-dashboard=true",
        f"--dashboard-host={host}",
        f"--dashboard-port={settings.ray_dashboard_port}",
        f"--dashboard-agent-listen-port={agent_port}",
        f"--ray-client-server-port={settings.ray_client_port}",
        f"--num-cpus={num_cpus or os.cpu_count() or 1}",
        f"--num-gpus={num_gpus}",
        f"--resources={ray_resources_json(flavours)}",
        f"--object-store-memory={settings.ray_object_store_bytes}",
        f"--temp-dir={ray_temp_dir(settings.data_dir)}",
        "--disable-usage-stats",
    ]  # fmt: skip
    return ServicePlan(
        name="ray",
        title="Ray",
        url=dashboard,
        checks=[
            HealthCheck("tcp", f"{host}:{settings.ray_gcs_port}"),
            HealthCheck("http", f"{dashboard}/api/version"),
        ],
        spec=ChildSpec(
            "ray", argv, env, logs_dir(settings) / "ray.log", cwd=settings.data_dir, nice=settings.ray_nice
        ),
        links={"Ray dashboard": dashboard, "Ray address": f"{host}:{settings.ray_gcs_port}"},
    )


def plan_external(settings: Settings) -> list[ServicePlan]:
    """Services the portal uses but `up --external` does not start: checked by `status` only."""
    plans = []
    if settings.mlflow_external_url:
        url = settings.mlflow_external_url.rstrip("/")
        plans.append(
            ServicePlan("mlflow", "MLflow (external)", url, [HealthCheck("http", f"{url}/health")],
                        links={"MLflow": url})
        )  # fmt: skip
    if settings.ray_external_dashboard_url:
        url = settings.ray_external_dashboard_url.rstrip("/")
        plans.append(
            ServicePlan("ray", "Ray (external)", url, [HealthCheck("http", f"{url}/api/version")],
                        links={"Ray dashboard": url})
        )  # fmt: skip
    return plans


@dataclass
class UpOptions:
    flavours: list[Flavour] = field(default_factory=list)
    with_ray: bool = True
    with_mlflow: bool = True
    external: bool = False


def plan_services(
    settings: Settings, options: UpOptions, base_env: Mapping[str, str], num_gpus: int
) -> list[ServicePlan]:
    """Every service in start order: the slow ones (Ray, MLflow) first, the portal last."""
    plans: list[ServicePlan] = []
    if options.external:
        plans.extend(plan_external(settings))
    else:
        if options.with_ray:
            plans.append(plan_ray(settings, base_env, options.flavours, num_gpus))
        if options.with_mlflow:
            plans.append(plan_mlflow(settings, base_env))
    has_ray = bool(settings.ray_external_dashboard_url) if options.external else options.with_ray
    plans.append(plan_portal(settings, base_env, with_scheduler=has_ray and settings.scheduler_enabled))
    return plans


def ports_in_use(
    settings: Settings, plans: Iterable[ServicePlan], is_free: Callable[[str, int], bool]
) -> list[str]:
    """Human-readable descriptions of the ports the planned children need that are already taken."""
    wanted: list[tuple[str, str, int]] = []
    names = {plan.name for plan in plans if plan.spec is not None}
    if "portal" in names:
        wanted.append(("portal", "AICOMMONS_PORT / --port", settings.port))
    if "mlflow" in names:
        wanted.append(("MLflow", "AICOMMONS_MLFLOW_PORT", settings.mlflow_port))
    if "ray" in names:
        wanted += [
            ("Ray GCS", "AICOMMONS_RAY_GCS_PORT", settings.ray_gcs_port),
            ("Ray dashboard", "AICOMMONS_RAY_DASHBOARD_PORT", settings.ray_dashboard_port),
            ("Ray client server", "AICOMMONS_RAY_CLIENT_PORT", settings.ray_client_port),
        ]
    host_for = {"portal": settings.host, "MLflow": settings.host}
    return [
        f"{what} port {port} is in use (set {setting})"
        for what, setting, port in wanted
        if not is_free(host_for.get(what, "127.0.0.1"), port)
    ]
