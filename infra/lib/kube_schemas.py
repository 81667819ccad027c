"""Standalone, strict JSON schemas for kubeconform, one file per kind, from
- the Kubernetes OpenAPI (v2) document in the k8s.io/kubernetes module (api/openapi-spec/swagger.json),
- CRD manifests (the KubeRay CRDs from the ray-operator module's config/crd/bases).

Files are named as kubeconform's default `{{ .ResourceKind }}{{ .KindSuffix }}.json` expects:
`<kind>-<first label of the group>-<version>.json`, `<kind>-<version>.json` for the core API.

    python kube_schemas.py OUT_DIR SWAGGER_JSON [CRD_YAML ...]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import yaml

MAX_DEPTH = 40  # recursive definitions (JSONSchemaProps) are cut off here
INT_OR_STRING = {"oneOf": [{"type": "string"}, {"type": "integer"}]}
QUANTITY = {"oneOf": [{"type": "string"}, {"type": "number"}]}


def _inline(node: Any, definitions: dict[str, Any], depth: int = 0) -> Any:
    if depth > MAX_DEPTH:
        return {}
    if isinstance(node, list):
        return [_inline(item, definitions, depth + 1) for item in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/definitions/"):
        name = ref.removeprefix("#/definitions/")
        if name.endswith("api.resource.Quantity"):
            return dict(QUANTITY)
        if name.endswith("util.intstr.IntOrString"):
            return dict(INT_OR_STRING)
        return _inline(definitions[name], definitions, depth + 1)
    if node.get("format") == "int-or-string" or node.get("x-kubernetes-int-or-string"):
        return dict(INT_OR_STRING)
    out = {k: _inline(v, definitions, depth + 1) for k, v in node.items() if not k.startswith("x-")}
    # Strict: an object with declared properties takes no others (typos in manifests fail).
    open_ended = "additionalProperties" in out or node.get("x-kubernetes-preserve-unknown-fields")
    if "properties" in out and not open_ended:
        out["additionalProperties"] = False
    return out


def _file_name(group: str, version: str, kind: str) -> str:
    suffix = f"-{group.split('.')[0]}-{version}" if group else f"-{version}"
    return f"{kind.lower()}{suffix}.json"


def _with_meta(schema: dict[str, Any], group: str, version: str, kind: str) -> dict[str, Any]:
    api_version = f"{group}/{version}" if group else version
    properties = dict(schema.get("properties") or {})
    properties["apiVersion"] = {"type": "string", "enum": [api_version]}
    properties["kind"] = {"type": "string", "enum": [kind]}
    return {**schema, "properties": properties}


def from_swagger(path: Path, out: Path) -> int:
    definitions = json.loads(path.read_text())["definitions"]
    written = 0
    for definition in definitions.values():
        for gvk in definition.get("x-kubernetes-group-version-kind") or []:
            if not (definition.get("properties") or {}).get("metadata"):
                continue  # lists and options share the gvk of their kind in some versions
            group, version, kind = gvk.get("group", ""), gvk["version"], gvk["kind"]
            schema = _with_meta(_inline(definition, definitions), group, version, kind)
            (out / _file_name(group, version, kind)).write_text(json.dumps(schema))
            written += 1
    return written


def from_crd(path: Path, out: Path) -> int:
    written = 0
    for crd in yaml.safe_load_all(path.read_text()):
        if not crd or crd.get("kind") != "CustomResourceDefinition":
            continue
        group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
        for version in crd["spec"]["versions"]:
            schema = version.get("schema", {}).get("openAPIV3Schema")
            if not schema:
                continue
            metadata = {"type": "object"}
            schema = _inline(schema, {})
            schema.setdefault("properties", {})["metadata"] = metadata
            schema = _with_meta(schema, group, version["name"], kind)
            (out / _file_name(group, version["name"], kind)).write_text(json.dumps(schema))
            written += 1
    return written


def main(argv: list[str]) -> int:
    out, swagger, crds = Path(argv[1]), Path(argv[2]), [Path(p) for p in argv[3:]]
    out.mkdir(parents=True, exist_ok=True)
    count = from_swagger(swagger, out) + sum(from_crd(crd, out) for crd in crds)
    print(f"{count} schemas in {out}")
    return 0 if count else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
