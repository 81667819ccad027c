# shellcheck shell=bash
# PostgreSQL from Debian packages, one private cluster on $PG_PORT.

pg_bindir() {
    local d
    for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
        [[ -x "$d/postgres" ]] && { echo "$d"; return 0; }
    done
    return 1
}

# PostgreSQL refuses to run as root: as root we run it as the `postgres` system
# user, whose data directory must be reachable by that user. $HOME of root is
# usually mode 700, so then the cluster lives under /var/lib/postgresql instead
# and $STATE_DIR/postgres holds a pointer to it.
pg_setup_vars() {
    if [[ $(id -u) -eq 0 ]]; then
        PG_RUNAS=(runuser -u postgres --)
        PG_BASE="${AICOMMONS_PG_BASE:-$STATE_DIR/postgres}"
        if ! id postgres >/dev/null 2>&1 || ! _pg_user_can_reach "$PG_BASE"; then
            PG_BASE="/var/lib/postgresql/aicommons-$PG_PORT"
        fi
    else
        PG_RUNAS=()
        PG_BASE="${AICOMMONS_PG_BASE:-$STATE_DIR/postgres}"
    fi
    PG_DATA="$PG_BASE/data"
    PG_LOG="$PG_BASE/postgres.log"
    PG_SOCKET_DIR="$PG_BASE/run"
}

_pg_chown() {
    if [[ ${#PG_RUNAS[@]} -gt 0 ]]; then chown "${@:1:$#-1}" postgres:postgres "${@: -1}"; fi
}

_pg_user_can_reach() {
    # Can `postgres` traverse every existing ancestor of $1?
    local p="$1"
    while [[ ! -e "$p" ]]; do p=$(dirname "$p"); done
    runuser -u postgres -- test -x "$p" 2>/dev/null
}

pg_install() {
    pg_bindir >/dev/null && return 0
    [[ $(id -u) -eq 0 ]] || die postgres "PostgreSQL is not installed and we are not root: apt-get install postgresql"
    step postgres "installing postgresql (apt)" \
        logged "$LOG_DIR/postgres-apt.log" bash -c 'export DEBIAN_FRONTEND=noninteractive; apt-get update -q && apt-get install -y -q postgresql' \
        || fail_with_log postgres "$LOG_DIR/postgres-apt.log" "apt-get install postgresql failed"
}

pg_ready() {
    "$(pg_bindir)/pg_isready" -q -h "$BIND_HOST" -p "$PG_PORT" -d postgres -U "$PG_USER" 2>/dev/null
}

_pg_initdb() {
    mkdir -p "$PG_BASE" "$PG_SOCKET_DIR"
    _pg_chown -R "$PG_BASE"
    local pwfile="$PG_BASE/.pw"
    ( umask 077; printf '%s\n' "$PG_PASSWORD" >"$pwfile" )
    _pg_chown "$pwfile"
    "${PG_RUNAS[@]}" "$(pg_bindir)/initdb" -D "$PG_DATA" -U "$PG_USER" --pwfile="$pwfile" \
        --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 >"$PG_BASE/initdb.log" 2>&1 || {
        rm -f "$pwfile"; cat "$PG_BASE/initdb.log" >&2; return 1; }
    rm -f "$pwfile"
    # Test cluster only: durability is traded for speed (fsync/full_page_writes off
    # lose data on a power cut, never on a clean stop). Never copy this to production.
    "${PG_RUNAS[@]}" tee -a "$PG_DATA/postgresql.conf" >/dev/null <<CONF

# --- aicommons test cluster (infra/services.sh) ---
listen_addresses = '$BIND_HOST'
port = $PG_PORT
unix_socket_directories = '$PG_SOCKET_DIR'
max_connections = 300
shared_buffers = 128MB
fsync = off
synchronous_commit = off
full_page_writes = off
log_min_messages = warning
log_line_prefix = '%m [%p] %u@%d '
CONF
}

pg_up() {
    pg_setup_vars
    if pg_ready; then say postgres "already running on $BIND_HOST:$PG_PORT"; return 0; fi
    pg_install
    if [[ ! -f "$PG_DATA/PG_VERSION" ]]; then
        step postgres "initdb in $PG_DATA" _pg_initdb || die postgres "initdb failed"
    fi
    if [[ "$PG_BASE" != "$STATE_DIR/postgres" ]]; then
        mkdir -p "$STATE_DIR"; ln -sfn "$PG_BASE" "$STATE_DIR/postgres"
    fi
    mkdir -p "$PG_SOCKET_DIR"; _pg_chown "$PG_SOCKET_DIR"
    ln -sfn "$PG_LOG" "$LOG_DIR/postgres.log"
    step postgres "starting on $BIND_HOST:$PG_PORT" \
        "${PG_RUNAS[@]}" "$(pg_bindir)/pg_ctl" -D "$PG_DATA" -l "$PG_LOG" -w -t 60 -s start \
        || fail_with_log postgres "$PG_LOG" "pg_ctl start failed"
    step postgres "ensuring database $PG_DB" _pg_ensure_db || fail_with_log postgres "$PG_LOG" "could not create database"
}

_pg_psql() {
    "${PG_RUNAS[@]}" "$(pg_bindir)/psql" -h "$PG_SOCKET_DIR" -p "$PG_PORT" -U "$PG_USER" -d postgres -qtAX -v ON_ERROR_STOP=1 "$@"
}

_pg_ensure_db() {
    # initdb made $PG_USER the bootstrap superuser; the database is created once.
    if [[ "$(_pg_psql -c "SELECT 1 FROM pg_database WHERE datname = '$PG_DB'")" != "1" ]]; then
        _pg_psql -c "CREATE DATABASE \"$PG_DB\" OWNER \"$PG_USER\"" >/dev/null
    fi
}

pg_down() {
    pg_setup_vars
    if [[ -f "$PG_DATA/postmaster.pid" ]] && pg_bindir >/dev/null; then
        step postgres "stopping" "${PG_RUNAS[@]}" "$(pg_bindir)/pg_ctl" -D "$PG_DATA" -m fast -w -t 60 -s stop \
            || fail_with_log postgres "$PG_LOG" "pg_ctl stop failed"
    else
        say postgres "not running"
    fi
}

pg_status() {
    pg_setup_vars
    if pg_ready; then say postgres "up   $BIND_HOST:$PG_PORT (data $PG_DATA)"; return 0; fi
    say postgres "down"; return 1
}

pg_reset() {
    pg_down
    pg_setup_vars
    step postgres "removing data $PG_BASE" rm -rf "$PG_BASE"
    if [[ -L "$STATE_DIR/postgres" ]]; then rm -f "$STATE_DIR/postgres"; fi
}
