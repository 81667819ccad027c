"""The KubeRay launcher's pure parts: the RayJob and namespace objects it writes, how KubeRay's
status becomes a launch phase, Kueue objects from the portal's quotas, and S3 URL signing."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from aicommons.portal.core.settings import Settings
from aicommons.scheduler.launchers import kuberay_manifests as m
from aicommons.scheduler.launchers import registry
from aicommons.scheduler.launchers.base import LauncherError, LaunchPhase, LaunchSpec
from aicommons.scheduler.launchers.kuberay_workdir import presign
from tests.unit.launch_specs import launch_spec

pytestmark = pytest.mark.unit

TOLERATION = {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
FLAVOURS = m.parse_flavours(
    {
        "H100-80G": {
            "resource": "nvidia.com/gpu",
            "node_selector": {"nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3"},
            "tolerations": [TOLERATION],
        },
        "A100-40G": {"resource": "nvidia.com/gpu", "node_selector": {"nvidia.com/gpu.product": "A100"}},
        "Ascend-910B": {"resource": "huawei.com/Ascend910", "node_selector": {"accelerator": "ascend-910b"}},
        "cpu": {},
    }
)
SPEC = launch_spec(
    "0f6c1d2e-aaaa-bbbb-cccc-123456789abc",
    org="org-1",
    org_quota_gpus={"H100-80G": 8, "A100-40G": 4, "Ascend-910B": 16, "cpu": 0},
)
OPTIONS = m.RayJobOptions(image="rayproject/ray:2.49.0", ttl_after_finished_s=120, stop_grace_s=15)


def _body(spec: LaunchSpec = SPEC, options: m.RayJobOptions = OPTIONS) -> dict:
    return m.rayjob(spec, "aicommons-org-1", options, FLAVOURS, "https://s3.example/workdirs/abc.zip?sig")


def test_rayjob_gang_of_workers_on_the_flavours_nodes() -> None:
    body = _body()
    assert body["apiVersion"] == "ray.io/v1" and body["kind"] == "RayJob"
    assert body["metadata"]["name"] == "job-0f6c1d2e-aaaa-bbbb-cccc-123456789abc"
    assert body["metadata"]["namespace"] == "aicommons-org-1"
    assert body["metadata"]["labels"][m.JOB_LABEL] == SPEC.job_id
    assert body["metadata"]["labels"][m.ORG_LABEL] == "org-1"
    [group] = body["spec"]["rayClusterSpec"]["workerGroupSpecs"]
    assert group["replicas"] == group["minReplicas"] == group["maxReplicas"] == 3
    pod = group["template"]["spec"]
    [worker] = pod["containers"]
    assert worker["resources"]["limits"]["nvidia.com/gpu"] == "2"
    assert worker["resources"]["requests"]["nvidia.com/gpu"] == "2"
    assert pod["nodeSelector"] == {"nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3"}
    assert pod["tolerations"] == [TOLERATION]
    assert pod["terminationGracePeriodSeconds"] == 15
    assert json.loads(group["rayStartParams"]["resources"]) == {"H100-80G": 2}


def test_rayjob_entrypoint_on_the_head_with_its_cpus_and_memory_and_no_devices() -> None:
    head = _body()["spec"]["rayClusterSpec"]["headGroupSpec"]["template"]["spec"]
    [container] = head["containers"]
    assert container["resources"]["requests"] == {"cpu": "1.5", "memory": str(2 * 1024**3)}
    assert "nodeSelector" not in head and "tolerations" not in head


def test_rayjob_lifecycle_fields() -> None:
    spec = _body()["spec"]
    assert spec["submissionMode"] == "K8sJobMode"
    assert spec["shutdownAfterJobFinishes"] is True
    assert spec["ttlSecondsAfterFinished"] == 120
    assert spec["activeDeadlineSeconds"] == 3600 + 15 + m.DEADLINE_STARTUP_ALLOWANCE_S
    assert spec["suspend"] is False
    assert spec["entrypoint"] == SPEC.entrypoint
    runtime = json.loads(spec["runtimeEnvYAML"])
    assert runtime == {
        "working_dir": "https://s3.example/workdirs/abc.zip?sig",
        "pip": ["numpy==2.*"],
        "env_vars": dict(SPEC.env),
    }


def _containers(body: dict) -> list[dict]:
    cluster = body["spec"]["rayClusterSpec"]
    groups = [cluster["headGroupSpec"], *cluster["workerGroupSpecs"]]
    return [g["template"]["spec"]["containers"][0] for g in groups]


def test_secret_variables_go_to_a_secret_named_by_their_digest() -> None:
    assert m.env_secret_name(SPEC) is None  # no secrets: no Secret, no envFrom
    assert all("envFrom" not in c for c in _containers(_body()))
    spec = replace(SPEC, secrets={"MLFLOW_TRACKING_TOKEN": "t1"})
    name = m.env_secret_name(spec)
    assert name is not None and name.startswith(f"job-{SPEC.job_id}-env-") and len(name) <= 63
    assert m.env_secret_name(replace(spec, secrets={"MLFLOW_TRACKING_TOKEN": "t1"})) == name
    assert m.env_secret_name(replace(spec, secrets={"MLFLOW_TRACKING_TOKEN": "t2"})) != name
    body = _body(spec)
    assert "t1" not in body["spec"]["runtimeEnvYAML"]
    assert all(c["envFrom"] == [{"secretRef": {"name": name}}] for c in _containers(body))
    owner = {**body, "metadata": {**body["metadata"], "uid": "u-1"}}
    secret = m.env_secret(spec, "aicommons-org-1", owner)
    assert secret is not None and secret["metadata"]["name"] == name == m.referenced_secret(owner)
    assert secret["stringData"] == {"MLFLOW_TRACKING_TOKEN": "t1"}
    assert secret["metadata"]["ownerReferences"][0]["uid"] == "u-1"
    # Resubmitted with fresh tokens: they go under the name the stored RayJob refers to.
    again = m.env_secret(replace(spec, secrets={"MLFLOW_TRACKING_TOKEN": "t2"}), "aicommons-org-1", owner)
    assert again is not None and again["metadata"]["name"] == name
    assert again["stringData"] == {"MLFLOW_TRACKING_TOKEN": "t2"}
    stored_without = {**_body(), "metadata": {**body["metadata"], "uid": "u-1"}}
    assert m.env_secret(spec, "aicommons-org-1", stored_without) is None


def test_rayjob_other_vendor_device_and_cpu_only_jobs() -> None:
    ascend = _body(replace(SPEC, flavour="Ascend-910B", gpus_per_worker=8, workers=1))
    [group] = ascend["spec"]["rayClusterSpec"]["workerGroupSpecs"]
    assert group["template"]["spec"]["containers"][0]["resources"]["limits"]["huawei.com/Ascend910"] == "8"
    assert group["template"]["spec"]["nodeSelector"] == {"accelerator": "ascend-910b"}
    cpu_only = _body(replace(SPEC, flavour="cpu", gpus_per_worker=0, workers=1))
    assert cpu_only["spec"]["rayClusterSpec"]["workerGroupSpecs"] == []


def test_kueue_mode_labels_the_rayjob_with_its_queue() -> None:
    body = _body(options=replace(OPTIONS, kueue_queue="aicommons"))
    assert body["metadata"]["labels"][m.KUEUE_QUEUE_LABEL] == "aicommons"
    assert m.KUEUE_QUEUE_LABEL not in _body()["metadata"]["labels"]


def test_names_must_be_kubernetes_names() -> None:
    assert m.namespace_name("aicommons-", "ACME") == "aicommons-acme"
    with pytest.raises(LauncherError) as caught:
        m.rayjob_name("has spaces")
    assert caught.value.code == "launcher.bad_option"
    with pytest.raises(LauncherError):
        m.namespace_name("aicommons-", "x" * 60)


def test_quota_sums_flavours_sharing_a_device_resource() -> None:
    limits = m.device_limits(SPEC.org_quota_gpus or {}, FLAVOURS)
    assert limits == {"nvidia.com/gpu": 12, "huawei.com/Ascend910": 16}
    quota = m.resource_quota("ns", limits)
    assert quota["spec"]["hard"] == {"requests.nvidia.com/gpu": "12", "requests.huawei.com/Ascend910": "16"}
    limit_range = m.limit_range("ns", limits)
    none = {"nvidia.com/gpu": "0", "huawei.com/Ascend910": "0"}
    assert limit_range["spec"]["limits"] == [
        {
            "type": "Container",
            "max": {"nvidia.com/gpu": "12", "huawei.com/Ascend910": "16"},
            "default": none,  # not max, which Kubernetes would otherwise default to
            "defaultRequest": none,
        }
    ]
    # No quota on a flavour: the organisation may hold none of that device.
    assert m.resource_quota("ns", {"nvidia.com/gpu": 0})["spec"]["hard"] == {"requests.nvidia.com/gpu": "0"}


def test_namespace_and_network_policy() -> None:
    ns = m.namespace("aicommons-org-1", "org-1")
    assert ns["metadata"]["labels"] == {"app.kubernetes.io/managed-by": "aicommons", m.ORG_LABEL: "org-1"}
    policy = m.network_policy("aicommons-org-1")["spec"]
    assert policy["policyTypes"] == ["Ingress"]
    assert policy["ingress"] == [{"from": [{"podSelector": {}}]}]  # same namespace only


def test_malformed_flavour_mapping_is_a_configuration_error() -> None:
    with pytest.raises(LauncherError) as caught:
        m.parse_flavours({"H100": {"node_selector": ["not", "a", "mapping"]}})
    assert caught.value.code == "launcher.bad_option"


def _rayjob(deployment: str = "", job: str = "", stopped: bool = False, **status: object) -> dict:
    annotations = {m.STOP_ANNOTATION: "2026-01-01T00:00:00+00:00"} if stopped else {}
    body = {"jobDeploymentStatus": deployment, "jobStatus": job, **status}
    return {"metadata": {"annotations": annotations}, "status": body}


@pytest.mark.parametrize(
    ("deployment", "job", "stopped", "phase"),
    [
        ("", "", False, LaunchPhase.PENDING),
        ("New", "", False, LaunchPhase.PENDING),
        ("Initializing", "", False, LaunchPhase.PENDING),
        ("Running", "PENDING", False, LaunchPhase.PENDING),
        ("Running", "RUNNING", False, LaunchPhase.RUNNING),
        ("Running", "SUCCEEDED", False, LaunchPhase.SUCCEEDED),
        ("Complete", "SUCCEEDED", False, LaunchPhase.SUCCEEDED),
        ("Complete", "FAILED", False, LaunchPhase.FAILED),
        ("Complete", "STOPPED", False, LaunchPhase.STOPPED),
        ("Failed", "", False, LaunchPhase.FAILED),
        ("ValidationFailed", "", False, LaunchPhase.FAILED),
        ("Retrying", "", False, LaunchPhase.PENDING),
        ("Suspending", "RUNNING", True, LaunchPhase.RUNNING),  # pods still up
        ("Suspended", "", True, LaunchPhase.STOPPED),  # stopped by us
        ("Suspended", "", False, LaunchPhase.PENDING),  # held by Kueue, or resumed and not yet seen
        ("Running", "RUNNING", True, LaunchPhase.RUNNING),  # stop not yet carried out
    ],
)
def test_status_mapping(deployment: str, job: str, stopped: bool, phase: LaunchPhase) -> None:
    assert m.phase_of(_rayjob(deployment, job, stopped)) is phase


def test_status_times_and_message() -> None:
    status = m.launch_status(
        _rayjob(
            "Complete",
            "FAILED",
            reason="AppFailed",
            message="exit code 1",
            startTime="2026-05-01T10:00:00Z",
            rayJobInfo={"startTime": "2026-05-01T10:01:00Z", "endTime": "2026-05-01T10:05:00Z"},
        )
    )
    assert status.phase is LaunchPhase.FAILED
    assert status.message == "AppFailed; exit code 1"
    assert status.started_at == datetime(2026, 5, 1, 10, 1, tzinfo=UTC)
    assert status.ended_at == datetime(2026, 5, 1, 10, 5, tzinfo=UTC)
    pending = m.launch_status(_rayjob("Initializing", startTime="2026-05-01T10:00:00Z"))
    assert pending.started_at is None and pending.ended_at is None


def test_kueue_objects_mirror_the_portal_quotas() -> None:
    quotas = {"org-1": {"H100-80G": m.OrgQuota(4, 2, 1), "Ascend-910B": m.OrgQuota(8, 0, 0)}}
    objects = m.kueue_objects(FLAVOURS, quotas, namespace_prefix="aicommons-", queue_name="aicommons")
    kinds = [(o["kind"], o["metadata"]["name"]) for o in objects]
    assert kinds == [
        ("ResourceFlavor", "a100-40g"),
        ("ResourceFlavor", "ascend-910b"),
        ("ResourceFlavor", "h100-80g"),
        ("ClusterQueue", "aicommons-org-1"),
        ("LocalQueue", "aicommons"),
    ]
    h100 = objects[2]["spec"]
    assert h100 == {
        "nodeLabels": {"nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3"},
        "tolerations": [TOLERATION],
    }
    queue = objects[3]["spec"]
    assert queue["cohort"] == "aicommons"
    assert queue["namespaceSelector"] == {"matchLabels": {m.ORG_LABEL: "org-1"}}
    assert queue["resourceGroups"] == [
        {
            "coveredResources": ["huawei.com/Ascend910"],
            "flavors": [
                {
                    "name": "ascend-910b",
                    "resources": [
                        {
                            "name": "huawei.com/Ascend910",
                            "nominalQuota": 8,
                            "borrowingLimit": 0,
                            "lendingLimit": 0,
                        }
                    ],
                }
            ],
        },
        {
            "coveredResources": ["nvidia.com/gpu"],
            "flavors": [
                {
                    "name": "h100-80g",
                    "resources": [
                        {"name": "nvidia.com/gpu", "nominalQuota": 4, "borrowingLimit": 2, "lendingLimit": 1}
                    ],
                }
            ],
        },
    ]
    assert objects[4]["metadata"]["namespace"] == "aicommons-org-1"
    assert objects[4]["spec"] == {"clusterQueue": "aicommons-org-1"}


def test_presign_matches_the_aws_documentation_example() -> None:
    # "Authenticating Requests: Using Query Parameters (AWS Signature Version 4)", example GET.
    url = presign(
        "GET",
        "https://examplebucket.s3.amazonaws.com",
        "/test.txt",
        access_key="AKIAIOSFODNN7EXAMPLE",
        secret_key="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        region="us-east-1",
        expires_s=86400,
        now=datetime(2013, 5, 24, tzinfo=UTC),
    )
    assert url.endswith("X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404")
    assert url.startswith("https://examplebucket.s3.amazonaws.com/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256")


def test_registry_creates_a_kuberay_launcher_from_settings(tmp_path: Path) -> None:
    assert "kuberay" in registry.available()
    missing = Settings(kuberay_kubeconfig=str(tmp_path / "missing"))
    with pytest.raises(LauncherError) as caught:
        registry.create("kuberay", settings=missing)
    assert caught.value.code == "launcher.bad_option"
    kubeconfig = tmp_path / "config"
    kubeconfig.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:1"}}],
                "users": [{"name": "u", "user": {"token": "t"}}],
                "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "x",
            }
        )
    )
    settings = Settings(
        kuberay_kubeconfig=str(kubeconfig), kuberay_flavours={"H100-80G": {"resource": "nvidia.com/gpu"}}
    )
    launcher = registry.create("kuberay", settings=settings)
    assert launcher.name == "kuberay"
    assert launcher.flavours["H100-80G"].resource == "nvidia.com/gpu"  # type: ignore[attr-defined]
