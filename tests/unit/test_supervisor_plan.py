"""Pure logic of `aicommons up`: flavours, Ray resources, GPU detection, commands and ports."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from aicommons.portal.core.settings import Settings
from aicommons.portal.server import plan
from aicommons.portal.server.plan import Flavour, PlanError, UpOptions

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("H100-80G=8", Flavour("H100-80G", 8)),
        (" A100-40G = 2 ", Flavour("A100-40G", 2)),
        ("Ascend-910B=16", Flavour("Ascend-910B", 16)),
        ("cpu.small_1=1", Flavour("cpu.small_1", 1)),
    ],
)
def test_parse_flavour_accepts_name_equals_count(text: str, expected: Flavour) -> None:
    assert plan.parse_flavour(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("H100=abc", "not a whole number"),
        ("=3", "name before '=' is empty"),
        ("H100=-1", "positive"),
        ("H100=0", "positive"),
        ("H100", "expected NAME=COUNT"),
        ("H100=", "not a whole number"),
        ("H100=1.5", "not a whole number"),
        ("H 100=2", "may hold only"),
        ("-H100=2", "may hold only"),
        ("GPU=2", "Ray defines itself"),
        ("CPU=2", "Ray defines itself"),
    ],
)
def test_parse_flavour_rejects_bad_input_clearly(text: str, message: str) -> None:
    with pytest.raises(PlanError, match=message) as info:
        plan.parse_flavour(text)
    assert repr(text) in str(info.value)


def test_parse_flavours_rejects_duplicates() -> None:
    with pytest.raises(PlanError, match="more than once"):
        plan.parse_flavours(["H100-80G=8", "H100-80G=2"])


def test_ray_resources_json_is_compact_and_sorted() -> None:
    flavours = plan.parse_flavours(["H100-80G=8", "A100-40G=2"])
    text = plan.ray_resources_json(flavours)
    assert json.loads(text) == {"H100-80G": 8, "A100-40G": 2}
    assert text == '{"A100-40G":2,"H100-80G":8}'
    assert plan.ray_resources_json([]) == "{}"


NVIDIA_SMI_L = """\
GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-7f9e0c3a-1111-2222-3333-444455556666)
GPU 1: NVIDIA H100 80GB HBM3 (UUID: GPU-7f9e0c3a-1111-2222-3333-444455556667)
  MIG 3g.40gb     Device  0: (UUID: MIG-aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee)
GPU 2: NVIDIA A100-SXM4-40GB (UUID: GPU-0000)
"""


def test_parse_nvidia_smi_counts_gpus_not_mig_devices() -> None:
    assert plan.parse_nvidia_smi_list(NVIDIA_SMI_L) == 3
    assert plan.parse_nvidia_smi_list("") == 0
    assert plan.parse_nvidia_smi_list("No devices were found\n") == 0


def _completed(stdout: str, code: int = 0) -> subprocess.CompletedProcess[str]:
    return subprocess.CompletedProcess(["nvidia-smi", "-L"], code, stdout=stdout, stderr="")


def test_detect_gpus_uses_nvidia_smi_and_falls_back_to_zero() -> None:
    which = lambda name: "/usr/bin/nvidia-smi"  # noqa: E731
    assert plan.detect_gpus(run=lambda *a, **k: _completed(NVIDIA_SMI_L), which=which) == 3
    assert plan.detect_gpus(run=lambda *a, **k: _completed("", 9), which=which) == 0
    assert plan.detect_gpus(run=lambda *a, **k: _completed("x"), which=lambda name: None) == 0

    def broken(*args: object, **kwargs: object) -> subprocess.CompletedProcess[str]:
        raise subprocess.TimeoutExpired("nvidia-smi", 10)

    assert plan.detect_gpus(run=broken, which=which) == 0


def test_ray_temp_dir_is_short_enough_for_unix_sockets(tmp_path: Path) -> None:
    short = plan.ray_temp_dir(Path("/tmp/ac"))
    assert short == Path("/tmp/ac/ray")
    long_dir = tmp_path / ("x" * 80) / "data"
    chosen = plan.ray_temp_dir(long_dir, uid=1234)
    assert str(chosen).startswith("/tmp/aicommons-ray-1234-")
    assert len(str(chosen)) <= plan.RAY_TEMP_DIR_MAX
    assert chosen == plan.ray_temp_dir(long_dir, uid=1234)  # stable per data dir
    assert chosen != plan.ray_temp_dir(tmp_path / ("y" * 80), uid=1234)


def _settings(tmp_path: Path, **extra: object) -> Settings:
    return Settings(
        data_dir=tmp_path, port=18600, mlflow_port=18601, ray_gcs_port=28602,
        ray_dashboard_port=28265, ray_client_port=28001, **extra,
    )  # fmt: skip


def test_ray_command_declares_gpus_flavours_ports_and_temp_dir(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    flavours = plan.parse_flavours(["H100-80G=8"])
    ray = plan.plan_ray(settings, {"RAY_ADDRESS": "x:1", "PATH": "/bin"}, flavours, num_gpus=2,
                        num_cpus=2, agent_port=30000)  # fmt: skip
    assert ray.spec is not None
    argv = ray.spec.argv
    assert argv[:4] == [sys.executable, "-m", "ray.scripts.scripts", "start"]
    for expected in (
        "--head", "--block", "--node-ip-address=127.0.0.1", "--port=28602",
        "--dashboard-host=127.0.0.1", "--dashboard-port=28265", "--ray-client-server-port=28001",
        "--num-gpus=2", "--num-cpus=2", '--resources={"H100-80G":8}', "--include-dashboard=true",
        "--dashboard-agent-listen-port=30000",
    ):  # fmt: skip
        assert expected in argv
    assert any(a.startswith("--temp-dir=") for a in argv)
    assert "RAY_ADDRESS" not in ray.spec.env
    assert ray.spec.env["RAY_USAGE_STATS_ENABLED"] == "0"
    assert ray.spec.log_path == tmp_path / "logs" / "ray.log"
    assert ray.spec.nice == settings.ray_nice
    assert [c.kind for c in ray.checks] == ["tcp", "http"]
    assert ray.checks[1].target == "http://127.0.0.1:28265/api/version"


def test_ray_ports_inside_worker_range_are_refused(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    settings.ray_dashboard_port = 12000
    with pytest.raises(PlanError, match="AICOMMONS_RAY_DASHBOARD_PORT=12000"):
        plan.plan_ray(settings, {}, [], num_gpus=0)


def test_mlflow_command_is_tuned_and_keeps_data_under_data_dir(tmp_path: Path) -> None:
    mlflow = plan.plan_mlflow(_settings(tmp_path), {"MLFLOW_TRACKING_URI": "http://elsewhere"})
    assert mlflow.spec is not None
    argv = mlflow.spec.argv
    assert argv[:4] == [sys.executable, "-m", "mlflow", "server"]
    joined = " ".join(argv)
    assert f"--backend-store-uri sqlite:///{tmp_path}/mlflow/mlflow.db" in joined
    assert f"--artifacts-destination {(tmp_path / 'mlflow' / 'artifacts').as_uri()}" in joined
    assert "--serve-artifacts" in argv and "--enable-workspaces" in argv
    assert "--host 127.0.0.1 --port 18601" in joined
    assert argv[argv.index("--workers") + 1] == "1"
    assert mlflow.spec.env["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] == "false"
    assert "MLFLOW_TRACKING_URI" not in mlflow.spec.env
    assert mlflow.checks[0].target == "http://127.0.0.1:18601/health"


def test_portal_command_runs_the_app_factory_with_matching_settings(tmp_path: Path) -> None:
    portal = plan.plan_portal(_settings(tmp_path), {"AICOMMONS_DATABASE_URL": "postgresql://db/x"})
    assert portal.spec is not None
    argv = portal.spec.argv
    assert argv[:5] == [sys.executable, "-m", "uvicorn", "aicommons.portal.app:create_app", "--factory"]
    env = portal.spec.env
    assert env["AICOMMONS_DATA_DIR"] == str(tmp_path)
    assert env["AICOMMONS_PORT"] == "18600" and env["AICOMMONS_MLFLOW_PORT"] == "18601"
    assert env["AICOMMONS_DATABASE_URL"] == "postgresql://db/x"  # passed through (--external)
    assert portal.checks[0].target == "http://127.0.0.1:18600/api/v1/health"
    assert portal.links == {"Portal": "http://127.0.0.1:18600", "API docs": "http://127.0.0.1:18600/docs"}


def test_plan_services_honours_no_ray_no_mlflow_and_external(tmp_path: Path) -> None:
    settings = _settings(tmp_path, mlflow_external_url="http://mlflow.example:5000/")
    names = lambda options: [p.name for p in plan.plan_services(settings, options, {}, 0)]  # noqa: E731
    assert names(UpOptions()) == ["ray", "mlflow", "portal"]
    assert names(UpOptions(with_ray=False)) == ["mlflow", "portal"]
    assert names(UpOptions(with_ray=False, with_mlflow=False)) == ["portal"]
    external = plan.plan_services(settings, UpOptions(external=True), {}, 0)
    assert [(p.name, p.spec is None) for p in external] == [("mlflow", True), ("portal", False)]
    assert external[0].checks[0].target == "http://mlflow.example:5000/health"


def test_ports_in_use_names_the_setting_to_change(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    plans = plan.plan_services(settings, UpOptions(), {}, 0)
    taken = plan.ports_in_use(settings, plans, lambda host, port: port != 18601)
    assert taken == ["MLflow port 18601 is in use (set AICOMMONS_MLFLOW_PORT)"]
    assert plan.ports_in_use(settings, plans, lambda host, port: True) == []
