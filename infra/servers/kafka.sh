#!/usr/bin/env bash
# Start / stop / query a real single-node Kafka broker for the tests, on a
# machine without Docker.
#
#   infra/servers/kafka.sh start    # prints `export CMM_KAFKA_BOOTSTRAP=...` last
#   infra/servers/kafka.sh status   # exit 0 if our broker is up, 3 if not
#   infra/servers/kafka.sh stop
#
# Typical use:  eval "$(infra/servers/kafka.sh start)"
#
# Only the export line goes to stdout; every progress message goes to stderr,
# so the output of `start` can be eval'ed as it is.
#
# The broker is plain Apache Kafka in KRaft mode (one process that is both
# broker and controller), run from the jars on Maven Central: the jar list is
# in kafka/pom.xml next to this script, fetched once with Maven into a cache
# directory that survives between runs.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
POM="$HERE/kafka/pom.xml"

CACHE_DIR="${CMM_SERVER_CACHE:-$HOME/.cache/cmm-ledger}"
STATE_ROOT="${CMM_SERVER_STATE:-/tmp/cmm-ledger-servers}"
LIBS_DIR="$CACHE_DIR/kafka-libs"
STATE_DIR="$STATE_ROOT/kafka"
DATA_DIR="$STATE_DIR/data"
CONFIG="$STATE_DIR/server.properties"
LOG4J_CONFIG="$STATE_DIR/log4j.properties"
PID_FILE="$STATE_DIR/kafka.pid"
# The client port of the broker last launched from this state dir.
PORT_FILE="$STATE_DIR/kafka.port"
LOG_FILE="$STATE_DIR/kafka.log"
# Records the ports the data dir was formatted for (see format_storage).
FORMAT_STAMP="$STATE_DIR/format.stamp"

PORT="${CMM_KAFKA_PORT:-19092}"
CONTROLLER_PORT="${CMM_KAFKA_CONTROLLER_PORT:-$((PORT + 1))}"
PARTITIONS="${CMM_KAFKA_PARTITIONS:-1}"
HEAP="${CMM_KAFKA_HEAP:-1g}"
START_TIMEOUT="${CMM_KAFKA_START_TIMEOUT:-90}"
STOP_TIMEOUT=60

log() { echo "kafka.sh: $*" >&2; }
die() { log "error: $*"; exit 1; }

# The version is read from the pom so that bumping it there is enough to make
# the next `start` fetch the new jars.
kafka_version() {
    sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$POM" | head -n 1
}

# True if something accepts TCP connections on 127.0.0.1:$1. Bounded by
# `timeout` so a half-open port can never hang the script.
port_open() {
    timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null
}

# The pid from the pid file, if that process is alive and really is our
# broker (a pid file left by a crash may point at a reused pid).
running_pid() {
    local pid
    [[ -s "$PID_FILE" ]] || return 1
    pid="$(cat "$PID_FILE")"
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    kill -0 "$pid" 2>/dev/null || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q 'kafka\.Kafka' || return 1
    echo "$pid"
}

export_line() {
    printf 'export CMM_KAFKA_BOOTSTRAP=%q\n' "$1"
}

# Serialise start/stop so that parallel callers (e.g. several test workers)
# do not race to format the storage or to launch two brokers.
take_lock() {
    mkdir -p "$STATE_DIR"
    exec 9>"$STATE_DIR/.lock"
    flock -w 300 9 || die "timed out waiting for the lock on $STATE_DIR/.lock"
}

ensure_tools() {
    # Java and Maven are on the project's machines already; install Debian's
    # packages only where they are missing (needs root).
    local missing=()
    command -v java >/dev/null 2>&1 || missing+=(openjdk-17-jre-headless)
    if ! have_libs; then
        command -v mvn >/dev/null 2>&1 || missing+=(maven)
    fi
    if ((${#missing[@]})); then
        [[ "$(id -u)" == 0 ]] || die "missing ${missing[*]}; install them (needs root)"
        log "installing ${missing[*]} with apt-get"
        DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >&2
    fi
}

have_libs() {
    [[ -f "$LIBS_DIR/.complete" && -f "$LIBS_DIR/kafka_2.13-$(kafka_version).jar" ]]
}

# Fetch the broker jars once. They go to a temporary directory first and are
# moved into place only when Maven succeeded, so an interrupted download is
# never mistaken for a complete one.
ensure_libs() {
    if have_libs; then
        return
    fi
    local tmp started
    mkdir -p "$CACHE_DIR"
    tmp="$(mktemp -d "$CACHE_DIR/kafka-libs.tmp.XXXXXX")"
    log "fetching Kafka $(kafka_version) jars with Maven into $LIBS_DIR (first run only)"
    started=$SECONDS
    if ! mvn -q -B -Dstyle.color=never -f "$POM" dependency:copy-dependencies \
        -DoutputDirectory="$tmp" -DincludeScope=runtime >&2; then
        rm -rf "$tmp"
        die "mvn could not fetch the Kafka jars"
    fi
    touch "$tmp/.complete"
    rm -rf "$LIBS_DIR"
    mv "$tmp" "$LIBS_DIR"
    log "jars fetched in $((SECONDS - started)) s"
}

java_cp() {
    java -cp "$LIBS_DIR/*" "$@"
}

write_config() {
    mkdir -p "$DATA_DIR"
    # Rewritten on every start so that changed ports/partitions take effect.
    cat >"$CONFIG" <<EOF
# Written by infra/servers/kafka.sh; edits are lost on the next start.
# Single-node KRaft: this one process is both broker and controller.
process.roles=broker,controller
node.id=1
# Dynamic (KIP-853) quorum with this node as its only voter; the storage is
# formatted with --standalone to match.
controller.quorum.bootstrap.servers=127.0.0.1:$CONTROLLER_PORT
controller.listener.names=CONTROLLER
listeners=PLAINTEXT://127.0.0.1:$PORT,CONTROLLER://127.0.0.1:$CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$PORT
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT

log.dirs=$DATA_DIR
num.partitions=$PARTITIONS
auto.create.topics.enable=true

# One broker: every internal topic must live with a single replica.
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
default.replication.factor=1
min.insync.replicas=1

# Tests start consumer groups all the time; the default 3 s wait for more
# members before the first rebalance only slows them down.
group.initial.rebalance.delay.ms=0
EOF

    # Log to stdout (redirected to $LOG_FILE); keep the chattiest loggers quiet.
    cat >"$LOG4J_CONFIG" <<'EOF'
log4j.rootLogger=INFO, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.request.logger=WARN
log4j.logger.state.change.logger=WARN
log4j.logger.org.apache.kafka.clients=WARN
EOF
}

# Format the storage once. The controller's own address is recorded in the
# metadata at format time, so if the ports changed since, the (throw-away)
# test data is wiped and formatted again.
format_storage() {
    local stamp="port=$PORT controller_port=$CONTROLLER_PORT"
    if [[ -f "$DATA_DIR/meta.properties" && -f "$FORMAT_STAMP" && "$(cat "$FORMAT_STAMP")" == "$stamp" ]]; then
        return
    fi
    log "formatting KRaft storage in $DATA_DIR"
    rm -rf "$DATA_DIR" "$FORMAT_STAMP"
    mkdir -p "$DATA_DIR"
    local cluster_id
    cluster_id="$(java_cp -Dlog4j.configuration="file:$LOG4J_CONFIG" kafka.tools.StorageTool random-uuid 2>>"$LOG_FILE" | tail -n 1)"
    [[ -n "$cluster_id" ]] || die "StorageTool random-uuid printed nothing; see $LOG_FILE"
    java_cp -Dlog4j.configuration="file:$LOG4J_CONFIG" kafka.tools.StorageTool format \
        --standalone -t "$cluster_id" -c "$CONFIG" >>"$LOG_FILE" 2>&1 \
        || die "StorageTool format failed; see $LOG_FILE"
    echo "$stamp" >"$FORMAT_STAMP"
}

launch() {
    rm -f "$PID_FILE"
    echo "$PORT" >"$PORT_FILE"
    # setsid: the broker gets its own session, so it outlives the shell (or
    # CI step) that started it and is not hit by that shell's Ctrl-C.
    # The inner shell writes its own pid and then execs java, so the pid
    # file holds the JVM's pid whatever setsid does about forking.
    # 9>&- : the broker must not inherit (and so hold forever) the lock fd.
    KAFKA_PID_FILE="$PID_FILE" setsid bash -c 'echo $$ >"$KAFKA_PID_FILE"; exec "$@"' kafka \
        java "-Xmx$HEAP" "-Xms$HEAP" -XX:+UseG1GC -Djava.awt.headless=true \
        -Dlog4j.configuration="file:$LOG4J_CONFIG" \
        -cp "$LIBS_DIR/*" kafka.Kafka "$CONFIG" \
        >>"$LOG_FILE" 2>&1 </dev/null 9>&- &
}

# Ready = the process is alive, the log says the server finished starting,
# and the client port accepts connections. The port alone is not enough: the
# socket is bound a little before the broker serves requests.
wait_ready() {
    local deadline=$((SECONDS + START_TIMEOUT)) pid=""
    while ((SECONDS < deadline)); do
        if [[ -z "$pid" ]]; then
            pid="$(running_pid || true)"
        elif ! kill -0 "$pid" 2>/dev/null; then
            tail -n 40 "$LOG_FILE" >&2 || true
            die "broker exited during start-up; see $LOG_FILE"
        fi
        if [[ -n "$pid" ]] && grep -q 'Kafka Server started' "$LOG_FILE" && port_open "$PORT"; then
            return 0
        fi
        sleep 1
    done
    tail -n 40 "$LOG_FILE" >&2 || true
    die "broker not ready after ${START_TIMEOUT} s; see $LOG_FILE"
}

cmd_start() {
    if [[ -n "${CMM_KAFKA_BOOTSTRAP:-}" ]]; then
        log "CMM_KAFKA_BOOTSTRAP is set; using that server, starting nothing"
        export_line "$CMM_KAFKA_BOOTSTRAP"
        return
    fi
    take_lock
    if running_pid >/dev/null && [[ "$(cat "$PORT_FILE" 2>/dev/null)" != "$PORT" ]]; then
        # One state dir holds one broker's data; two cannot share it.
        die "the broker of $STATE_DIR runs on port $(cat "$PORT_FILE" 2>/dev/null || echo '?'), not $PORT; stop it first or use another CMM_SERVER_STATE"
    fi
    if running_pid >/dev/null && port_open "$PORT"; then
        log "already running (pid $(running_pid)) on 127.0.0.1:$PORT"
        export_line "127.0.0.1:$PORT"
        return
    fi
    if running_pid >/dev/null; then
        # Alive but not answering: a start still under way (or stuck).
        log "broker process exists but port $PORT is closed; waiting for it"
        wait_ready
        export_line "127.0.0.1:$PORT"
        return
    fi
    port_open "$PORT" && die "port $PORT is in use by another program; set CMM_KAFKA_PORT"
    port_open "$CONTROLLER_PORT" && die "port $CONTROLLER_PORT is in use by another program; set CMM_KAFKA_CONTROLLER_PORT"

    ensure_tools
    ensure_libs
    write_config
    # Keep the previous run's log for post-mortems, start this one fresh
    # (wait_ready greps it for this run's start-up line).
    [[ -f "$LOG_FILE" ]] && mv -f "$LOG_FILE" "$LOG_FILE.1"
    : >"$LOG_FILE"
    format_storage

    local started=$SECONDS
    log "starting Kafka $(kafka_version) on 127.0.0.1:$PORT (log: $LOG_FILE)"
    launch
    wait_ready
    log "ready in $((SECONDS - started)) s (pid $(running_pid))"
    export_line "127.0.0.1:$PORT"
}

cmd_stop() {
    # Deliberately ignores CMM_KAFKA_BOOTSTRAP: that variable is usually the
    # one `start` printed, and stop only ever touches our own pid file.
    take_lock
    local pid
    if ! pid="$(running_pid)"; then
        log "not running"
        rm -f "$PID_FILE"
        return
    fi
    log "stopping pid $pid"
    kill -TERM "$pid" 2>/dev/null || true
    local deadline=$((SECONDS + STOP_TIMEOUT))
    while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do
        sleep 1
    done
    if kill -0 "$pid" 2>/dev/null; then
        log "still alive after ${STOP_TIMEOUT} s; sending KILL"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$PID_FILE"
    log "stopped"
}

cmd_status() {
    local pid port
    port="$(cat "$PORT_FILE" 2>/dev/null || echo "$PORT")"
    if pid="$(running_pid)" && port_open "$port"; then
        echo "kafka: running, pid $pid, bootstrap 127.0.0.1:$port, state $STATE_DIR"
        return 0
    fi
    echo "kafka: not running (state $STATE_DIR)"
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
