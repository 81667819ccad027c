"""The KubeRay launcher against a real kube-apiserver + etcd with the KubeRay CRDs (no kubelet, no
operator: tests/fixtures/kube_apiserver.py) and real MinIO for working directories.

Where the operator would act, the test acts as it would: it patches the RayJob's status
subresource (jobDeploymentStatus, jobStatus), and the ResourceQuota's status as the quota
controller would, so that quota admission can be exercised.
"""

from __future__ import annotations

import base64
import json
import secrets
import subprocess
import zipfile
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from aicommons.scheduler.launchers import kuberay_manifests as m
from aicommons.scheduler.launchers.base import LauncherError, LaunchPhase, LaunchSpec
from aicommons.scheduler.launchers.kuberay import KubeRayLauncher
from aicommons.scheduler.launchers.kuberay_workdir import WorkdirStore
from tests.fixtures.kube_apiserver import REPO, KubeApiServer
from tests.fixtures.services import S3Service

CHART = REPO / "charts" / "aicommons"
KUBE_VERSION = "1.34.4"  # the test API server's (infra/lib/kube.sh); the chart requires >= 1.27
FLAVOURS = {
    "H100-80G": {
        "resource": "nvidia.com/gpu",
        "node_selector": {"nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3"},
        "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
    },
    "A100-40G": {"resource": "nvidia.com/gpu", "node_selector": {"nvidia.com/gpu.product": "A100"}},
    "Ascend-910B": {"resource": "huawei.com/Ascend910", "node_selector": {"accelerator": "ascend-910b"}},
}


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    path = tmp_path / f"{secrets.token_hex(16)}.zip"
    with zipfile.ZipFile(path, "w") as zipped:
        zipped.writestr("train.py", "print('hello from the cluster')\n")
    return path


@pytest.fixture
def launcher(kube_apiserver: KubeApiServer, s3_service: S3Service) -> KubeRayLauncher:
    store = WorkdirStore(
        s3_service.endpoint,
        s3_service.access_key,
        s3_service.secret_key,
        bucket="aicommons-test-workdirs",
        region=s3_service.region,
    )
    options = m.RayJobOptions(image="rayproject/ray:2.49.0", ttl_after_finished_s=300, stop_grace_s=7)
    return KubeRayLauncher(
        kube_apiserver.client(), options=options, flavours=m.parse_flavours(FLAVOURS), workdirs=store
    )


@pytest.fixture
def org() -> str:
    return f"org-{secrets.token_hex(4)}"  # a fresh namespace per test


def _spec(org: str, archive: Path | None, **changes: Any) -> LaunchSpec:
    job_id = changes.pop("job_id", f"{secrets.token_hex(4)}-{secrets.token_hex(2)}")
    values: dict[str, Any] = {
        "job_id": job_id,
        "entrypoint": "python train.py --epochs 2",
        "working_dir": archive,
        "pip": ("numpy",),
        "env": {"AICOMMONS_JOB_ID": job_id, "AICOMMONS_ATTEMPT": "1"},
        "flavour": "H100-80G",
        "gpus_per_worker": 2,
        "workers": 2,
        "cpus": 1.0,
        "memory_bytes": 1024**3,
        "time_limit_s": 1800,
        "org": org,
        "org_quota_gpus": {"H100-80G": 4, "A100-40G": 2, "Ascend-910B": 8},
    }
    return LaunchSpec(**{**values, **changes})


def _rayjob(api: Any, org: str, job_id: str) -> dict[str, Any]:
    custom = client.CustomObjectsApi(api)
    return dict(
        custom.get_namespaced_custom_object("ray.io", "v1", f"aicommons-{org}", "rayjobs", f"job-{job_id}")
    )


def _operator_sets(api: Any, org: str, job_id: str, **status: Any) -> None:
    """What KubeRay would write into the RayJob's status subresource."""
    custom = client.CustomObjectsApi(api)
    custom.patch_namespaced_custom_object_status(
        "ray.io", "v1", f"aicommons-{org}", "rayjobs", f"job-{job_id}", {"status": status}
    )


def test_submit_creates_the_organisations_namespace_with_quota_limits_and_isolation(
    launcher: KubeRayLauncher, kube_apiserver: KubeApiServer, org: str, archive: Path
) -> None:
    launcher.submit(_spec(org, archive))
    core = client.CoreV1Api(kube_apiserver.client())
    ns = f"aicommons-{org}"
    labels = core.read_namespace(ns).metadata.labels
    assert labels[m.ORG_LABEL] == org and labels["app.kubernetes.io/managed-by"] == "aicommons"
    quota = core.read_namespaced_resource_quota(m.QUOTA_NAME, ns)
    # H100 and A100 share nvidia.com/gpu: 4 + 2.
    assert quota.spec.hard == {"requests.nvidia.com/gpu": "6", "requests.huawei.com/Ascend910": "8"}
    limits = core.read_namespaced_limit_range(m.LIMITS_NAME, ns).spec.limits
    assert limits[0].type == "Container" and limits[0].max == {
        "nvidia.com/gpu": "6",
        "huawei.com/Ascend910": "8",
    }
    policy = client.NetworkingV1Api(kube_apiserver.client()).read_namespaced_network_policy(
        m.NETWORK_POLICY_NAME, ns
    )
    assert policy.spec.policy_types == ["Ingress"]
    assert policy.spec.ingress[0]._from[0].pod_selector.to_dict() == {
        "match_expressions": None,
        "match_labels": None,
    }


def test_a_changed_portal_quota_reaches_the_namespace(
    launcher: KubeRayLauncher, kube_apiserver: KubeApiServer, org: str
) -> None:
    launcher.submit(_spec(org, None))
    launcher.submit(_spec(org, None, org_quota_gpus={"H100-80G": 10}))
    hard = client.CoreV1Api(kube_apiserver.client()).read_namespaced_resource_quota(
        m.QUOTA_NAME, f"aicommons-{org}"
    )
    assert hard.spec.hard == {"requests.nvidia.com/gpu": "10"}


def test_the_api_server_enforces_the_quota_and_the_limits(
    launcher: KubeRayLauncher, kube_apiserver: KubeApiServer, org: str
) -> None:
    ns = launcher.ensure_namespace(org, {"H100-80G": 4})
    core = client.CoreV1Api(kube_apiserver.client())
    # The quota controller (not running here) would publish this; admission needs it.
    core.patch_namespaced_resource_quota_status(
        m.QUOTA_NAME,
        ns,
        {"status": {"hard": {"requests.nvidia.com/gpu": "4"}, "used": {"requests.nvidia.com/gpu": "0"}}},
    )

    def pod(gpus: int) -> dict[str, Any]:
        resources = {"requests": {"nvidia.com/gpu": str(gpus)}, "limits": {"nvidia.com/gpu": str(gpus)}}
        container = {"name": "c", "image": "busybox", "resources": resources}
        return {"metadata": {"generateName": "p-"}, "spec": {"containers": [container]}}

    # A container that asks for no device gets none (not the LimitRange's max) and passes the quota.
    no_device = {"name": "c", "image": "busybox"}
    cpu_only = {"metadata": {"generateName": "cpu-"}, "spec": {"containers": [no_device]}}
    created = core.create_namespaced_pod(ns, cpu_only).spec.containers[0].resources
    assert created.limits == {"nvidia.com/gpu": "0"} and created.requests == {"nvidia.com/gpu": "0"}
    core.create_namespaced_pod(ns, pod(4))
    with pytest.raises(ApiException) as over_quota:
        core.create_namespaced_pod(ns, pod(4))
    assert over_quota.value.status == 403 and "exceeded quota" in over_quota.value.body
    with pytest.raises(ApiException) as over_limit:
        core.create_namespaced_pod(ns, pod(5))
    assert over_limit.value.status == 403 and "maximum" in over_limit.value.body


SECRETS = {"MLFLOW_TRACKING_TOKEN": "tok-attempt-1", "AWS_SECRET_ACCESS_KEY": "key-attempt-1"}


def _env_secret(api: Any, org: str, spec: LaunchSpec) -> Any:
    name = m.env_secret_name(spec)
    assert name is not None
    return client.CoreV1Api(api).read_namespaced_secret(name, f"aicommons-{org}")


def _secret_refs(body: dict[str, Any]) -> list[Any]:
    cluster = body["spec"]["rayClusterSpec"]
    pods = [cluster["headGroupSpec"]] + cluster["workerGroupSpecs"]
    return [p["template"]["spec"]["containers"][0].get("envFrom") for p in pods]


def test_the_rayjob_carries_the_jobs_resources_placement_deadline_and_environment(
    launcher: KubeRayLauncher, kube_apiserver: KubeApiServer, org: str, archive: Path
) -> None:
    spec = _spec(org, archive, secrets=SECRETS)
    launcher.submit(spec)
    body = _rayjob(kube_apiserver.client(), org, spec.job_id)
    assert body["metadata"]["labels"][m.JOB_LABEL] == spec.job_id
    job = body["spec"]
    assert job["submissionMode"] == "K8sJobMode" and job["shutdownAfterJobFinishes"] is True
    assert job["ttlSecondsAfterFinished"] == 300
    assert job["activeDeadlineSeconds"] == 1800 + 7 + m.DEADLINE_STARTUP_ALLOWANCE_S
    [workers] = job["rayClusterSpec"]["workerGroupSpecs"]
    assert workers["replicas"] == 2
    pod = workers["template"]["spec"]
    assert pod["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == "2"
    assert pod["nodeSelector"] == {"nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3"}
    assert pod["tolerations"][0]["key"] == "nvidia.com/gpu"
    runtime = json.loads(job["runtimeEnvYAML"])
    assert runtime["env_vars"]["AICOMMONS_JOB_ID"] == spec.job_id and runtime["pip"] == ["numpy"]
    # Tokens and keys are not in the RayJob (anyone who may read RayJobs would see them) but in a
    # Secret owned by it, which every Ray pod takes its environment from.
    assert "tok-attempt-1" not in json.dumps(body) and "key-attempt-1" not in json.dumps(body)
    secret = _env_secret(kube_apiserver.client(), org, spec)
    assert {k: base64.b64decode(v).decode() for k, v in secret.data.items()} == SECRETS
    [owner] = secret.metadata.owner_references
    assert (owner.kind, owner.name, owner.uid) == ("RayJob", f"job-{spec.job_id}", body["metadata"]["uid"])
    assert secret.metadata.labels[m.JOB_LABEL] == spec.job_id
    ref = [{"secretRef": {"name": secret.metadata.name}}]
    assert _secret_refs(body) == [ref, ref]
    # The working directory is fetchable by anyone holding the URL (a Ray pod), and is the archive.
    fetched = httpx.get(runtime["working_dir"], timeout=30)
    assert fetched.status_code == 200 and fetched.content == archive.read_bytes()
    assert httpx.get(runtime["working_dir"].split("?")[0], timeout=30).status_code == 403  # not public


def test_submit_twice_is_one_rayjob(
    launcher: KubeRayLauncher, kube_apiserver: KubeApiServer, org: str
) -> None:
    spec = _spec(org, None, secrets=SECRETS)
    launcher.submit(spec)
    first = _rayjob(kube_apiserver.client(), org, spec.job_id)["metadata"]
    launcher.submit(spec)
    second = _rayjob(kube_apiserver.client(), org, spec.job_id)["metadata"]
    assert (second["uid"], second["resourceVersion"]) == (first["uid"], first["resourceVersion"])
    found = client.CustomObjectsApi(kube_apiserver.client()).list_namespaced_custom_object(
        "ray.io", "v1", f"aicommons-{org}", "rayjobs"
    )
    assert len(found["items"]) == 1
    secrets_of_job = client.CoreV1Api(kube_apiserver.client()).list_namespaced_secret(
        f"aicommons-{org}", label_selector=f"{m.JOB_LABEL}={spec.job_id}"
    )
    assert len(secrets_of_job.items) == 1


def test_a_submit_repeated_after_a_crash_fills_the_secret_the_rayjob_waits_for(
    launcher: KubeRayLauncher, kube_apiserver: KubeApiServer, org: str
) -> None:
    """The crash came between the RayJob and its Secret; the repeated submit minted new tokens."""
    first = _spec(org, None, secrets=SECRETS)
    ns = launcher.ensure_namespace(org, first.org_quota_gpus)
    body = m.rayjob(first, ns, launcher.options, launcher.flavours, None)
    client.CustomObjectsApi(kube_apiserver.client()).create_namespaced_custom_object(
        "ray.io", "v1", ns, "rayjobs", body
    )
    launcher.submit(replace(first, secrets={**SECRETS, "MLFLOW_TRACKING_TOKEN": "tok-minted-again"}))
    secret = _env_secret(kube_apiserver.client(), org, first)  # the name the RayJob refers to
    assert base64.b64decode(secret.data["MLFLOW_TRACKING_TOKEN"]).decode() == "tok-minted-again"
    listed = client.CoreV1Api(kube_apiserver.client()).list_namespaced_secret(
        ns, label_selector=f"{m.JOB_LABEL}={first.job_id}"
    )
    assert [s.metadata.name for s in listed.items] == [secret.metadata.name]


def test_status_follows_what_kuberay_reports(
    launcher: KubeRayLauncher, kube_apiserver: KubeApiServer, org: str
) -> None:
    spec = _spec(org, None)
    assert launcher.status(spec.job_id).phase is LaunchPhase.MISSING
    launcher.submit(spec)
    api = kube_apiserver.client()
    assert launcher.status(spec.job_id).phase is LaunchPhase.PENDING  # no status yet
    _operator_sets(api, org, spec.job_id, jobDeploymentStatus="Initializing")
    assert launcher.status(spec.job_id).phase is LaunchPhase.PENDING
    _operator_sets(
        api,
        org,
        spec.job_id,
        jobDeploymentStatus="Running",
        jobStatus="RUNNING",
        startTime="2026-05-01T10:00:00Z",
        rayJobInfo={"startTime": "2026-05-01T10:00:30Z"},
    )
    running = launcher.status(spec.job_id)
    assert running.phase is LaunchPhase.RUNNING and running.started_at is not None
    assert running.started_at.isoformat() == "2026-05-01T10:00:30+00:00"
    _operator_sets(
        api,
        org,
        spec.job_id,
        jobDeploymentStatus="Complete",
        jobStatus="FAILED",
        message="Job entrypoint command failed with exit code 1",
        endTime="2026-05-01T10:05:00Z",
    )
    failed = launcher.status(spec.job_id)
    assert failed.phase is LaunchPhase.FAILED and "exit code 1" in (failed.message or "")
    assert failed.ended_at is not None and failed.ended_at.isoformat() == "2026-05-01T10:05:00+00:00"
    launcher.stop(spec.job_id, 5)  # an ended job: nothing to do
    assert _rayjob(api, org, spec.job_id)["spec"]["suspend"] is False


def test_stop_suspends_and_a_preempted_job_resumes_as_its_next_attempt(
    launcher: KubeRayLauncher, kube_apiserver: KubeApiServer, org: str
) -> None:
    spec = _spec(org, None, secrets=SECRETS)
    launcher.submit(spec)
    api = kube_apiserver.client()
    _operator_sets(api, org, spec.job_id, jobDeploymentStatus="Running", jobStatus="RUNNING")
    launcher.stop(spec.job_id, 5)
    body = _rayjob(api, org, spec.job_id)
    assert body["spec"]["suspend"] is True and m.STOP_ANNOTATION in body["metadata"]["annotations"]
    assert launcher.status(spec.job_id).phase is LaunchPhase.RUNNING  # until KubeRay tears it down
    _operator_sets(api, org, spec.job_id, jobDeploymentStatus="Suspended", jobStatus="STOPPED")
    assert launcher.status(spec.job_id).phase is LaunchPhase.STOPPED
    # Requeued after preemption: the same job id, the next attempt.
    attempt2 = _spec(
        org,
        None,
        job_id=spec.job_id,
        env={"AICOMMONS_JOB_ID": spec.job_id, "AICOMMONS_ATTEMPT": "2"},
        secrets={**SECRETS, "MLFLOW_TRACKING_TOKEN": "tok-attempt-2"},
    )
    launcher.submit(attempt2)
    body = _rayjob(api, org, spec.job_id)
    assert body["spec"]["suspend"] is False
    assert m.STOP_ANNOTATION not in (body["metadata"].get("annotations") or {})
    assert json.loads(body["spec"]["runtimeEnvYAML"])["env_vars"]["AICOMMONS_ATTEMPT"] == "2"
    # The new attempt's fresh token, in a Secret of its own that the pods now read.
    renewed = _env_secret(api, org, attempt2)
    assert base64.b64decode(renewed.data["MLFLOW_TRACKING_TOKEN"]).decode() == "tok-attempt-2"
    assert renewed.metadata.name != _env_secret(api, org, spec).metadata.name
    assert renewed.metadata.owner_references[0].uid == body["metadata"]["uid"]
    assert _secret_refs(body)[0] == [{"secretRef": {"name": renewed.metadata.name}}]
    # KubeRay has not seen the resume yet: waiting, not stopped.
    assert launcher.status(spec.job_id).phase is LaunchPhase.PENDING
    launcher.stop("never-submitted", 5)  # unknown: no error


def test_logs_come_from_the_submitter_pod(
    launcher: KubeRayLauncher, kube_apiserver: KubeApiServer, org: str
) -> None:
    with pytest.raises(LauncherError) as missing:
        launcher.logs("never-submitted")
    assert missing.value.code == "launcher.job_missing"
    spec = _spec(org, None)
    launcher.submit(spec)
    with pytest.raises(LauncherError) as no_pod:
        launcher.logs(spec.job_id)
    assert no_pod.value.code == "launcher.kuberay_no_submitter"
    # The submitter Job's pod, as the Job controller would create it. With no kubelet it never
    # starts: the API server answers an empty log (a client's None, which must not read "None").
    core = client.CoreV1Api(kube_apiserver.client())
    labels = {"batch.kubernetes.io/job-name": f"job-{spec.job_id}"}
    container = {"name": "ray-job-submitter", "image": "rayproject/ray:2.49.0"}
    pod = {
        "metadata": {"name": f"job-{spec.job_id}-abcde", "labels": labels},
        "spec": {"containers": [container]},
    }
    core.create_namespaced_pod(f"aicommons-{org}", pod)
    assert launcher.logs(spec.job_id) == ""
    # Refused by the API server (here: the pod is gone between lookup and read): a coded error.
    core.delete_namespaced_pod(f"job-{spec.job_id}-abcde", f"aicommons-{org}", grace_period_seconds=0)
    with pytest.raises(LauncherError) as gone:
        launcher.logs(spec.job_id)
    assert gone.value.code in ("launcher.kuberay_no_submitter", "launcher.logs_failed")


def test_the_rayjob_schema_refuses_what_kuberay_would_not_understand(
    launcher: KubeRayLauncher, kube_apiserver: KubeApiServer, org: str
) -> None:
    ns = launcher.ensure_namespace(org, None)
    body = m.rayjob(_spec(org, None), ns, launcher.options, launcher.flavours, None)
    body["spec"]["submissionModus"] = "typo"
    with pytest.raises(ApiException) as refused:
        client.CustomObjectsApi(kube_apiserver.client()).create_namespaced_custom_object(
            "ray.io", "v1", ns, "rayjobs", body, field_validation="Strict"
        )
    assert (
        refused.value.status == 400
        and "unknown field" in refused.value.body
        and "spec.submissionModus" in refused.value.body
    )


# --- the chart's RBAC ---------------------------------------------------------------------------


def _helm_template(server: KubeApiServer, release: str, namespace: str, *extra: str) -> str:
    command = [str(server.helm), "template", release, str(CHART), "--namespace", namespace]
    command += ["--kube-version", KUBE_VERSION, *extra]
    return subprocess.run(command, capture_output=True, text=True, check=True, timeout=60).stdout


@pytest.fixture(scope="module")
def launcher_token(kube_apiserver: KubeApiServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The chart's ServiceAccount and launcher ClusterRole applied to the server; a token for it."""
    if not kube_apiserver.helm.exists():
        pytest.fail(f"helm is missing at {kube_apiserver.helm}: run infra/k8s.sh tools")
    rendered = _helm_template(
        kube_apiserver, "rbac-test", "aicommons-platform", "--show-only", "templates/rbac.yaml"
    )
    manifest = tmp_path_factory.mktemp("rbac") / "rbac.yaml"
    manifest.write_text(rendered)
    core = client.CoreV1Api(kube_apiserver.client())
    try:
        core.create_namespace({"metadata": {"name": "aicommons-platform"}})
    except ApiException as exc:
        assert exc.status == 409
    applied = kube_apiserver.apply(manifest, namespace="aicommons-platform")
    assert applied.returncode == 0, applied.stderr
    account = "rbac-test-aicommons"
    token = core.create_namespaced_service_account_token(
        account, "aicommons-platform", {"spec": {"expirationSeconds": 3600}}
    )
    yield token.status.token


def test_the_charts_rbac_lets_the_launcher_work_and_read_no_secrets(
    kube_apiserver: KubeApiServer, launcher_token: str, org: str
) -> None:
    api = kube_apiserver.client_with_token(launcher_token)
    options = m.RayJobOptions(image="rayproject/ray:2.49.0")
    launcher = KubeRayLauncher(api, options=options, flavours=m.parse_flavours(FLAVOURS))
    spec = _spec(org, None, secrets=SECRETS)
    launcher.submit(spec)  # namespace, quota, limits, policy, RayJob, the run's Secret
    assert launcher.status(spec.job_id).phase is LaunchPhase.PENDING
    assert _env_secret(kube_apiserver.client(), org, spec).metadata.owner_references
    launcher.stop(spec.job_id, 5)
    with pytest.raises(LauncherError) as no_pod:
        launcher.logs(spec.job_id)
    assert no_pod.value.code == "launcher.kuberay_no_submitter"  # listing pods is allowed
    ns = f"aicommons-{org}"
    client.CoreV1Api(kube_apiserver.client()).create_namespaced_secret(
        ns, {"metadata": {"name": "tenant-credentials"}, "stringData": {"key": "s3cr3t"}}
    )
    core = client.CoreV1Api(api)
    own = m.env_secret_name(spec) or ""
    for forbidden in (
        lambda: core.read_namespaced_secret("tenant-credentials", ns),
        lambda: core.read_namespaced_secret(own, ns),  # not even the Secrets it created
        lambda: core.patch_namespaced_secret("tenant-credentials", ns, {"stringData": {"key": "x"}}),
        lambda: core.list_secret_for_all_namespaces(),
        lambda: core.delete_namespace(ns),
        lambda: core.connect_get_namespaced_pod_exec("x", ns, command=["sh"]),
    ):
        with pytest.raises(ApiException) as refused:
            forbidden()
        assert refused.value.status == 403


def test_the_rendered_chart_passes_a_server_side_dry_run(
    kube_apiserver: KubeApiServer, tmp_path: Path
) -> None:
    core = client.CoreV1Api(kube_apiserver.client())
    try:
        core.create_namespace({"metadata": {"name": "aicommons"}})
    except ApiException as exc:
        assert exc.status == 409
    rendered = _helm_template(kube_apiserver, "aicommons", "aicommons")
    manifest = tmp_path / "chart.yaml"
    manifest.write_text(rendered)
    checked = kube_apiserver.apply(manifest, dry_run=True, namespace="aicommons")
    assert checked.returncode == 0, checked.stderr
    assert "refused" in checked.stdout and " 0 refused" in checked.stdout
    # The check has teeth: a typo in a Deployment is refused.
    manifest.write_text(rendered.replace("terminationGracePeriodSeconds", "terminationGraceSeconds", 1))
    assert kube_apiserver.apply(manifest, dry_run=True, namespace="aicommons").returncode == 1
