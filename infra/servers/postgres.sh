#!/usr/bin/env bash
# Start / stop / query a real PostgreSQL server for the tests, on a machine
# without Docker.
#
#   infra/servers/postgres.sh start    # prints `export CMM_POSTGRES_DSN=...` last
#   infra/servers/postgres.sh status   # exit 0 if our server is up, 3 if not
#   infra/servers/postgres.sh stop
#
# Typical use:  eval "$(infra/servers/postgres.sh start)"
#
# Only the export line goes to stdout; progress messages go to stderr.
#
# The server is Debian's PostgreSQL, run as a private cluster (own data dir,
# own port, own socket dir) so it neither needs nor disturbs the system's
# cluster. The role `cmm` (password `cmm`, superuser, like the official image
# makes POSTGRES_USER) owns a database `cmm`.
#
# TLS: the server also speaks TLS with a self-signed certificate this script
# makes (state dir, tls/), and the role `cmm_tls` (password `cmm`) may only
# connect over TLS: the tests use it to prove that every connection of every
# command honours the DSN's sslmode.
set -euo pipefail

STATE_ROOT="${CMM_SERVER_STATE:-/tmp/cmm-ledger-servers}"
PG_DIR="$STATE_ROOT/postgres"
DATA_DIR="$PG_DIR/data"
SOCKET_DIR="$PG_DIR/run"
LOG_FILE="$PG_DIR/postgres.log"
PORT="${CMM_POSTGRES_PORT:-15432}"
DB_USER=cmm
DB_PASSWORD=cmm
DB_NAME=cmm
DSN="postgresql://$DB_USER:$DB_PASSWORD@127.0.0.1:$PORT/$DB_NAME"
# The file our settings live in, included from postgresql.conf.
CONF_INCLUDE=cmm-test.conf
TLS_DIR="$PG_DIR/tls"
TLS_USER=cmm_tls
HBA_MARK="# cmm-test: TLS-only role"

log() { echo "postgres.sh: $*" >&2; }
die() { log "error: $*"; exit 1; }

export_line() {
    printf 'export CMM_POSTGRES_DSN=%q\n' "$1"
}

port_open() {
    timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null
}

# The newest installed server's bin dir (Debian keeps them out of PATH, under
# /usr/lib/postgresql/<major>/bin).
find_bin_dir() {
    local dir best=""
    for dir in /usr/lib/postgresql/*/bin; do
        [[ -x "$dir/initdb" && -x "$dir/pg_ctl" ]] || continue
        if [[ -z "$best" ]] || [[ "$(basename "$(dirname "$dir")")" -gt "$(basename "$(dirname "$best")")" ]]; then
            best="$dir"
        fi
    done
    [[ -n "$best" ]] && echo "$best"
}

ensure_postgres() {
    if BIN_DIR="$(find_bin_dir)"; then
        return
    fi
    [[ "$(id -u)" == 0 ]] || die "PostgreSQL is not installed; run: apt-get install -y postgresql"
    log "installing Debian's postgresql with apt-get"
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql >&2
    BIN_DIR="$(find_bin_dir)" || die "postgresql installed but no initdb/pg_ctl under /usr/lib/postgresql"
}

# PostgreSQL refuses to run as root: as root, every server command runs as the
# `postgres` OS user (created by Debian's package); otherwise as ourselves.
as_owner() {
    if [[ "$(id -u)" == 0 ]]; then
        # cd: the postgres user may not be allowed into the caller's cwd.
        (cd "$PG_DIR" && runuser -u postgres -- "$@")
    else
        "$@"
    fi
}

pg() {
    local tool="$1"
    shift
    as_owner "$BIN_DIR/$tool" "$@"
}

# psql over the private unix socket (trusted locally, no password needed).
psql_local() {
    pg psql -X -q -v ON_ERROR_STOP=1 -h "$SOCKET_DIR" -p "$PORT" -U "$DB_USER" "$@"
}

is_running() {
    [[ -f "$DATA_DIR/PG_VERSION" ]] && pg pg_ctl -D "$DATA_DIR" status >/dev/null 2>&1
}

take_lock() {
    mkdir -p "$PG_DIR"
    exec 9>"$PG_DIR/.lock"
    flock -w 300 9 || die "timed out waiting for the lock on $PG_DIR/.lock"
}

prepare_dirs() {
    mkdir -p "$PG_DIR" "$SOCKET_DIR"
    if [[ "$(id -u)" == 0 ]]; then
        # initdb wants an empty, postgres-owned directory; the socket dir and
        # log file must be writable by the server too.
        chown postgres:postgres "$PG_DIR" "$SOCKET_DIR"
        touch "$LOG_FILE"
        chown postgres:postgres "$LOG_FILE"
        runuser -u postgres -- test -w "$PG_DIR" \
            || die "the postgres user cannot write to $PG_DIR (a parent dir is not searchable?); set CMM_SERVER_STATE elsewhere"
    fi
}

init_cluster() {
    [[ -f "$DATA_DIR/PG_VERSION" ]] && return
    log "creating a cluster in $DATA_DIR"
    local pwfile
    pwfile="$(mktemp "$PG_DIR/pw.XXXXXX")"
    echo "$DB_PASSWORD" >"$pwfile"
    [[ "$(id -u)" == 0 ]] && chown postgres:postgres "$pwfile"
    # Superuser `cmm` with a password; TCP clients must give it
    # (scram-sha-256, as in production), the private socket is trusted so
    # this script can manage the server without one.
    # C collation: deterministic ordering, available everywhere.
    if ! pg initdb -D "$DATA_DIR" -U "$DB_USER" --pwfile="$pwfile" \
        --auth-local=trust --auth-host=scram-sha-256 \
        --encoding=UTF8 --locale=C >>"$LOG_FILE" 2>&1; then
        rm -f "$pwfile"
        rm -rf "$DATA_DIR"
        die "initdb failed; see $LOG_FILE"
    fi
    rm -f "$pwfile"
    # Our settings go into a file of their own, rewritten on every start.
    echo "include_if_exists = '$CONF_INCLUDE'" | as_owner tee -a "$DATA_DIR/postgresql.conf" >/dev/null
}

make_certificate() {
    [[ -f "$TLS_DIR/server.crt" && -f "$TLS_DIR/server.key" ]] && return
    command -v openssl >/dev/null || die "openssl is needed for the TLS test server; run: apt-get install -y openssl"
    log "making a self-signed TLS certificate in $TLS_DIR"
    mkdir -p "$TLS_DIR"
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=127.0.0.1" \
        -addext "subjectAltName=IP:127.0.0.1" \
        -keyout "$TLS_DIR/server.key" -out "$TLS_DIR/server.crt" >/dev/null 2>&1 \
        || die "openssl could not make a certificate"
    chmod 600 "$TLS_DIR/server.key"
    [[ "$(id -u)" == 0 ]] && chown -R postgres:postgres "$TLS_DIR"
    return 0
}

# The TLS-only role: TCP without TLS is rejected for it, before the general rules.
write_hba() {
    as_owner grep -qF "$HBA_MARK" "$DATA_DIR/pg_hba.conf" && return
    {
        echo "$HBA_MARK"
        echo "hostnossl all $TLS_USER 127.0.0.1/32 reject"
        echo "hostssl all $TLS_USER 127.0.0.1/32 scram-sha-256"
        as_owner cat "$DATA_DIR/pg_hba.conf"
    } >"$PG_DIR/hba.new"
    [[ "$(id -u)" == 0 ]] && chown postgres:postgres "$PG_DIR/hba.new"
    as_owner cp "$PG_DIR/hba.new" "$DATA_DIR/pg_hba.conf"
    rm -f "$PG_DIR/hba.new"
}

ensure_tls_role() {
    if [[ "$(psql_local -d postgres -tAc "SELECT 1 FROM pg_roles WHERE rolname = '$TLS_USER'")" != 1 ]]; then
        psql_local -d postgres -c "CREATE ROLE $TLS_USER LOGIN SUPERUSER PASSWORD '$DB_PASSWORD'" >&2
    fi
}

tls_on() {
    [[ "$(psql_local -d postgres -tAc "SHOW ssl" 2>/dev/null)" == on ]]
}

write_config() {
    as_owner tee "$DATA_DIR/$CONF_INCLUDE" >/dev/null <<EOF
# Written by infra/servers/postgres.sh; edits are lost on the next start.
# Loopback only, on our own port and socket dir, so the system cluster (and
# anything else on 5432) is left alone.
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = '$SOCKET_DIR'
max_connections = 100
# Tests are short-lived; durability settings stay at their defaults (fsync on)
# so the tests see the same commit behaviour as production.
log_min_messages = warning
log_line_prefix = '%m [%p] %q%u@%d '
ssl = on
ssl_cert_file = '$TLS_DIR/server.crt'
ssl_key_file = '$TLS_DIR/server.key'
EOF
}

ensure_database() {
    if [[ "$(psql_local -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$DB_NAME'")" != 1 ]]; then
        log "creating database $DB_NAME"
        psql_local -d postgres -c "CREATE DATABASE $DB_NAME OWNER $DB_USER" >&2
    fi
}

cmd_start() {
    if [[ -n "${CMM_POSTGRES_DSN:-}" ]]; then
        log "CMM_POSTGRES_DSN is set; using that server, starting nothing"
        export_line "$CMM_POSTGRES_DSN"
        return
    fi
    ensure_postgres
    take_lock
    if is_running && port_open "$PORT" && tls_on; then
        log "already running on 127.0.0.1:$PORT"
        ensure_database
        ensure_tls_role
        export_line "$DSN"
        return
    fi
    if is_running; then
        # Running, but (e.g. after a port change) not where we expect it.
        log "restarting to apply the configuration"
        pg pg_ctl -D "$DATA_DIR" -m fast -w -t 60 stop >&2
    fi
    port_open "$PORT" && die "port $PORT is in use by another program; set CMM_POSTGRES_PORT"

    prepare_dirs
    init_cluster
    make_certificate
    write_hba
    write_config
    local started=$SECONDS
    log "starting PostgreSQL ($BIN_DIR) on 127.0.0.1:$PORT (log: $LOG_FILE)"
    # pg_ctl -w waits until the server accepts connections; the server runs
    # in its own session, so it outlives the calling shell.
    if ! pg pg_ctl -D "$DATA_DIR" -l "$LOG_FILE" -w -t 60 start >&2 9>&-; then
        tail -n 30 "$LOG_FILE" >&2 || true
        die "PostgreSQL did not start; see $LOG_FILE"
    fi
    ensure_database
    ensure_tls_role
    log "ready in $((SECONDS - started)) s"
    export_line "$DSN"
}

cmd_stop() {
    # Ignores CMM_POSTGRES_DSN on purpose: it is usually the value `start`
    # printed, and stop only touches our own data dir.
    if ! BIN_DIR="$(find_bin_dir)" || ! [[ -d "$PG_DIR" ]]; then
        log "not running"
        return
    fi
    take_lock
    if ! is_running; then
        log "not running"
        return
    fi
    log "stopping"
    # fast: roll back open sessions and shut down cleanly; immediate only if
    # that did not finish in time.
    if ! pg pg_ctl -D "$DATA_DIR" -m fast -w -t 60 stop >&2; then
        log "fast shutdown timed out; using immediate"
        pg pg_ctl -D "$DATA_DIR" -m immediate -w -t 30 stop >&2
    fi
    log "stopped"
}

cmd_status() {
    if BIN_DIR="$(find_bin_dir)" && is_running && port_open "$PORT"; then
        echo "postgres: running, $DSN, state $PG_DIR"
        return 0
    fi
    echo "postgres: not running (state $PG_DIR)"
    return 3
}

case "${1:-}" in
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    *)
        echo "usage: $0 start|stop|status" >&2
        exit 2
        ;;
esac
