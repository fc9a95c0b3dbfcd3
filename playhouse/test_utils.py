"""Helpers for tests of code that uses tinyorm."""

import contextlib
import functools
import threading

from . import _guard  # noqa: F401 - refuses to load beside peewee's playhouse (see _guard)


class count_queries:
    """Count the statements a Database (or every database of a Router) sends.

    ``with count_queries(db) as counter: ...`` then ``counter.count`` and
    ``counter.statements`` (a list of (sql, params)). It wraps ``execute_sql``, the one
    method every statement passes through.
    """

    def __init__(self, database, only_select=False):
        databases = getattr(database, "databases", None)
        self.databases = list(databases.values()) if isinstance(databases, dict) else [database]
        self.only_select = only_select
        self.statements = []
        self._lock = threading.Lock()

    def __enter__(self):
        for database in self.databases:
            original = database.execute_sql

            def counting(sql, params=None, *args, _original=original, **kwargs):
                if not self.only_select or sql.lstrip().upper().startswith(("SELECT", "WITH")):
                    with self._lock:
                        self.statements.append((sql, params))
                return _original(sql, params, *args, **kwargs)

            database.execute_sql = counting
        return self

    def __exit__(self, *exc_info):
        for database in self.databases:
            del database.execute_sql

    @property
    def count(self):
        """How many statements were sent inside the block."""
        return len(self.statements)

    def get_queries(self):
        """The ``(sql, params)`` pairs sent inside the block."""
        return list(self.statements)


class assert_query_count:
    """Fail if a block (or a decorated function) sends other than ``expected`` statements."""

    def __init__(self, database, expected, only_select=False):
        self.database = database
        self.expected = expected
        self.only_select = only_select

    def __enter__(self):
        self.counter = count_queries(self.database, self.only_select).__enter__()
        return self.counter

    def __exit__(self, exc_type, exc, tb):
        self.counter.__exit__(exc_type, exc, tb)
        if exc_type is None and self.counter.count != self.expected:
            listing = "\n".join(sql for sql, _params in self.counter.statements)
            raise AssertionError(f"expected {self.expected} statement(s), got {self.counter.count}:\n{listing}")
        return False

    def __call__(self, function):
        @functools.wraps(function)
        def wrapper(*args, **kwargs):
            with self:
                return function(*args, **kwargs)

        return wrapper


@contextlib.contextmanager
def rollback_after(database):
    """Run a block in a transaction that is always rolled back (isolated test data)."""
    database.begin()
    try:
        yield database
    finally:
        database.rollback()


__all__ = ["count_queries", "assert_query_count", "rollback_after"]
