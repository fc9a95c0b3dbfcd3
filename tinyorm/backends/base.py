"""The Database: connections (one per thread, optionally pooled), transactions, error
translation, schema management and introspection. Engine specifics live in the subclasses
and in the dialects."""

from __future__ import annotations

import contextlib
import logging
import os
import weakref
from typing import TYPE_CHECKING, Any, Callable, Generator, Iterable, Iterator, NamedTuple, NoReturn, Protocol, Sequence

from .. import exceptions
from ..exceptions import ConnectionLostError, ImproperlyConfigured, OperationalError, translate_driver_error
from ..log import check_log_params, format_params, scrub, sql_logger
from .pool import ConnectionsMixin
from .proxy import _BoundModel
from .transactions import Atomic, TransactionsMixin

if TYPE_CHECKING:
    from typing_extensions import Self

    class _Cursor(Protocol):
        """What tinyorm reads of a DB-API cursor after a write."""

        rowcount: int
        lastrowid: Any

    from ..dialects.base import Dialect
    from ..fields import Field
    from ..models.model import Model as _Model
    from ..sql.nodes import Node
    from ..sql.search import Search

__all__ = ["Atomic", "ColumnMetadata", "Database", "ForeignKeyMetadata", "IndexMetadata"]

logger = logging.getLogger("tinyorm")


class ColumnMetadata(NamedTuple):
    """A column as the connected database describes it (``Database.get_columns``)."""

    name: str
    data_type: str
    null: bool
    primary_key: bool
    table: str
    default: Any  # the column's default as the engine reports it (SQL text), or None


class IndexMetadata(NamedTuple):
    """An index as the connected database describes it (``Database.get_indexes``)."""

    name: str
    columns: list[str]
    unique: bool
    table: str


class ForeignKeyMetadata(NamedTuple):
    """A foreign key as the connected database describes it (``Database.get_foreign_keys``)."""

    column: str
    dest_table: str
    dest_column: str
    table: str
    on_delete: str | None
    on_update: str | None
    name: str | None = None


_ALL_DATABASES: weakref.WeakSet[Database] = weakref.WeakSet()


def _forget_connections_after_fork() -> None:
    # A forked child must not talk over its parent's sockets: drop (never close) them.
    for database in list(_ALL_DATABASES):
        database._reset_after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_connections_after_fork)


class Database(ConnectionsMixin, TransactionsMixin):
    """Base of ``SqliteDatabase``, ``PostgresDatabase`` and ``MySQLDatabase``.

    Connects lazily on first use. Every statement passes through :meth:`execute_sql`.
    Pool options: ``max_connections`` (connections open at once, across threads; a thread
    waits up to ``pool_timeout`` seconds for one) and ``stale_timeout`` (seconds after which
    an idle pooled connection is closed instead of reused).
    ``log_params`` says how the ``tinyorm.sql`` log shows parameters: ``True`` (default)
    as they are, ``False`` hidden (only their count), a number N each cut to N characters.
    """

    if TYPE_CHECKING:
        dialect_class: type[Dialect]  # set by every engine's Database
        dialect: Dialect
    else:
        dialect_class = None
    driver_name: str | None = None
    # Set by a Router: called with (database, error, sql, params, many); see __init__.
    failover: Callable[[Database, Exception, str, Any, bool], Any] | None
    # ``class Base(db.Model): ...``: a Model base class bound to this database.
    Model = _BoundModel()

    def __init__(
        self,
        database: Any,
        *,
        max_connections: int | None = None,
        stale_timeout: float | None = None,
        pool_timeout: float = 10.0,
        ping_interval: float = 1.0,
        autoconnect: bool = True,
        log_params: bool | int = True,
        **connect_params: Any,
    ) -> None:
        self.database = database
        try:
            self.log_params = check_log_params(log_params)
        except ValueError as exc:
            raise ImproperlyConfigured(str(exc)) from None
        self.connect_params = connect_params
        self.dialect = self.dialect_class()
        self.autoconnect = autoconnect
        self._init_connections(max_connections, stale_timeout, pool_timeout, ping_interval)
        self._server_checked = False
        # Set by a Router on its replicas: called with (database, error, sql, params, many)
        # when a statement fails for want of a connection, to run it elsewhere; and, for
        # streamed reads, with (database, sql, params, chunk_size) in place of stream_rows,
        # to move the stream elsewhere if this database fails before its first rows.
        self.failover = None
        self.stream_failover: Callable[[Database, str, Any, int], Generator[Any, None, None]] | None = None
        _ALL_DATABASES.add(self)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.dialect.name} {self.database!r}>"

    # -- driver hooks (subclasses) ---------------------------------------------------------
    def _connect_driver(self) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def _driver_error_class(self) -> type[Exception] | tuple[type[Exception], ...]:  # pragma: no cover - abstract
        raise NotImplementedError

    def _initialize_connection(self, conn: Any) -> None:
        """Per-connection settings (pragmas, session variables)."""

    def _check_server(self, conn: Any) -> None:
        """Read the server version once and set version-gated dialect flags."""

    def _is_disconnect(self, exc: BaseException) -> bool:
        """True if the driver error means the connection is dead (raised as ConnectionLostError)."""
        return False

    def _error_class_for(self, exc: BaseException) -> type[exceptions.TinyORMError]:
        return translate_driver_error(exc)

    def _describe_target(self) -> str:
        return repr(self.database)

    def __enter__(self) -> Self:
        self.connect()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- statements ------------------------------------------------------------------------
    def cursor(self) -> Any:
        """A new DB-API cursor on this thread's connection (opened if needed)."""
        return self.connection().cursor()

    def execute_sql(self, sql: str, params: Any = None, many: bool = False) -> Any:
        """Send one statement and return the DB-API cursor.

        The text uses the dialect's placeholders (``db.dialect.param``) and ``%%`` for a
        literal ``%`` on every engine, with or without ``params``. With ``many=True``, ``params`` is a sequence of parameter rows and
        the statement runs once per row (DB-API ``executemany``). Driver errors are raised
        as tinyorm's PEP 249 classes, chained. Every statement tinyorm sends comes here.
        """
        if sql_logger.isEnabledFor(logging.DEBUG):
            # The connection's own password is never logged, even where a statement holds it.
            line = sql + format_params(params, self.log_params, many)
            sql_logger.debug("%s", scrub(line, self.connect_params.get("password")))
        # One rule for "%" on every engine, with or without params: "%%" is a literal "%".
        # A "%s" driver reads it so only when given params, so it always gets some; the
        # others are sent the text with "%%" already made "%".
        if self.percent_by_driver:
            if params is None:
                params = ()
        elif "%" in sql:
            sql = sql.replace("%%", "%")
        try:
            conn = self._state.conn
            if conn is None:
                conn = self.connection()
            cursor = conn.cursor()
            if many:
                cursor.executemany(sql, params)
            elif params is None:
                cursor.execute(sql)
            else:
                cursor.execute(sql, params)
        except Exception as exc:
            if self.failover is not None and self.is_connection_failure(exc):
                return self.failover(self, exc, sql, params, many)
            if self.percent_by_driver and _is_format_error(exc):
                raise exceptions.ProgrammingError(
                    f"the driver read a '%' in the SQL text as a placeholder ({exc}): write '%%' "
                    "for a literal '%' and pass values as params"
                ) from exc
            self._raise_translated(exc)
        except BaseException:
            # Ctrl-C (or another non-error exit) in the middle of a statement: it stays what
            # it is, but the connection may be half-way through the protocol and is never
            # used again (pymysql, for one, has already closed its socket).
            self._discard_connection(ConnectionLostError("the connection was interrupted during a statement"))
            raise
        return cursor

    # True where the driver itself reads "%s"/"%%" in the text (psycopg2, pymysql).
    percent_by_driver = True

    def execute_unbuffered(self, sql: str, params: Any) -> Any:
        """``execute_sql`` for a SELECT whose rows the caller reads once, in order, right
        away, then closes the cursor (model selects do, to build objects a chunk at a
        time). Where the driver buffers the whole result in Python on execute (pymysql),
        the cursor reads rows off the wire as they are fetched instead; the connection can
        send nothing else until the cursor is exhausted or closed."""
        return self.execute_sql(sql, params)

    def stream_rows(self, sql: str, params: Any, chunk_size: int) -> Generator[tuple[list[Any], Any], None, None]:
        """Run a SELECT and yield its rows in lists of at most ``chunk_size``, each with the
        cursor's description, reading them from the server as they are consumed.

        Behind :meth:`Query.iterator`. SQLite's cursor already steps through the result
        one row at a time; server engines override this with a server-side cursor. Close
        the generator (or exhaust it) to release what it holds.
        """
        cursor = self.execute_sql(sql, params)
        try:
            while True:
                try:
                    rows = cursor.fetchmany(chunk_size)
                except Exception as exc:
                    self._raise_translated(exc)
                if not rows:
                    return
                yield rows, cursor.description
        finally:
            cursor.close()

    def _open_stream(self, sql: str, params: Any, chunk_size: int) -> Generator[tuple[list[Any], Any], None, None]:
        """:meth:`stream_rows`, moved by the Router that owns this replica to another
        database if this one cannot be reached before the first rows (never after)."""
        if self.stream_failover is None:
            return self.stream_rows(sql, params, chunk_size)
        return self.stream_failover(self, sql, params, chunk_size)

    # Engines with a bulk loader (PostgreSQL's COPY) set this and override copy_rows();
    # Model.copy_from() uses multi-row INSERTs elsewhere.
    has_copy = False

    def copy_rows(
        self, table: str, fields: Sequence[Field[Any]], batches: Iterable[list[tuple[Any, ...]]]
    ) -> int:  # pragma: no cover - per engine
        """Load ``batches`` (lists of row tuples) into ``table`` (its quoted name), one
        value per field of ``fields``, with the engine's bulk loader; each value goes
        through its field's adapter as for an INSERT. Returns the number of rows loaded."""
        raise NotImplementedError

    def is_connection_failure(self, exc: BaseException) -> bool:
        """True if ``exc`` means the server could not be reached (not a bad statement)."""
        if isinstance(exc, ConnectionLostError) or (isinstance(exc, OperationalError) and "cannot connect" in str(exc)):
            return True
        driver_error = exc.__cause__ if isinstance(exc, exceptions.TinyORMError) else exc
        return driver_error is not None and self._is_disconnect(driver_error)

    # -- replication: the hooks a Router's read-your-writes uses ------------------------------
    # An engine (or topology, e.g. a Galera backend) plugs into the Router by overriding:
    #
    # * ``has_replication_positions``: True if the methods below deal in positions;
    # * ``replication_position()`` on a primary: text naming every committed write so far;
    # * ``replayed_position()`` on a replica: text naming what it has applied (one statement:
    #   the router remembers it per replica, so one probe answers many reads);
    # * ``position_reached(position, timeout)`` on a replica: wait (one statement) until it
    #   has applied ``position``; False after ``timeout`` seconds;
    # * ``position_sort_key(position)``: a comparable form where ``a >= b`` means "a holds
    #   everything b holds" (a partial order is fine); raises ValueError for text that is
    #   not a position, so a forged token is the caller's RoutingError;
    # * ``merge_positions(a, b)``: a position holding both (the later one if ordered);
    # * ``replica_lag()``: seconds behind; ``float("inf")`` when replication is stopped (the
    #   replica must not serve fresh reads), None if unknown.
    #
    # Connection failures from these mark a replica down; other errors (a missing privilege)
    # are reported by the Router and only keep that replica out of the read at hand.
    has_replication_positions = False

    def replication_position(self) -> Any:
        """The position of the latest committed write (on a primary), or None if the engine
        has none to offer; read-your-writes then pins reads to the primary for a while."""
        return None

    def replayed_position(self) -> Any:
        """On a replica: the position it has applied, or None if the engine has none."""
        return None

    def position_reached(self, position: Any, timeout: float = 0.0) -> bool:
        """On a replica: has it replayed ``position``? Waits up to ``timeout`` seconds."""
        return False

    def position_sort_key(self, position: Any) -> Any:
        """A comparable form of a position: ``key(a) >= key(b)`` if ``a`` holds ``b``."""
        return position

    def merge_positions(self, first: Any, second: Any) -> Any:
        """A position holding both ``first`` and ``second``."""
        return first if self.position_sort_key(first) >= self.position_sort_key(second) else second

    def replica_lag(self) -> float | None:
        """Seconds this replica is behind its primary (0 when caught up, infinity when
        replication is stopped), or None."""
        return None

    # -- migrations ------------------------------------------------------------------------
    @contextlib.contextmanager
    def migration_lock(self, timeout: float = 60) -> Iterator[None]:
        """Hold the lock that keeps two processes from migrating this database at once."""
        yield

    def table_dependents(self, table: str) -> list[tuple[str, str, str]]:
        """[(kind, name, sql)] of what a table rebuild must recreate from its own definition
        (triggers, partial and expression indexes): only engines that rebuild tables
        (``dialect.rebuilds_tables``) are asked."""
        return []

    @contextlib.contextmanager
    def foreign_keys_suspended(self) -> Iterator[None]:
        """Foreign-key enforcement off for the block, outside any transaction (a rehearsal
        of SQLite table rebuilds, whose DROP TABLE would otherwise fire ON DELETE actions).
        Engines that check keys per statement and never rebuild need nothing here."""
        yield

    def dialect_for(self, model: type[_Model] | None) -> Dialect:
        """The dialect ``model``'s statements compile for: this database's own."""
        return self.dialect

    def prepare_replica(self) -> None:
        """Called by a Router on each replica it opens from a URL, before first use.

        Engines that can refuse writes on the client side do so here (SQLite: read-only
        mode); server replicas refuse writes themselves.
        """

    def check_query(self, query: Any) -> None:
        """A Router refuses queries spanning databases; one database accepts everything."""

    def identity_name(self, model: type[_Model]) -> Any:
        """What a session's identity map keys this model's rows by (the database itself)."""
        return self

    def _raise_translated(self, exc: BaseException) -> NoReturn:
        if isinstance(exc, exceptions.TinyORMError):
            raise exc
        if isinstance(exc, self._driver_error_class()):
            lost = self._is_disconnect(exc)
            # A statement's text may hold the password (ALTER USER ... PASSWORD), and
            # engines quote the statement in their messages.
            message = scrub(str(exc), self.connect_params.get("password"))
            error = (ConnectionLostError if lost else self._error_class_for(exc))(message)
            error.__cause__ = exc
            # Error path only: learn what the failure did to the open transaction.
            if self._state.transactions:
                self._note_transaction_damage(error, exc, lost)
            if lost:
                self._connection_lost(error)
            raise error from exc
        if isinstance(exc, (OverflowError, UnicodeError)):
            raise exceptions.DataError(str(exc)) from exc
        raise exc

    def execute(self, query: Node) -> Any:
        """Compile and run a query node; returns the cursor."""
        sql, params = query.sql(self.dialect)
        return self.execute_sql(sql, params)

    def last_insert_id(self, cursor: _Cursor) -> Any:
        """The key of the row the statement behind ``cursor`` inserted."""
        return cursor.lastrowid

    def rows_affected(self, cursor: _Cursor) -> int:
        """How many rows the statement behind ``cursor`` matched."""
        return cursor.rowcount

    # -- routing protocol (a Router answers these per model; a Database is its own answer) --
    def db_for_read(self, model: type[_Model] | None) -> Database:
        """Where a read of ``model`` goes: this database (a Router picks a replica)."""
        return self

    def db_for_write(self, model: type[_Model] | None) -> Database:
        """Where a write of ``model`` goes: this database (a Router picks the primary)."""
        return self

    def route_read(self, model: type[_Model] | None) -> Database:
        """Where a read of ``model`` runs (the Router's counterpart records statistics)."""
        return self

    def route_write(self, model: type[_Model] | None) -> Database:
        """Where a write of ``model`` runs (the Router's counterpart records statistics)."""
        return self

    # -- schema ----------------------------------------------------------------------------
    def bind(self, models: Iterable[type[_Model]]) -> Self:
        """Point the given models (and no others) at this database."""
        for model in models:
            model._meta.set_database(self)
        return self

    def create_tables(self, models: Iterable[type[_Model]], safe: bool = True) -> None:
        """Create tables (and their indexes), parents before children."""
        from ..schema import create_tables

        create_tables(self, models, safe=safe)

    def drop_tables(self, models: Iterable[type[_Model]], safe: bool = True, cascade: bool = False) -> None:
        """Drop tables, children before parents."""
        from ..schema import drop_tables

        drop_tables(self, models, safe=safe, cascade=cascade)

    def table_exists(self, table_name: str) -> bool:
        """True if ``table_name`` is a table of the connected database."""
        return table_name in self.get_tables()

    def get_tables(self) -> list[str]:
        """Names of the tables in the connected database/schema, sorted."""
        return [row[0] for row in self.execute_sql(self.dialect.list_tables_sql()).fetchall()]

    def get_columns(self, table: str) -> list[ColumnMetadata]:  # pragma: no cover - per engine
        """``[ColumnMetadata]`` for ``table``'s columns, in order."""
        raise NotImplementedError

    def get_indexes(self, table: str) -> list[IndexMetadata]:  # pragma: no cover - per engine
        """``[IndexMetadata]`` for ``table``'s indexes (the primary key left out)."""
        raise NotImplementedError

    def get_foreign_keys(self, table: str) -> list[ForeignKeyMetadata]:  # pragma: no cover - per engine
        """``[ForeignKeyMetadata]`` for ``table``'s foreign keys."""
        raise NotImplementedError

    def has_search(self, search: Search) -> bool:
        """Does the full-text index (or FTS table) of ``search`` exist?"""
        return search.name in {index.name for index in self.get_indexes(search.table)}

    def get_primary_keys(self, table: str) -> list[str]:
        """The names of ``table``'s primary-key columns."""
        return [column.name for column in self.get_columns(table) if column.primary_key]


def _is_format_error(exc: BaseException) -> bool:
    """A driver's %-formatting of the SQL text failed (a lone "%" in it)."""
    if isinstance(exc, IndexError):  # psycopg2: "%s" with no value left for it
        return True
    text = str(exc)  # pymysql's and psycopg2's wording of Python's own %-formatting errors
    return any(part in text for part in ("format string", "string formatting", "format character", "incomplete format"))
