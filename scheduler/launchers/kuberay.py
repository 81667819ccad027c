"""The KubeRay launcher: one RayJob (ray.io/v1, K8sJobMode) per job in its organisation's namespace.

Objects and status mapping: kuberay_manifests.py (pure). Working directories: kuberay_workdir.py
(S3 + presigned URL). This module talks to the API server with the `kubernetes` client.

- submit: ensures the namespace (ResourceQuota, LimitRange, NetworkPolicy mirroring the portal's
  quota, refreshed on every submit) and creates the RayJob; 409 AlreadyExists is a no-op, so a
  submit repeated after a crash never starts a second run. A RayJob that this launcher stopped
  (a preempted attempt of the same job) is resumed with the new attempt's spec instead. Then the
  run's Secret (its tokens and credentials), owned by the RayJob: created only, never read, so the
  launcher needs no right to read Secrets; the pods wait for it the moment it takes to create.
- stop: sets `spec.suspend: true` (and the STOP_ANNOTATION) rather than deleting the RayJob.
  KubeRay then deletes the Ray cluster and the submitter Job, so the devices are freed as with a
  deletion, but the object stays and reads STOPPED: a deleted RayJob would read MISSING, which the
  reconcile loop rightly takes for a job lost by the platform. Suspension is also how Kueue
  preempts, and lets a preempted job be resumed as its next attempt under the same name.
  Kubernetes applies the stop grace as the pods' terminationGracePeriodSeconds (fixed at submit).
- logs: the submitter pod's log (`ray job submit` follows the job's output), via the core API.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from aicommons.portal.core.settings import Settings

from . import kuberay_manifests as manifests
from .base import (
    CAP_FOLLOW_LOGS,
    CAP_GRACEFUL_STOP,
    CAP_LOGS,
    CAP_RESOURCE_FLAVOURS,
    CAP_RESUMES_BY_ID,
    LauncherError,
    LaunchPhase,
    LaunchSpec,
    LaunchStatus,
)
from .kuberay_workdir import WorkdirStore

log = logging.getLogger(__name__)

DETAIL_MAX = 400
WORKDIR_URL_EXTRA_S = 24 * 3600
SUBMITTER_WAIT_POLL_S = 2.0
# The batch Job controller labels its pods with the Job's name (the submitter Job is named after the RayJob).
JOB_NAME_LABELS = ("batch.kubernetes.io/job-name", "job-name")
# Unknown fields are refused, not silently pruned: a RayJob that drifted from the CRD fails loudly.
STRICT = "Strict"


class KubeRayLauncher:
    name = "kuberay"
    capabilities = frozenset(
        {CAP_LOGS, CAP_FOLLOW_LOGS, CAP_GRACEFUL_STOP, CAP_RESOURCE_FLAVOURS, CAP_RESUMES_BY_ID}
    )

    def __init__(
        self,
        api_client: Any,
        *,
        options: manifests.RayJobOptions,
        flavours: Mapping[str, manifests.Flavour],
        namespace_prefix: str = "aicommons-",
        workdirs: WorkdirStore | None = None,
        address: str = "kubernetes",
    ) -> None:
        """`api_client`: a kubernetes.client.ApiClient. `workdirs`: where working directories go
        (None: jobs with a working directory are refused)."""
        from kubernetes import client

        # Any: the client's own annotations want its model classes; the launcher sends plain dicts.
        self.core: Any = client.CoreV1Api(api_client)
        self.custom: Any = client.CustomObjectsApi(api_client)
        self.networking: Any = client.NetworkingV1Api(api_client)
        self.options = options
        self.flavours = dict(flavours)
        self.namespace_prefix = namespace_prefix
        self.workdirs = workdirs
        self.address = address
        self._ensured: dict[str, tuple[tuple[str, int], ...]] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_options(cls, settings: Settings | None = None, api_client: Any = None) -> KubeRayLauncher:
        """Registry factory: everything from `settings`; the API client from the kubeconfig it names,
        or the pod's service account."""
        settings = settings or Settings()
        if api_client is None:
            api_client = _api_client(settings.kuberay_kubeconfig, settings.kuberay_context)
        workdirs = None
        if settings.s3_endpoint and settings.s3_access_key and settings.s3_secret_key:
            workdirs = WorkdirStore(
                settings.s3_endpoint,
                settings.s3_access_key,
                settings.s3_secret_key,
                bucket=settings.kuberay_workdir_bucket,
                region=settings.s3_region,
                public_endpoint=settings.kuberay_workdir_public_endpoint,
            )
        options = manifests.RayJobOptions(
            image=settings.kuberay_image,
            ttl_after_finished_s=settings.kuberay_ttl_after_finished_s,
            stop_grace_s=settings.jobs_stop_grace_s,
            kueue_queue=settings.kuberay_kueue_queue,
        )
        return cls(
            api_client,
            options=options,
            flavours=manifests.parse_flavours(settings.kuberay_flavours),
            namespace_prefix=settings.kuberay_namespace_prefix,
            workdirs=workdirs,
            address=settings.kuberay_kubeconfig or "in-cluster",
        )

    # --- the protocol ----------------------------------------------------------------------------

    def submit(self, spec: LaunchSpec) -> None:
        if not spec.org:
            raise LauncherError("launcher.bad_option", name=self.name, detail="the job has no organisation")
        ns = manifests.namespace_name(self.namespace_prefix, spec.org)
        url = None
        if spec.working_dir is not None:
            if self.workdirs is None:
                detail = "no S3 store configured for working directories (AICOMMONS_S3_*)"
                raise LauncherError("launcher.bad_option", name=self.name, detail=detail)
            url = self.workdirs.url_for(spec.working_dir, spec.time_limit_s + WORKDIR_URL_EXTRA_S)
        body = manifests.rayjob(spec, ns, self.options, self.flavours, url)
        try:
            self.ensure_namespace(spec.org, spec.org_quota_gpus)
            try:
                owner = self._create_or_resume(ns, body)
            except Exception as exc:
                if _status(exc) != 404:
                    raise
                with self._lock:  # the namespace went away behind our back: make it again
                    self._ensured.pop(ns, None)
                self.ensure_namespace(spec.org, spec.org_quota_gpus)
                owner = self._create_or_resume(ns, body)
            secret = manifests.env_secret(spec, ns, owner)
            if secret is not None:
                self._create_env_secret(secret)
        except LauncherError:
            raise
        except Exception as exc:
            raise self._failed("launcher.submit_failed", spec.job_id, exc) from exc

    def status(self, job_id: str) -> LaunchStatus:
        obj = self._find(job_id, "launcher.status_failed")
        return LaunchStatus(LaunchPhase.MISSING) if obj is None else manifests.launch_status(obj)

    def stop(self, job_id: str, grace_s: float) -> None:
        obj = self._find(job_id, "launcher.stop_failed")
        if obj is None or manifests.launch_status(obj).phase.ended:
            return
        now = datetime.now(UTC).isoformat()
        patch = {"metadata": {"annotations": {manifests.STOP_ANNOTATION: now}}, "spec": {"suspend": True}}
        try:
            self.custom.patch_namespaced_custom_object(*_coords(obj), patch)
        except Exception as exc:
            if _status(exc) == 404:
                return
            raise self._failed("launcher.stop_failed", job_id, exc) from exc

    def logs(self, job_id: str) -> str:
        pod, ns = self._submitter_pod(job_id, "launcher.logs_failed")
        try:
            # A pod that has not started yet has no log: the client answers None.
            return str(self.core.read_namespaced_pod_log(pod, ns) or "")
        except Exception as exc:
            raise self._failed("launcher.logs_failed", job_id, exc) from exc

    def follow_logs(self, job_id: str) -> Iterator[str]:
        """The submitter pod's log as it grows; waits for the pod while the job is still pending."""
        while True:
            try:
                pod, ns = self._submitter_pod(job_id, "launcher.logs_failed")
                break
            except LauncherError as exc:
                if exc.code != "launcher.kuberay_no_submitter" or self.status(job_id).phase.ended:
                    raise
                time.sleep(SUBMITTER_WAIT_POLL_S)
        try:
            stream = self.core.read_namespaced_pod_log(pod, ns, follow=True, _preload_content=False)
        except Exception as exc:
            raise self._failed("launcher.logs_failed", job_id, exc) from exc
        try:
            for chunk in stream.stream():
                yield chunk.decode("utf-8", errors="replace")
        finally:
            stream.release_conn()

    # --- namespaces ------------------------------------------------------------------------------

    def ensure_namespace(self, org: str, quota_gpus: Mapping[str, int] | None) -> str:
        """The organisation's namespace with its quota, limits and isolation; skipped when this
        launcher already wrote the same quota (the API server stays the source of truth on restart)."""
        ns = manifests.namespace_name(self.namespace_prefix, org)
        limits = manifests.device_limits(quota_gpus or {}, self.flavours)
        key = tuple(sorted(limits.items()))
        with self._lock:
            if self._ensured.get(ns) == key and quota_gpus is not None:
                return ns
        self._apply_namespace(manifests.namespace(ns, org))
        self._apply(self.networking, "namespaced_network_policy", ns, manifests.network_policy(ns))
        if quota_gpus is not None:
            self._apply(self.core, "namespaced_resource_quota", ns, manifests.resource_quota(ns, limits))
            self._apply(self.core, "namespaced_limit_range", ns, manifests.limit_range(ns, limits))
            with self._lock:
                self._ensured[ns] = key
        return ns

    def _apply_namespace(self, body: dict[str, Any]) -> None:
        try:
            self.core.create_namespace(body)
        except Exception as exc:
            if _status(exc) != 409:
                raise
            self.core.patch_namespace(
                body["metadata"]["name"], {"metadata": {"labels": body["metadata"]["labels"]}}
            )

    def _apply(self, api: Any, kind: str, ns: str, body: dict[str, Any]) -> None:
        """Create, or replace the existing object's spec (read for its resourceVersion)."""
        name = body["metadata"]["name"]
        try:
            getattr(api, f"create_{kind}")(ns, body)
            return
        except Exception as exc:
            if _status(exc) != 409:
                raise
        current = getattr(api, f"read_{kind}")(name, ns)
        body = {
            **body,
            "metadata": {**body["metadata"], "resourceVersion": current.metadata.resource_version},
        }
        getattr(api, f"replace_{kind}")(name, ns, body)

    # --- RayJobs ---------------------------------------------------------------------------------

    def _create_or_resume(self, ns: str, body: dict[str, Any]) -> dict[str, Any]:
        """The RayJob as the API server holds it after this submit."""
        name = body["metadata"]["name"]
        try:
            created: dict[str, Any] = self.custom.create_namespaced_custom_object(
                *_rayjobs(ns), body, field_validation=STRICT
            )
            return created
        except Exception as exc:
            if _status(exc) != 409:
                raise
        current: dict[str, Any] = self.custom.get_namespaced_custom_object(*_rayjobs(ns), name)
        annotations = (current.get("metadata") or {}).get("annotations") or {}
        if manifests.STOP_ANNOTATION not in annotations:
            return current  # the same run, submitted before: idempotent
        # A previous attempt that we stopped (preempted): resume it as this attempt, KubeRay's way.
        body = {
            **body,
            "metadata": {**body["metadata"], "resourceVersion": current["metadata"]["resourceVersion"]},
        }
        resumed: dict[str, Any] = self.custom.replace_namespaced_custom_object(
            *_rayjobs(ns), name, body, field_validation=STRICT
        )
        log.info("resumed the stopped RayJob %s/%s as a new attempt", ns, name)
        return resumed

    def _create_env_secret(self, body: dict[str, Any]) -> None:
        try:
            self.core.create_namespaced_secret(body["metadata"]["namespace"], body)
        except Exception as exc:
            if _status(exc) != 409:  # this run's Secret, created by a submit before a crash
                raise

    def _find(self, job_id: str, code: str) -> dict[str, Any] | None:
        """The job's RayJob in whichever organisation namespace holds it (by label), or None."""
        selector = f"{manifests.JOB_LABEL}={job_id}"
        try:
            found = self.custom.list_cluster_custom_object(
                manifests.GROUP, manifests.VERSION, manifests.PLURAL, label_selector=selector
            )
        except Exception as exc:
            raise self._failed(code, job_id, exc) from exc
        items = [i for i in found.get("items", []) if i["metadata"]["name"] == manifests.rayjob_name(job_id)]
        return items[0] if items else None

    def _submitter_pod(self, job_id: str, code: str) -> tuple[str, str]:
        obj = self._find(job_id, code)
        if obj is None:
            raise LauncherError("launcher.job_missing", job=job_id)
        ns, name = obj["metadata"]["namespace"], obj["metadata"]["name"]
        try:
            for label in JOB_NAME_LABELS:
                pods = self.core.list_namespaced_pod(ns, label_selector=f"{label}={name}").items
                if pods:
                    newest = max(
                        pods, key=lambda p: p.metadata.creation_timestamp or datetime.min.replace(tzinfo=UTC)
                    )
                    return str(newest.metadata.name), ns
        except Exception as exc:
            raise self._failed(code, job_id, exc) from exc
        raise LauncherError("launcher.kuberay_no_submitter", job=job_id, namespace=ns)

    def _failed(self, code: str, job_id: str, exc: Exception) -> LauncherError:
        if not hasattr(exc, "status"):  # no HTTP answer at all: the API server is unreachable
            return LauncherError("launcher.unreachable", address=self.address, detail=_short(exc))
        return LauncherError(code, job=job_id, detail=_short(exc))


def _rayjobs(ns: str) -> tuple[str, str, str, str]:
    return manifests.GROUP, manifests.VERSION, ns, manifests.PLURAL


def _coords(obj: Mapping[str, Any]) -> tuple[str, str, str, str, str]:
    meta = obj["metadata"]
    return manifests.GROUP, manifests.VERSION, meta["namespace"], manifests.PLURAL, meta["name"]


def _status(exc: Exception) -> int | None:
    status = getattr(exc, "status", None)
    return status if isinstance(status, int) else None


def _short(exc: Exception) -> str:
    reason, body = getattr(exc, "reason", None), getattr(exc, "body", None)
    text = f"{reason}: {body}" if reason and body else str(exc) or type(exc).__name__
    return text.strip()[:DETAIL_MAX]


def _api_client(kubeconfig: str | None, context: str | None) -> Any:
    from kubernetes import client, config

    try:
        if kubeconfig:
            return config.new_client_from_config(config_file=kubeconfig, context=context)
        configuration = client.Configuration()
        config.load_incluster_config(client_configuration=configuration)
        return client.ApiClient(configuration)
    except Exception as exc:
        detail = f"no Kubernetes configuration ({kubeconfig or 'in-cluster'}): {_short(exc)}"
        raise LauncherError("launcher.bad_option", name=KubeRayLauncher.name, detail=detail) from exc
