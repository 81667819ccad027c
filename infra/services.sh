#!/usr/bin/env bash
# Starts the real services the integration tests (and `aicommons up --external`) use,
# on loopback, without Docker: PostgreSQL (Debian), Keycloak (Maven Central dist),
# MinIO (built from source with Go).
#
#   infra/services.sh up       install/build what is missing, start what is stopped
#   infra/services.sh down     stop everything this script started
#   infra/services.sh status   one line per service; exit 1 if any is down
#   infra/services.sh env      `export VAR=value` lines for tests and the portal
#   infra/services.sh reset [postgres|keycloak|minio]...
#                              stop and delete the data of those services (all by default);
#                              the next `up` starts from scratch (re-imports the realm)
#
# Downloads and builds are cached in ${AICOMMONS_CACHE:-~/.cache/aicommons};
# data, logs and pid files live in ${AICOMMONS_SERVICES_DIR:-~/.cache/aicommons/services}.
# Settings and ports: infra/lib/common.sh (all overridable from the environment).
set -euo pipefail

INFRA_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_DIR="$(dirname "$INFRA_DIR")"
# shellcheck source=lib/common.sh
source "$INFRA_DIR/lib/common.sh"
# shellcheck source=lib/postgres.sh
source "$INFRA_DIR/lib/postgres.sh"
# shellcheck source=lib/keycloak.sh
source "$INFRA_DIR/lib/keycloak.sh"
# shellcheck source=lib/minio.sh
source "$INFRA_DIR/lib/minio.sh"

cmd_up() {
    mkdir -p "$CACHE_DIR" "$STATE_DIR" "$LOG_DIR" "$RUN_DIR"
    local t0; t0=$(_now)
    # Build MinIO while Keycloak boots would save time on a first run, but the
    # first build saturates both cores; sequential keeps logs readable.
    pg_up
    kc_up          # MinIO's OpenID provider: must answer before MinIO starts
    minio_up
    say services "all up in $(_elapsed "$t0")s"
}

cmd_down() {
    mkdir -p "$LOG_DIR" "$RUN_DIR"
    minio_down
    kc_down
    pg_down
}

cmd_status() {
    local rc=0
    pg_status || rc=1
    kc_status || rc=1
    minio_status || rc=1
    return "$rc"
}

cmd_reset() {
    mkdir -p "$LOG_DIR" "$RUN_DIR"
    local svc services=("$@")
    [[ ${#services[@]} -gt 0 ]] || services=(minio keycloak postgres)
    for svc in "${services[@]}"; do
        case "$svc" in
            postgres) pg_reset ;;
            keycloak) kc_reset ;;
            minio) minio_reset ;;
            *) die services "unknown service: $svc" ;;
        esac
    done
}

cmd_env() {
    _export() { printf 'export %s=%q\n' "$1" "$2"; }
    _export AICOMMONS_TEST_DATABASE_URL "postgresql+psycopg://$PG_USER:$PG_PASSWORD@$BIND_HOST:$PG_PORT/$PG_DB"
    _export AICOMMONS_S3_ENDPOINT "$(minio_endpoint)"
    _export AICOMMONS_S3_ACCESS_KEY "$MINIO_ROOT_USER"
    _export AICOMMONS_S3_SECRET_KEY "$MINIO_ROOT_PASSWORD"
    _export AICOMMONS_S3_REGION us-east-1
    _export AICOMMONS_KEYCLOAK_URL "http://$BIND_HOST:$KC_PORT"
    _export AICOMMONS_OIDC_REALM "$KC_REALM"
    _export AICOMMONS_OIDC_ISSUER "$(kc_issuer)"
    _export AICOMMONS_OIDC_CLIENT_ID "$OIDC_CLIENT_ID"
    _export AICOMMONS_OIDC_CLIENT_SECRET "$OIDC_CLIENT_SECRET"
    _export AICOMMONS_OIDC_CLI_CLIENT_ID "$OIDC_CLI_CLIENT_ID"
    _export AICOMMONS_KEYCLOAK_ADMIN_USER "$KC_ADMIN_USER"
    _export AICOMMONS_KEYCLOAK_ADMIN_PASSWORD "$KC_ADMIN_PASSWORD"
    _export AICOMMONS_TEST_USER_PASSWORD "$TEST_USER_PASSWORD"
}

case "${1:-}" in
    up) cmd_up ;;
    _only) shift; mkdir -p "$CACHE_DIR" "$STATE_DIR" "$LOG_DIR" "$RUN_DIR"; "$@" ;;  # debugging: run one function
    down) cmd_down ;;
    status) cmd_status ;;
    env) cmd_env ;;
    reset) shift; cmd_reset "$@" ;;
    *) echo "usage: $0 up|down|status|env|reset [service...]" >&2; exit 2 ;;
esac
