"""MariaDB Galera Cluster: the replication hooks of a MySQLDatabase connected to a Galera node.

Galera is multi-primary and "virtually synchronous": a commit is certified by every node
before it returns, but the other nodes apply it a moment later, so a read on another node
right after a write can miss it. MariaDB's binlog GTID functions do not help there
(``MASTER_GTID_WAIT`` waits for a replication SQL thread that a Galera node does not run,
and never returns); Galera has its own causality functions (MariaDB 10.4+, Galera 4):

* ``WSREP_LAST_SEEN_GTID()`` -- on the writing session, the GTID of its latest commit (the
  position a reader must reach); on any node, the latest write set it has applied. Every
  node numbers write sets in one sequence, so a position from one node is comparable on all.
* ``WSREP_SYNC_WAIT_UPTO_GTID(gtid, seconds)`` -- block until this node has applied
  ``gtid``; returns 1, or fails with 1205 (lock wait timeout) when the wait runs out. The
  timeout is in whole seconds (0.5 is 0: no wait at all), so shorter waits poll the node's
  applied sequence number in a server-side loop instead (one statement either way).

A node that has lost quorum (``wsrep_ready`` OFF) still accepts connections and answers
``SELECT 1``, but fails every statement touching a table with 1047 ("WSREP has not yet
prepared node for application use"); that error counts as an unreachable server, so a
Router marks the node down and runs the statement elsewhere.

Migrations lock with a row the cluster replicates: ``GET_LOCK`` is per node, so two
migrations started on two nodes would both get it.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import socket
import threading
import time
import uuid
from typing import TYPE_CHECKING, Any, Iterator

if TYPE_CHECKING:
    from .mysql import MySQLDatabase

from ..log import migrations_logger as logger

# 1047 ER_UNKNOWN_COM_ERROR is how a node without quorum (or still joining) refuses a
# statement: "WSREP has not yet prepared node for application use".
NOT_READY_ERRNOS = frozenset({1047})
_WAIT_TIMED_OUT = 1205  # WSREP_SYNC_WAIT_UPTO_GTID ran out of time
_STATE_SYNCED = 4  # wsrep_local_state: 4 is Synced (1 joining, 2 donor/desynced, 3 joined)
# A GTID list as MariaDB prints it: domain-server-sequence, comma separated.
_GTID_LIST = re.compile(r"\d+-\d+-\d+(?:,\s*\d+-\d+-\d+)*")
LOCK_TABLE = "tinyorm_migration_lock"
_LOCK_RETRY_S = 0.2
# A migration lock whose heartbeat (every _BEAT_S) has stood still this long is taken over;
# on the holder's own node, already after _SAME_NODE_GRACE_S once its connection is gone.
LEASE_S = 15.0
_BEAT_S = 1.0
_SAME_NODE_GRACE_S = 3.0


def is_galera_node(cursor: Any) -> bool:
    """Is the server behind ``cursor`` a Galera node (``wsrep_on`` with a provider loaded)?

    ``SHOW VARIABLES`` works on every MySQL and MariaDB server (MySQL has no wsrep variables:
    no rows) and on a node without quorum, which refuses statements on tables."""
    cursor.execute("SHOW GLOBAL VARIABLES WHERE Variable_name IN ('wsrep_on', 'wsrep_provider')")
    values = {name.lower(): value for name, value in cursor.fetchall()}
    provider = (values.get("wsrep_provider") or "none").strip().lower()
    return (values.get("wsrep_on") or "").upper() == "ON" and provider not in ("", "none")


def sequence_number(position: object) -> int:
    """The write-set sequence number in a Galera GTID. Every node numbers the cluster's
    write sets in one sequence (the GTIDs share their domain and server parts), so it
    orders positions taken on any node. ValueError for text that is not a GTID list."""
    if not isinstance(position, str) or not _GTID_LIST.fullmatch(position.strip()):
        raise ValueError(f"not a GTID: {position!r}")
    return max(int(gtid.rsplit("-", 1)[1]) for gtid in position.split(","))


def last_seen(database: MySQLDatabase) -> str | None:
    """``WSREP_LAST_SEEN_GTID()`` on this thread's connection (None before any write)."""
    value = database.execute_sql("SELECT WSREP_LAST_SEEN_GTID()").fetchone()[0]
    if isinstance(value, bytes):
        value = value.decode("ascii")
    # A cluster that has never written anything reports 0-0-0 (or an empty string).
    return value if value and sequence_number(value) > 0 else None


def replayed_position(database: MySQLDatabase) -> str | None:
    """The latest write set this node has applied. A node without quorum (``wsrep_ready``
    OFF) raises ConnectionLostError: it would refuse the read itself with 1047."""
    row = database.execute_sql(
        "SELECT WSREP_LAST_SEEN_GTID(), VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS "
        "WHERE VARIABLE_NAME = 'WSREP_READY'"
    ).fetchone()
    if row is None or str(row[1]).upper() != "ON":
        # Statements on tables would fail with 1047: the node is as good as unreachable.
        from ..exceptions import ConnectionLostError

        raise ConnectionLostError(f"the Galera node {database._describe_target()} has no quorum (wsrep_ready OFF)")
    value = row[0].decode("ascii") if isinstance(row[0], bytes) else row[0]
    return value or None


# A wait shorter than a second, in one statement: WSREP_SYNC_WAIT_UPTO_GTID counts whole
# seconds (0.05 would be 0, no wait), so poll the node's applied sequence number on the
# server, every millisecond, until it is reached or the time is up.
_SHORT_WAIT = """BEGIN NOT ATOMIC
  DECLARE deadline DOUBLE DEFAULT UNIX_TIMESTAMP(NOW(6)) + %s;
  WHILE CAST(SUBSTRING_INDEX(WSREP_LAST_SEEN_GTID(), '-', -1) AS UNSIGNED) < %s
        AND UNIX_TIMESTAMP(NOW(6)) < deadline DO
    DO SLEEP(0.001);
  END WHILE;
  SELECT CAST(SUBSTRING_INDEX(WSREP_LAST_SEEN_GTID(), '-', -1) AS UNSIGNED) >= %s;
END"""


def position_reached(database: MySQLDatabase, position: str, timeout: float) -> bool:
    """Has this node applied ``position``? Waits up to ``timeout`` seconds, one statement;
    the wait ends as soon as the write set is applied (on a Synced node, typically within
    a millisecond of its commit)."""
    from ..exceptions import LockTimeoutError

    sequence_number(position)  # a malformed GTID is the caller's error, not the node's
    # The functions take one GTID: of a list (a merged or forged token), the latest write set.
    position = max((gtid.strip() for gtid in position.split(",")), key=sequence_number)
    if 0 < timeout < 1:
        sequence = sequence_number(position)
        return bool(database.execute_sql(_SHORT_WAIT, (float(timeout), sequence, sequence)).fetchone()[0])
    try:
        database.execute_sql("SELECT WSREP_SYNC_WAIT_UPTO_GTID(%s, %s)", (position, math.ceil(max(timeout, 0))))
    except LockTimeoutError:
        return False
    return True


def replica_lag(database: MySQLDatabase) -> float:
    """0.0 while the node is Synced and ready; infinity otherwise (joining, donor, desynced,
    without quorum): Galera keeps no seconds-behind figure, and a node that is not Synced
    may be any distance behind."""
    rows = database.execute_sql(
        "SHOW GLOBAL STATUS WHERE Variable_name IN ('wsrep_ready', 'wsrep_local_state')"
    ).fetchall()
    status = {name.lower(): value for name, value in rows}
    ready = str(status.get("wsrep_ready", "")).upper() == "ON"
    synced = str(status.get("wsrep_local_state", "")) == str(_STATE_SYNCED)
    return 0.0 if ready and synced else math.inf


@contextlib.contextmanager
def migration_lock(database: MySQLDatabase, timeout: float) -> Iterator[None]:
    """Hold a cluster-wide lock: a row in ``tinyorm_migration_lock``, inserted in its own
    transaction. Galera certifies the INSERT against every node's, so of two migrations
    started at once on two nodes one commits and the other fails (1062 duplicate key, or
    1213 certification failure) and waits.

    The holder's row names its node and connection, and a thread of the holder counts a
    heartbeat in it every second. A waiter takes the lock over from a holder that is
    provably gone: on the holder's own node, once its connection is no longer in the
    process list and its heartbeat has stood still for a few seconds; from another node,
    once the heartbeat has stood still for ``LEASE_S`` seconds (measured by the waiter's
    own clock: the nodes' clocks need not agree). The takeover deletes the row only if it
    is still the one seen (same owner, same heartbeat), so Galera certifies it against a
    late heartbeat or another waiter's takeover; then the waiters compete with an INSERT
    as before. Never two holders: a heartbeat that finds its row gone reports the lost
    lock, and the migration fails when it ends."""
    from ..exceptions import ConcurrencyError, IntegrityError, MigrationError

    table = _lock_table(database)
    name = database.database[:64]
    owner = f"{socket.gethostname()} pid {os.getpid()} {uuid.uuid4().hex[:12]}"[:255]
    node = _node_name(database)
    deadline = time.monotonic() + timeout
    seen: tuple[tuple[Any, Any], float] | None = None  # ((owner, beat), monotonic time that heartbeat was first seen)
    while True:
        try:
            database.execute_sql(
                f"INSERT INTO {table} (name, owner, node, connection_id, beat) VALUES (%s, %s, %s, CONNECTION_ID(), 0)",
                (name, owner, node),
            )
            break
        except (IntegrityError, ConcurrencyError):
            row = database.execute_sql(
                f"SELECT owner, node, connection_id, beat, acquired_at FROM {table} WHERE name = %s", (name,)
            ).fetchone()
            if row is None:
                continue  # released meanwhile: try again at once
            now = time.monotonic()
            if seen is None or seen[0] != (row[0], row[3]):
                seen = ((row[0], row[3]), now)
            if _holder_gone(database, row, node, now - seen[1]) and _take_over(database, table, name, row):
                continue
            if now >= deadline:
                raise MigrationError(
                    f"another process ({row[0]} on {row[1]}, since {row[4]}) has been migrating this cluster "
                    f"for over {timeout}s and its heartbeat is alive; if it is gone for sure, remove its lock: "
                    f"DELETE FROM {LOCK_TABLE} WHERE name = '{name}'"
                ) from None
            time.sleep(_LOCK_RETRY_S)
    heartbeat = _Heartbeat(database, table, name, owner)
    heartbeat.start()
    failed = True
    try:
        yield
        failed = False
    finally:
        heartbeat.stop()
        database.execute_sql(f"DELETE FROM {table} WHERE name = %s AND owner = %s", (name, owner))
    if heartbeat.lost and not failed:
        raise MigrationError(
            "the migration lock was taken over while this migration ran (its heartbeat stood still "
            f"for {LEASE_S:g}s): check the schema, another migration may have run at the same time"
        )


def _lock_table(database: MySQLDatabase) -> str:
    """The lock table's quoted name, created (or given the holder's columns) if needed."""
    table = database.dialect.quote(LOCK_TABLE)
    database.execute_sql(
        f"CREATE TABLE IF NOT EXISTS {table} (name VARCHAR(64) PRIMARY KEY, owner VARCHAR(255) NOT NULL, "
        "acquired_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP, node VARCHAR(255) NOT NULL DEFAULT '', "
        "connection_id BIGINT NOT NULL DEFAULT 0, beat BIGINT NOT NULL DEFAULT 0) ENGINE=InnoDB"
    )
    columns: int = database.execute_sql(
        "SELECT COUNT(*) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %s "
        "AND COLUMN_NAME IN ('node', 'connection_id', 'beat')",
        (LOCK_TABLE,),
    ).fetchone()[0]
    if columns < 3:  # made by an older tinyorm: DDL only then (it is cluster-wide on Galera)
        database.execute_sql(
            f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS node VARCHAR(255) NOT NULL DEFAULT '', "
            "ADD COLUMN IF NOT EXISTS connection_id BIGINT NOT NULL DEFAULT 0, "
            "ADD COLUMN IF NOT EXISTS beat BIGINT NOT NULL DEFAULT 0"
        )
    return table


def _node_name(database: MySQLDatabase) -> str:
    """This connection's node: host and port (a node restarted on them starts its
    connection ids again, which only makes a dead holder look alive, never the reverse)."""
    host, port = database.execute_sql("SELECT @@hostname, @@port").fetchone()
    return f"{host}:{port}"


def _holder_gone(database: MySQLDatabase, row: tuple[Any, ...], node: str, still_for: float) -> bool:
    """Is the holder of the lock row ``row`` provably gone? ``still_for``: seconds its
    heartbeat has stood still, as this waiter saw it."""
    if still_for >= LEASE_S:
        return True
    if row[1] != node or still_for < _SAME_NODE_GRACE_S:
        return False  # another node's connections are not visible here: the lease decides
    alive: int = database.execute_sql(
        "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID = %s", (row[2],)
    ).fetchone()[0]
    return not alive


def _take_over(database: MySQLDatabase, table: str, name: str, row: tuple[Any, ...]) -> bool:
    """Delete a gone holder's row if it is still the one seen; True if this waiter did."""
    from ..exceptions import ConcurrencyError

    try:
        cursor = database.execute_sql(
            f"DELETE FROM {table} WHERE name = %s AND owner = %s AND beat = %s", (name, row[0], row[3])
        )
    except ConcurrencyError:
        return False  # certification: another waiter (or a late heartbeat) won
    if cursor.rowcount != 1:
        return False
    logger.warning("took over the migration lock of %s on %s: its holder is gone", row[0], row[1])
    return True


class _Heartbeat(threading.Thread):
    """Counts the holder's heartbeat in its lock row every ``_BEAT_S`` seconds, on a
    connection of its own (also recorded: while this process lives, so does it)."""

    def __init__(self, database: MySQLDatabase, table: str, name: str, owner: str) -> None:
        super().__init__(name="tinyorm-migration-lock-heartbeat", daemon=True)
        self.database = database
        self.sql = f"UPDATE {table} SET beat = beat + 1, connection_id = CONNECTION_ID() WHERE name = %s AND owner = %s"
        self.params = (name, owner)
        self.lost = False
        self._stopped = threading.Event()

    def run(self) -> None:
        try:
            while not self._stopped.wait(_BEAT_S):
                try:
                    if self.database.execute_sql(self.sql, self.params).rowcount == 0:
                        self.lost = True
                        logger.error("the migration lock was taken over by another process")
                        return
                except Exception as exc:  # noqa: BLE001 - retried at the next beat; the lease covers it
                    logger.warning("migration lock heartbeat failed (%s)", exc)
        finally:
            self.database.close()

    def stop(self) -> None:
        self._stopped.set()
        self.join(10)
