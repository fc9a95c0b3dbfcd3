#!/usr/bin/env bash
# A dedicated PostgreSQL primary (127.0.0.1:5433) and two streaming replicas (127.0.0.1:5434
# and 5435) for the router tests, built from scratch in a scratch folder and independent of
# the machine's own PostgreSQL server (5432): own initdb, own config, own sockets, own logs.
# The router tests stop a replica's WAL receiver and kill -9 the second replica, so they are
# private to the tests.
#
#   bash scripts/pgreplica.sh up            create or start all three, verify replication (fast if up)
#   bash scripts/pgreplica.sh down          stop all three
#   bash scripts/pgreplica.sh status        show them; exit 0 only if all are up and streaming
#   bash scripts/pgreplica.sh lag [N]       measure write-on-primary -> visible-on-replica time N times
#   bash scripts/pgreplica.sh kill ROLE     kill -9 the server ROLE (primary, replica, replica2)
#   bash scripts/pgreplica.sh start ROLE    start it again (a replica: until it streams)
#   bash scripts/pgreplica.sh destroy       stop all three and delete the scratch folder
#
# URLs: primary  postgresql://postgres@127.0.0.1:5433/test
#       replica  postgresql://postgres@127.0.0.1:5434/test   (trust auth; role "root" too)
#       replica2 postgresql://postgres@127.0.0.1:5435/test
#
# Ports: $TINYORM_PGREPLICA_PORTS ("primary,replica,replica2"), default 5433,5434,5435.
# Folder: $TINYORM_PGREPLICA_DIR, default $PWD/.scratch/pgreplica (.scratch/ is git-ignored).
# PostgreSQL refuses to run as root, so when run as root every server-side command runs as
# the "postgres" OS user and the folder is owned by postgres; any parent directory that
# postgres cannot traverse gets o+x (search only, no read). Run as another user, the
# servers run as that user. Binaries: $TINYORM_PG_BINDIR, else the newest
# /usr/lib/postgresql/<major>/bin, else the directory of `pg_config --bindir`.
set -euo pipefail

HOST=127.0.0.1
IFS=, read -r PRIMARY_PORT REPLICA_PORT REPLICA2_PORT <<< "${TINYORM_PGREPLICA_PORTS:-5433,5434,5435}"
REPLICAS=(replica replica2)
LAYOUT=1                      # bump when the on-disk layout changes: forces a rebuild
WAIT_REPLICATION_S=10         # a row written on the primary must reach the replica by then

say() { echo "pgreplica: $*"; }
die() { echo "pgreplica: error: $*" >&2; exit 1; }

# Nothing from the caller's libpq environment (PGHOST, PGPORT, PGDATABASE, ...) leaks in.
while IFS= read -r var; do unset "$var"; done < <(compgen -e | grep '^PG' || true)
export PGCONNECT_TIMEOUT=3

DIR="${TINYORM_PGREPLICA_DIR:-$PWD/.scratch/pgreplica}"
DIR="$(realpath -m -- "$DIR")"
[[ "$DIR" != "/" ]] || die "TINYORM_PGREPLICA_DIR must not be /"
for port in "$PRIMARY_PORT" "$REPLICA_PORT" "$REPLICA2_PORT"; do
  [[ "$port" =~ ^[0-9]+$ ]] || die "TINYORM_PGREPLICA_PORTS must be three ports: primary,replica,replica2"
done
PRIMARY_DATA="$DIR/primary"
PRIMARY_LOG="$DIR/primary.log"
MARKER="$DIR/.tinyorm-pgreplica"

# Each server is named by its role; its data, log, port and (replicas) slot follow from it.
data_of() { echo "$DIR/$1"; }
log_of() { echo "$DIR/$1.log"; }
port_of() {
  case $1 in
    primary) echo "$PRIMARY_PORT" ;;
    replica) echo "$REPLICA_PORT" ;;
    replica2) echo "$REPLICA2_PORT" ;;
    *) die "unknown server $1 (primary, replica, replica2)" ;;
  esac
}
slot_of() { echo "tinyorm_$1"; }

# ---------------------------------------------------------------- binaries and users
find_bindir() {
  local dir
  if [[ -n "${TINYORM_PG_BINDIR:-}" ]]; then echo "$TINYORM_PG_BINDIR"; return; fi
  for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k5,5 -V -r); do
    [[ -x "$dir/initdb" && -x "$dir/postgres" ]] && { echo "$dir"; return; }
  done
  if command -v pg_config >/dev/null 2>&1; then
    dir="$(pg_config --bindir)"
    [[ -x "$dir/initdb" ]] && { echo "$dir"; return; }
  fi
  return 1
}
BIN="$(find_bindir)" || die "no PostgreSQL server binaries found (install postgresql, or set TINYORM_PG_BINDIR)"
for tool in initdb pg_ctl postgres pg_basebackup psql pg_isready; do
  [[ -x "$BIN/$tool" ]] || die "$BIN/$tool is missing"
done

major_of() { "$BIN/$1" --version | awk '{ split($3, v, "."); print v[1] }'; }
MAJOR="$(major_of postgres)"
for tool in initdb pg_ctl pg_basebackup; do
  [[ "$(major_of "$tool")" == "$MAJOR" ]] ||
    die "$BIN/$tool is version $(major_of "$tool") but postgres is $MAJOR"
done

if [[ $EUID -eq 0 ]]; then
  id -u postgres >/dev/null 2>&1 || die "running as root needs a 'postgres' OS user to run the servers"
  as_pg() { (cd / && runuser -u postgres -- "$@" 9>&-); }
else
  as_pg() { (cd / && "$@" 9>&-); }
fi

# (fd 9 is the lock on the scratch folder: never let a server inherit it.)

# ---------------------------------------------------------------- small helpers
psql_at() {  # psql_at PORT DB SQL... : unaligned, tuples only, stops on the first error
  local port=$1 db=$2; shift 2
  "$BIN/psql" -X -q -At -v ON_ERROR_STOP=1 -h "$HOST" -p "$port" -U postgres -d "$db" "$@"
}
port_open() { (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; }
postmaster_pid() { local pid; pid="$(head -n1 "$1/postmaster.pid" 2>/dev/null)" && [[ "$pid" =~ ^[0-9]+$ ]] && echo "$pid"; }
is_running() {  # the postmaster of DATADIR is alive (a killed one lingers as a zombie for a moment)
  local pid
  pid="$(postmaster_pid "$1")" || return 1
  if [[ -d /proc/self ]]; then
    [[ "$(cat "/proc/$pid/comm" 2>/dev/null)" == postgres && "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" != Z ]]
  else
    as_pg "$BIN/pg_ctl" -D "$1" status >/dev/null 2>&1
  fi
}
wait_reaped() {  # a dead postmaster's zombie still blocks a restart (its PID is in postmaster.pid)
  local pid i
  pid="$(postmaster_pid "$1")" || return 0
  for ((i = 0; i < 100; i++)); do
    [[ -e /proc/$pid ]] && ! is_running "$1" || return 0
    sleep 0.1
  done
}
valid_datadir() { [[ -f "$1/PG_VERSION" && "$(cat "$1/PG_VERSION" 2>/dev/null)" == "$MAJOR" ]]; }
write_pg_file() { as_pg sh -c 'cat > "$1"' _ "$1"; }   # content on stdin, owned by the server user

socket_dir() {  # a Unix socket path must fit in 107 bytes; otherwise TCP only
  local dir="$DIR/socket-$1"
  if (( ${#dir} + 15 <= 107 )); then echo "$dir"; else echo ""; fi
}

reset_log() { : > "$1"; [[ $EUID -ne 0 ]] || chown postgres: "$1"; }   # the server appends to it

show_log() {
  [[ -f "$1" ]] || return 0
  echo "---- last lines of $1" >&2
  tail -n 15 "$1" >&2
}

# ---------------------------------------------------------------- the scratch folder
ensure_dir() {
  if [[ -d "$DIR" ]]; then
    if [[ ! -f "$MARKER" && -n "$(ls -A "$DIR")" ]]; then
      die "$DIR exists, is not empty and was not made by this script; pick another TINYORM_PGREPLICA_DIR"
    fi
  else
    mkdir -p "$DIR"
  fi
  [[ -f "$MARKER" ]] || echo "layout=$LAYOUT" > "$MARKER"
  if [[ $EUID -eq 0 ]]; then
    chown postgres: "$DIR" "$MARKER"
    chmod 755 "$DIR"
    local path=""
    local part
    IFS=/ read -ra parts <<< "${DIR#/}"
    for part in "${parts[@]}"; do
      path="$path/$part"
      if ! runuser -u postgres -- test -x "$path"; then
        chmod o+x "$path"
        say "granted o+x on $path so the postgres user can reach the scratch folder"
      fi
    done
    runuser -u postgres -- test -w "$DIR" || die "the postgres user cannot write to $DIR"
  fi
}

take_lock() {
  exec 9>"$DIR/.lock"
  flock -w 300 9 || die "another pgreplica.sh is holding $DIR/.lock"
}

layout_ok() { [[ -f "$MARKER" ]] && grep -qx "layout=$LAYOUT" "$MARKER"; }

# ---------------------------------------------------------------- configuration
write_conf() {  # write_conf DATADIR ROLE PORT : the managed settings, rewritten before every start
  local data=$1 role=$2 port=$3 sock
  sock="$(socket_dir "$role")"
  [[ -z "$sock" ]] || as_pg mkdir -p "$sock"
  write_pg_file "$data/tinyorm.conf" <<EOF
# Managed by scripts/pgreplica.sh and rewritten on every start: do not edit.
cluster_name = 'tinyorm-pgreplica-$role'
listen_addresses = '$HOST'
port = $port
unix_socket_directories = '$sock'
max_connections = 100
shared_buffers = 32MB
wal_level = replica
max_wal_senders = 10
max_replication_slots = 10
max_slot_wal_keep_size = 1GB
wal_keep_size = 64MB
hot_standby = on
hot_standby_feedback = on
wal_receiver_status_interval = 1s
wal_retrieve_retry_interval = 1s
# A replica session holding a lock that replay needs is cancelled after 2 s instead of the
# default 30 s, so DDL on the primary (test teardown) cannot stall replication for long.
max_standby_streaming_delay = 2s
fsync = off
full_page_writes = off
synchronous_commit = on
jit = off
log_destination = 'stderr'
logging_collector = off
log_line_prefix = '%m [%p] %q%u@%d '
EOF
  grep -qx "include 'tinyorm.conf'" "$data/postgresql.conf" ||
    echo "include 'tinyorm.conf'" | as_pg sh -c 'cat >> "$1"' _ "$data/postgresql.conf"
  write_pg_file "$data/pg_hba.conf" <<EOF
# Managed by scripts/pgreplica.sh: a throwaway test cluster, trust on loopback only.
local   all          all                 trust
host    all          all   127.0.0.1/32  trust
local   replication  all                 trust
host    replication  all   127.0.0.1/32  trust
EOF
}

start_server() {  # start_server DATADIR LOG ROLE PORT ; returns non-zero if it fails to start
  local data=$1 log=$2 role=$3 port=$4
  write_conf "$data" "$role" "$port"
  wait_reaped "$data"
  if ! as_pg "$BIN/pg_ctl" -D "$data" -l "$log" -w -t 60 -s start >/dev/null 2>&1; then
    say "$role failed to start on $HOST:$port"
    show_log "$log"
    return 1
  fi
}

stop_server() {  # stop_server DATADIR ROLE
  local data=$1 role=$2
  is_running "$data" || return 0
  as_pg "$BIN/pg_ctl" -D "$data" -m fast -w -t 30 -s stop >/dev/null 2>&1 ||
    as_pg "$BIN/pg_ctl" -D "$data" -m immediate -w -t 30 -s stop >/dev/null 2>&1 ||
    die "cannot stop the $role ($data)"
}

# ---------------------------------------------------------------- probes
# "data_directory|in_recovery|has_root|has_test_db|wal_receiver_status", empty if unreachable.
probe() {
  psql_at "$1" postgres -F'|' -c "
    SELECT current_setting('data_directory'), pg_is_in_recovery(),
           EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'root' AND rolsuper),
           EXISTS (SELECT 1 FROM pg_database WHERE datname = 'test'),
           coalesce((SELECT status FROM pg_stat_wal_receiver), '')" 2>/dev/null || true
}

wait_ready() {  # wait_ready PORT SECONDS : until the server accepts connections
  local i
  for ((i = 0; i < $2 * 10; i++)); do
    "$BIN/pg_isready" -q -h "$HOST" -p "$1" -t 1 && return 0
    sleep 0.1
  done
  return 1
}

wait_streaming() {  # wait_streaming PORT SECONDS
  local i
  for ((i = 0; i < $2 * 10; i++)); do
    [[ "$(probe "$1" | cut -d'|' -f5)" == "streaming" ]] && return 0
    sleep 0.1
  done
  return 1
}

foreign_port() {  # foreign_port PORT OURDATA : die if another server holds the port
  local seen
  port_open "$1" || return 0
  seen="$(probe "$1" | cut -d'|' -f1)"
  [[ "$seen" == "$2" ]] && return 0
  if [[ "$seen" == */primary || "$seen" == */replica || "$seen" == */replica2 ]]; then
    die "$HOST:$1 is taken by the server in $seen (another pgreplica folder?); stop it first:" \
        "TINYORM_PGREPLICA_DIR=$(dirname "$seen") bash $0 down"
  fi
  die "$HOST:$1 is already taken by another program (PostgreSQL data_directory: ${seen:-unknown}); stop it first"
}

# ---------------------------------------------------------------- building
PRIMARY_SETUP_SQL="
SET client_min_messages = warning;
SELECT 'CREATE ROLE root SUPERUSER LOGIN'
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'root') \\gexec
ALTER ROLE root SUPERUSER LOGIN;
SELECT 'CREATE DATABASE test'
 WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = 'test') \\gexec
CREATE TABLE IF NOT EXISTS public.tinyorm_pgreplica_heartbeat (
  id int PRIMARY KEY, token text NOT NULL, written_at timestamptz NOT NULL);
"

setup_primary() { psql_at "$PRIMARY_PORT" postgres <<< "$PRIMARY_SETUP_SQL" >/dev/null; }

initdb_locale() {
  if locale -a 2>/dev/null | grep -qiE '^c\.utf-?8$'; then echo C.UTF-8; else echo C; fi
}

create_all() {  # a fresh primary, then fresh replicas of it
  local role
  for role in "${REPLICAS[@]}"; do stop_server "$(data_of "$role")" "$role"; done
  stop_server "$PRIMARY_DATA" primary
  foreign_port "$PRIMARY_PORT" "$PRIMARY_DATA"
  for role in "${REPLICAS[@]}"; do
    foreign_port "$(port_of "$role")" "$(data_of "$role")"
    rm -rf "$(data_of "$role")"
  done
  rm -rf "$PRIMARY_DATA" "$DIR"/socket-*
  reset_log "$PRIMARY_LOG"
  echo "layout=$LAYOUT" > "$MARKER"
  say "creating primary (PostgreSQL $MAJOR, $BIN) in $PRIMARY_DATA"
  as_pg "$BIN/initdb" -D "$PRIMARY_DATA" -U postgres -A trust -E UTF8 --locale="$(initdb_locale)" \
    -N --no-instructions > "$DIR/initdb.log" 2>&1 || { show_log "$DIR/initdb.log"; die "initdb failed"; }
  start_server "$PRIMARY_DATA" "$PRIMARY_LOG" primary "$PRIMARY_PORT" || die "the new primary does not start"
  setup_primary || die "cannot create role root / database test on the primary"
  for role in "${REPLICAS[@]}"; do create_replica "$role"; done
}

create_replica() {  # create_replica ROLE : a fresh pg_basebackup of the running primary
  local i role=$1 data port slot log
  data="$(data_of "$role")"; port="$(port_of "$role")"; slot="$(slot_of "$role")"; log="$(log_of "$role")"
  stop_server "$data" "$role"
  foreign_port "$port" "$data"
  rm -rf "$data"
  for ((i = 0; i < 50; i++)); do   # the old walsender may need a moment to release the slot
    psql_at "$PRIMARY_PORT" postgres -c "SELECT pg_drop_replication_slot(slot_name)
        FROM pg_replication_slots WHERE slot_name = '$slot' AND NOT active" >/dev/null 2>&1 || true
    [[ -z "$(psql_at "$PRIMARY_PORT" postgres -c \
        "SELECT 1 FROM pg_replication_slots WHERE slot_name = '$slot'" 2>/dev/null)" ]] && break
    sleep 0.1
  done
  say "creating $role in $data (pg_basebackup -R -X stream from $HOST:$PRIMARY_PORT)"
  as_pg "$BIN/pg_basebackup" -h "$HOST" -p "$PRIMARY_PORT" -U postgres -D "$data" \
    -R -X stream -C -S "$slot" -c fast -N > "$DIR/basebackup.log" 2>&1 ||
    { show_log "$DIR/basebackup.log"; die "pg_basebackup failed"; }
  reset_log "$log"
  start_server "$data" "$log" "$role" "$port" || die "the new $role does not start"
  wait_streaming "$port" 20 || { show_log "$log"; die "the new $role does not stream from the primary"; }
}

# ---------------------------------------------------------------- replication check
# Writes a fresh token on the primary and waits (inside the replica) until it is visible.
# Prints the milliseconds from the write to its visibility on the replica; if the waiter
# starts late (no head start), that figure is an upper bound.
replication_roundtrip() {  # replication_roundtrip HEADSTART_SECONDS [REPLICA_PORT]
  local token out waiter status=0
  token="t$$x$RANDOM$(date +%s%N)"
  out="$(mktemp)"
  psql_at "${2:-$REPLICA_PORT}" postgres -c "
    DO \$\$
    DECLARE t0 timestamptz := clock_timestamp(); seen timestamptz;
    BEGIN
      LOOP
        IF to_regclass('public.tinyorm_pgreplica_heartbeat') IS NOT NULL THEN
          EXECUTE 'SELECT written_at FROM public.tinyorm_pgreplica_heartbeat
                    WHERE id = 1 AND token = \$1' INTO seen USING '$token';
          IF seen IS NOT NULL THEN
            RAISE NOTICE 'lag_ms=%', round((extract(epoch FROM clock_timestamp() - seen) * 1000)::numeric, 1);
            RETURN;
          END IF;
        END IF;
        IF clock_timestamp() - t0 > interval '$WAIT_REPLICATION_S seconds' THEN
          RAISE EXCEPTION 'row written on the primary not visible on the replica after $WAIT_REPLICATION_S s';
        END IF;
        PERFORM pg_sleep(0.001);
      END LOOP;
    END \$\$" > "$out" 2>&1 &
  waiter=$!
  sleep "$1"
  if ! psql_at "$PRIMARY_PORT" postgres -c "
      INSERT INTO public.tinyorm_pgreplica_heartbeat VALUES (1, '$token', clock_timestamp())
      ON CONFLICT (id) DO UPDATE SET token = EXCLUDED.token, written_at = EXCLUDED.written_at" \
      >/dev/null 2>&1; then
    kill "$waiter" 2>/dev/null || true
    wait "$waiter" 2>/dev/null || true
    rm -f "$out"
    return 1
  fi
  wait "$waiter" || status=$?
  if (( status == 0 )) && grep -q 'lag_ms=' "$out"; then
    sed -n 's/.*lag_ms=\([0-9.]*\).*/\1/p' "$out"
  else
    status=1
  fi
  rm -f "$out"
  return "$status"
}

# ---------------------------------------------------------------- commands
reuse_foreign_pair() {  # healthy servers built from another checkout serve the tests as well
  local p r role
  p="$(probe "$PRIMARY_PORT")"
  [[ -n "$p" ]] || return 1
  [[ "$(cut -d'|' -f1 <<< "$p")" == */primary && "$(cut -d'|' -f1 <<< "$p")" != "$PRIMARY_DATA" ]] || return 1
  [[ "$(cut -d'|' -f2 <<< "$p")" == "f" && "$(cut -d'|' -f3,4 <<< "$p")" == "t|t" ]] || return 1
  for role in "${REPLICAS[@]}"; do
    r="$(probe "$(port_of "$role")")"
    [[ "$(cut -d'|' -f1 <<< "$r")" == */"$role" && "$(cut -d'|' -f5 <<< "$r")" == "streaming" ]] || return 1
  done
  say "reusing the healthy servers from $(dirname "$(cut -d'|' -f1 <<< "$p")") on $HOST:$PRIMARY_PORT, $REPLICA_PORT and $REPLICA2_PORT"
}

ensure_replica() {  # ensure_replica ROLE : start, repair or rebuild one replica; 1 if it acted
  local role=$1 r data port log
  data="$(data_of "$role")"; port="$(port_of "$role")"; log="$(log_of "$role")"
  r="$(probe "$port")"
  if [[ -z "$r" ]] && is_running "$data"; then
    wait_ready "$port" 30 || true
    r="$(probe "$port")"
    [[ -n "$r" ]] || { say "$role is running but not answering; stopping it"; stop_server "$data" "$role"; }
  fi
  if [[ "$(cut -d'|' -f1,2 <<< "$r")" == "$data|t" ]]; then
    if [[ "$(cut -d'|' -f5 <<< "$r")" != "streaming" ]] && ! wait_streaming "$port" 10; then
      say "$role is not streaming from the primary; rebuilding it"; create_replica "$role"; return 1
    fi
    return 0
  elif [[ -n "$r" && "$(cut -d'|' -f1 <<< "$r")" == "$data" ]]; then
    say "$role is not in recovery (promoted?); rebuilding it"; create_replica "$role"; return 1
  fi
  foreign_port "$port" "$data"
  if valid_datadir "$data" && [[ -f "$data/standby.signal" ]] &&
     start_server "$data" "$log" "$role" "$port" && wait_streaming "$port" 15; then
    say "$role started on $HOST:$port"
  else
    [[ -d "$data" ]] && say "$role data is unusable or not streaming; rebuilding it"
    create_replica "$role"
  fi
  return 1
}

cmd_up() {
  local p acted=0 primary_new=0 ms state role port times=()
  ensure_dir
  take_lock
  if reuse_foreign_pair; then
    return 0
  fi

  layout_ok || { say "scratch folder layout changed; rebuilding"; create_all; acted=1; primary_new=1; }

  # Primary.
  if (( ! primary_new )); then
    p="$(probe "$PRIMARY_PORT")"
    if [[ -z "$p" ]] && is_running "$PRIMARY_DATA"; then   # ours, maybe still starting up
      wait_ready "$PRIMARY_PORT" 30 || true
      p="$(probe "$PRIMARY_PORT")"
      [[ -n "$p" ]] || { say "primary is running but not answering; stopping it"; stop_server "$PRIMARY_DATA" primary; }
    fi
    if [[ "$(cut -d'|' -f1 <<< "$p")" == "$PRIMARY_DATA" && "$(cut -d'|' -f2 <<< "$p")" == "f" ]]; then
      if [[ "$(cut -d'|' -f3,4 <<< "$p")" != "t|t" ]]; then
        say "restoring role root / database test on the primary"; setup_primary; acted=1
      fi
    elif [[ -n "$p" && "$(cut -d'|' -f1 <<< "$p")" == "$PRIMARY_DATA" ]]; then
      say "primary is in recovery (not a primary any more); rebuilding"; create_all; acted=1; primary_new=1
    else
      foreign_port "$PRIMARY_PORT" "$PRIMARY_DATA"
      acted=1
      if valid_datadir "$PRIMARY_DATA" && start_server "$PRIMARY_DATA" "$PRIMARY_LOG" primary "$PRIMARY_PORT" &&
         [[ "$(probe "$PRIMARY_PORT" | cut -d'|' -f1,2)" == "$PRIMARY_DATA|f" ]]; then
        say "primary started on $HOST:$PRIMARY_PORT"
        setup_primary
      else
        [[ -d "$PRIMARY_DATA" ]] && say "primary data is unusable; rebuilding"
        create_all; primary_new=1
      fi
    fi
  fi

  # Replicas.
  if (( ! primary_new )); then
    for role in "${REPLICAS[@]}"; do ensure_replica "$role" || acted=1; done
  fi

  # A row written on the primary must show up on each replica.
  for role in "${REPLICAS[@]}"; do
    port="$(port_of "$role")"
    if ! ms="$(replication_roundtrip 0 "$port")"; then
      say "a row written on the primary did not reach the $role; rebuilding it"
      create_replica "$role"; acted=1
      ms="$(replication_roundtrip 0 "$port")" ||
        { show_log "$(log_of "$role")"; die "replication does not work: a row written on $HOST:$PRIMARY_PORT never appeared on $HOST:$port"; }
    fi
    times+=("$role ${ms} ms")
  done

  if (( acted )); then state="ready"; else state="already up"; fi
  say "$state: primary postgresql://postgres@$HOST:$PRIMARY_PORT/test, replicas postgresql://postgres@$HOST:$REPLICA_PORT/test and postgresql://postgres@$HOST:$REPLICA2_PORT/test (row replicated in: ${times[*]}; folder $DIR)"
}

cmd_down() {
  if [[ ! -d "$DIR" ]]; then say "nothing to stop ($DIR does not exist)"; return; fi
  take_lock
  local data role
  for role in replica2 replica primary; do
    data="$(data_of "$role")"
    if is_running "$data"; then stop_server "$data" "$role"; say "$role stopped"
    else say "$role already stopped"; fi
  done
}

cmd_status() {
  local p r healthy=1 lag role data port
  if [[ ! -d "$DIR" ]]; then say "absent ($DIR does not exist)"; return 1; fi
  p="$(probe "$PRIMARY_PORT")"
  if [[ "$(cut -d'|' -f1,2 <<< "$p")" == "$PRIMARY_DATA|f" ]]; then
    say "primary $HOST:$PRIMARY_PORT running (data $PRIMARY_DATA)"
  elif is_running "$PRIMARY_DATA"; then say "primary $HOST:$PRIMARY_PORT running but unhealthy"; healthy=0
  elif [[ -d "$PRIMARY_DATA" ]]; then say "primary $HOST:$PRIMARY_PORT stopped"; healthy=0
  else say "primary absent"; healthy=0; fi
  for role in "${REPLICAS[@]}"; do
    data="$(data_of "$role")"; port="$(port_of "$role")"
    r="$(probe "$port")"
    if [[ "$(cut -d'|' -f1,2 <<< "$r")" == "$data|t" ]]; then
      lag="$(psql_at "$PRIMARY_PORT" postgres -c "SELECT coalesce(max(pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn))::bigint::text, '?') FROM pg_stat_replication WHERE application_name = 'tinyorm-pgreplica-$role'" 2>/dev/null || echo '?')"
      say "$role $HOST:$port running, hot standby, wal receiver ${r##*|}, replay behind by $lag bytes (data $data)"
      [[ "${r##*|}" == "streaming" ]] || healthy=0
    elif is_running "$data"; then say "$role $HOST:$port running but unhealthy"; healthy=0
    elif [[ -d "$data" ]]; then say "$role $HOST:$port stopped"; healthy=0
    else say "$role absent"; healthy=0; fi
  done
  (( healthy ))
}

cmd_lag() {
  local n=${1:-20} i ms all=()
  [[ "$n" =~ ^[0-9]+$ && "$n" -gt 0 ]] || die "usage: $0 lag [ITERATIONS]"
  cmd_status >/dev/null || die "the pair is not up (run: bash $0 up)"
  for ((i = 0; i < n; i++)); do
    ms="$(replication_roundtrip 0.3)" || die "a row did not reach the replica within $WAIT_REPLICATION_S s"
    all+=("$ms")
  done
  printf '%s\n' "${all[@]}" | sort -n | awk -v n="$n" '
    { v[NR] = $1; s += $1 }
    END { printf "pgreplica: replication lag over %d writes (commit on primary -> row visible on replica): min %.1f ms, median %.1f ms, mean %.1f ms, max %.1f ms\n",
          n, v[1], v[int((n + 1) / 2)], s / n, v[n] }'
}

cmd_destroy() {
  if [[ ! -d "$DIR" ]]; then say "nothing to destroy ($DIR does not exist)"; return; fi
  if [[ ! -f "$MARKER" && -n "$(ls -A "$DIR")" ]]; then
    die "refusing to delete $DIR: it was not made by this script"
  fi
  take_lock
  local role
  for role in "${REPLICAS[@]}"; do stop_server "$(data_of "$role")" "$role"; done
  stop_server "$PRIMARY_DATA" primary
  rm -rf "$DIR"
  say "destroyed $DIR"
}

cmd_kill() {  # kill -9 one server (tests: a server dying mid-run); `start` brings it back
  local role=${1:-} data pid
  port_of "$role" >/dev/null
  data="$(data_of "$role")"
  if pid="$(postmaster_pid "$data")" && is_running "$data"; then
    kill -9 "$pid"
    wait_reaped "$data"
    say "$role killed (pid $pid)"
  else
    say "$role is not running"
  fi
}

cmd_start() {
  local role=${1:-} data port
  port="$(port_of "$role")"
  data="$(data_of "$role")"
  valid_datadir "$data" || die "$role has no data in $data (run: bash $0 up)"
  take_lock
  if ! is_running "$data"; then
    # A server killed with -9 leaves its shared memory to its children for a moment.
    start_server "$data" "$(log_of "$role")" "$role" "$port" || die "$role does not start"
  fi
  wait_ready "$port" 30 || die "$role does not accept connections"
  if [[ $role != primary && -n "$(psql_at "$port" postgres -c "SHOW primary_conninfo")" ]]; then
    wait_streaming "$port" 30 || die "$role does not stream from the primary"
  elif [[ $role != primary ]]; then   # (a test emptied it: the replica must stay behind)
    say "$role has no primary_conninfo: not streaming"
  fi
  say "$role running on $HOST:$port"
}

case "${1:-}" in
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  lag) cmd_lag "${2:-}" ;;
  kill) cmd_kill "${2:-}" ;;
  start) cmd_start "${2:-}" ;;
  destroy) cmd_destroy ;;
  *) echo "usage: $0 up|down|status|lag [N]|kill ROLE|start ROLE|destroy" >&2; exit 2 ;;
esac
