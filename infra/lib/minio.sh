# shellcheck shell=bash
# MinIO built from source with the Go toolchain, Keycloak as its OpenID provider.

MINIO_BIN="$BIN_DIR/minio"
MINIO_VERSION_STAMP="$BIN_DIR/.minio-version"
MINIO_DATA="$STATE_DIR/minio/data"
MINIO_LOG="$LOG_DIR/minio.log"
MINIO_PIDFILE="$RUN_DIR/minio.pid"

minio_endpoint() { echo "http://$BIND_HOST:$MINIO_PORT"; }
minio_ready() { http_ok "$(minio_endpoint)/minio/health/live"; }

minio_install() {
    if [[ -x "$MINIO_BIN" && "$(cat "$MINIO_VERSION_STAMP" 2>/dev/null)" == "$MINIO_VERSION" ]]; then return 0; fi
    local go_bin; go_bin=$(command -v go || true)
    [[ -z "$go_bin" && -x /usr/local/go/bin/go ]] && go_bin=/usr/local/go/bin/go
    [[ -n "$go_bin" ]] || die minio "the Go toolchain (go >= 1.24) is needed to build MinIO; install it from https://go.dev/dl/"
    mkdir -p "$BIN_DIR"
    step minio "building github.com/minio/minio@$MINIO_VERSION (first time takes minutes)" \
        logged "$LOG_DIR/minio-build.log" env GOBIN="$BIN_DIR" GOPATH="$CACHE_DIR/gopath" GOFLAGS=-buildvcs=false GOTOOLCHAIN=local \
        "$go_bin" install "github.com/minio/minio@$MINIO_VERSION" \
        || fail_with_log minio "$LOG_DIR/minio-build.log" "go install github.com/minio/minio@$MINIO_VERSION failed"
    echo "$MINIO_VERSION" >"$MINIO_VERSION_STAMP"
}

minio_up() {
    if minio_ready; then say minio "already running on $BIND_HOST:$MINIO_PORT"; return 0; fi
    if pid_alive "$(pidfile_pid "$MINIO_PIDFILE")"; then
        say minio "process $(pidfile_pid "$MINIO_PIDFILE") exists but does not answer yet; waiting"
    else
        minio_install
        kc_ready || die minio "Keycloak must answer before MinIO starts (it is MinIO's OpenID provider)"
        mkdir -p "$MINIO_DATA"
        : >"$MINIO_LOG"
        (
            export MINIO_ROOT_USER MINIO_ROOT_PASSWORD
            export MINIO_REGION=us-east-1 MINIO_UPDATE=off MINIO_BROWSER=on
            MINIO_IDENTITY_OPENID_CONFIG_URL="$(kc_issuer)/.well-known/openid-configuration"
            export MINIO_IDENTITY_OPENID_CONFIG_URL
            # Tokens carry aud=minio (audience mapper in the realm); MinIO checks aud/azp against this.
            export MINIO_IDENTITY_OPENID_CLIENT_ID=minio
            export MINIO_IDENTITY_OPENID_CLAIM_NAME=policy
            export MINIO_IDENTITY_OPENID_SCOPES=openid
            export MINIO_IDENTITY_OPENID_DISPLAY_NAME=Keycloak
            exec setsid "$MINIO_BIN" server --quiet --address "$BIND_HOST:$MINIO_PORT" \
                --console-address "$BIND_HOST:$MINIO_CONSOLE_PORT" "$MINIO_DATA"
        ) >>"$MINIO_LOG" 2>&1 </dev/null &
        echo $! >"$MINIO_PIDFILE"
    fi
    step minio "starting on $BIND_HOST:$MINIO_PORT (console $MINIO_CONSOLE_PORT)" \
        wait_for_service "$MINIO_PIDFILE" "${AICOMMONS_MINIO_START_TIMEOUT:-60}" minio_ready \
        || fail_with_log minio "$MINIO_LOG" "MinIO did not become ready"
}

minio_down() { stop_started minio "$MINIO_PIDFILE" 30 minio_ready "$MINIO_PORT"; }

minio_status() {
    if minio_ready; then say minio "up   $(minio_endpoint) (pid $(pidfile_pid "$MINIO_PIDFILE"))"; return 0; fi
    say minio "down"; return 1
}

minio_reset() { minio_down; step minio "removing data $STATE_DIR/minio" rm -rf "$STATE_DIR/minio"; }
