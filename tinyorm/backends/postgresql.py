"""PostgreSQL through psycopg2."""

from __future__ import annotations

import contextlib
import itertools
import logging
import re
from types import ModuleType
from typing import TYPE_CHECKING, Any, Generator, Iterable, Iterator, Sequence

from ..dialects import PostgresDialect
from ..exceptions import (
    DeadlockError,
    ImproperlyConfigured,
    LockTimeoutError,
    SerializationError,
    TransactionAbortedError,
    translate_driver_error,
)
from ..log import sql_logger
from .base import ColumnMetadata, Database, ForeignKeyMetadata, IndexMetadata
from .pgcopy import CopySource, rows_encoder
from .transactions import INNERMOST_BLOCK, WHOLE_TRANSACTION

if TYPE_CHECKING:
    from ..exceptions import TinyORMError
    from ..fields import Field

# SQLSTATEs with a class of their own: transient failures worth running the transaction
# again for, and "current transaction is aborted" (sent for every statement after an error
# until the transaction or the savepoint is rolled back).
_ERROR_CLASSES: dict[Any, type[TinyORMError]] = {
    "40001": SerializationError,  # serialization_failure
    "40P01": DeadlockError,  # deadlock_detected
    "55P03": LockTimeoutError,  # lock_not_available: lock_timeout, NOWAIT
    "25P02": TransactionAbortedError,  # in_failed_sql_transaction
}
# libpq's PQtransactionStatus values (psycopg2.extensions.TRANSACTION_STATUS_*)
_STATUS_IDLE, _STATUS_IN_ERROR = 0, 3

_cursor_numbers = itertools.count(1)  # names of server-side cursors, unique per process
logger = logging.getLogger("tinyorm")
_LSN = re.compile(r"^[0-9A-Fa-f]{1,8}/[0-9A-Fa-f]{1,8}$")
_MIGRATION_LOCK_KEY = 7301114050  # the advisory lock id tinyorm's migrations take
_FK_ACTIONS = {"a": "NO ACTION", "r": "RESTRICT", "c": "CASCADE", "n": "SET NULL", "d": "SET DEFAULT"}


def _driver() -> ModuleType:
    try:
        import psycopg2
        import psycopg2.extras
    except ImportError as exc:
        raise ImproperlyConfigured(
            "PostgreSQL needs the psycopg2 driver, which is not installed: pip install 'tinyorm[postgresql]'"
        ) from exc
    return psycopg2


class PostgresDatabase(Database):
    """``PostgresDatabase(name, host=..., port=..., user=..., password=...)``."""

    dialect_class = PostgresDialect
    if TYPE_CHECKING:
        # Database.__init__ sets it from dialect_class: always this engine's dialect.
        dialect: PostgresDialect  # pyright: ignore[reportIncompatibleVariableOverride]
    driver_name = "psycopg2"

    def __init__(self, database: str, **kwargs: Any) -> None:
        self._psycopg2 = _driver()
        super().__init__(database, **kwargs)

    def _driver_error_class(self) -> type[Exception]:
        error_class: type[Exception] = self._psycopg2.Error
        return error_class

    def _describe_target(self) -> str:
        params = self.connect_params
        return f"{params.get('host', 'localhost')}:{params.get('port', 5432)}/{self.database}"

    def _connect_driver(self) -> Any:
        conn = self._psycopg2.connect(dbname=self.database, **self.connect_params)
        conn.autocommit = True  # tinyorm issues BEGIN/COMMIT itself
        return conn

    def _initialize_connection(self, conn: Any) -> None:
        conn.set_client_encoding("UTF8")
        # UUID columns come back as uuid.UUID, so hydration needs no conversion.
        self._psycopg2.extras.register_uuid(conn_or_curs=conn)

    def _check_server(self, conn: Any) -> None:
        version = conn.server_version  # e.g. 150004
        dialect = self.dialect
        # PostgreSQL 9.5 added ON CONFLICT and SKIP LOCKED.
        dialect.supports_skip_locked = version >= 90500

    def _error_class_for(self, exc: BaseException) -> type[TinyORMError]:
        error_class = _ERROR_CLASSES.get(getattr(exc, "pgcode", None))
        return error_class if error_class is not None else translate_driver_error(exc)

    def _transaction_damage(self, conn: Any, driver_error: BaseException, error: BaseException) -> str | None:
        # Any server error aborts a PostgreSQL transaction until it, or the innermost
        # savepoint, is rolled back; libpq tracks that state locally, so no round trip.
        status = conn.get_transaction_status()
        if status == _STATUS_IN_ERROR:
            return INNERMOST_BLOCK
        if status == _STATUS_IDLE:
            return WHOLE_TRANSACTION
        return None  # refused before it reached the server (e.g. a value psycopg2 cannot adapt)

    def _has_open_transaction(self, conn: Any) -> bool:
        status: int = conn.get_transaction_status()
        return status != _STATUS_IDLE

    def _connection_fileno(self, conn: Any) -> int:
        fileno: int = -1 if conn.closed else conn.fileno()
        return fileno

    def _ping(self, conn: Any) -> None:
        cursor = conn.cursor()
        cursor.execute("SELECT 1")
        cursor.close()

    def _is_disconnect(self, exc: BaseException) -> bool:
        if not isinstance(exc, (self._psycopg2.OperationalError, self._psycopg2.InterfaceError)):
            return False
        code = getattr(exc, "pgcode", None)
        # No SQLSTATE: the connection itself failed. Class 08 is "connection exception";
        # 57P01-57P03 are shutdowns and "cannot connect now" (a starting replica).
        return code is None or code.startswith("08") or code in ("57P01", "57P02", "57P03")

    def stream_rows(self, sql: str, params: Any, chunk_size: int) -> Generator[tuple[list[Any], Any], None, None]:
        # A server-side cursor (DECLARE ... / FETCH FORWARD n, what a psycopg2 named cursor
        # sends; that one refuses to run on an autocommit connection, which tinyorm's are).
        # It lives inside a transaction: the enclosing one, or one opened here and committed
        # when the stream ends or is closed -- statements the thread sends meanwhile run in
        # it, as they would have in autocommit.
        chunk_size = int(chunk_size)
        if chunk_size < 1:
            raise ValueError(f"chunk_size must be at least 1, not {chunk_size!r}")
        stack = self._state.transactions
        own = not stack
        if own:
            self._enter_atomic()
        depth = len(stack)
        name = f"tinyorm_cursor_{next(_cursor_numbers)}"
        failed = True
        declared = False
        try:
            self.execute_sql(f"DECLARE {name} NO SCROLL CURSOR FOR {sql}", params)
            declared = True
            fetch = f"FETCH FORWARD {chunk_size} FROM {name}"
            while True:
                cursor = self.execute_sql(fetch)
                rows = cursor.fetchall()
                if rows:
                    yield rows, cursor.description
                if len(rows) < chunk_size:
                    break
            failed = False
        except GeneratorExit:
            failed = False  # closed early by its consumer: not a failure of the transaction
            raise
        finally:
            self._end_stream(name if declared else None, own, depth, failed)

    def _end_stream(self, name: str | None, own: bool, depth: int, failed: bool) -> None:
        if len(self._state.transactions) != depth:
            # The consumer closed the stream inside a block it opened after the stream
            # began: ending the stream's transaction here would end that block instead.
            logger.warning("Query.iterator() closed inside a newer atomic() block; cursor left to its transaction")
            return
        if name is not None and not failed:
            self._quietly(f"CLOSE {name}")
        if own:
            self._exit_atomic(failed)

    has_copy = True

    def copy_rows(self, table: str, fields: Sequence[Field[Any]], batches: Iterable[list[tuple[Any, ...]]]) -> int:
        quote = self.dialect.quote
        sql = f"COPY {table} ({', '.join(quote(field.column_name) for field in fields)}) FROM STDIN"
        if sql_logger.isEnabledFor(logging.DEBUG):
            sql_logger.debug("%s", sql)
        source = CopySource(batches, rows_encoder(fields, [field.adapter(self.dialect) for field in fields]))
        try:
            cursor = self.connection().cursor()
            cursor.copy_expert(sql, source, size=1 << 16)
        except Exception as exc:
            if source.error is not None:
                # A value its field refused: the driver aborted the COPY on the server (the
                # enclosing block rolls it back); raise what the field said, as insert does.
                raise source.error from None
            self._raise_translated(exc)
        return cursor.rowcount if cursor.rowcount >= 0 else source.rows

    @contextlib.contextmanager
    def migration_lock(self, timeout: float = 60) -> Iterator[None]:
        # A session-level advisory lock: a second migrating process waits for it.
        self.execute_sql("SELECT pg_advisory_lock(%s)", (_MIGRATION_LOCK_KEY,))
        try:
            yield
        finally:
            self.execute_sql("SELECT pg_advisory_unlock(%s)", (_MIGRATION_LOCK_KEY,))

    # WAL positions: 'X/Y' hex pairs, ordered as the 64-bit number X << 32 | Y.
    has_replication_positions = True

    def replication_position(self) -> str:
        position: str = self.execute_sql("SELECT pg_current_wal_lsn()::text").fetchone()[0]
        return position

    def position_sort_key(self, position: object) -> int:
        if not isinstance(position, str) or _LSN.match(position) is None:
            raise ValueError(f"not a PostgreSQL WAL position: {position!r}")
        high, _, low = position.partition("/")
        return (int(high, 16) << 32) | int(low, 16)

    def replayed_position(self) -> str | None:
        """On a replica: the WAL position it has replayed (``pg_last_wal_replay_lsn()``), or None on a primary."""
        row = self.execute_sql("SELECT pg_last_wal_replay_lsn()::text").fetchone()
        position: str | None = row[0] if row else None
        return position

    def position_reached(self, position: str, timeout: float = 0.0) -> bool:
        # One statement however long it waits: a recursive query re-reads the replayed
        # position every 5 ms and stops at the first row that has it (or at the timeout).
        self.position_sort_key(position)  # refuse garbage before the server sees it
        rounds = max(0, int(timeout / 0.005))
        sql = (
            "WITH RECURSIVE w(n, ok) AS ("
            "SELECT 0, COALESCE(pg_last_wal_replay_lsn() >= %s::pg_lsn, false) "
            "UNION ALL SELECT w.n + 1, (SELECT COALESCE(pg_last_wal_replay_lsn() >= %s::pg_lsn, false) "
            "FROM pg_sleep(0.005 + 0 * w.n)) FROM w WHERE NOT w.ok AND w.n < %s"
            ") SELECT bool_or(ok) FROM w"
        )
        return bool(self.execute_sql(sql, (position, position, rounds)).fetchone()[0])

    def replica_lag(self) -> float:
        # With no WAL receiver streaming, receive == replay and the replica looks caught up
        # while it falls behind: it counts as infinitely behind. When everything received is
        # replayed, the lag is 0 (now() - last replay time would count an idle primary's
        # quiet time as lag).
        sql = (
            "SELECT CASE WHEN NOT pg_is_in_recovery() THEN 0 "
            "WHEN NOT EXISTS (SELECT 1 FROM pg_stat_wal_receiver WHERE status = 'streaming') THEN 'Infinity' "
            "WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0 "
            "ELSE COALESCE(EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()), 0) END::float8"
        )
        return float(self.execute_sql(sql).fetchone()[0])

    def get_columns(self, table: str) -> list[ColumnMetadata]:
        sql = (
            "SELECT c.column_name, "
            "CASE WHEN c.data_type = 'character varying' THEN 'varchar(' || c.character_maximum_length || ')' "
            "WHEN c.data_type = 'numeric' AND c.numeric_precision IS NOT NULL "
            "THEN 'numeric(' || c.numeric_precision || ',' || c.numeric_scale || ')' "
            "ELSE c.data_type END, "
            "c.is_nullable = 'YES', "
            "EXISTS (SELECT 1 FROM information_schema.table_constraints tc "
            "JOIN information_schema.key_column_usage k ON k.constraint_name = tc.constraint_name "
            "AND k.table_schema = tc.table_schema AND k.table_name = tc.table_name "
            "WHERE tc.constraint_type = 'PRIMARY KEY' AND tc.table_schema = c.table_schema "
            "AND tc.table_name = c.table_name AND k.column_name = c.column_name), "
            "CASE WHEN c.is_identity = 'YES' THEN 'GENERATED ' || c.identity_generation || ' AS IDENTITY' "
            "ELSE c.column_default END "
            "FROM information_schema.columns c "
            "WHERE c.table_schema = current_schema() AND c.table_name = %s "
            "ORDER BY c.ordinal_position"
        )
        rows = self.execute_sql(sql, (table,)).fetchall()
        return [
            ColumnMetadata(name, data_type, null, pk, table, default) for name, data_type, null, pk, default in rows
        ]

    def get_indexes(self, table: str) -> list[IndexMetadata]:
        sql = (
            # An expression's key has attnum 0 and no pg_attribute row: its text stands
            # in for the column name (expression and full-text indexes are listed too).
            "SELECT i.relname, ix.indisunique, "
            "array_agg(COALESCE(a.attname, pg_get_indexdef(ix.indexrelid, k.ord::int, true)) ORDER BY k.ord) "
            "FROM pg_index ix "
            "JOIN pg_class t ON t.oid = ix.indrelid "
            "JOIN pg_class i ON i.oid = ix.indexrelid "
            "JOIN pg_namespace n ON n.oid = t.relnamespace "
            "CROSS JOIN LATERAL unnest(ix.indkey) WITH ORDINALITY AS k(attnum, ord) "
            "LEFT JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum AND k.attnum > 0 "
            "WHERE t.relname = %s AND n.nspname = current_schema() AND NOT ix.indisprimary "
            "GROUP BY i.relname, ix.indisunique ORDER BY i.relname"
        )
        rows = self.execute_sql(sql, (table,)).fetchall()
        return [IndexMetadata(name, list(columns), unique, table) for name, unique, columns in rows]

    def get_foreign_keys(self, table: str) -> list[ForeignKeyMetadata]:
        sql = (
            "SELECT a.attname, cf.relname, af.attname, c.confdeltype, c.confupdtype, c.conname "
            "FROM pg_constraint c "
            "JOIN pg_class t ON t.oid = c.conrelid "
            "JOIN pg_namespace n ON n.oid = t.relnamespace "
            "JOIN pg_class cf ON cf.oid = c.confrelid "
            "CROSS JOIN LATERAL unnest(c.conkey, c.confkey) AS k(attnum, fattnum) "
            "JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum "
            "JOIN pg_attribute af ON af.attrelid = c.confrelid AND af.attnum = k.fattnum "
            "WHERE c.contype = 'f' AND t.relname = %s AND n.nspname = current_schema() "
            "ORDER BY c.conname, a.attnum"
        )
        rows = self.execute_sql(sql, (table,)).fetchall()
        return [
            ForeignKeyMetadata(
                column, dest_table, dest_column, table, _FK_ACTIONS[on_delete], _FK_ACTIONS[on_update], name
            )
            for column, dest_table, dest_column, on_delete, on_update, name in rows
        ]
