"""Prints what the KubeRay launcher writes for a sample job (namespace, quota, limits, network
policy, RayJob, the run's Secret) as a YAML stream of JSON documents, so that CI validates
the launcher's own output against the Kubernetes and KubeRay schemas (infra/k8s.sh chart-check).

    python -m aicommons.scheduler.launchers.kuberay_sample > objects.yaml
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from . import kuberay_manifests as m
from .base import LaunchSpec

FLAVOURS = m.parse_flavours(
    {
        "H100-80G": {
            "resource": "nvidia.com/gpu",
            "node_selector": {"nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3"},
            "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
        },
        "Ascend-910B": {"resource": "huawei.com/Ascend910", "node_selector": {"accelerator": "ascend-910b"}},
    }
)


def sample_objects() -> list[dict[str, Any]]:
    spec = LaunchSpec(
        job_id="0f6c1d2e-aaaa-bbbb-cccc-123456789abc",
        entrypoint="python train.py",
        working_dir=Path("/var/lib/aicommons/archives/abc.zip"),
        pip=("numpy",),
        env={"AICOMMONS_JOB_ID": "0f6c1d2e-aaaa-bbbb-cccc-123456789abc"},
        flavour="H100-80G",
        gpus_per_worker=4,
        workers=2,
        cpus=2,
        memory_bytes=8 * 1024**3,
        time_limit_s=7200,
        org="org-1",
        org_quota_gpus={"H100-80G": 8, "Ascend-910B": 16},
        secrets={"MLFLOW_TRACKING_TOKEN": "sample-token"},
    )
    ns = m.namespace_name("aicommons-", "org-1")
    limits = m.device_limits(spec.org_quota_gpus or {}, FLAVOURS)
    options = m.RayJobOptions(image="rayproject/ray:2.49.0", kueue_queue="aicommons")
    url = "https://s3.example.org/aicommons-workdirs/workdirs/abc.zip?X-Amz-Signature=0"
    rayjob = m.rayjob(spec, ns, options, FLAVOURS, url)
    owner = {**rayjob, "metadata": {**rayjob["metadata"], "uid": "6a1e2b3c-0000-4000-8000-000000000001"}}
    secret = m.env_secret(spec, ns, owner)
    assert secret is not None
    return [
        m.namespace(ns, "org-1"),
        m.resource_quota(ns, limits),
        m.limit_range(ns, limits),
        m.network_policy(ns),
        rayjob,
        secret,
    ]


def main() -> int:
    for body in sample_objects():
        sys.stdout.write("---\n" + json.dumps(body, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
