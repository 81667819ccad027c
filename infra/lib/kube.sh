# shellcheck shell=bash
# Kubernetes tools for infra/k8s.sh: built with the Go toolchain from the Go module proxy, cached.

# --- versions ---------------------------------------------------------------
KUBE_VERSION="${AICOMMONS_KUBE_VERSION:-v1.34.4}"     # kube-apiserver (k8s.io/kubernetes)
ETCD_VERSION="${AICOMMONS_ETCD_VERSION:-v3.6.4}"      # the etcd that Kubernetes $KUBE_VERSION requires
HELM_VERSION="${AICOMMONS_HELM_VERSION:-v3.19.0}"
KUBECONFORM_VERSION="${AICOMMONS_KUBECONFORM_VERSION:-v0.7.0}"
KUBERAY_VERSION="${AICOMMONS_KUBERAY_VERSION:-v1.5.1}" # github.com/ray-project/kuberay/ray-operator

# --- locations and ports ----------------------------------------------------
KUBE_STATE="$STATE_DIR/kube"
KUBE_BUILD="$CACHE_DIR/kube-build"
KUBE_CRDS="$CACHE_DIR/kuberay-crds-$KUBERAY_VERSION"
KUBE_SCHEMAS="$CACHE_DIR/kube-schemas"
KUBE_ETCD_PORT="${AICOMMONS_KUBE_ETCD_PORT:-52379}"
KUBE_ETCD_PEER_PORT="${AICOMMONS_KUBE_ETCD_PEER_PORT:-52380}"
KUBE_API_PORT="${AICOMMONS_KUBE_API_PORT:-56443}"
KUBE_TOKEN="${AICOMMONS_KUBE_ADMIN_TOKEN:-aicommons-test-admin-token}"
KUBE_LOG_DIR="$KUBE_STATE/logs"

_go() {
    local go_bin; go_bin=$(command -v go || true)
    [[ -z "$go_bin" && -x /usr/local/go/bin/go ]] && go_bin=/usr/local/go/bin/go
    [[ -n "$go_bin" ]] || die k8s "the Go toolchain (go >= 1.24) is needed; install it from https://go.dev/dl/"
    # nice: the builds saturate both cores of a small machine that also runs the test services.
    env GOPATH="$CACHE_DIR/gopath" GOBIN="$BIN_DIR" GOFLAGS=-buildvcs=false GOTOOLCHAIN=local nice -n 19 "$go_bin" "$@"
}

# _stamped NAME VERSION: true when $BIN_DIR/NAME exists and was built from VERSION.
_stamped() { [[ -x "$BIN_DIR/$1" && "$(cat "$BIN_DIR/.$1-version" 2>/dev/null)" == "$2" ]]; }
_stamp() { echo "$2" >"$BIN_DIR/.$1-version"; }

_go_install() { # NAME MODULE/PKG VERSION
    local name=$1 pkg=$2 version=$3 log="$KUBE_LOG_DIR/$1-build.log"
    _stamped "$name" "$version" && return 0
    step k8s "building $pkg@$version" logged "$log" _go install "$pkg@$version" \
        || fail_with_log k8s "$log" "go install $pkg@$version failed"
    _stamp "$name" "$version"
}

# kube-apiserver's module (k8s.io/kubernetes) points its staging modules (k8s.io/api, ...) at
# ./staging/src with replace directives, which `go install mod@version` refuses. A throw-away
# module requires it and replaces every staging module with its published v0.<minor>.<patch>
# twin; etcd's server module comes along at the version Kubernetes itself requires.
_kube_build_module() {
    local dir="$KUBE_BUILD/$KUBE_VERSION" modfile staging_version="v0.${KUBE_VERSION#v1.}"
    mkdir -p "$dir"
    modfile=$(cd "$dir" && _go mod download -json "k8s.io/kubernetes@$KUBE_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
    [[ -f "$modfile" ]] || return 1
    {
        echo "module aicommons.local/kubebuild"
        echo "go 1.24.0"
        echo "require k8s.io/kubernetes $KUBE_VERSION"
        echo "replace ("
        sed -n 's#^\s*\(k8s.io/[a-z0-9-]*\) => ./staging/src/.*#\t\1 => \1 '"$staging_version"'#p' "$modfile"
        echo ")"
    } >"$dir/go.mod"
    (cd "$dir" && _go get "k8s.io/kubernetes/cmd/kube-apiserver@$KUBE_VERSION" "go.etcd.io/etcd/server/v3@$ETCD_VERSION")
}

_kube_build_binaries() {
    local dir="$KUBE_BUILD/$KUBE_VERSION" minor=${KUBE_VERSION#v1.}
    minor=${minor%%.*}
    local ldflags="-s -w -X k8s.io/component-base/version.gitVersion=$KUBE_VERSION"
    ldflags+=" -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor"
    (cd "$dir" && _go build -ldflags "$ldflags" -o "$BIN_DIR/kube-apiserver" k8s.io/kubernetes/cmd/kube-apiserver) || return 1
    _stamp kube-apiserver "$KUBE_VERSION"
    (cd "$dir" && _go build -ldflags "-s -w" -o "$BIN_DIR/etcd" go.etcd.io/etcd/server/v3) || return 1
    _stamp etcd "$ETCD_VERSION"
}

kube_build_apiserver() {
    _stamped kube-apiserver "$KUBE_VERSION" && _stamped etcd "$ETCD_VERSION" && return 0
    local log="$KUBE_LOG_DIR/kube-apiserver-build.log"
    step k8s "resolving k8s.io/kubernetes@$KUBE_VERSION with its staging modules" logged "$log" _kube_build_module \
        || fail_with_log k8s "$log" "resolving the kube-apiserver build module failed"
    step k8s "building kube-apiserver $KUBE_VERSION and etcd $ETCD_VERSION (first time: many minutes)" \
        logged "$log.2" _kube_build_binaries \
        || fail_with_log k8s "$log.2" "building kube-apiserver/etcd failed"
}

# The KubeRay CRDs, from the ray-operator module's config/crd/bases.
kube_fetch_crds() {
    [[ -f "$KUBE_CRDS/ray.io_rayjobs.yaml" ]] && return 0
    local dir
    dir=$(cd "$KUBE_STATE" && _go mod download -json "github.com/ray-project/kuberay/ray-operator@$KUBERAY_VERSION" \
        | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
    [[ -d "$dir/config/crd/bases" ]] || die k8s "no CRDs in github.com/ray-project/kuberay/ray-operator@$KUBERAY_VERSION"
    mkdir -p "$KUBE_CRDS"
    cp "$dir"/config/crd/bases/*.yaml "$KUBE_CRDS/"
    chmod u+w "$KUBE_CRDS"/*.yaml
}

kube_tools() {
    mkdir -p "$BIN_DIR" "$KUBE_LOG_DIR" "$KUBE_STATE"
    _go_install helm helm.sh/helm/v3/cmd/helm "$HELM_VERSION"
    _go_install kubeconform github.com/yannh/kubeconform/cmd/kubeconform "$KUBECONFORM_VERSION"
    step k8s "fetching the KubeRay $KUBERAY_VERSION CRDs" kube_fetch_crds
    kube_build_apiserver
}

# --- chart-check ------------------------------------------------------------
CHART_DIR="$REPO_DIR/charts/aicommons"
KUBE_PYTHON="${AICOMMONS_PYTHON:-$REPO_DIR/.venv/bin/python}"

kube_schemas() {
    local stamp="$KUBE_SCHEMAS/.stamp" want="$KUBE_VERSION $KUBERAY_VERSION $(sha256sum <"$INFRA_DIR/lib/kube_schemas.py")"
    [[ "$(cat "$stamp" 2>/dev/null)" == "$want" ]] && return 0
    local dir
    dir=$(cd "$KUBE_STATE" && _go mod download -json "k8s.io/kubernetes@$KUBE_VERSION" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
    rm -rf "$KUBE_SCHEMAS"
    "$KUBE_PYTHON" "$INFRA_DIR/lib/kube_schemas.py" "$KUBE_SCHEMAS" "$dir/api/openapi-spec/swagger.json" "$KUBE_CRDS"/*.yaml \
        && echo "$want" >"$stamp"
}

_kubeconform() {
    "$BIN_DIR/kubeconform" -strict -summary -output text \
        -schema-location "$KUBE_SCHEMAS/{{ .ResourceKind }}{{ .KindSuffix }}.json" "$@"
}

kube_chart_check() {
    mkdir -p "$KUBE_STATE" "$KUBE_LOG_DIR"
    for tool in helm kubeconform; do
        [[ -x "$BIN_DIR/$tool" ]] || die k8s "$tool is missing: run infra/k8s.sh tools"
    done
    kube_fetch_crds
    step k8s "JSON schemas: Kubernetes $KUBE_VERSION OpenAPI + KubeRay $KUBERAY_VERSION CRDs" kube_schemas \
        || die k8s "generating the JSON schemas failed"
    local out="$KUBE_STATE/rendered" values
    rm -rf "$out" && mkdir -p "$out"
    for values in "" "$CHART_DIR/ci/kueue-values.yaml"; do
        local name=default args=()
        [[ -n "$values" ]] && { name=$(basename "$values" .yaml); args=(-f "$values"); }
        "$BIN_DIR/helm" lint --strict --kube-version "${KUBE_VERSION#v}" "$CHART_DIR" "${args[@]}"
        "$BIN_DIR/helm" template aicommons "$CHART_DIR" --namespace aicommons --kube-version "${KUBE_VERSION#v}" "${args[@]}" >"$out/chart-$name.yaml"
    done
    # What the launcher writes into an organisation namespace, from its own code.
    "$KUBE_PYTHON" -m aicommons.scheduler.launchers.kuberay_sample >"$out/launcher-objects.yaml"
    _kubeconform "$out"/*.yaml
    if kube_apiserver_ready; then
        step k8s "server-side dry-run of the rendered chart on the test API server" \
            "$KUBE_PYTHON" "$INFRA_DIR/lib/kube_apply.py" "$KUBE_STATE/kubeconfig" --dry-run "$out/chart-default.yaml"
    else
        say k8s "test API server not running: server-side dry-run skipped (infra/k8s.sh apiserver up)"
    fi
}

# --- apiserver: etcd + kube-apiserver on loopback -------------------------------
KUBE_PKI="$KUBE_STATE/pki"
KUBE_ETCD_PIDFILE="$KUBE_STATE/etcd.pid"
KUBE_API_PIDFILE="$KUBE_STATE/kube-apiserver.pid"

kube_apiserver_ready() {
    curl -fsk --max-time 2 -H "Authorization: Bearer $KUBE_TOKEN" "https://$BIND_HOST:$KUBE_API_PORT/readyz" >/dev/null 2>&1
}
_etcd_ready() { curl -fs --max-time 2 "http://$BIND_HOST:$KUBE_ETCD_PORT/health" >/dev/null 2>&1; }

_kube_pki() {
    [[ -f "$KUBE_PKI/apiserver.crt" ]] && return 0
    mkdir -p "$KUBE_PKI"
    (
        cd "$KUBE_PKI"
        openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=aicommons-test-ca" -keyout ca.key -out ca.crt
        openssl req -newkey rsa:2048 -nodes -subj "/CN=kube-apiserver" -keyout apiserver.key -out apiserver.csr
        printf 'subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes.default.svc\n' >san.ext
        openssl x509 -req -in apiserver.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 3650 -extfile san.ext -out apiserver.crt
        openssl genrsa -out sa.key 2048
        openssl rsa -in sa.key -pubout -out sa.pub
    ) >"$KUBE_LOG_DIR/pki.log" 2>&1
    printf '%s,admin,admin,system:masters\n' "$KUBE_TOKEN" >"$KUBE_PKI/tokens.csv"
}

_kube_kubeconfig() {
    cat >"$KUBE_STATE/kubeconfig" <<YAML
apiVersion: v1
kind: Config
clusters:
  - name: aicommons-test
    cluster: {server: "https://$BIND_HOST:$KUBE_API_PORT", certificate-authority: "$KUBE_PKI/ca.crt"}
users:
  - name: admin
    user: {token: "$KUBE_TOKEN"}
contexts:
  - name: aicommons-test
    context: {cluster: aicommons-test, user: admin}
current-context: aicommons-test
YAML
}

kube_apiserver_up() {
    mkdir -p "$KUBE_STATE" "$KUBE_LOG_DIR"
    if kube_apiserver_ready; then say k8s "API server already answers on $BIND_HOST:$KUBE_API_PORT"; return 0; fi
    for tool in etcd kube-apiserver; do
        [[ -x "$BIN_DIR/$tool" ]] || die k8s "$tool is missing: run infra/k8s.sh tools"
    done
    _kube_pki || fail_with_log k8s "$KUBE_LOG_DIR/pki.log" "generating test certificates failed"
    _kube_kubeconfig
    if ! _etcd_ready; then
        # Throw-away state: a fresh etcd each time, so tests start from an empty cluster.
        rm -rf "$KUBE_STATE/etcd"
        setsid "$BIN_DIR/etcd" --name default --data-dir "$KUBE_STATE/etcd" --unsafe-no-fsync \
            --listen-client-urls "http://$BIND_HOST:$KUBE_ETCD_PORT" --advertise-client-urls "http://$BIND_HOST:$KUBE_ETCD_PORT" \
            --listen-peer-urls "http://$BIND_HOST:$KUBE_ETCD_PEER_PORT" \
            --initial-advertise-peer-urls "http://$BIND_HOST:$KUBE_ETCD_PEER_PORT" \
            --initial-cluster "default=http://$BIND_HOST:$KUBE_ETCD_PEER_PORT" --log-level warn \
            >"$KUBE_LOG_DIR/etcd.log" 2>&1 </dev/null &
        echo $! >"$KUBE_ETCD_PIDFILE"
        step k8s "starting etcd on $BIND_HOST:$KUBE_ETCD_PORT" wait_for_service "$KUBE_ETCD_PIDFILE" 30 _etcd_ready \
            || fail_with_log k8s "$KUBE_LOG_DIR/etcd.log" "etcd did not start"
    fi
    # No kubelet, controller-manager or scheduler (the envtest set-up): objects are stored and
    # validated, RBAC and admission apply, nothing runs. ServiceAccount admission is off because no
    # controller creates the `default` ServiceAccounts that it would require of pods.
    setsid "$BIN_DIR/kube-apiserver" --etcd-servers "http://$BIND_HOST:$KUBE_ETCD_PORT" \
        --bind-address "$BIND_HOST" --advertise-address "$BIND_HOST" --secure-port "$KUBE_API_PORT" \
        --tls-cert-file "$KUBE_PKI/apiserver.crt" --tls-private-key-file "$KUBE_PKI/apiserver.key" \
        --token-auth-file "$KUBE_PKI/tokens.csv" --authorization-mode RBAC \
        --service-account-issuer https://kubernetes.default.svc \
        --service-account-key-file "$KUBE_PKI/sa.pub" --service-account-signing-key-file "$KUBE_PKI/sa.key" \
        --service-cluster-ip-range 10.96.0.0/24 --disable-admission-plugins ServiceAccount \
        --allow-privileged=true >"$KUBE_LOG_DIR/kube-apiserver.log" 2>&1 </dev/null &
    echo $! >"$KUBE_API_PIDFILE"
    step k8s "starting kube-apiserver $KUBE_VERSION on https://$BIND_HOST:$KUBE_API_PORT" \
        wait_for_service "$KUBE_API_PIDFILE" "${AICOMMONS_KUBE_START_TIMEOUT:-120}" kube_apiserver_ready \
        || fail_with_log k8s "$KUBE_LOG_DIR/kube-apiserver.log" "kube-apiserver did not become ready"
    kube_fetch_crds
    step k8s "installing the KubeRay $KUBERAY_VERSION CRDs" \
        "$KUBE_PYTHON" "$INFRA_DIR/lib/kube_apply.py" "$KUBE_STATE/kubeconfig" --wait-crds "$KUBE_CRDS"/*.yaml \
        || die k8s "installing the KubeRay CRDs failed"
}

kube_apiserver_down() {
    stop_pidfile kube-apiserver "$KUBE_API_PIDFILE" 20
    stop_pidfile etcd "$KUBE_ETCD_PIDFILE" 20
}

kube_apiserver_status() {
    if kube_apiserver_ready; then say k8s "up   https://$BIND_HOST:$KUBE_API_PORT"; return 0; fi
    say k8s "down"; return 1
}

kube_apiserver_env() {
    printf 'export %s=%q\n' AICOMMONS_TEST_KUBECONFIG "$KUBE_STATE/kubeconfig"
    printf 'export %s=%q\n' AICOMMONS_TEST_KUBE_CRDS "$KUBE_CRDS"
    printf 'export %s=%q\n' AICOMMONS_TEST_HELM "$BIN_DIR/helm"
}
