"""The Database: connections (one per thread, optionally pooled), transactions, error
translation, schema management and introspection. Engine specifics live in the subclasses
and in the dialects."""

from __future__ import annotations

import collections
import contextlib
import functools
import logging
import os
import threading
import time
import weakref

from .. import exceptions
from ..exceptions import ImproperlyConfigured, OperationalError, translate_driver_error
from ..log import check_log_params, format_params, pool_logger, scrub, sql_logger

logger = logging.getLogger("tinyorm")

ColumnMetadata = collections.namedtuple(
    "ColumnMetadata", ("name", "data_type", "null", "primary_key", "table", "default")
)
IndexMetadata = collections.namedtuple("IndexMetadata", ("name", "columns", "unique", "table"))
ForeignKeyMetadata = collections.namedtuple(
    "ForeignKeyMetadata",
    ("column", "dest_table", "dest_column", "table", "on_delete", "on_update", "name"),
    defaults=(None,),
)

_ALL_DATABASES = weakref.WeakSet()


def _forget_connections_after_fork():
    # A forked child must not talk over its parent's sockets: drop (never close) them.
    for database in list(_ALL_DATABASES):
        database._reset_after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_connections_after_fork)


class _ThreadState(threading.local):
    def __init__(self):
        self.conn = None
        self.transactions = []  # savepoint names; "" marks the outer transaction


class Atomic:
    """``with db.atomic():`` and ``@db.atomic()``: a transaction, or a savepoint when nested.

    On an exception the block's work is rolled back and the exception propagates; otherwise
    it is committed (or the savepoint released).
    """

    __slots__ = ("database",)

    def __init__(self, database):
        self.database = database

    def __enter__(self):
        self.database._enter_atomic()
        return self

    def __exit__(self, exc_type, exc, tb):
        self.database._exit_atomic(exc_type is not None)
        return False

    def __call__(self, function):
        database = self.database

        @functools.wraps(function)
        def atomic_call(*args, **kwargs):
            with Atomic(database):
                return function(*args, **kwargs)

        return atomic_call


class Database:
    """Base of ``SqliteDatabase``, ``PostgresDatabase`` and ``MySQLDatabase``.

    Connects lazily on first use. Every statement passes through :meth:`execute_sql`.
    Pool options: ``max_connections`` (connections open at once, across threads; a thread
    waits up to ``pool_timeout`` seconds for one) and ``stale_timeout`` (seconds after which
    an idle pooled connection is closed instead of reused).
    ``log_params`` says how the ``tinyorm.sql`` log shows parameters: ``True`` (default)
    as they are, ``False`` hidden (only their count), a number N each cut to N characters.
    """

    dialect_class = None
    driver_name = None

    def __init__(
        self,
        database,
        *,
        max_connections=None,
        stale_timeout=None,
        pool_timeout=10.0,
        autoconnect=True,
        log_params=True,
        **connect_params,
    ):
        self.database = database
        try:
            self.log_params = check_log_params(log_params)
        except ValueError as exc:
            raise ImproperlyConfigured(str(exc)) from None
        self.connect_params = connect_params
        self.dialect = self.dialect_class()
        self.autoconnect = autoconnect
        self.max_connections = int(max_connections) if max_connections else None
        self.stale_timeout = float(stale_timeout) if stale_timeout else None
        self.pool_timeout = float(pool_timeout)
        self._pooled = self.max_connections is not None or self.stale_timeout is not None
        self._state = _ThreadState()
        self._lock = threading.Condition()
        self._idle = []  # pooled connections: (returned_at, created_at, conn)
        self._open = {}  # id(conn) -> (conn, created_at) for every connection this db opened
        self._server_checked = False
        # Set by a Router on its replicas: called with (database, error, sql, params, many)
        # when a statement fails for want of a connection, to run it elsewhere.
        self.failover = None
        _ALL_DATABASES.add(self)

    def __repr__(self):
        return f"<{type(self).__name__} {self.dialect.name} {self.database!r}>"

    # -- driver hooks (subclasses) ---------------------------------------------------------
    def _connect_driver(self):  # pragma: no cover - abstract
        raise NotImplementedError

    def _driver_error_class(self):  # pragma: no cover - abstract
        raise NotImplementedError

    def _initialize_connection(self, conn):
        """Per-connection settings (pragmas, session variables)."""

    def _check_server(self, conn):
        """Read the server version once and set version-gated dialect flags."""

    def _is_disconnect(self, exc):
        return False

    def _error_class_for(self, exc):
        return translate_driver_error(exc)

    def _describe_target(self):
        return repr(self.database)

    # -- connections -----------------------------------------------------------------------
    def _new_connection(self):
        try:
            conn = self._connect_driver()
        except TypeError as exc:
            raise ImproperlyConfigured(f"bad connection option for {self.dialect.name}: {exc}") from exc
        except self._driver_error_class() as exc:
            reason = scrub(str(exc), self.connect_params.get("password"))
            raise OperationalError(
                f"cannot connect to {self.dialect.name} at {self._describe_target()}: {reason}"
            ) from exc
        try:
            self._initialize_connection(conn)
            if not self._server_checked:
                self._check_server(conn)
                self._server_checked = True
        except self._driver_error_class() as exc:
            conn.close()
            raise self._error_class_for(exc)(str(exc)) from exc
        with self._lock:
            self._open[id(conn)] = (conn, time.monotonic())
            opened = len(self._open)
        pool_logger.debug("opened a connection to %s (%d open)", self._describe_target(), opened)
        return conn

    def _checkout(self):
        if not self._pooled:
            return self._new_connection()
        deadline = time.monotonic() + self.pool_timeout
        with self._lock:
            while True:
                now = time.monotonic()
                while self._idle:
                    returned_at, conn = self._idle.pop()
                    if self.stale_timeout and now - returned_at > self.stale_timeout:
                        pool_logger.debug("closed a connection to %s idle past stale_timeout", self._describe_target())
                        self._close_physically(conn)
                        continue
                    return conn
                if self.max_connections is None or len(self._open) < self.max_connections:
                    break
                remaining = deadline - now
                if remaining <= 0:
                    pool_logger.warning(
                        "pool for %s exhausted: %d connections in use for %gs",
                        self._describe_target(),
                        self.max_connections,
                        self.pool_timeout,
                    )
                    raise OperationalError(
                        f"connection pool exhausted: {self.max_connections} connections in use "
                        f"for {self.pool_timeout:g}s"
                    )
                self._lock.wait(remaining)
        return self._new_connection()

    def _close_physically(self, conn):
        self._open.pop(id(conn), None)
        try:
            conn.close()
        except Exception:  # a broken connection may fail to close; it is gone either way
            pass

    def connect(self, reuse_if_open=True):
        """Open this thread's connection now. Returns True if a new one was opened."""
        state = self._state
        if state.conn is not None:
            if reuse_if_open:
                return False
            raise OperationalError("this thread's connection is already open")
        state.conn = self._checkout()
        return True

    def connection(self):
        """This thread's DB-API connection, opened if needed."""
        conn = self._state.conn
        if conn is None:
            if not self.autoconnect:
                raise InterfaceError("database is closed and autoconnect is off")
            conn = self._state.conn = self._checkout()
        return conn

    def is_closed(self):
        """True if this thread has no open connection."""
        return self._state.conn is None

    def close(self):
        """Close this thread's connection (or return it to the pool). Returns True if one was open."""
        state = self._state
        conn = state.conn
        if conn is None:
            return False
        if state.transactions:
            raise OperationalError("cannot close a connection inside an open transaction")
        state.conn = None
        if self._pooled:
            with self._lock:
                self._idle.append((time.monotonic(), conn))
                self._lock.notify()
        else:
            with self._lock:
                self._close_physically(conn)
        return True

    def close_all(self):
        """Close every connection this database opened, in every thread."""
        with self._lock:
            for conn, _created in list(self._open.values()):
                self._close_physically(conn)
            self._idle.clear()
            self._lock.notify_all()
        self._state = _ThreadState()

    def _discard_connection(self):
        state = self._state
        conn = state.conn
        state.conn = None
        state.transactions = []
        if conn is not None:
            pool_logger.warning(
                "discarded the connection to %s (lost, or unusable after an error)", self._describe_target()
            )
            with self._lock:
                self._close_physically(conn)
                self._lock.notify()

    def _reset_after_fork(self):
        self._state = _ThreadState()
        self._lock = threading.Condition()
        self._idle = []
        self._open = {}

    def __enter__(self):
        self.connect()
        return self

    def __exit__(self, *exc):
        self.close()

    # -- statements ------------------------------------------------------------------------
    def cursor(self):
        """A new DB-API cursor on this thread's connection (opened if needed)."""
        return self.connection().cursor()

    def execute_sql(self, sql, params=None, many=False):
        """Send one statement and return the DB-API cursor.

        With ``params`` None the text is sent as it is; otherwise it uses the dialect's
        placeholders. With ``many=True``, ``params`` is a sequence of parameter rows and
        the statement runs once per row (DB-API ``executemany``). Driver errors are raised
        as tinyorm's PEP 249 classes, chained. Every statement tinyorm sends comes here.
        """
        if sql_logger.isEnabledFor(logging.DEBUG):
            sql_logger.debug("%s%s", sql, format_params(params, self.log_params, many))
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
            self._raise_translated(exc)
        return cursor

    def is_connection_failure(self, exc):
        """True if ``exc`` means the server could not be reached (not a bad statement)."""
        if isinstance(exc, OperationalError) and "cannot connect" in str(exc):
            return True
        driver_error = exc.__cause__ if isinstance(exc, exceptions.TinyORMError) else exc
        return driver_error is not None and self._is_disconnect(driver_error)

    # -- replication (engines with a replication position override these) ------------------
    has_replication_positions = False

    def replication_position(self):
        """The position of the latest committed write (on a primary), or None if the engine
        has none to offer; read-your-writes then pins reads to the primary for a while."""
        return None

    def position_reached(self, position, timeout=0.0):
        """On a replica: has it replayed ``position``? Waits up to ``timeout`` seconds."""
        return False

    def position_sort_key(self, position):
        """A comparable form of a position, to keep the later of two."""
        return position

    def replica_lag(self):
        """Seconds this replica is behind its primary (0 when caught up), or None."""
        return None

    # -- migrations ------------------------------------------------------------------------
    @contextlib.contextmanager
    def migration_lock(self, timeout=60):
        """Hold the lock that keeps two processes from migrating this database at once."""
        yield

    def dialect_for(self, model):
        """The dialect ``model``'s statements compile for: this database's own."""
        return self.dialect

    def check_query(self, query):
        """A Router refuses queries spanning databases; one database accepts everything."""

    def identity_name(self, model):
        """What a session's identity map keys this model's rows by (the database itself)."""
        return self

    def _raise_translated(self, exc):
        if isinstance(exc, exceptions.TinyORMError):
            raise exc
        if isinstance(exc, self._driver_error_class()):
            error_class = self._error_class_for(exc)
            if self._is_disconnect(exc):
                self._discard_connection()
            raise error_class(str(exc)) from exc
        if isinstance(exc, (OverflowError, UnicodeError)):
            raise exceptions.DataError(str(exc)) from exc
        raise exc

    def execute(self, query):
        """Compile and run a query node; returns the cursor."""
        sql, params = query.sql(self.dialect)
        return self.execute_sql(sql, params)

    def last_insert_id(self, cursor):
        """The key of the row the statement behind ``cursor`` inserted."""
        return cursor.lastrowid

    def rows_affected(self, cursor):
        """How many rows the statement behind ``cursor`` matched."""
        return cursor.rowcount

    # -- transactions ----------------------------------------------------------------------
    def atomic(self):
        """A transaction block; nested blocks become savepoints."""
        return Atomic(self)

    transaction = atomic

    def in_transaction(self):
        """True inside ``atomic()`` (or between ``begin()`` and ``commit()``/``rollback()``) on this thread."""
        return bool(self._state.transactions)

    def _begin_sql(self):
        return "BEGIN"

    def _enter_atomic(self):
        stack = self._state.transactions
        if not stack:
            self.execute_sql(self._begin_sql())
            stack.append("")
        else:
            name = f"tinyorm_sp{len(stack)}"
            self.execute_sql(f"SAVEPOINT {name}")
            stack.append(name)

    def _exit_atomic(self, failed):
        state = self._state
        stack = state.transactions
        if not stack:
            return  # the connection was lost and its state discarded
        name = stack.pop()
        if name:
            if failed:
                self._quietly(f"ROLLBACK TO SAVEPOINT {name}")
                self._quietly(f"RELEASE SAVEPOINT {name}")
            else:
                try:
                    self.execute_sql(f"RELEASE SAVEPOINT {name}")
                except Exception:
                    self._quietly(f"ROLLBACK TO SAVEPOINT {name}")
                    raise
            return
        if failed:
            self._quietly("ROLLBACK")
            return
        try:
            self.execute_sql("COMMIT")
        except Exception:
            self._quietly("ROLLBACK")
            raise

    def _quietly(self, sql):
        if self._state.conn is None:
            return
        try:
            self.execute_sql(sql)
        except exceptions.DatabaseError:
            logger.warning("%s failed while unwinding a transaction", sql, exc_info=True)

    def begin(self):
        """Start a transaction (a savepoint if one is open); prefer ``with db.atomic():``."""
        self._enter_atomic()

    def commit(self):
        """Commit the innermost ``begin()`` (release its savepoint when nested)."""
        self._exit_atomic(False)

    def rollback(self):
        """Roll back the innermost ``begin()`` (to its savepoint when nested)."""
        self._exit_atomic(True)

    # -- routing protocol (a Router answers these per model; a Database is its own answer) --
    def db_for_read(self, model):
        """Where a read of ``model`` goes: this database (a Router picks a replica)."""
        return self

    def db_for_write(self, model):
        """Where a write of ``model`` goes: this database (a Router picks the primary)."""
        return self

    def route_read(self, model):
        """Where a read of ``model`` runs (the Router's counterpart records statistics)."""
        return self

    def route_write(self, model):
        """Where a write of ``model`` runs (the Router's counterpart records statistics)."""
        return self

    # -- schema ----------------------------------------------------------------------------
    def bind(self, models):
        """Point the given models (and no others) at this database."""
        for model in models:
            model._meta.set_database(self)
        return self

    def create_tables(self, models, safe=True):
        """Create tables (and their indexes), parents before children."""
        from ..schema import create_tables

        create_tables(self, models, safe=safe)

    def drop_tables(self, models, safe=True, cascade=False):
        """Drop tables, children before parents."""
        from ..schema import drop_tables

        drop_tables(self, models, safe=safe, cascade=cascade)

    def table_exists(self, table_name):
        """True if ``table_name`` is a table of the connected database."""
        return table_name in self.get_tables()

    def get_tables(self):
        """Names of the tables in the connected database/schema, sorted."""
        return [row[0] for row in self.execute_sql(self.dialect.list_tables_sql()).fetchall()]

    def get_columns(self, table):  # pragma: no cover - per engine
        """``[ColumnMetadata]`` for ``table``'s columns, in order."""
        raise NotImplementedError

    def get_indexes(self, table):  # pragma: no cover - per engine
        """``[IndexMetadata]`` for ``table``'s indexes (the primary key left out)."""
        raise NotImplementedError

    def get_foreign_keys(self, table):  # pragma: no cover - per engine
        """``[ForeignKeyMetadata]`` for ``table``'s foreign keys."""
        raise NotImplementedError

    def get_primary_keys(self, table):
        """The names of ``table``'s primary-key columns."""
        return [column.name for column in self.get_columns(table) if column.primary_key]


InterfaceError = exceptions.InterfaceError
