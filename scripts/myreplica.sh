#!/usr/bin/env bash
# A private MariaDB primary (127.0.0.1:3316) and GTID replica (127.0.0.1:3317) for the router
# tests, built from scratch in a scratch folder and independent of the machine's MariaDB
# (3306): own datadirs, sockets and logs. The tests stop the replica's threads and kill -9
# the replica, so it must be ours.
#
#   bash scripts/myreplica.sh up              create or start both, verify replication (fast if up)
#   bash scripts/myreplica.sh down            stop both
#   bash scripts/myreplica.sh status          exit 0 only if both answer and the replica replicates
#   bash scripts/myreplica.sh kill replica    kill -9 the replica (tests: a replica dying mid-run)
#   bash scripts/myreplica.sh start replica   start it again and resume replication
#   bash scripts/myreplica.sh destroy         stop both and delete the scratch folder
#
# URLs: primary mysql://root@127.0.0.1:3316/test   replica mysql://root@127.0.0.1:3317/test
# Folder: $TINYORM_MYREPLICA_DIR, default $PWD/.scratch/myreplica (.scratch/ is git-ignored).
# As root the servers run as the "mysql" OS user; parents of the folder get o+x (search only).
# Durability is relaxed for speed (InnoDB log flushed per second) but survives a process kill.
set -euo pipefail

HOST=127.0.0.1
PRIMARY_PORT=3316
REPLICA_PORT=3317
DBNAME=test

say() { echo "myreplica: $*"; }
die() { echo "myreplica: error: $*" >&2; exit 1; }

while IFS= read -r var; do unset "$var"; done < <(compgen -e | grep -E '^MYSQL' || true)

DIR="$(realpath -m -- "${TINYORM_MYREPLICA_DIR:-$PWD/.scratch/myreplica}")"
[[ "$DIR" != "/" ]] || die "TINYORM_MYREPLICA_DIR must not be /"
MARKER="$DIR/.tinyorm-myreplica"

# shellcheck source=lib/mariadb.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/mariadb.sh"

port_of() { if [[ $1 == primary ]]; then echo "$PRIMARY_PORT"; else echo "$REPLICA_PORT"; fi; }
server_id() { if [[ $1 == primary ]]; then echo 1; else echo 2; fi; }
sql_at() { "$MYSQL_CLIENT" --no-defaults --connect-timeout=3 -h "$HOST" -P "$1" -uroot -N -B -e "$2"; }
port_open() { (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; }
pid_of() { local pid; pid="$(cat "$DIR/$1-run/mariadbd.pid" 2>/dev/null)" && [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null && echo "$pid"; }
answers() { sql_at "$(port_of "$1")" "SELECT 1" >/dev/null 2>&1; }

wait_until() {  # wait_until SECONDS COMMAND... : poll every 0.1 s
  local limit=$(( $1 * 10 )) i; shift
  for ((i = 0; i < limit; i++)); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
  return 1
}

prepare_dir() {
  if [[ -d "$DIR" && ! -f "$MARKER" && -n "$(ls -A "$DIR")" ]]; then
    die "$DIR exists, is not empty and was not made by this script; pick another TINYORM_MYREPLICA_DIR"
  fi
  mkdir -p "$DIR"
  touch "$MARKER"
  open_path_for_user "$DIR"
  exec 9>"$DIR/.lock"
  flock -w 120 9 || die "another myreplica.sh is holding $DIR/.lock"
}

create() {  # create ROLE : a fresh datadir
  local role=$1
  say "creating the $role in $DIR/$role"
  rm -rf "${DIR:?}/$role" "$DIR/$role-run"
  mkdir -p "$DIR/$role" "$DIR/$role-run"
  chown "$MY_USER" "$DIR/$role" "$DIR/$role-run" 2>/dev/null || true
  as_user "$INSTALL_DB" --no-defaults --datadir="$DIR/$role" --auth-root-authentication-method=normal \
    --skip-test-db > "$DIR/$role-install.log" 2>&1 ||
    { tail -n 20 "$DIR/$role-install.log" >&2; die "mariadb-install-db failed for the $role"; }
}

start() {  # start ROLE : start the server (creating it first if needed), wait until it answers
  local role=$1 port
  port="$(port_of "$role")"
  pid_of "$role" >/dev/null && answers "$role" && return 0
  [[ -d "$DIR/$role/mysql" ]] || create "$role"
  mkdir -p "$DIR/$role-run"; chown "$MY_USER" "$DIR/$role-run" 2>/dev/null || true
  [[ -f "$DIR/$role.log" ]] || touch "$DIR/$role.log"
  [[ $EUID -ne 0 ]] || chown "$MY_USER" "$DIR/$role.log"
  rm -f "$DIR/$role-run/mariadbd.pid"
  # Row-based binlog with GTIDs on both (the replica logs what it applies, so it could be
  # promoted); the replica is read_only for every account but root (SUPER).
  local extra=()
  [[ $role == replica ]] && extra+=(--read-only=1 --log-slave-updates=1 --skip-slave-start=0)
  ( exec 9>&-; as_user setsid "$MARIADBD" --no-defaults --datadir="$DIR/$role" --port="$port" \
    --bind-address="$HOST" --socket="$DIR/$role-run/mariadbd.sock" --pid-file="$DIR/$role-run/mariadbd.pid" \
    --log-error="$DIR/$role.log" --skip-name-resolve --innodb-buffer-pool-size=32M \
    --innodb-log-file-size=16M --innodb-flush-log-at-trx-commit=2 --max-connections=80 \
    --server-id="$(server_id "$role")" --log-bin=mariadb-bin --binlog-format=ROW \
    --gtid-domain-id=0 --gtid-strict-mode=1 --relay-log=relay-bin --max-allowed-packet=64M \
    "${extra[@]}" ) < /dev/null > /dev/null 2>&1 &
  wait_until 60 answers "$role" || { tail -n 20 "$DIR/$role.log" >&2; die "the $role does not start on $HOST:$port"; }
}

stop() {  # stop ROLE
  local pid
  pid="$(pid_of "$1")" || return 0
  kill -TERM "$pid" 2>/dev/null || true
  wait_until 30 sh -c "! kill -0 $pid" || { kill -9 "$pid" 2>/dev/null || true; }
}

kill_server() {  # kill ROLE : as a crash would
  local pid
  pid="$(pid_of "$1")" || return 0
  kill -9 "$pid" 2>/dev/null || true
  wait_until 10 sh -c "! kill -0 $pid" || true
}

replicating() {  # both threads running on the replica
  local status
  status="$("$MYSQL_CLIENT" --no-defaults --connect-timeout=3 -h "$HOST" -P "$REPLICA_PORT" -uroot -e "SHOW SLAVE STATUS\\G" 2>/dev/null)" ||
    return 1
  grep -q 'Slave_IO_Running: Yes' <<< "$status" && grep -q 'Slave_SQL_Running: Yes' <<< "$status"
}

setup_replication() {
  sql_at "$PRIMARY_PORT" "CREATE DATABASE IF NOT EXISTS $DBNAME" >/dev/null
  if ! sql_at "$REPLICA_PORT" "SHOW SLAVE STATUS" | grep -q .; then
    # A fresh replica starts from the primary's first GTID: the primary's binlog holds all of it.
    say "pointing the replica at $HOST:$PRIMARY_PORT (GTID, slave_pos)"
    sql_at "$REPLICA_PORT" "SET GLOBAL gtid_slave_pos = '';
      CHANGE MASTER TO MASTER_HOST='$HOST', MASTER_PORT=$PRIMARY_PORT, MASTER_USER='root',
        MASTER_PASSWORD='', MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=1;" >/dev/null
  fi
  # Whatever a test left stopped (STOP SLAVE SQL_THREAD / IO_THREAD) runs again.
  sql_at "$REPLICA_PORT" "START SLAVE" >/dev/null 2>&1 || true
  wait_until 30 replicating || { sql_at "$REPLICA_PORT" "SHOW SLAVE STATUS\\G" >&2 || true; die "the replica does not replicate"; }
}

check_roundtrip() {  # a row written on the primary shows up on the replica
  local token i
  token="t$$x$RANDOM"
  sql_at "$PRIMARY_PORT" "CREATE TABLE IF NOT EXISTS $DBNAME.tinyorm_myreplica_heartbeat (id INT PRIMARY KEY, token VARCHAR(64));
    REPLACE INTO $DBNAME.tinyorm_myreplica_heartbeat VALUES (1, '$token')" >/dev/null
  for ((i = 0; i < 100; i++)); do
    [[ "$(sql_at "$REPLICA_PORT" "SELECT token FROM $DBNAME.tinyorm_myreplica_heartbeat WHERE id = 1" 2>/dev/null)" == "$token" ]] && return 0
    sleep 0.1
  done
  die "a row written on the primary did not reach the replica in 10 s"
}

# Another checkout's myreplica servers (CI runs in a fresh clone; engineers have several
# worktrees) hold the same ports: they are private test servers built by this script, so
# they are stopped and ours started.
release_foreign() {
  local role port seen
  for role in primary replica; do
    port="$(port_of "$role")"
    port_open "$port" || continue
    pid_of "$role" >/dev/null && continue
    seen="$(sql_at "$port" "SELECT @@datadir" 2>/dev/null || true)"
    seen="${seen%/}"
    if [[ "$seen" == */myreplica/$role && -f "$(dirname "$seen")/.tinyorm-myreplica" ]]; then
      say "stopping the myreplica $role of another checkout ($seen)"
      sql_at "$port" "SHUTDOWN" >/dev/null 2>&1 || true
      wait_until 30 sh -c "! (exec 3<>/dev/tcp/$HOST/$port) 2>/dev/null" || true
    else
      die "$HOST:$port is taken by another program (datadir: ${seen:-unknown}); stop it first"
    fi
  done
}

status() {
  local ok=0
  if answers primary; then say "primary $HOST:$PRIMARY_PORT up"; else say "primary $HOST:$PRIMARY_PORT down"; ok=1; fi
  if replicating; then say "replica $HOST:$REPLICA_PORT up, replicating"; else say "replica $HOST:$REPLICA_PORT not replicating"; ok=1; fi
  return $ok
}

case "${1:-}" in
  up)
    prepare_dir; release_foreign; start primary; start replica; setup_replication; check_roundtrip
    say "up: mysql://root@$HOST:$PRIMARY_PORT/$DBNAME -> mysql://root@$HOST:$REPLICA_PORT/$DBNAME (folder $DIR)" ;;
  down) prepare_dir; stop replica; stop primary; say "stopped" ;;
  status) status ;;
  kill) [[ "${2:-}" == replica || "${2:-}" == primary ]] || die "usage: $0 kill replica|primary"; prepare_dir; kill_server "$2" ;;
  start)
    [[ "${2:-}" == replica || "${2:-}" == primary ]] || die "usage: $0 start replica|primary"
    prepare_dir; start "$2"; setup_replication ;;
  destroy) prepare_dir; stop replica; stop primary; rm -rf "$DIR"; say "destroyed $DIR" ;;
  *) echo "usage: $0 up|down|status|kill R|start R|destroy  (R: replica or primary)" >&2; exit 2 ;;
esac
