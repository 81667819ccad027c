#!/usr/bin/env bash
# Kubernetes tooling for the chart and the KubeRay launcher, built from Go modules, cached,
# loopback only (no kubelet, no cluster: the envtest approach of Kubernetes operators).
#
#   infra/k8s.sh tools           build what is missing: helm, kubeconform, etcd, kube-apiserver;
#                                fetch the KubeRay CRDs (all from the Go module proxy)
#   infra/k8s.sh chart-check     helm lint + helm template, the rendered manifests validated by
#                                kubeconform against the Kubernetes and KubeRay JSON schemas, then
#                                (when the API server is up) a server-side dry-run apply
#   infra/k8s.sh apiserver up    start etcd + kube-apiserver on 127.0.0.1, install the KubeRay CRDs
#   infra/k8s.sh apiserver down  stop them
#   infra/k8s.sh apiserver env   `export VAR=value` lines (AICOMMONS_TEST_KUBECONFIG, ...)
#
# Binaries live in ${AICOMMONS_CACHE:-~/.cache/aicommons}/bin (built once, skipped when present);
# state and logs in ${AICOMMONS_SERVICES_DIR:-~/.cache/aicommons/services}/kube.
set -euo pipefail

INFRA_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_DIR="$(dirname "$INFRA_DIR")"
# shellcheck source=lib/common.sh
source "$INFRA_DIR/lib/common.sh"
# shellcheck source=lib/kube.sh
source "$INFRA_DIR/lib/kube.sh"

case "${1:-}" in
    tools) kube_tools ;;
    chart-check) kube_chart_check ;;
    apiserver)
        case "${2:-}" in
            up) kube_apiserver_up ;;
            down) kube_apiserver_down ;;
            env) kube_apiserver_env ;;
            status) kube_apiserver_status ;;
            *) die k8s "usage: $0 apiserver up|down|env|status" ;;
        esac
        ;;
    *) die k8s "usage: $0 tools | chart-check | apiserver up|down|env|status" ;;
esac
