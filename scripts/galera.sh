#!/usr/bin/env bash
# A private 3-node MariaDB Galera cluster for the router tests (backend `galera`), built from
# scratch in a scratch folder, independent of the machine's shared MariaDB (3306), so the
# tests may kill -9 a node, isolate one, and restart it.
#
#   bash scripts/galera.sh up          create or start the cluster, wait for 3 synced nodes
#   bash scripts/galera.sh down        stop the three nodes
#   bash scripts/galera.sh status      exit 0 only if the three nodes are up, synced, in one cluster
#   bash scripts/galera.sh kill N      kill -9 node N (1, 2 or 3)
#   bash scripts/galera.sh start N     start node N again (joins the running nodes), wait until synced
#   bash scripts/galera.sh destroy     stop the nodes and delete the scratch folder
#
# Ports: MySQL 3326/3327/3328, group communication 4626-4628, IST 4636-4638, SST 4646-4648.
# URLs:  mysql://root@127.0.0.1:3326/test  (3327, 3328 the same)
# Folder: $TINYORM_GALERA_DIR, default $PWD/.scratch/galera (.scratch/ is git-ignored).
# Needs Debian's mariadb-server, galera-4 and rsync (installed with apt-get when run as root
# and missing). As root the nodes run as the "mysql" OS user. Durability is relaxed (InnoDB
# log flushed per second): the tests kill processes, never the machine.
set -euo pipefail

HOST=127.0.0.1
NODES=(1 2 3)
CLUSTER=tinyorm_galera
DBNAME=test
LAYOUT=2                 # bump when the configuration changes incompatibly: forces a rebuild

say() { echo "galera: $*"; }
die() { echo "galera: error: $*" >&2; exit 1; }

while IFS= read -r var; do unset "$var"; done < <(compgen -e | grep -E '^MYSQL' || true)

my_port() { echo $((3325 + $1)); }
gcomm_port() { echo $((4625 + $1)); }
ist_port() { echo $((4635 + $1)); }
sst_port() { echo $((4645 + $1)); }

DIR="$(realpath -m -- "${TINYORM_GALERA_DIR:-$PWD/.scratch/galera}")"
[[ "$DIR" != "/" ]] || die "TINYORM_GALERA_DIR must not be /"
RUN="$DIR/run"
MARKER="$DIR/.tinyorm-galera"

# ---------------------------------------------------------------- packages, binaries, users
find_provider() { { ls /usr/lib/galera/libgalera_smm.so /usr/lib/libgalera_smm.so /usr/lib64/galera-4/libgalera_smm.so 2>/dev/null || true; } | head -n1; }
if [[ -z "$(find_provider)" || -z "$(command -v rsync)" || -z "$(command -v mariadbd || ls /usr/sbin/mariadbd 2>/dev/null)" ]]; then
  [[ $EUID -eq 0 ]] || die "install mariadb-server, galera-4 and rsync (needs root)"
  say "installing mariadb-server galera-4 rsync"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null && apt-get install -y -qq mariadb-server galera-4 rsync >/dev/null ||
    die "apt-get install mariadb-server galera-4 rsync failed"
fi
PROVIDER="$(find_provider)"
[[ -n "$PROVIDER" ]] || die "no libgalera_smm.so (install galera-4)"
# shellcheck source=lib/mariadb.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/mariadb.sh"

port_open() { (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; }
node_sql() { "$MYSQL_CLIENT" --no-defaults --connect-timeout=3 -h "$HOST" -P "$(my_port "$1")" -uroot -N -B -e "$2"; }
node_status() { node_sql "$1" "SHOW GLOBAL STATUS LIKE '$2'" 2>/dev/null | awk '{print $2}'; }

wait_until() {  # wait_until SECONDS COMMAND... : poll every 0.2 s
  local limit=$(( $1 * 5 )) i; shift
  for ((i = 0; i < limit; i++)); do "$@" >/dev/null 2>&1 && return 0; sleep 0.2; done
  return 1
}

prepare_dir() {
  mkdir -p "$DIR" "$RUN"
  if [[ -f "$MARKER" && "$(cat "$MARKER")" != "$LAYOUT" ]]; then
    say "layout changed: rebuilding $DIR"
    local n; for n in "${NODES[@]}"; do node_kill "$n"; done
    rm -rf "${DIR:?}"/node* "$RUN"/*
  fi
  echo "$LAYOUT" > "$MARKER"
  open_path_for_user "$DIR"
  [[ $EUID -ne 0 ]] || chown "$MY_USER" "$DIR" "$RUN"
  exec 9>"$DIR/.lock"
  flock -w 300 9 || die "another galera.sh is holding $DIR/.lock"
}

# ---------------------------------------------------------------- one node
# A joining node writes its pid file only once synced: until then it is found by its
# config file, which names this folder (never another checkout's server).
node_pid() {
  local pid
  pid="$(cat "$RUN/node$1.pid" 2>/dev/null)" && [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null && { echo "$pid"; return 0; }
  pid="$(pgrep -u "$MY_USER" -f -x -- "$MARIADBD --defaults-file=$DIR/node$1.cnf( --wsrep-new-cluster)?" | head -n1)" && [[ -n "$pid" ]] && echo "$pid"
}
node_answers() { node_sql "$1" "SELECT 1" >/dev/null 2>&1; }
node_synced() { [[ "$(node_status "$1" wsrep_local_state_comment)" == Synced && "$(node_status "$1" wsrep_ready)" == ON ]]; }
node_primary() { [[ "$(node_status "$1" wsrep_cluster_status)" == Primary ]]; }
cluster_size_is() { [[ "$(node_status "$1" wsrep_cluster_size)" == "$2" ]]; }

write_config() {
  local n=$1 others="" m
  for m in "${NODES[@]}"; do others="${others:+$others,}$HOST:$(gcomm_port "$m")"; done
  cat > "$DIR/node$n.cnf" <<EOF
[mysqld]
datadir=$DIR/node$n
port=$(my_port "$n")
bind-address=$HOST
socket=$RUN/node$n.sock
pid-file=$RUN/node$n.pid
log-error=$DIR/node$n.log
skip-name-resolve
innodb_buffer_pool_size=32M
innodb_log_file_size=16M
innodb_flush_log_at_trx_commit=2
max_connections=120
server_id=$n
binlog_format=ROW
default_storage_engine=InnoDB
innodb_autoinc_lock_mode=2
wsrep_on=ON
wsrep_provider=$PROVIDER
wsrep_cluster_name=$CLUSTER
wsrep_cluster_address=gcomm://$others
wsrep_node_name=node$n
wsrep_node_address=$HOST:$(gcomm_port "$n")
wsrep_node_incoming_address=$HOST:$(my_port "$n")
wsrep_sst_method=rsync
wsrep_sst_receive_address=$HOST:$(sst_port "$n")
# One applier thread: parallel appliers hit "MDL BF-BF conflict" on DDL (CREATE INDEX) and stall.
wsrep_slave_threads=1
# Short failure detection: a killed or isolated node leaves the cluster within seconds.
wsrep_provider_options="gmcast.listen_addr=tcp://$HOST:$(gcomm_port "$n");ist.recv_addr=$HOST:$(ist_port "$n");gcache.size=64M;evs.keepalive_period=PT0.5S;evs.inactive_check_period=PT0.5S;evs.suspect_timeout=PT2S;evs.inactive_timeout=PT4S;evs.install_timeout=PT4S;pc.wait_prim_timeout=PT10S"

[sst]
sst-syslog=-1
EOF
  [[ $EUID -ne 0 ]] || chown "$MY_USER" "$DIR/node$n.cnf"
}

node_create() {
  local n=$1
  say "creating node$n in $DIR/node$n"
  rm -rf "$DIR/node$n"; mkdir -p "$DIR/node$n"; chown "$MY_USER" "$DIR/node$n" 2>/dev/null || true
  as_user "$INSTALL_DB" --no-defaults --datadir="$DIR/node$n" --auth-root-authentication-method=normal \
    --skip-test-db > "$DIR/node$n-install.log" 2>&1 ||
    { tail -n 20 "$DIR/node$n-install.log" >&2; die "mariadb-install-db failed for node$n"; }
}

node_launch() {  # node_launch N [--wsrep-new-cluster]
  local n=$1; shift
  write_config "$n"
  [[ -d "$DIR/node$n/mysql" ]] || node_create "$n"
  touch "$DIR/node$n.log"; [[ $EUID -ne 0 ]] || chown "$MY_USER" "$DIR/node$n.log"
  rm -f "$RUN/node$n.pid"
  ( exec 9>&-; as_user setsid "$MARIADBD" --defaults-file="$DIR/node$n.cnf" "$@" ) </dev/null >/dev/null 2>&1 &
}

node_wait_synced() {
  local n=$1
  wait_until "${2:-180}" node_synced "$n" ||
    { tail -n 30 "$DIR/node$n.log" >&2; die "node$n (port $(my_port "$n")) did not reach Synced"; }
}

node_kill() {
  local pid
  pid="$(node_pid "$1")" || return 0
  kill -9 "$pid" 2>/dev/null || true
  wait_until 20 sh -c "! kill -0 $pid" || true
}

node_stop() {
  local pid
  pid="$(node_pid "$1")" || return 0
  kill -TERM "$pid" 2>/dev/null || true
  wait_until 60 sh -c "! kill -0 $pid" || node_kill "$1"
}

live_primary_node() {  # a running node that is part of the primary component
  local n
  for n in "${NODES[@]}"; do
    node_pid "$n" >/dev/null && node_answers "$n" && node_primary "$n" && { echo "$n"; return 0; }
  done
  return 1
}

bootstrap() {  # start node N as a new cluster (nothing else is running)
  local n=$1 state="$DIR/node$1/grastate.dat"
  # This is a test cluster: whichever node bootstraps may do so, whatever its last state.
  [[ ! -f "$state" ]] || sed -i 's/^safe_to_bootstrap:.*/safe_to_bootstrap: 1/' "$state"
  say "bootstrapping the cluster on node$n"
  node_launch "$n" --wsrep-new-cluster
  node_wait_synced "$n"
}

node_start() {  # start node N, joining the running cluster (or bootstrapping one)
  local n=$1
  if node_pid "$n" >/dev/null; then
    node_wait_synced "$n" && return 0
  fi
  if ! live_primary_node >/dev/null; then
    bootstrap "$n"
    return 0
  fi
  node_launch "$n"
  node_wait_synced "$n"
}

# ---------------------------------------------------------------- cluster
# Another checkout's galera servers (CI runs in a fresh clone; engineers have several
# worktrees) hold the same ports. They are private test servers built by this script, so
# they are stopped and ours started.
release_foreign() {
  local n seen port
  for n in "${NODES[@]}"; do
    port_open "$(my_port "$n")" || continue
    node_pid "$n" >/dev/null && continue
    seen="$(node_sql "$n" "SELECT @@datadir" 2>/dev/null || true)"
    seen="${seen%/}"
    if [[ "$seen" == */galera/node$n && "$seen" != "$DIR/node$n" && -f "$(dirname "$seen")/.tinyorm-galera" ]]; then
      say "stopping the galera node$n of another checkout ($seen)"
      node_sql "$n" "SHUTDOWN" >/dev/null 2>&1 || true
      # the node lets go of its group-communication and transfer ports after its client port
      for port in "$(my_port "$n")" "$(gcomm_port "$n")" "$(ist_port "$n")" "$(sst_port "$n")"; do
        wait_until 60 sh -c "! (exec 3<>/dev/tcp/$HOST/$port) 2>/dev/null" || true
      done
    fi
  done
}

check_ports() {
  local n port
  for n in "${NODES[@]}"; do
    node_pid "$n" >/dev/null && continue
    for port in "$(my_port "$n")" "$(gcomm_port "$n")" "$(ist_port "$n")" "$(sst_port "$n")"; do
      ! port_open "$port" || die "$HOST:$port is taken by another program; stop it first"
    done
  done
}

cluster_ok() {
  local n
  for n in "${NODES[@]}"; do
    node_synced "$n" && cluster_size_is "$n" "${#NODES[@]}" || return 1
  done
}

cluster_up() {
  local n first
  if ! first="$(live_primary_node)"; then
    for n in "${NODES[@]}"; do node_kill "$n"; done   # running but not primary: start over
    bootstrap 1
  fi
  for n in "${NODES[@]}"; do node_start "$n"; done
  wait_until 60 cluster_ok || die "the cluster did not reach ${#NODES[@]} synced nodes"
  node_sql 1 "CREATE DATABASE IF NOT EXISTS $DBNAME" >/dev/null
}

case "${1:-}" in
  up)
    prepare_dir; release_foreign; check_ports; cluster_up
    say "up: mysql://root@$HOST:3326/$DBNAME mysql://root@$HOST:3327/$DBNAME mysql://root@$HOST:3328/$DBNAME (folder $DIR)" ;;
  down)
    prepare_dir
    for n in 3 2 1; do node_stop "$n"; done   # node1 last: it is safe to bootstrap from
    say "stopped" ;;
  status)
    ok=0
    for n in "${NODES[@]}"; do
      if node_answers "$n"; then
        say "node$n :$(my_port "$n") $(node_status "$n" wsrep_local_state_comment) ready=$(node_status "$n" wsrep_ready) cluster_size=$(node_status "$n" wsrep_cluster_size) $(node_status "$n" wsrep_cluster_status)"
        cluster_ok || ok=1
      else
        say "node$n :$(my_port "$n") down"; ok=1
      fi
    done
    exit $ok ;;
  kill) [[ "${2:-}" =~ ^[123]$ ]] || die "usage: $0 kill 1|2|3"; prepare_dir; node_kill "$2" ;;
  start) [[ "${2:-}" =~ ^[123]$ ]] || die "usage: $0 start 1|2|3"; prepare_dir; node_start "$2" ;;
  destroy)
    prepare_dir
    for n in "${NODES[@]}"; do node_kill "$n"; done
    rm -rf "$DIR"; say "destroyed $DIR" ;;
  *) echo "usage: $0 up|down|status|kill N|start N|destroy" >&2; exit 2 ;;
esac
