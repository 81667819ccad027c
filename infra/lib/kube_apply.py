"""Server-side apply of YAML manifests with the `kubernetes` Python client (no kubectl needed).

    python kube_apply.py KUBECONFIG [--dry-run] [--wait-crds] [--namespace=NS] FILE...

--dry-run: the API server validates and admits every object (schema, field validation Strict,
RBAC and admission) without storing it: the best check of a rendered chart short of a cluster.
--wait-crds: after applying, wait until every CustomResourceDefinition is Established.
--namespace=NS: for namespaced objects that name none (as `helm template` renders them); default "default".
Exit status 1 with one line per refused object.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import yaml
from kubernetes import config, dynamic
from kubernetes.client import exceptions

FIELD_MANAGER = "aicommons-infra"


def apply(
    client: dynamic.DynamicClient, body: dict[str, Any], *, dry_run: bool, namespace: str = "default"
) -> None:
    resource = client.resources.get(api_version=body["apiVersion"], kind=body["kind"])
    namespace = body["metadata"].get("namespace") or namespace
    if not resource.namespaced:
        namespace = None
    if resource.namespaced and not body["metadata"].get("namespace"):
        body = {**body, "metadata": {**body["metadata"], "namespace": namespace}}
    client.server_side_apply(
        resource,
        body=body,
        name=body["metadata"]["name"],
        namespace=namespace,
        field_manager=FIELD_MANAGER,
        force_conflicts=True,
        dry_run="All" if dry_run else None,
        query_params=[("fieldValidation", "Strict")],
    )


def wait_established(client: dynamic.DynamicClient, names: list[str], timeout_s: float = 60) -> None:
    crds = client.resources.get(api_version="apiextensions.k8s.io/v1", kind="CustomResourceDefinition")
    deadline = time.monotonic() + timeout_s
    for name in names:
        while True:
            conditions = crds.get(name=name).to_dict().get("status", {}).get("conditions") or []
            if any(c["type"] == "Established" and c["status"] == "True" for c in conditions):
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"CRD {name} not established after {timeout_s}s")
            time.sleep(0.2)
    client.resources.invalidate_cache()  # the new kinds become discoverable


def main(argv: list[str]) -> int:
    kubeconfig, args = argv[1], argv[2:]
    dry_run, wait_crds = "--dry-run" in args, "--wait-crds" in args
    namespaces = [a.removeprefix("--namespace=") for a in args if a.startswith("--namespace=")]
    namespace = namespaces[-1] if namespaces else "default"
    files = [Path(a) for a in args if not a.startswith("--")]
    client = dynamic.DynamicClient(config.new_client_from_config(config_file=kubeconfig))
    failures, applied, crds = [], 0, []
    for file in files:
        for body in yaml.safe_load_all(file.read_text()):
            if not body:
                continue
            what = f"{body.get('kind')}/{body.get('metadata', {}).get('name')} ({file.name})"
            try:
                apply(client, body, dry_run=dry_run, namespace=namespace)
                applied += 1
                if body["kind"] == "CustomResourceDefinition":
                    crds.append(body["metadata"]["name"])
            except exceptions.ApiException as exc:
                failures.append(f"{what}: {exc.status} {exc.reason}: {exc.body}")
            except Exception as exc:  # unknown kind, malformed object
                failures.append(f"{what}: {exc}")
    if wait_crds and crds and not failures:
        wait_established(client, crds)
    for failure in failures:
        print(f"REFUSED {failure}", file=sys.stderr)
    print(f"{'validated' if dry_run else 'applied'} {applied} objects, {len(failures)} refused")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
