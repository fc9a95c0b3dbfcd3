"""MySQL and MariaDB through pymysql."""

from __future__ import annotations

import contextlib
import logging
import re
from types import ModuleType
from typing import TYPE_CHECKING, Any, Generator, Iterator, NoReturn

from ..dialects import MySQLDialect
from ..exceptions import (
    DataError,
    DeadlockError,
    ImproperlyConfigured,
    IntegrityError,
    InterfaceError,
    LockTimeoutError,
    ProgrammingError,
    SerializationError,
    translate_driver_error,
)
from ..log import format_params, sql_logger
from . import galera
from .base import ColumnMetadata, Database, ForeignKeyMetadata, IndexMetadata
from .transactions import WHOLE_TRANSACTION, BrokenTransaction

if TYPE_CHECKING:
    from ..exceptions import TinyORMError
    from .positions import MariaDBPosition, MySQLPosition

# Strict mode makes the server refuse, not truncate or clamp, values that do not fit.
SQL_MODE = "STRICT_ALL_TABLES,NO_ZERO_IN_DATE,NO_ZERO_DATE,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION"
_REQUIRED_MODES = SQL_MODE.split(",")


def _session_mode(extra: str | None) -> str:
    """tinyorm's modes plus the ones a URL's ``sql_mode=`` adds (it can add, never remove)."""
    modes: list[str] = list(_REQUIRED_MODES)
    for mode in (extra or "").upper().replace(" ", "").split(","):
        if mode and mode not in modes:
            modes.append(mode)
    return ",".join(modes)


# Server error numbers that mean "this value does not fit" (pymysql files some of them under
# OperationalError or InternalError).
_DATA_ERRNOS = {1264, 1265, 1292, 1366, 1367, 1406, 1411, 1441, 3140, 4025}
_INTEGRITY_ERRNOS = {1048, 1062, 1364, 1169, 1216, 1217, 1451, 1452, 1557, 3819}
# Bad SQL: syntax, unknown table/column/index, duplicate table/column.
_PROGRAMMING_ERRNOS = {1046, 1049, 1050, 1051, 1054, 1060, 1061, 1064, 1091, 1146, 1149, 1247, 1305}
# Connection lost or never made: the next statement should start a new connection.
# 1053 server shutdown in progress; 1927 (MariaDB) connection killed; 4031 idle timeout.
_DISCONNECT_ERRNOS = {1053, 1927, 2002, 2003, 2006, 2013, 2055, 4031}
# Transient failures. InnoDB rolls back the whole transaction of a deadlock victim (1213,
# also how Galera reports a certification failure, often at COMMIT; 1614 for XA). 1180
# "Got error during COMMIT" is another way Galera refuses a write set. 1205 (lock wait
# timeout) rolls back just the statement unless innodb_rollback_on_timeout is ON; 3572 is
# MySQL's NOWAIT.
_TRANSIENT_ERRNOS: dict[int | None, type[TinyORMError]] = {
    1213: DeadlockError,
    1614: DeadlockError,
    1180: SerializationError,
    1205: LockTimeoutError,
    3572: LockTimeoutError,
}
_WHOLE_TRANSACTION_ERRNOS = {1213, 1614, 1180}
_SERVER_STATUS_IN_TRANS = 1  # the OK packet's status flag: a transaction is open


def _driver() -> ModuleType:
    try:
        import pymysql
    except ImportError as exc:
        raise ImproperlyConfigured(
            "MySQL/MariaDB needs the pymysql driver, which is not installed: pip install 'tinyorm[mysql]'"
        ) from exc
    return pymysql


class _UnbufferedCursors:
    """Stands in for this thread's connection while execute_unbuffered() sends its
    statement: the cursor it hands out is pymysql's unbuffered one."""

    __slots__ = ("connection", "cursor_class")

    def __init__(self, connection: Any, cursor_class: Any) -> None:
        self.connection = connection
        self.cursor_class = cursor_class

    def cursor(self) -> Any:
        return self.connection.cursor(self.cursor_class)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.connection, name)


class _StreamingConnection:
    """Stands in for this thread's connection while an unbuffered result is being read:
    the MySQL protocol can carry nothing else until it is (pymysql would silently read and
    drop the rest of the result first)."""

    __slots__ = ("connection",)

    def __init__(self, connection: Any) -> None:
        self.connection = connection

    def cursor(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise InterfaceError(
            "this thread's connection is streaming the rows of Query.iterator(): finish the "
            "loop or close() the iterator before sending another statement (or read with a "
            "second Database)"
        )

    def __getattr__(self, name: str) -> NoReturn:
        self.cursor()


# What may stand in for a thread's connection: execute_unbuffered() never wraps these.
_STANDS_IN = (_UnbufferedCursors, _StreamingConnection, BrokenTransaction)


def _errno(exc: BaseException) -> int | None:
    args = getattr(exc, "args", ())
    return args[0] if args and isinstance(args[0], int) else None


class MySQLDatabase(Database):
    """``MySQLDatabase(name, host=..., port=..., user=..., password=...)``; MariaDB too.

    Connections use utf8mb4, strict SQL mode and the FOUND_ROWS flag (so UPDATE row counts
    are rows matched, as on the other engines, not rows changed).
    """

    dialect_class = MySQLDialect
    if TYPE_CHECKING:
        # Database.__init__ sets it from dialect_class: always this engine's dialect.
        dialect: MySQLDialect  # pyright: ignore[reportIncompatibleVariableOverride]
    driver_name = "pymysql"

    def __init__(self, database: str, **kwargs: Any) -> None:
        self._pymysql = _driver()
        super().__init__(database, **kwargs)
        self.is_mariadb: bool | None = None  # known once connected
        self.server_version: tuple[int, ...] | None = None
        self.rollback_on_timeout = False  # innodb_rollback_on_timeout, read at connect
        # A Galera node (read at connect): replication positions, waits, lag, health and
        # the migration lock use Galera's own mechanisms (backends/galera.py).
        self.is_galera = False

    def _driver_error_class(self) -> type[Exception]:
        error_class: type[Exception] = self._pymysql.err.MySQLError
        return error_class

    def _describe_target(self) -> str:
        params = self.connect_params
        return f"{params.get('host', 'localhost')}:{params.get('port', 3306)}/{self.database}"

    def _connect_driver(self) -> Any:
        from pymysql.constants import CLIENT

        params = dict(self.connect_params)
        params.pop("charset", None)
        flags = params.pop("client_flag", 0) | CLIENT.FOUND_ROWS
        return self._pymysql.connect(
            database=self.database,
            charset="utf8mb4",
            client_flag=flags,
            autocommit=True,
            binary_prefix=True,  # bytes travel as _binary'...' so \xff is never re-encoded
            sql_mode=_session_mode(params.pop("sql_mode", None)),
            **params,
        )

    def _initialize_connection(self, conn: Any) -> None:
        # An init_command runs after the sql_mode is set and may turn strict mode off
        # ("SET sql_mode=''"): tinyorm's modes are put back, whatever else it changed.
        mode = _session_mode(self.connect_params.get("sql_mode"))
        if self.connect_params.get("init_command"):
            cursor = conn.cursor()
            cursor.execute("SELECT @@SESSION.sql_mode")
            current = cursor.fetchone()[0] or ""
            mode = _session_mode(current)
            if mode != current:
                cursor.execute("SET SESSION sql_mode = %s", (mode,))
            cursor.close()
        # String literals in DDL (server defaults) follow the session: with
        # NO_BACKSLASH_ESCAPES a backslash is an ordinary character and is not doubled.
        self.dialect.backslash_escapes = "NO_BACKSLASH_ESCAPES" not in mode.split(",")

    def _check_server(self, conn: Any) -> None:
        cursor = conn.cursor()
        cursor.execute(
            "SELECT VERSION(), @@max_allowed_packet, @@innodb_rollback_on_timeout, @@innodb_ft_min_token_size"
        )
        version_text, max_packet, rollback_on_timeout, ft_min_token = cursor.fetchone()
        # A server-wide, read-only setting: does a lock wait timeout roll back the whole
        # transaction (ON) or just the statement (OFF, the default)?
        self.rollback_on_timeout = bool(int(rollback_on_timeout))
        self.is_mariadb = "mariadb" in version_text.lower()
        if self.is_mariadb:
            self.is_galera = galera.is_galera_node(cursor)
        cursor.close()
        numbers = tuple(int(part) for part in version_text.split("-")[0].split(".")[:3])
        self.server_version = numbers
        dialect = self.dialect
        dialect.max_query_bytes = int(max_packet)
        dialect.fulltext_min_word_length = int(ft_min_token)  # shorter words are not indexed
        if self.is_mariadb:
            # MariaDB 10.3 added INTERSECT/EXCEPT and NOWAIT, 10.6 SKIP LOCKED; CREATE INDEX
            # IF NOT EXISTS is older than any supported release.
            dialect.supports_intersect = numbers >= (10, 3)
            dialect.supports_nowait = numbers >= (10, 3)
            dialect.supports_skip_locked = numbers >= (10, 6)
            dialect.supports_if_not_exists_index = True
            # MariaDB 10.5 added INSERT ... RETURNING (UPDATE has none).
            dialect.returning_insert = numbers >= (10, 5)
            # MariaDB 10.7 added JSON_EQUALS (its JSON is text: = would compare spelling).
            dialect.json_equals_function = numbers >= (10, 7)
            # A NO PAD binary collation compares 'a' and 'a ' as different, like the other
            # engines (utf8mb4_bin pads); MariaDB 10.2 added the NOPAD collations.
            if numbers >= (10, 2):
                dialect.table_options = " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin"
        else:
            # MySQL 8.0.31 added INTERSECT/EXCEPT; 8.0.1 NOWAIT and SKIP LOCKED. MySQL has
            # no CREATE INDEX IF NOT EXISTS.
            dialect.supports_intersect = numbers >= (8, 0, 31)
            dialect.supports_nowait = dialect.supports_skip_locked = numbers >= (8, 0, 1)
            dialect.supports_if_not_exists_index = False
            # MySQL's JSON type compares by value with a JSON operand (CAST ... AS JSON);
            # 8.0.13 added functional (expression) indexes.
            dialect.json_cast = True
            dialect.supports_expression_indexes = numbers >= (8, 0, 13)
            if numbers >= (8, 0):
                dialect.table_options = " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_0900_bin"

    def _error_class_for(self, exc: BaseException) -> type[TinyORMError]:
        errno = _errno(exc)
        if errno in _DATA_ERRNOS:
            return DataError
        if errno in _INTEGRITY_ERRNOS:
            return IntegrityError
        if errno in _PROGRAMMING_ERRNOS:
            return ProgrammingError
        transient = _TRANSIENT_ERRNOS.get(errno)
        if transient is not None:
            return transient
        return translate_driver_error(exc)

    def _is_disconnect(self, exc: BaseException) -> bool:
        # pymysql raises InterfaceError(0, '') for a connection it has closed itself (after
        # a read failed or was interrupted).
        errno = _errno(exc)
        if errno in _DISCONNECT_ERRNOS or isinstance(exc, self._pymysql.err.InterfaceError):
            return True
        # A Galera node without quorum answers, but refuses every statement on a table.
        return self.is_galera and errno in galera.NOT_READY_ERRNOS

    def _transaction_damage(self, conn: Any, driver_error: BaseException, error: BaseException) -> str | None:
        errno = _errno(driver_error)
        if errno in _WHOLE_TRANSACTION_ERRNOS or (errno == 1205 and self.rollback_on_timeout):
            return WHOLE_TRANSACTION
        return None

    def _has_open_transaction(self, conn: Any) -> bool:
        return bool(conn.server_status & _SERVER_STATUS_IN_TRANS)

    def _connection_fileno(self, conn: Any) -> int:
        sock = conn._sock  # pymysql has no public accessor; None once closed
        return -1 if sock is None else sock.fileno()

    def _ping(self, conn: Any) -> None:
        conn.ping(reconnect=False)

    def execute_unbuffered(self, sql: str, params: Any) -> Any:
        # pymysql's default cursor parses every row into a tuple on execute: objects built
        # from it live beside all those tuples at once (peak memory ~1.5x the rows' instead
        # of ~1.25x). execute_sql (which counts and translates every statement) is run with
        # this thread's connection handing out an unbuffered cursor for this one statement.
        state = self._state
        conn = state.conn
        if conn is None or type(conn) in _STANDS_IN:
            # No connection yet (execute_sql connects, and a Router's replica fails over if
            # it cannot), or one lent to a stream or a broken transaction (which refuse the
            # statement): the plain path, buffered.
            return self.execute_sql(sql, params)
        wrapper = state.conn = _UnbufferedCursors(conn, self._pymysql.cursors.SSCursor)
        try:
            return self.execute_sql(sql, params)
        finally:
            # Hand the real connection back wherever the wrapper ended up: still the
            # thread's connection, or inside the BrokenTransaction an engine abort (a
            # deadlock) put in its place. A failover or a lost connection replaced it.
            current = state.conn
            if current is wrapper:
                state.conn = conn
            elif type(current) is BrokenTransaction and current.connection is wrapper:
                current.connection = conn

    def stream_rows(self, sql: str, params: Any, chunk_size: int) -> Generator[tuple[list[Any], Any], None, None]:
        # An unbuffered cursor: rows come off the socket as they are fetched. Until the
        # stream ends the thread's connection is lent to it and refuses other statements;
        # closing early reads (and drops) the rest of the result, which the protocol
        # requires before the next statement.
        state = self._state
        conn = self.connection()
        cursor = conn.cursor(self._pymysql.cursors.SSCursor)
        params = () if params is None else params  # "%%" is a literal "%" either way (execute_sql)
        if sql_logger.isEnabledFor(logging.DEBUG):
            sql_logger.debug("%s%s", sql, format_params(params, self.log_params, False))
        state.conn = _StreamingConnection(conn)
        try:
            cursor.execute(sql, params)
            while True:
                rows = cursor.fetchmany(chunk_size)
                if not rows:
                    break
                yield rows, cursor.description
        except Exception as exc:
            state.conn = conn  # errors are translated against the real connection
            self._raise_translated(exc)
        finally:
            if type(state.conn) is _StreamingConnection:
                state.conn = conn
                try:
                    cursor.close()  # drains what is left of the result
                except Exception as exc:
                    self._raise_translated(exc)

    def last_insert_id(self, cursor: Any) -> Any:
        return cursor.lastrowid

    @contextlib.contextmanager
    def migration_lock(self, timeout: float = 60) -> Iterator[None]:
        # GET_LOCK names are server-wide: the database's name keeps the lock to it.
        from ..exceptions import MigrationError

        self.connection()
        if self.is_galera:  # GET_LOCK is per node: lock with a row the cluster replicates
            with galera.migration_lock(self, timeout):
                yield
            return
        lock_name = f"tinyorm_migrations.{self.database}"[:64]
        got = self.execute_sql("SELECT GET_LOCK(%s, %s)", (lock_name, timeout)).fetchone()[0]
        if got != 1:
            raise MigrationError(f"another process has been migrating this database for over {timeout}s")
        try:
            yield
        finally:
            self.execute_sql("SELECT RELEASE_LOCK(%s)", (lock_name,))

    # GTID positions: MariaDB's @@gtid_binlog_pos / @@gtid_slave_pos / MASTER_GTID_WAIT,
    # MySQL's @@gtid_executed / WAIT_FOR_EXECUTED_GTID_SET; sets compared as sets
    # (tinyorm/backends/positions.py).
    has_replication_positions = True

    def replication_position(self) -> str | None:
        self.connection()
        if self.is_galera:
            return galera.last_seen(self)
        sql = "SELECT @@gtid_binlog_pos" if self.is_mariadb else "SELECT @@global.gtid_executed"
        position = self.execute_sql(sql).fetchone()[0]
        return position or None

    def replayed_position(self) -> str | None:
        """On a replica: the GTIDs it has applied (MariaDB ``@@gtid_slave_pos``; on a Galera
        node, the latest write set it has applied)."""
        self.connection()
        if self.is_galera:
            return galera.replayed_position(self)
        sql = "SELECT @@gtid_slave_pos" if self.is_mariadb else "SELECT @@global.gtid_executed"
        return self.execute_sql(sql).fetchone()[0] or ""

    def position_reached(self, position: str, timeout: float = 0.0) -> bool:
        self.position_sort_key(position)  # refuse garbage before the server sees it
        self.connection()
        if self.is_galera:  # MASTER_GTID_WAIT never returns on a Galera node
            return galera.position_reached(self, position, timeout)
        if self.is_mariadb:
            waited: int | None = self.execute_sql("SELECT MASTER_GTID_WAIT(%s, %s)", (position, timeout)).fetchone()[0]
            return waited == 0
        result: int | None = self.execute_sql(
            "SELECT WAIT_FOR_EXECUTED_GTID_SET(%s, %s)", (position, timeout)
        ).fetchone()[0]
        return result == 0

    def position_sort_key(self, position: str) -> MySQLPosition | MariaDBPosition:
        from .positions import MariaDBPosition, MySQLPosition

        # A MySQL GTID set names server UUIDs followed by ":"; MariaDB's triples have none.
        return MySQLPosition(position) if ":" in position else MariaDBPosition(position)

    def merge_positions(self, first: str, second: str) -> str:
        from .positions import MariaDBPosition, MySQLPosition

        one, other = self.position_sort_key(first), self.position_sort_key(second)
        if isinstance(one, MySQLPosition) and isinstance(other, MySQLPosition):
            return one.union(other)
        if isinstance(one, MariaDBPosition) and isinstance(other, MariaDBPosition):
            return one.union(other)
        raise ValueError(f"positions of two kinds of server: {first!r}, {second!r}")

    def replica_lag(self) -> float:
        self.connection()
        if self.is_galera:  # no Seconds_Behind_Master: synced (0) or not (infinity)
            return galera.replica_lag(self)
        cursor = self.execute_sql("SHOW SLAVE STATUS")
        row = cursor.fetchone()
        if row is None:
            return 0.0
        status = dict(zip((column[0] for column in cursor.description), row))
        # A stopped SQL or IO thread leaves Seconds_Behind_Master NULL: the replica falls
        # behind from now on without saying by how much, so it counts as infinitely behind.
        if status.get("Slave_SQL_Running") != "Yes" or status.get("Slave_IO_Running") != "Yes":
            return float("inf")
        lag = status.get("Seconds_Behind_Master")
        return float(lag) if lag is not None else float("inf")

    def get_columns(self, table: str) -> list[ColumnMetadata]:
        sql = (
            "SELECT column_name, column_type, is_nullable = 'YES', column_key = 'PRI', column_default, extra "
            "FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = %s "
            "ORDER BY ordinal_position"
        )
        rows = self.execute_sql(sql, (table,)).fetchall()
        json_columns = self._json_columns(table)
        # MySQL reports auto-increment in "extra", not as a default; it is surfaced as the
        # default "AUTO_INCREMENT" so the metadata keeps one shape on every engine.
        return [
            ColumnMetadata(
                name,
                "json" if name in json_columns else data_type,
                bool(null),
                bool(pk),
                table,
                "AUTO_INCREMENT"
                if "auto_increment" in (extra or "").lower()
                else (None if default == "NULL" else default),
            )
            for name, data_type, null, pk, default, extra in rows
        ]

    def _json_columns(self, table: str) -> set[str]:
        """MariaDB's JSON is LONGTEXT with a json_valid() check; find those columns."""
        self.connection()
        if not self.is_mariadb:
            return set()
        rows = self.execute_sql(
            "SELECT check_clause FROM information_schema.check_constraints "
            "WHERE constraint_schema = DATABASE() AND table_name = %s",
            (table,),
        ).fetchall()
        columns: set[str] = set()
        for (clause,) in rows:
            match = re.fullmatch(r"\s*json_valid\(`((?:[^`]|``)+)`\)\s*", clause or "")
            if match:
                columns.add(match.group(1).replace("``", "`"))
        return columns

    def get_indexes(self, table: str) -> list[IndexMetadata]:
        sql = (
            "SELECT index_name, non_unique, column_name FROM information_schema.statistics "
            "WHERE table_schema = DATABASE() AND table_name = %s AND index_name != 'PRIMARY' "
            "ORDER BY index_name, seq_in_index"
        )
        indexes: dict[str, IndexMetadata] = {}
        for name, non_unique, column in self.execute_sql(sql, (table,)).fetchall():
            entry = indexes.setdefault(name, IndexMetadata(name, [], not non_unique, table))
            entry.columns.append(column)
        return [indexes[name] for name in sorted(indexes)]

    def get_foreign_keys(self, table: str) -> list[ForeignKeyMetadata]:
        sql = (
            "SELECT k.column_name, k.referenced_table_name, k.referenced_column_name, "
            "r.delete_rule, r.update_rule, k.constraint_name "
            "FROM information_schema.key_column_usage k "
            "JOIN information_schema.referential_constraints r "
            "ON r.constraint_schema = k.constraint_schema AND r.constraint_name = k.constraint_name "
            "AND r.table_name = k.table_name "
            "WHERE k.table_schema = DATABASE() AND k.table_name = %s "
            "AND k.referenced_table_name IS NOT NULL ORDER BY k.constraint_name, k.ordinal_position"
        )
        rows = self.execute_sql(sql, (table,)).fetchall()

        # InnoDB treats RESTRICT and NO ACTION alike and reports an undeclared action as
        # RESTRICT; it is reported as NO ACTION, as the other engines do.
        def action(rule: str) -> str:
            return "NO ACTION" if rule == "RESTRICT" else rule

        return [
            ForeignKeyMetadata(column, dest_table, dest_column, table, action(on_delete), action(on_update), name)
            for column, dest_table, dest_column, on_delete, on_update, name in rows
        ]
