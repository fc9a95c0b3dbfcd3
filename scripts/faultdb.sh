#!/usr/bin/env bash
# Private PostgreSQL (127.0.0.1:55432) and MariaDB (127.0.0.1:53306) servers for the fault
# tests (tests/faults/): built from scratch in a scratch folder, independent of the
# machine's shared servers, so the tests may kill -9 and restart them at will.
#
#   bash scripts/faultdb.sh up              create or start both (fast if already up)
#   bash scripts/faultdb.sh down            stop both
#   bash scripts/faultdb.sh status          exit 0 only if both answer
#   bash scripts/faultdb.sh kill pg|mariadb     kill -9 the server (and, for PostgreSQL, its backends)
#   bash scripts/faultdb.sh start pg|mariadb    start it again (after a kill), wait until it answers
#   bash scripts/faultdb.sh restart pg|mariadb  kill -9, then start
#   bash scripts/faultdb.sh destroy         stop both and delete the scratch folder
#
# URLs: postgresql://postgres@127.0.0.1:55432/faults   mysql://root@127.0.0.1:53306/faults
# Folder: $TINYORM_FAULTDB_DIR, default $PWD/.scratch/faultdb (.scratch/ is git-ignored).
# As root, PostgreSQL runs as the "postgres" OS user and MariaDB as "mysql"; the folder is
# made reachable for them (o+x on parents, search only). Durability settings are relaxed
# for speed (fsync off, InnoDB log flushed per second) but survive a process kill: the
# tests kill servers, never the machine.
set -euo pipefail

HOST=127.0.0.1
PG_PORT=55432
MY_PORT=53306
DBNAME=faults

say() { echo "faultdb: $*"; }
die() { echo "faultdb: error: $*" >&2; exit 1; }

while IFS= read -r var; do unset "$var"; done < <(compgen -e | grep -E '^(PG|MYSQL)' || true)
export PGCONNECT_TIMEOUT=3

DIR="$(realpath -m -- "${TINYORM_FAULTDB_DIR:-$PWD/.scratch/faultdb}")"
[[ "$DIR" != "/" ]] || die "TINYORM_FAULTDB_DIR must not be /"
PG_DATA="$DIR/pg"
MY_DATA="$DIR/mariadb"
MY_RUN="$DIR/mariadb-run"

# ---------------------------------------------------------------- binaries and users
PG_BIN=""
for dir in ${TINYORM_PG_BINDIR:-} $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k5,5 -V -r); do
  [[ -x "$dir/initdb" && -x "$dir/postgres" ]] && { PG_BIN="$dir"; break; }
done
[[ -n "$PG_BIN" ]] || die "no PostgreSQL server binaries (install postgresql, or set TINYORM_PG_BINDIR)"
MARIADBD="$(command -v mariadbd || command -v mysqld || ls /usr/sbin/mariadbd /usr/sbin/mysqld 2>/dev/null | head -n1 || true)"
INSTALL_DB="$(command -v mariadb-install-db || command -v mysql_install_db || true)"
[[ -n "$MARIADBD" && -n "$INSTALL_DB" ]] || die "no MariaDB server (install mariadb-server)"
MYSQL_CLIENT="$(command -v mariadb || command -v mysql)"

if [[ $EUID -eq 0 ]]; then
  as_user() { local user=$1; shift; (cd / && runuser -u "$user" -- "$@" 9>&-); }
  PG_USER=postgres; MY_USER=mysql
  id -u "$PG_USER" >/dev/null 2>&1 || die "running as root needs a 'postgres' OS user"
  id -u "$MY_USER" >/dev/null 2>&1 || die "running as root needs a 'mysql' OS user"
else
  as_user() { shift; (cd / && "$@" 9>&-); }
  PG_USER="$(id -un)"; MY_USER="$(id -un)"
fi

port_open() { (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; }
pg_sql() { "$PG_BIN/psql" -X -q -At -v ON_ERROR_STOP=1 -h "$HOST" -p "$PG_PORT" -U postgres -d "${2:-postgres}" -c "$1"; }
my_sql() { "$MYSQL_CLIENT" --no-defaults -h "$HOST" -P "$MY_PORT" -uroot -N -B -e "$1"; }

prepare_dir() {
  mkdir -p "$DIR"
  [[ -f "$DIR/.tinyorm-faultdb" ]] || touch "$DIR/.tinyorm-faultdb"
  if [[ $EUID -eq 0 ]]; then
    local path="" part
    IFS=/ read -ra parts <<< "${DIR#/}"
    for part in "${parts[@]}"; do
      path="$path/$part"
      runuser -u "$PG_USER" -- test -x "$path" && runuser -u "$MY_USER" -- test -x "$path" || chmod o+x "$path"
    done
  fi
  local log
  for log in pg.log:"$PG_USER" mariadb.log:"$MY_USER"; do   # the servers append to their logs
    [[ -f "$DIR/${log%%:*}" ]] || touch "$DIR/${log%%:*}"
    [[ $EUID -ne 0 ]] || chown "${log##*:}" "$DIR/${log%%:*}"
  done
  exec 9>"$DIR/.lock"
  flock -w 120 9 || die "another faultdb.sh is holding $DIR/.lock"
}

wait_until() {  # wait_until SECONDS COMMAND... : poll every 0.1 s
  local limit=$(( $1 * 10 )) i; shift
  for ((i = 0; i < limit; i++)); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
  return 1
}

# ---------------------------------------------------------------- PostgreSQL
pg_pid() { local pid; pid="$(head -n1 "$PG_DATA/postmaster.pid" 2>/dev/null)" && [[ "$pid" =~ ^[0-9]+$ ]] && echo "$pid"; }
pg_alive() { local pid; pid="$(pg_pid)" && [[ "$(cat "/proc/$pid/comm" 2>/dev/null)" == postgres ]] &&
             [[ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" != Z ]]; }
pg_answers() { pg_sql "SELECT 1" >/dev/null 2>&1; }
pg_ours() { [[ "$(pg_sql "SHOW data_directory" 2>/dev/null)" == "$PG_DATA" ]]; }

pg_create() {
  say "creating PostgreSQL in $PG_DATA"
  rm -rf "$PG_DATA"; mkdir -p "$PG_DATA"; chown "$PG_USER" "$PG_DATA" 2>/dev/null || true
  as_user "$PG_USER" "$PG_BIN/initdb" -D "$PG_DATA" -U postgres -A trust -E UTF8 --locale=C -N \
    --no-instructions > "$DIR/pg-initdb.log" 2>&1 || { tail -n 20 "$DIR/pg-initdb.log" >&2; die "initdb failed"; }
  as_user "$PG_USER" sh -c 'cat >> "$1"' _ "$PG_DATA/postgresql.conf" <<EOF
listen_addresses = '$HOST'
port = $PG_PORT
unix_socket_directories = ''
max_connections = 60
fsync = off
full_page_writes = off
jit = off
deadlock_timeout = 50ms
logging_collector = off
EOF
}

pg_start() {
  pg_alive && pg_answers && return 0
  [[ -f "$PG_DATA/PG_VERSION" ]] || pg_create
  # A killed postmaster leaves postmaster.pid behind; pg_ctl checks the PID in it.
  wait_until 10 sh -c "! kill -0 \$(head -n1 '$PG_DATA/postmaster.pid' 2>/dev/null) 2>/dev/null" || true
  as_user "$PG_USER" "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$DIR/pg.log" -w -t 60 -s start >/dev/null 2>&1 ||
    { tail -n 20 "$DIR/pg.log" >&2; die "PostgreSQL does not start on $HOST:$PG_PORT"; }
  wait_until 30 pg_answers || die "PostgreSQL on $HOST:$PG_PORT does not answer"
  [[ -n "$(pg_sql "SELECT 1 FROM pg_database WHERE datname = '$DBNAME'")" ]] || pg_sql "CREATE DATABASE $DBNAME" >/dev/null
}

pg_kill() {
  local pid
  pid="$(pg_pid)" || return 0
  kill -9 "$pid" 2>/dev/null || true
  # The backends notice the dead postmaster on their own; kill them too, as a crash would.
  pkill -9 -P "$pid" 2>/dev/null || true
  wait_until 10 sh -c "! kill -0 $pid" || true
}

pg_stop() {
  pg_alive || return 0
  as_user "$PG_USER" "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast -w -t 30 -s stop >/dev/null 2>&1 || pg_kill
}

# ---------------------------------------------------------------- MariaDB
my_pid() { local pid; pid="$(cat "$MY_RUN/mariadbd.pid" 2>/dev/null)" && [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null && echo "$pid"; }
my_answers() { my_sql "SELECT 1" >/dev/null 2>&1; }

my_create() {
  say "creating MariaDB in $MY_DATA"
  rm -rf "$MY_DATA"; mkdir -p "$MY_DATA" "$MY_RUN"; chown "$MY_USER" "$MY_DATA" "$MY_RUN" 2>/dev/null || true
  as_user "$MY_USER" "$INSTALL_DB" --no-defaults --datadir="$MY_DATA" --auth-root-authentication-method=normal \
    --skip-test-db > "$DIR/mariadb-install.log" 2>&1 ||
    { tail -n 20 "$DIR/mariadb-install.log" >&2; die "mariadb-install-db failed"; }
}

my_start() {
  my_pid >/dev/null && my_answers && return 0
  [[ -d "$MY_DATA/mysql" ]] || my_create
  mkdir -p "$MY_RUN"; chown "$MY_USER" "$MY_RUN" 2>/dev/null || true
  rm -f "$MY_RUN/mariadbd.pid"
  ( exec 9>&-; as_user "$MY_USER" setsid "$MARIADBD" --no-defaults --datadir="$MY_DATA" --port="$MY_PORT" \
    --bind-address="$HOST" --socket="$MY_RUN/mariadbd.sock" --pid-file="$MY_RUN/mariadbd.pid" \
    --log-error="$DIR/mariadb.log" --skip-name-resolve --innodb-buffer-pool-size=32M \
    --innodb-log-file-size=16M --innodb-flush-log-at-trx-commit=2 --skip-log-bin \
    --max-connections=80 ) < /dev/null > /dev/null 2>&1 &
  wait_until 60 my_answers || { tail -n 20 "$DIR/mariadb.log" >&2; die "MariaDB does not start on $HOST:$MY_PORT"; }
  my_sql "CREATE DATABASE IF NOT EXISTS $DBNAME" >/dev/null
}

my_kill() {
  local pid
  pid="$(my_pid)" || return 0
  kill -9 "$pid" 2>/dev/null || true
  wait_until 10 sh -c "! kill -0 $pid" || true
}

my_stop() {
  local pid
  pid="$(my_pid)" || return 0
  kill -TERM "$pid" 2>/dev/null || true
  wait_until 30 sh -c "! kill -0 $pid" || my_kill
}

# ---------------------------------------------------------------- commands
# Another checkout's faultdb servers (CI runs in a fresh clone; engineers have several
# worktrees) hold the same ports. They are private test servers built by this script, so
# they are stopped and ours started: the tests must kill and restart servers of their own.
release_foreign() {
  local seen
  if port_open "$PG_PORT" && ! pg_alive; then
    seen="$(pg_sql "SHOW data_directory" 2>/dev/null || true)"
    if [[ "$seen" == */faultdb/pg && "$seen" != "$PG_DATA" && -f "$(dirname "$seen")/.tinyorm-faultdb" ]]; then
      say "stopping the faultdb PostgreSQL of another checkout ($seen)"
      as_user "$PG_USER" "$PG_BIN/pg_ctl" -D "$seen" -m fast -w -t 30 -s stop >/dev/null 2>&1 || true
      wait_until 30 sh -c "! (exec 3<>/dev/tcp/$HOST/$PG_PORT) 2>/dev/null" || true
    fi
  fi
  if port_open "$MY_PORT" && ! my_pid >/dev/null; then
    seen="$(my_sql "SELECT @@datadir" 2>/dev/null || true)"
    seen="${seen%/}"
    if [[ "$seen" == */faultdb/mariadb && "$seen" != "$MY_DATA" && -f "$(dirname "$seen")/.tinyorm-faultdb" ]]; then
      say "stopping the faultdb MariaDB of another checkout ($seen)"
      my_sql "SHUTDOWN" >/dev/null 2>&1 || true
      wait_until 30 sh -c "! (exec 3<>/dev/tcp/$HOST/$MY_PORT) 2>/dev/null" || true
    fi
  fi
}

check_ports() {
  if port_open "$PG_PORT" && ! pg_alive; then
    pg_ours || die "$HOST:$PG_PORT is taken by another program; stop it first"
  fi
  if port_open "$MY_PORT" && ! my_pid >/dev/null; then
    die "$HOST:$MY_PORT is taken by another program (another checkout's faultdb? run its 'down'); stop it first"
  fi
}

engine_do() {  # engine_do ACTION ENGINE
  case "$2" in
    pg|postgresql) "pg_$1" ;;
    mariadb|mysql) "my_$1" ;;
    *) die "unknown engine '$2' (pg or mariadb)" ;;
  esac
}

case "${1:-}" in
  up)
    prepare_dir; release_foreign; check_ports; pg_start; my_start
    say "up: postgresql://postgres@$HOST:$PG_PORT/$DBNAME mysql://root@$HOST:$MY_PORT/$DBNAME (folder $DIR)" ;;
  down) prepare_dir; my_stop; pg_stop; say "stopped" ;;
  status)
    ok=0
    if pg_answers; then say "PostgreSQL $HOST:$PG_PORT up"; else say "PostgreSQL $HOST:$PG_PORT down"; ok=1; fi
    if my_answers; then say "MariaDB $HOST:$MY_PORT up"; else say "MariaDB $HOST:$MY_PORT down"; ok=1; fi
    exit $ok ;;
  kill) [[ -n "${2:-}" ]] || die "usage: $0 kill pg|mariadb"; prepare_dir; engine_do kill "$2" ;;
  start) [[ -n "${2:-}" ]] || die "usage: $0 start pg|mariadb"; prepare_dir; engine_do start "$2" ;;
  restart) [[ -n "${2:-}" ]] || die "usage: $0 restart pg|mariadb"; prepare_dir; engine_do kill "$2"; engine_do start "$2" ;;
  destroy) prepare_dir; my_stop; pg_stop; rm -rf "$DIR"; say "destroyed $DIR" ;;
  *) echo "usage: $0 up|down|status|kill E|start E|restart E|destroy  (E: pg or mariadb)" >&2; exit 2 ;;
esac
