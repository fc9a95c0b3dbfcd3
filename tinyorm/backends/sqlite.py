"""SQLite through the standard library's sqlite3."""

from __future__ import annotations

import contextlib
import re
import sqlite3
import threading
from typing import TYPE_CHECKING, Any, Iterator, NoReturn

from ..dialects import SqliteDialect
from ..exceptions import (
    ImproperlyConfigured,
    IntegrityError,
    LockTimeoutError,
    OperationalError,
    ProgrammingError,
    translate_driver_error,
)
from .base import ColumnMetadata, Database, ForeignKeyMetadata, IndexMetadata
from .transactions import WHOLE_TRANSACTION

if TYPE_CHECKING:
    from ..exceptions import TinyORMError
    from ..sql.search import Search

_BUSY_CODES = (5, 6)  # SQLITE_BUSY, SQLITE_LOCKED (primary codes of the extended ones)
_TRANSACTION_MODES = ("deferred", "immediate", "exclusive")


def _regexp(pattern: str | None, value: Any) -> bool | None:
    if value is None or pattern is None:
        return None
    return re.search(pattern, value if isinstance(value, str) else str(value)) is not None


def _lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


def _upper(value: Any) -> Any:
    return value.upper() if isinstance(value, str) else value


# The authorizer's action codes (sqlite3 shares the numbers with result codes, so the
# names are listed rather than read from the module).
_ACTIONS = (
    "CREATE_INDEX CREATE_TABLE CREATE_TEMP_INDEX CREATE_TEMP_TABLE CREATE_TEMP_TRIGGER CREATE_TEMP_VIEW "
    "CREATE_TRIGGER CREATE_VIEW DELETE DROP_INDEX DROP_TABLE DROP_TEMP_INDEX DROP_TEMP_TABLE "
    "DROP_TEMP_TRIGGER DROP_TEMP_VIEW DROP_TRIGGER DROP_VIEW INSERT PRAGMA READ SELECT TRANSACTION "
    "UPDATE ATTACH DETACH ALTER_TABLE REINDEX ANALYZE CREATE_VTABLE DROP_VTABLE FUNCTION SAVEPOINT RECURSIVE"
).split()
_ACTION_NAMES = {code: name.replace("_", " ") for code, name in enumerate(_ACTIONS, start=1)}
# Pragmas a read-only connection may run: introspection (whose argument the authorizer
# cannot tell from an assignment) and settings read without "= value" (arg2 None).
_READING_PRAGMAS = frozenset(
    {
        "table_info", "table_xinfo", "index_list", "index_info", "index_xinfo", "foreign_key_list",
        "foreign_key_check", "database_list", "collation_list", "function_list", "module_list",
        "pragma_list", "compile_options", "integrity_check", "quick_check", "table_list",
    }
)  # fmt: skip
_WRITING_PRAGMAS = frozenset({"optimize", "wal_checkpoint", "incremental_vacuum", "shrink_memory"})


class _ReadOnlyAuthorizer:
    """A read-only connection's authorizer (sqlite3 ``set_authorizer``).

    Lets through reads, transaction control (BEGIN, COMMIT, SAVEPOINT), function calls and
    recursive CTEs; denies every other action (INSERT, UPDATE, DELETE, CREATE/DROP/ALTER,
    ATTACH, PRAGMA, ...) while the statement is prepared, so a write never starts running.
    What it refused is kept per thread for the error message.
    """

    ALLOWED = frozenset(
        code
        for code, name in _ACTION_NAMES.items()
        if name in ("SELECT", "READ", "TRANSACTION", "SAVEPOINT", "FUNCTION", "RECURSIVE")
    )
    PRAGMA = _ACTIONS.index("PRAGMA") + 1
    UPDATE = _ACTIONS.index("UPDATE") + 1

    def __init__(self) -> None:
        self._refused = threading.local()

    def __call__(
        self, action: int, arg1: str | None, arg2: str | None, db_name: str | None, trigger: str | None
    ) -> int:
        if action in self.ALLOWED:
            return sqlite3.SQLITE_OK
        if action == self.PRAGMA:
            name = (arg1 or "").lower()
            if name in _READING_PRAGMAS or (arg2 is None and name not in _WRITING_PRAGMAS):
                return sqlite3.SQLITE_OK
        elif action == self.UPDATE and arg1 == "sqlite_master":
            # The first use of a pragma table-valued function (pragma_table_info) asks for
            # UPDATE on sqlite_master's columns while preparing; nothing is written (a real
            # write there needs PRAGMA writable_schema, which stays refused).
            return sqlite3.SQLITE_OK
        self._refused.value = (_ACTION_NAMES.get(action, f"action {action}"), arg1)
        return sqlite3.SQLITE_DENY

    def take_refusal(self) -> tuple[str, str | None] | None:
        refused = getattr(self._refused, "value", None)
        self._refused.value = None
        return refused


class SqliteDatabase(Database):
    """``SqliteDatabase(path)``; ``":memory:"`` for a private in-memory database.

    Each connection turns foreign keys on, waits ``timeout`` seconds on a locked database
    (default 5) and, for files, uses write-ahead logging. ``pragmas`` adds more
    (``{"cache_size": -64000}``). An in-memory database is private to its connection, so
    every thread sees its own.

    ``atomic()`` begins with ``BEGIN IMMEDIATE`` (``transaction_mode``, default
    "immediate"): the write lock is taken up front, where the busy timeout applies. A
    deferred transaction that reads and then writes cannot wait for the lock (SQLite
    refuses the upgrade at once, to avoid a deadlock); ``atomic(mode="deferred")`` or
    ``transaction_mode="deferred"`` still asks for one.

    ``read_only=True`` (in a URL ``?mode=ro`` or ``?read_only=true``) installs an authorizer
    on every connection that refuses any write (INSERT, UPDATE, DELETE, DDL, ATTACH, PRAGMA
    assignments) while the statement is prepared, before it runs, raising an
    ``OperationalError`` that names what was refused; the journal mode is left as the file
    has it, and transactions are deferred (they never need the write lock). A Router opens
    its SQLite replicas this way; ``playhouse.sqlite_ext`` calls it
    ``ReadOnlySqliteDatabase``.
    """

    dialect_class = SqliteDialect
    driver_name = "sqlite3"
    percent_by_driver = False  # "?" placeholders: execute_sql turns "%%" into "%" itself

    def __init__(
        self,
        database: str,
        *,
        timeout: float = 5.0,
        pragmas: dict[str, Any] | None = None,
        journal_mode: str | None = None,
        transaction_mode: str = "immediate",
        read_only: bool = False,
        mode: str | None = None,
        **kwargs: Any,
    ) -> None:
        if mode not in (None, "ro", "rw"):
            raise ImproperlyConfigured(f"SQLite mode={mode!r}: use 'ro' (read-only) or 'rw'")
        super().__init__(database, **kwargs)
        self.transaction_mode = self._checked_mode(transaction_mode)
        self._default_begin = f"BEGIN {self.transaction_mode}"
        self.timeout = float(timeout)
        self.pragmas = dict(pragmas or {})
        if not isinstance(read_only, bool):
            raise ImproperlyConfigured(f"SQLite read_only must be True or False, not {read_only!r}")
        self.read_only = False
        self._authorizer: _ReadOnlyAuthorizer | None = None
        in_memory = database == ":memory:" or str(database).startswith("file::memory:")
        self.journal_mode = journal_mode or (None if in_memory else "wal")
        if read_only or mode == "ro":
            self._refuse_writes()

    def _refuse_writes(self) -> None:
        self.read_only = True
        self._authorizer = _ReadOnlyAuthorizer()
        self.journal_mode = None  # left as the file has it: setting it is a write
        # A transaction that never writes has no use for the write lock BEGIN IMMEDIATE takes.
        self.transaction_mode = "deferred"
        self._default_begin = "BEGIN deferred"

    def prepare_replica(self) -> None:
        # A Router's SQLite replica is a file the router must never write: refuse writes.
        if not self.read_only:
            self._refuse_writes()

    def _driver_error_class(self) -> type[Exception]:
        return sqlite3.Error

    def _describe_target(self) -> str:
        return repr(self.database)

    def _connect_driver(self) -> Any:
        params = dict(self.connect_params)
        return sqlite3.connect(
            self.database,
            timeout=self.timeout,
            isolation_level=None,  # autocommit; tinyorm issues BEGIN/COMMIT itself
            check_same_thread=False,  # a pooled connection may serve another thread later
            **params,
        )

    def _initialize_connection(self, conn: sqlite3.Connection) -> None:
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute(f"PRAGMA busy_timeout = {int(self.timeout * 1000)}")
        if self.journal_mode:
            conn.execute(f"PRAGMA journal_mode = {self.journal_mode}")
        for name, value in self.pragmas.items():
            if not str(name).replace("_", "").isalnum():
                raise ValueError(f"not a pragma name: {name!r}")
            conn.execute(f"PRAGMA {name} = {int(value) if isinstance(value, bool) else value}")
        # SQLite's own LOWER/UPPER fold ASCII only; icontains must fold every letter.
        conn.create_function("lower", 1, _lower, deterministic=True)
        conn.create_function("upper", 1, _upper, deterministic=True)
        conn.create_function("regexp", 2, _regexp, deterministic=True)
        if self._authorizer is not None:
            conn.set_authorizer(self._authorizer)

    def _check_server(self, conn: Any) -> None:
        version = sqlite3.sqlite_version_info
        dialect = self.dialect
        # SQLite 3.35 added RETURNING; 3.32 raised the parameter limit from 999.
        dialect.returning = version >= (3, 35, 0)
        dialect.returning_insert = dialect.returning
        if version < (3, 32, 0):
            dialect.max_params = 999
        # 3.39 added RIGHT and FULL OUTER JOIN.
        dialect.supports_full_join = dialect.supports_right_join = version >= (3, 39, 0)
        # 3.30 added NULLS FIRST/LAST.
        dialect.supports_nulls_ordering = version >= (3, 30, 0)

    def _is_disconnect(self, exc: BaseException) -> bool:
        return False

    # sqlite3 files bad SQL under OperationalError; the message tells which it is.
    _PROGRAMMING_MESSAGES = (
        "no such table",
        "no such column",
        "syntax error",
        "has no column named",
        "incomplete input",
        "ambiguous column name",
        "already exists",
        "no such index",
        "unrecognized token",
        "no such function",
        "wrong number of arguments",
    )

    def _raise_translated(self, exc: BaseException) -> NoReturn:
        # Only the error path looks for a refusal: statements cost nothing extra.
        refused = self._authorizer.take_refusal() if self._authorizer is not None else None
        if refused is not None and isinstance(exc, sqlite3.DatabaseError):
            action, target = refused
            raise OperationalError(
                f"read-only database {self.database!r}: refused {action}"
                f"{f' on {target}' if target else ''} before it ran"
            ) from exc
        Database._raise_translated(self, exc)

    def _error_class_for(self, exc: BaseException) -> type[TinyORMError]:
        message = str(exc).lower()
        if isinstance(exc, sqlite3.OperationalError) and any(text in message for text in self._PROGRAMMING_MESSAGES):
            return ProgrammingError
        if isinstance(exc, sqlite3.IntegrityError):
            return IntegrityError
        code = getattr(exc, "sqlite_errorcode", None)  # Python 3.11+
        busy = (code & 0xFF) in _BUSY_CODES if code is not None else "is locked" in message
        if busy:
            return LockTimeoutError  # still locked after the busy timeout
        return translate_driver_error(exc)

    def _transaction_damage(
        self, conn: sqlite3.Connection, driver_error: BaseException, error: BaseException
    ) -> str | None:
        # Some failures (disk full, I/O errors, an interrupt) make SQLite roll back the
        # whole transaction on its own; the driver says whether one is still open.
        return None if conn.in_transaction else WHOLE_TRANSACTION

    def _has_open_transaction(self, conn: sqlite3.Connection) -> bool:
        return conn.in_transaction

    @staticmethod
    def _checked_mode(mode: object) -> str:
        if str(mode).lower() not in _TRANSACTION_MODES:
            raise ValueError(f"transaction mode must be one of {', '.join(_TRANSACTION_MODES)}, not {mode!r}")
        return str(mode).upper()

    def _begin_sql(self, mode: str | None = None) -> str:
        return f"BEGIN {self._checked_mode(mode)}" if mode is not None else self._default_begin

    @contextlib.contextmanager
    def migration_lock(self, timeout: float = 60) -> Iterator[None]:
        """An exclusive transaction around the whole run: a second process waits at BEGIN.

        Foreign keys are off meanwhile (table rebuilds drop tables, which would fire ON
        DELETE actions elsewhere; the pragma only changes outside a transaction), and every
        key is checked before the COMMIT.
        """
        from ..exceptions import MigrationError

        with self.foreign_keys_suspended(), self.atomic(mode="exclusive"):
            yield
            violations = self.execute_sql("PRAGMA foreign_key_check").fetchall()
            if violations:
                raise MigrationError(f"migrations left foreign keys broken: {violations[:5]}")

    def table_dependents(self, table: str) -> list[tuple[str, str, str]]:
        # Triggers (full-text search keeps its FTS5 table in sync with them), partial indexes
        # and indexes over expressions: sqlite_master keeps their CREATE text.
        dependents: list[tuple[str, str, str]] = self.execute_sql(
            "SELECT type, name, sql FROM sqlite_master WHERE tbl_name = ? AND sql IS NOT NULL "
            "AND (type = 'trigger' OR (type = 'index' AND name IN (SELECT name FROM pragma_index_list(?) AS l "
            "WHERE l.partial OR EXISTS (SELECT 1 FROM pragma_index_info(l.name) WHERE name IS NULL))))",
            (table, table),
        ).fetchall()
        return dependents

    @contextlib.contextmanager
    def foreign_keys_suspended(self) -> Iterator[None]:
        # The pragma only changes outside a transaction; connections keep it ON otherwise.
        self.execute_sql("PRAGMA foreign_keys = OFF")
        try:
            yield
        finally:
            self.execute_sql("PRAGMA foreign_keys = ON")

    def has_search(self, search: Search) -> bool:
        # An FTS5 table is a virtual table, which get_tables() leaves out.
        sql = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?"
        return bool(self.execute_sql(sql, (search.name,)).fetchall())

    # The table-valued pragma functions take the table as a parameter and, unlike the
    # PRAGMA statements, are re-read after another connection changes the schema.
    def get_columns(self, table: str) -> list[ColumnMetadata]:
        rows = self.execute_sql(
            'SELECT name, type, "notnull", dflt_value, pk FROM pragma_table_info(?)', (table,)
        ).fetchall()
        return [
            ColumnMetadata(name, data_type, not notnull, bool(pk), table, default)
            for name, data_type, notnull, default, pk in rows
        ]

    def get_indexes(self, table: str) -> list[IndexMetadata]:
        indexes = []
        rows = self.execute_sql('SELECT name, "unique", origin FROM pragma_index_list(?)', (table,)).fetchall()
        for name, unique, origin in rows:
            if origin == "pk":
                continue
            info = self.execute_sql("SELECT seqno, name FROM pragma_index_info(?)", (name,)).fetchall()
            columns = [column for _seqno, column in sorted(info)]
            indexes.append(IndexMetadata(name, columns, bool(unique), table))
        return sorted(indexes, key=lambda index: index.name)

    def get_foreign_keys(self, table: str) -> list[ForeignKeyMetadata]:
        rows = self.execute_sql(
            'SELECT "table", "from", "to", on_delete, on_update FROM pragma_foreign_key_list(?) ORDER BY id, seq',
            (table,),
        ).fetchall()
        return [
            ForeignKeyMetadata(column, dest_table, dest_column, table, on_delete, on_update)
            for dest_table, column, dest_column, on_delete, on_update in rows
        ]
