"""SQLite for web apps: one writer thread for many writers, and read-only databases.

``SqliteQueueDatabase(path)``: SQLite lets one connection write at a time; many threads
writing through their own connections wait on each other's locks and, past the busy
timeout, fail with "database is locked". Here one writer thread owns the only connection
that writes; every other thread's write statements are queued to it and the caller waits
for the result (its cursor's rowcount, lastrowid and any RETURNING rows). Reads run on
each thread's own connection (write-ahead logging lets them run beside the writer), and
those connections are opened with ``PRAGMA query_only`` so a statement that slipped
through as a read cannot write behind the writer's back.

``atomic()`` on a queue database borrows the writer for the whole block: its BEGIN is
queued like any write, and from then until the COMMIT or ROLLBACK every statement of that
thread (reads included, so they see the block's own writes) runs on the writer, and the
writer serves no other thread. Other threads' writes wait in the queue meanwhile (as they
would wait for SQLite's lock, but without a timeout to run out). Keep such blocks short; a
thread that dies inside one has its transaction rolled back once the writer notices.

``stop()`` (also ``close_all()``) lets the writer finish every queued write, then closes
its connection; the next write starts it again.

``ReadOnlySqliteDatabase(path)``: every write (INSERT, UPDATE, DELETE, DDL, ATTACH, PRAGMA
assignments) is refused by SQLite's authorizer when the statement is prepared, before it
runs, with an ``OperationalError`` naming what was refused. A Router opens its SQLite
replicas this way.
"""

from __future__ import annotations

import logging
import queue
import threading

from tinyorm import DatabaseError, InterfaceError, OperationalError, SqliteDatabase
from tinyorm.backends.transactions import WHOLE_TRANSACTION
from tinyorm.log import format_params, sql_logger

from . import _guard  # noqa: F401 - refuses to load beside peewee's playhouse (see _guard)

__all__ = ["SqliteQueueDatabase", "ReadOnlySqliteDatabase"]

logger = logging.getLogger("tinyorm")  # transaction unwinding, as the core reports it


class ReadOnlySqliteDatabase(SqliteDatabase):
    """A SQLite database that refuses every write before it runs (SQLite's authorizer)."""

    def __init__(self, database, **kwargs):
        kwargs.pop("read_only", None)
        super().__init__(database, read_only=True, **kwargs)


_READS = ("SELECT", "WITH", "EXPLAIN", "VALUES")
_WRITE_WORDS = ("INSERT", "UPDATE", "DELETE", "REPLACE")
_TRANSACTION_END = frozenset({"COMMIT", "ROLLBACK", "END"})  # not ROLLBACK TO SAVEPOINT


def _is_read(sql):
    """True for statements that only read (so they may run on the caller's connection)."""
    head = sql.lstrip()[:10].upper()
    if head.startswith("PRAGMA"):
        return "=" not in sql  # a pragma read (table_info, ...), not an assignment
    if not head.startswith(_READS):
        return False
    if head.startswith("WITH"):  # WITH ... INSERT/UPDATE/DELETE writes
        upper = sql.upper()
        return not any(word in upper for word in _WRITE_WORDS)
    return True


class _Result:
    """What a queued statement gives back: a cursor's outcome, read out by the writer."""

    def __init__(self, cursor):
        self.rowcount = cursor.rowcount
        self.lastrowid = cursor.lastrowid
        self.description = cursor.description
        self._rows = cursor.fetchall() if cursor.description else []
        self._position = 0

    def fetchone(self):
        if self._position >= len(self._rows):
            return None
        row = self._rows[self._position]
        self._position += 1
        return row

    def fetchmany(self, size=100):
        rows = self._rows[self._position : self._position + size]
        self._position += len(rows)
        return rows

    def fetchall(self):
        rows = self._rows[self._position :]
        self._position = len(self._rows)
        return rows

    def __iter__(self):
        return iter(self.fetchall())

    def close(self):
        self._rows = []


class _Task:
    __slots__ = ("thread", "sql", "params", "many", "done", "result", "error")

    def __init__(self, thread, sql, params, many):
        self.thread = thread
        self.sql = sql
        self.params = params
        self.many = many
        self.done = threading.Event()
        self.result = None
        self.error = None


_STOP = object()


class SqliteQueueDatabase(SqliteDatabase):
    """A SQLite database whose writes all go through one writer thread (see the module doc).

    ``queue_max_size`` bounds the queue (0: unbounded); a writer blocked behind a full
    queue waits. ``autostart`` (default True) starts the writer on the first write.
    """

    def __init__(self, database, *, queue_max_size=0, autostart=True, **kwargs):
        super().__init__(database, **kwargs)
        if self.read_only:
            raise OperationalError("a SqliteQueueDatabase exists to write; use ReadOnlySqliteDatabase to read only")
        self.queue_max_size = queue_max_size
        self.autostart = autostart
        self._queue = queue.Queue(maxsize=queue_max_size)
        self._writer = None
        self._writer_lock = threading.RLock()
        self._writer_ident = None
        self._writer_conn = None
        self._start_error = None

    # -- the writer thread -----------------------------------------------------------------
    def start(self):
        """Start the writer thread (done by the first write when ``autostart``)."""
        with self._writer_lock:
            if self._writer is not None and self._writer.is_alive():
                return False
            self._queue = queue.Queue(maxsize=self.queue_max_size)
            ready = threading.Event()
            self._writer = threading.Thread(
                target=self._run_writer, args=(self._queue, ready), name="tinyorm-sqlite-writer", daemon=True
            )
            self._start_error = None
            self._writer.start()
            ready.wait()
            if self._start_error is not None:
                error, self._start_error = self._start_error, None
                raise error
            return True

    def stop(self, timeout=None):
        """Run every queued write, then stop the writer and close its connection.

        Returns True once the writer has stopped (False if ``timeout`` ran out first).
        """
        with self._writer_lock:
            writer = self._writer
            if writer is None:
                return True
            self._queue.put(_STOP)
        writer.join(timeout)
        if writer.is_alive():
            return False
        with self._writer_lock:
            if self._writer is writer:
                self._writer = None
        return True

    def is_stopped(self):
        """True while no writer thread runs (before the first write, after ``stop()``)."""
        return self._writer is None or not self._writer.is_alive()

    def close_all(self):
        self.stop()
        super().close_all()

    def _run_writer(self, tasks, ready):
        self._writer_ident = threading.get_ident()
        conn = None
        try:
            try:
                conn = self._new_connection()
            except Exception as exc:  # noqa: BLE001 - raised by start() in the caller
                self._start_error = exc
                return
            self._writer_conn = conn
            ready.set()
            deferred = []  # other threads' tasks, held while one thread's transaction runs
            owner = None  # the thread whose atomic() block holds the writer
            while True:
                if deferred and owner is None:
                    task = deferred.pop(0)
                else:
                    try:
                        task = tasks.get(timeout=0.5 if owner is not None else None)
                    except queue.Empty:
                        if owner is not None and not owner.is_alive():
                            # The block's thread died inside it: nobody will COMMIT.
                            self._run(conn, _Task(owner, "ROLLBACK", None, False))
                            owner = None
                        continue
                if task is _STOP:
                    if owner is not None or deferred:
                        tasks.put(_STOP)  # finish the open block and the held tasks first
                        if owner is not None and not owner.is_alive():
                            self._run(conn, _Task(owner, "ROLLBACK", None, False))
                            owner = None
                        continue
                    return
                if owner is not None and task.thread is not owner:
                    deferred.append(task)
                    continue
                statement = task.sql.strip().upper()
                self._run(conn, task)
                if owner is None and statement.startswith("BEGIN") and task.error is None:
                    owner = task.thread
                elif owner is not None and statement in _TRANSACTION_END:
                    owner = None
        finally:
            ready.set()
            self._writer_ident = None
            self._writer_conn = None
            if conn is not None:
                self._close_physically(conn)

    @staticmethod
    def _run(conn, task):
        try:
            cursor = conn.cursor()
            if task.many:
                cursor.executemany(task.sql, task.params)
            elif task.params is None:
                cursor.execute(task.sql)
            else:
                cursor.execute(task.sql, task.params)
            task.result = _Result(cursor)
            cursor.close()
        except Exception as exc:  # noqa: BLE001 - handed to the waiting thread
            task.error = exc
        finally:
            task.done.set()

    def _initialize_connection(self, conn):
        super()._initialize_connection(conn)
        if threading.get_ident() != self._writer_ident:
            # Readers never write: a statement misjudged as a read fails instead of
            # taking SQLite's write lock beside the writer.
            conn.execute("PRAGMA query_only = ON")

    # -- statements ------------------------------------------------------------------------
    def execute_sql(self, sql, params=None, many=False):
        if not self._state.transactions and not many and _is_read(sql):
            return super().execute_sql(sql, params, many)
        if threading.get_ident() == self._writer_ident:
            raise OperationalError("the writer thread cannot queue statements to itself")
        if sql_logger.isEnabledFor(logging.DEBUG):
            sql_logger.debug("%s%s (queued to the writer)", sql, format_params(params, self.log_params, many))
        if "%" in sql:
            sql = sql.replace("%%", "%")  # execute_sql's rule: "%%" is "%" on every engine
        task = _Task(threading.current_thread(), sql, params, many)
        with self._writer_lock:  # so stop() cannot slip between the check and the put
            if self.is_stopped():
                if not self.autostart:
                    raise InterfaceError("the writer thread is stopped; call start() (or autostart=True)")
                self.start()
            self._queue.put(task)
        task.done.wait()
        if task.error is not None:
            self._raise_translated(task.error)
        return task.result

    def _quietly(self, sql, expected=False):
        # The base class skips unwinding when this thread has no connection of its own
        # (it was lost); here a transaction lives on the writer, which is still there.
        try:
            self.execute_sql(sql)
        except DatabaseError as exc:
            if not expected:
                logger.warning("%s failed while unwinding a transaction: %s", sql, exc)

    def _transaction_damage(self, conn, driver_error, error):
        # A transaction runs on the writer (the thread's own connection only reads), and
        # while its thread owns the writer nothing else runs there: ask the writer.
        writer = self._writer_conn
        return None if writer is not None and writer.in_transaction else WHOLE_TRANSACTION

    def last_insert_id(self, cursor):
        return cursor.lastrowid
