"""Kubernetes objects of the KubeRay launcher, as plain dicts: pure functions, no client, no I/O.

One organisation, one namespace (`<prefix><organisation id>`), holding:
- a ResourceQuota that caps the organisation's device requests at its portal quota (guaranteed +
  borrowing limit, summed over the flavours that share a device resource such as nvidia.com/gpu),
- a LimitRange that keeps one container from asking for more than that,
- a NetworkPolicy that admits traffic only from the namespace itself (organisations cannot reach
  each other's Ray clusters), and
- one RayJob (ray.io/v1) per job, named `job-<job id>`, and
- per run of a job with secret variables (tokens, dataset credentials), a Secret owned by its RayJob
  (deleted with it) that the Ray pods take their values from: they are not in the RayJob's runtime
  environment, where anyone who may read RayJobs would see them. Its name carries a digest of the
  values, so each attempt (new tokens) gets its own; a submit repeated after a crash writes to the
  one its stored RayJob refers to.

A flavour maps to a device resource, node selectors and tolerations through `kuberay_flavours`
(Settings), e.g. {"H100-80G": {"resource": "nvidia.com/gpu",
"node_selector": {"nvidia.com/gpu.product": "H100-80GB"}, "tolerations": [...]}}.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .base import LauncherError, LaunchPhase, LaunchSpec, LaunchStatus

GROUP, VERSION, PLURAL = "ray.io", "v1", "rayjobs"
MANAGED_BY = {"app.kubernetes.io/managed-by": "aicommons"}
ORG_LABEL = "aicommons.io/org"
JOB_LABEL = "aicommons.io/job-id"
# Set by stop(): a suspended RayJob carrying it was stopped by the platform (not queued by Kueue).
STOP_ANNOTATION = "aicommons.io/stop-requested"
KUEUE_QUEUE_LABEL = "kueue.x-k8s.io/queue-name"
QUOTA_NAME = "aicommons-quota"
LIMITS_NAME = "aicommons-limits"
NETWORK_POLICY_NAME = "aicommons-isolation"
# activeDeadlineSeconds counts from the RayJob's start, cluster start-up included: the reconcile
# loop enforces the time limit itself, the deadline is a backstop that leaves room for start-up.
DEADLINE_STARTUP_ALLOWANCE_S = 600
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
NAME = "kuberay"


@dataclass(frozen=True)
class Flavour:
    """How one portal flavour lands on Kubernetes nodes."""

    resource: str | None = None  # the device resource, e.g. "nvidia.com/gpu", "huawei.com/Ascend910"
    node_selector: Mapping[str, str] = field(default_factory=dict)
    tolerations: tuple[Mapping[str, Any], ...] = ()


def parse_flavours(raw: Mapping[str, Mapping[str, Any]]) -> dict[str, Flavour]:
    """`kuberay_flavours` from Settings; a malformed entry is a configuration error."""
    flavours = {}
    for name, entry in raw.items():
        try:
            selector = {str(k): str(v) for k, v in dict(entry.get("node_selector") or {}).items()}
            tolerations = tuple(dict(t) for t in entry.get("tolerations") or ())
            resource = entry.get("resource")
            flavours[name] = Flavour(str(resource) if resource else None, selector, tolerations)
        except (TypeError, ValueError, AttributeError) as exc:
            detail = f"kuberay_flavours[{name!r}] is malformed: {exc}"
            raise LauncherError("launcher.bad_option", name=NAME, detail=detail) from exc
    return flavours


def dns_label(value: str, what: str) -> str:
    name = value.lower()
    if len(name) > 63 or not _DNS_LABEL.match(name):
        detail = f"{what} {value!r} is not a valid Kubernetes name"
        raise LauncherError("launcher.bad_option", name=NAME, detail=detail)
    return name


def namespace_name(prefix: str, org: str) -> str:
    return dns_label(f"{prefix}{org}", "namespace")


def rayjob_name(job_id: str) -> str:
    return dns_label(f"job-{job_id}", "RayJob name")


# --- the organisation's namespace ---------------------------------------------------------------


def namespace(name: str, org: str) -> dict[str, Any]:
    labels = {**MANAGED_BY, ORG_LABEL: org}
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}


def device_limits(quota_gpus: Mapping[str, int], flavours: Mapping[str, Flavour]) -> dict[str, int]:
    """Device resource -> the most of it the organisation may hold at once, over all its flavours."""
    limits: dict[str, int] = {}
    for flavour_name, gpus in sorted(quota_gpus.items()):
        resource = flavours.get(flavour_name, Flavour()).resource
        if resource:
            limits[resource] = limits.get(resource, 0) + max(int(gpus), 0)
    return limits


def resource_quota(ns: str, limits: Mapping[str, int]) -> dict[str, Any]:
    # Extended resources can only be quota'd on requests (they cannot be overcommitted anyway).
    hard = {f"requests.{resource}": str(count) for resource, count in sorted(limits.items())}
    metadata = {"name": QUOTA_NAME, "namespace": ns, "labels": dict(MANAGED_BY)}
    return {"apiVersion": "v1", "kind": "ResourceQuota", "metadata": metadata, "spec": {"hard": hard}}


def limit_range(ns: str, limits: Mapping[str, int]) -> dict[str, Any]:
    maximum = {resource: str(count) for resource, count in sorted(limits.items()) if count > 0}
    metadata = {"name": LIMITS_NAME, "namespace": ns, "labels": dict(MANAGED_BY)}
    item: dict[str, Any] = {"type": "Container"}
    if maximum:
        item["max"] = maximum
        # Without explicit defaults Kubernetes defaults a container's limit to `max`: every container
        # that asks for no device (the Ray head) would then be given the organisation's whole quota.
        item["default"] = {resource: "0" for resource in maximum}
        item["defaultRequest"] = {resource: "0" for resource in maximum}
    return {"apiVersion": "v1", "kind": "LimitRange", "metadata": metadata, "spec": {"limits": [item]}}


def network_policy(ns: str) -> dict[str, Any]:
    """Ingress only from pods of the same namespace; egress stays open (MLflow, S3, pip)."""
    metadata = {"name": NETWORK_POLICY_NAME, "namespace": ns, "labels": dict(MANAGED_BY)}
    spec = {"podSelector": {}, "policyTypes": ["Ingress"], "ingress": [{"from": [{"podSelector": {}}]}]}
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": metadata, "spec": spec}


# --- the RayJob ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class RayJobOptions:
    image: str
    ttl_after_finished_s: int = 3600
    stop_grace_s: float = 10.0
    kueue_queue: str | None = None


def runtime_env(spec: LaunchSpec, working_dir_url: str | None) -> dict[str, Any]:
    env: dict[str, Any] = {"env_vars": dict(spec.env)}
    if working_dir_url:
        env["working_dir"] = working_dir_url
    if spec.pip:
        env["pip"] = list(spec.pip)
    return env


def env_secret_name(spec: LaunchSpec) -> str | None:
    """The Secret holding the run's secret variables (None: it has none)."""
    if not spec.secrets:
        return None
    digest = hashlib.sha256(json.dumps(sorted(spec.secrets.items())).encode()).hexdigest()[:10]
    return dns_label(f"{rayjob_name(spec.job_id)}-env-{digest}", "Secret name")


def referenced_secret(rayjob_obj: Mapping[str, Any]) -> str | None:
    """The Secret a RayJob's pods take their environment from (None: none)."""
    head = rayjob_obj["spec"]["rayClusterSpec"]["headGroupSpec"]["template"]["spec"]["containers"][0]
    for source in head.get("envFrom") or ():
        name = (source.get("secretRef") or {}).get("name")
        if name:
            return str(name)
    return None


def env_secret(spec: LaunchSpec, ns: str, owner: Mapping[str, Any]) -> dict[str, Any] | None:
    """The run's secret variables, under the name its RayJob ``owner`` (as the API server holds it)
    refers to, owned by it; None when it refers to none. A submit repeated after a crash mints new
    tokens: they go to the Secret the stored RayJob waits for, not to one that nothing reads."""
    name = referenced_secret(owner)
    if name is None or not spec.secrets:
        return None
    meta = owner["metadata"]
    reference = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "RayJob",
        "name": meta["name"],
        "uid": meta["uid"],
    }
    metadata = {
        "name": name,
        "namespace": ns,
        "labels": {**MANAGED_BY, JOB_LABEL: spec.job_id},
        "ownerReferences": [reference],
    }
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "Opaque",
        "metadata": metadata,
        "stringData": dict(spec.secrets),
    }


def _resources(cpus: float, memory_bytes: int | None, device: str | None, count: int) -> dict[str, Any]:
    amounts: dict[str, str] = {"cpu": f"{max(cpus, 0.1):g}"}
    if memory_bytes:
        amounts["memory"] = str(int(memory_bytes))
    if device and count > 0:
        amounts[device] = str(count)
    return {"requests": dict(amounts), "limits": dict(amounts)}


def _pod_template(container: dict[str, Any], grace_s: float, flavour: Flavour | None) -> dict[str, Any]:
    pod: dict[str, Any] = {"containers": [container], "terminationGracePeriodSeconds": int(grace_s)}
    if flavour is not None and flavour.node_selector:
        pod["nodeSelector"] = dict(flavour.node_selector)
    if flavour is not None and flavour.tolerations:
        pod["tolerations"] = [dict(t) for t in flavour.tolerations]
    return {"metadata": {"labels": dict(MANAGED_BY)}, "spec": pod}


def rayjob(
    spec: LaunchSpec,
    ns: str,
    options: RayJobOptions,
    flavours: Mapping[str, Flavour],
    working_dir_url: str | None,
) -> dict[str, Any]:
    """The RayJob for one job: the entrypoint runs on the head (its CPUs and memory); the job's
    accelerators are `workers` worker pods with `gpus_per_worker` devices each, admitted at once."""
    flavour = flavours.get(spec.flavour or "") if spec.flavour else None
    device = flavour.resource if flavour else None
    secret = env_secret_name(spec)
    # Ray's processes (the entrypoint's driver, tasks, actors) inherit their pod's environment.
    from_secret = {"envFrom": [{"secretRef": {"name": secret}}]} if secret else {}
    head = {
        "name": "ray-head",
        "image": options.image,
        "resources": _resources(spec.cpus, spec.memory_bytes, None, 0),
        **from_secret,
    }
    cluster: dict[str, Any] = {
        "headGroupSpec": {
            "rayStartParams": {"dashboard-host": "0.0.0.0"},
            "template": _pod_template(head, options.stop_grace_s, None),
        },
        "workerGroupSpecs": [],
    }
    if spec.total_gpus > 0:
        worker = {
            "name": "ray-worker",
            "image": options.image,
            "resources": _resources(1, None, device, spec.gpus_per_worker),
            **from_secret,
        }
        # The flavour is also a Ray custom resource, as on the local Ray launcher, so job code that
        # asks Ray for {"<flavour>": n} works on both.
        start_params = {"resources": json.dumps({spec.flavour: spec.gpus_per_worker})} if spec.flavour else {}
        cluster["workerGroupSpecs"].append(
            {
                "groupName": "workers",
                "replicas": spec.workers,
                "minReplicas": spec.workers,
                "maxReplicas": spec.workers,
                "rayStartParams": start_params,
                "template": _pod_template(worker, options.stop_grace_s, flavour),
            }
        )
    labels = {**MANAGED_BY, JOB_LABEL: spec.job_id}
    if spec.org:
        labels[ORG_LABEL] = spec.org
    if options.kueue_queue:
        labels[KUEUE_QUEUE_LABEL] = options.kueue_queue
    annotations = {
        "aicommons.io/flavour": spec.flavour or "",
        "aicommons.io/time-limit-s": str(spec.time_limit_s),
    }
    body_spec: dict[str, Any] = {
        "entrypoint": spec.entrypoint,
        "submissionMode": "K8sJobMode",
        "shutdownAfterJobFinishes": True,
        "ttlSecondsAfterFinished": options.ttl_after_finished_s,
        "activeDeadlineSeconds": spec.time_limit_s + int(options.stop_grace_s) + DEADLINE_STARTUP_ALLOWANCE_S,
        # JSON is YAML: Ray parses this string as the job's runtime environment.
        "runtimeEnvYAML": json.dumps(runtime_env(spec, working_dir_url), sort_keys=True),
        "suspend": False,
        "rayClusterSpec": cluster,
    }
    metadata = {
        "name": rayjob_name(spec.job_id),
        "namespace": ns,
        "labels": labels,
        "annotations": annotations,
    }
    return {"apiVersion": f"{GROUP}/{VERSION}", "kind": "RayJob", "metadata": metadata, "spec": body_spec}


# --- status -------------------------------------------------------------------------------------

_JOB_STATUS = {
    "SUCCEEDED": LaunchPhase.SUCCEEDED,
    "FAILED": LaunchPhase.FAILED,
    "STOPPED": LaunchPhase.STOPPED,
    "RUNNING": LaunchPhase.RUNNING,
}
_FAILED_DEPLOYMENTS = frozenset({"Failed", "ValidationFailed"})


def phase_of(obj: Mapping[str, Any]) -> LaunchPhase:
    """The RayJob as KubeRay reports it (status.jobDeploymentStatus + status.jobStatus)."""
    status = obj.get("status") or {}
    deployment = status.get("jobDeploymentStatus") or ""
    job = status.get("jobStatus") or ""
    stop_requested = STOP_ANNOTATION in ((obj.get("metadata") or {}).get("annotations") or {})
    if deployment == "Suspended":
        # Ours: stopped. Otherwise a queue (Kueue) holds it, or a resume is not yet seen by KubeRay.
        return LaunchPhase.STOPPED if stop_requested else LaunchPhase.PENDING
    if deployment in _FAILED_DEPLOYMENTS:
        return LaunchPhase.FAILED
    if deployment == "Complete":
        return _JOB_STATUS.get(job, LaunchPhase.FAILED) if job != "RUNNING" else LaunchPhase.FAILED
    if deployment in ("Running", "Suspending"):
        return _JOB_STATUS.get(job, LaunchPhase.PENDING)
    return LaunchPhase.PENDING  # "", New, Initializing, Waiting, Retrying


def _time(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str) and value:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    return None


def launch_status(obj: Mapping[str, Any]) -> LaunchStatus:
    phase = phase_of(obj)
    status = obj.get("status") or {}
    info = status.get("rayJobInfo") or {}
    started = _time(info.get("startTime")) or _time(status.get("startTime"))
    ended = _time(info.get("endTime")) or _time(status.get("endTime"))
    words = [str(status[k]) for k in ("reason", "message") if status.get(k)]
    return LaunchStatus(
        phase,
        message="; ".join(words) or None,
        started_at=started if phase is not LaunchPhase.PENDING else None,
        ended_at=ended if phase.ended else None,
    )


# --- Kueue mode: the portal's quotas as ClusterQueues and ResourceFlavors ------------------------


@dataclass(frozen=True)
class OrgQuota:
    guaranteed_gpus: int
    borrow_limit_gpus: int
    lend_limit_gpus: int


def kueue_objects(
    flavours: Mapping[str, Flavour],
    quotas: Mapping[str, Mapping[str, OrgQuota]],
    *,
    namespace_prefix: str,
    queue_name: str,
    cohort: str = "aicommons",
) -> list[dict[str, Any]]:
    """A ResourceFlavor per device flavour; per organisation a ClusterQueue (nominal = guaranteed,
    borrowing and lending limits as in the portal, one cohort so idle quota is lent) and a LocalQueue
    in its namespace. `quotas`: organisation id -> flavour name -> quota."""
    kueue = "kueue.x-k8s.io/v1beta1"
    objects: list[dict[str, Any]] = []
    for name, flavour in sorted(flavours.items()):
        if not flavour.resource:
            continue
        spec: dict[str, Any] = {"nodeLabels": dict(flavour.node_selector)}
        if flavour.tolerations:
            spec["tolerations"] = [dict(t) for t in flavour.tolerations]
        objects.append(
            {"apiVersion": kueue, "kind": "ResourceFlavor", "metadata": _kueue_meta(name), "spec": spec}
        )
    for org, by_flavour in sorted(quotas.items()):
        ns = namespace_name(namespace_prefix, org)
        groups: dict[str, list[dict[str, Any]]] = {}
        for flavour_name, quota in sorted(by_flavour.items()):
            resource = flavours.get(flavour_name, Flavour()).resource
            if not resource:
                continue
            amounts = {
                "name": resource,
                "nominalQuota": quota.guaranteed_gpus,
                "borrowingLimit": quota.borrow_limit_gpus,
                "lendingLimit": quota.lend_limit_gpus,
            }
            groups.setdefault(resource, []).append(
                {"name": dns_label(flavour_name, "flavour"), "resources": [amounts]}
            )
        cq_spec = {
            "cohort": cohort,
            "namespaceSelector": {"matchLabels": {ORG_LABEL: org}},
            "resourceGroups": [{"coveredResources": [r], "flavors": f} for r, f in sorted(groups.items())],
        }
        objects.append(
            {"apiVersion": kueue, "kind": "ClusterQueue", "metadata": _kueue_meta(ns), "spec": cq_spec}
        )
        local = {"name": queue_name, "namespace": ns, "labels": dict(MANAGED_BY)}
        objects.append(
            {"apiVersion": kueue, "kind": "LocalQueue", "metadata": local, "spec": {"clusterQueue": ns}}
        )
    return objects


def _kueue_meta(name: str) -> dict[str, Any]:
    return {"name": dns_label(name, "Kueue object"), "labels": dict(MANAGED_BY)}
