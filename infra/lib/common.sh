# shellcheck shell=bash
# Shared configuration and helpers for infra/services.sh.
# Every setting lives here, once, and can be overridden from the environment.

# --- versions ---------------------------------------------------------------
# MinIO: RELEASE.2025-10-15T17-29-55Z is commit 9e49d5e7a648f00e26f2246f4dc28e6b07f8c84a
# (module version v0.0.0-20251015172955-9e49d5e7a648). The Go proxy reachable from
# our CI machines answers 403 "This module version is not available" for that
# version (and for the tag and the bare SHA); the only minio version it serves is
# the last commit before the repository was archived, so that is the default.
# Set AICOMMONS_MINIO_VERSION=v0.0.0-20251015172955-9e49d5e7a648 where the full
# proxy.golang.org is reachable.
MINIO_VERSION="${AICOMMONS_MINIO_VERSION:-v0.0.0-20260212201848-7aac2a2c5b7c}"
KEYCLOAK_VERSION="${AICOMMONS_KEYCLOAK_VERSION:-26.7.3}"
KEYCLOAK_URL_DIST="${AICOMMONS_KEYCLOAK_DIST_URL:-https://repo1.maven.org/maven2/org/keycloak/keycloak-quarkus-dist/${KEYCLOAK_VERSION}/keycloak-quarkus-dist-${KEYCLOAK_VERSION}.tar.gz}"

# --- locations --------------------------------------------------------------
CACHE_DIR="${AICOMMONS_CACHE:-$HOME/.cache/aicommons}"
STATE_DIR="${AICOMMONS_SERVICES_DIR:-$HOME/.cache/aicommons/services}"
DOWNLOAD_DIR="$CACHE_DIR/downloads"
BIN_DIR="$CACHE_DIR/bin"
LOG_DIR="$STATE_DIR/logs"
RUN_DIR="$STATE_DIR/run"

# --- network: everything on loopback ----------------------------------------
BIND_HOST="${AICOMMONS_BIND_HOST:-127.0.0.1}"
PG_PORT="${AICOMMONS_PG_PORT:-55432}"
MINIO_PORT="${AICOMMONS_MINIO_PORT:-59000}"
MINIO_CONSOLE_PORT="${AICOMMONS_MINIO_CONSOLE_PORT:-59001}"
KC_PORT="${AICOMMONS_KC_PORT:-58080}"
# Keycloak's management interface (health, metrics) defaults to 9000, MinIO's default port.
KC_MGMT_PORT="${AICOMMONS_KC_MGMT_PORT:-58081}"

# --- credentials (test-only values; override for anything shared) ----------
PG_USER="${AICOMMONS_PG_USER:-aicommons}"
PG_PASSWORD="${AICOMMONS_PG_PASSWORD:-aicommons}"
PG_DB="${AICOMMONS_PG_DB:-aicommons}"
MINIO_ROOT_USER="${AICOMMONS_MINIO_ROOT_USER:-aicommons-root}"
MINIO_ROOT_PASSWORD="${AICOMMONS_MINIO_ROOT_PASSWORD:-aicommons-root-secret-123}"
KC_ADMIN_USER="${AICOMMONS_KEYCLOAK_ADMIN_USER:-admin}"
KC_ADMIN_PASSWORD="${AICOMMONS_KEYCLOAK_ADMIN_PASSWORD:-admin-pass-123}"
KC_REALM="aicommons"
# These three must match infra/keycloak/aicommons-realm.json.
OIDC_CLIENT_ID="aicommons-portal"
OIDC_CLIENT_SECRET="aicommons-portal-test-secret"
OIDC_CLI_CLIENT_ID="aicommons-cli"
TEST_USER_PASSWORD="Test-Pass-123"

# --- resource bounds (2 cores / 24 GB shared with Ray and MLflow) -----------
KC_HEAP_OPTS="${AICOMMONS_KC_HEAP_OPTS:--Xms64m -Xmx512m -XX:MaxMetaspaceSize=256m -XX:ReservedCodeCacheSize=128m -XX:TieredStopAtLevel=1}"

mkdir_p() { mkdir -p "$@"; }

# --- output -----------------------------------------------------------------
_now() { date +%s.%N; }
_elapsed() { awk -v s="$1" -v e="$(_now)" 'BEGIN { printf "%.1f", e - s }'; }
say() { printf '[%s] %s\n' "$1" "$2"; }
# step NAME "what" command...: prints "[name] what… done in 1.2s"; on failure, fails.
step() {
    local name="$1" what="$2"; shift 2
    local t0; t0=$(_now)
    printf '[%s] %s… ' "$name" "$what"
    if "$@"; then
        printf 'done in %ss\n' "$(_elapsed "$t0")"
    else
        local rc=$?
        printf 'FAILED after %ss\n' "$(_elapsed "$t0")"
        return "$rc"
    fi
}
die() { printf '[%s] ERROR: %s\n' "$1" "$2" >&2; exit 1; }
# fail_with_log NAME LOGFILE MESSAGE
fail_with_log() {
    printf '[%s] ERROR: %s\n' "$1" "$3" >&2
    if [[ -f "$2" ]]; then
        printf '[%s] last 40 lines of %s:\n' "$1" "$2" >&2
        tail -n 40 "$2" >&2 || true
    fi
    exit 1
}

# --- processes --------------------------------------------------------------
pid_alive() { [[ -n "${1:-}" ]] && kill -0 "$1" 2>/dev/null; }
pidfile_pid() { if [[ -f "$1" ]]; then cat "$1" 2>/dev/null || true; fi; }
# stop_pid NAME PIDFILE [TIMEOUT]: TERM, wait, then KILL.
# stop_started NAME PIDFILE GRACE_S READY_FN PORT: stop a service this script started; leave alone
# one that answers on the port without our pid file (somebody else's).
stop_started() {
    local name=$1 pidfile=$2 grace=$3 ready=$4 port=$5
    if pid_alive "$(pidfile_pid "$pidfile")"; then
        step "$name" "stopping" stop_pidfile "$name" "$pidfile" "$grace"
    else
        rm -f "$pidfile"
        if "$ready"; then say "$name" "answers on $port but was not started by this script (no pid file); leaving it"
        else say "$name" "not running"; fi
    fi
}

stop_pidfile() {
    local name="$1" pidfile="$2" timeout="${3:-30}" pid
    pid=$(pidfile_pid "$pidfile")
    if ! pid_alive "$pid"; then rm -f "$pidfile"; return 0; fi
    kill -TERM "$pid" 2>/dev/null || true
    local i
    for ((i = 0; i < timeout * 10; i++)); do
        pid_alive "$pid" || break
        sleep 0.1
    done
    if pid_alive "$pid"; then
        say "$name" "did not stop in ${timeout}s, sending KILL"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$pidfile"
}
# wait_until SECONDS command...: polls every 0.25 s.
wait_until() {
    local timeout="$1"; shift
    local deadline; deadline=$(awk -v n="$(_now)" -v t="$timeout" 'BEGIN { printf "%d", n + t }')
    while ! "$@" >/dev/null 2>&1; do
        (( $(date +%s) < deadline )) || return 1
        sleep 0.25
    done
}
port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }
http_ok() { curl -fs -o /dev/null --max-time 2 "$1"; }
# logged LOGFILE command...: runs command with all its output in LOGFILE.
logged() { local log="$1"; shift; "$@" >"$log" 2>&1; }
# wait_for_service PIDFILE TIMEOUT check...: until check succeeds; fails early if the process died.
wait_for_service() {
    local pidfile="$1" timeout="$2"; shift 2
    local pid deadline=$(( $(date +%s) + timeout ))
    pid=$(pidfile_pid "$pidfile")
    while ! "$@"; do
        if ! pid_alive "$pid"; then printf '(process exited) '; return 1; fi
        if (( $(date +%s) >= deadline )); then printf '(timed out after %ss) ' "$timeout"; return 1; fi
        sleep 0.25
    done
}
