"""Helpers for tests of code that uses tinyorm: counting statements, catching N+1 loads.

    with count_queries(db) as counter:
        ...
    assert counter.count == 2

    with detect_n_plus_one(db):           # raises NPlusOneError naming file:line and the fix
        for tweet in Tweet.select():
            print(tweet.user.username)     # one SELECT per tweet: caught

A pytest fixture is provided too: ``pytest_plugins = ["playhouse.test_utils"]`` in a
``conftest.py`` makes ``n_plus_one`` available (it fails the test that loads lazily in a
loop, on any database).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import sys
import threading

from tinyorm import TinyORMError, events

from . import _guard  # noqa: F401 - refuses to load beside peewee's playhouse (see _guard)

logger = logging.getLogger("playhouse.test_utils")

_MISSING = object()


class count_queries:
    """Count the statements a Database (or every database of a Router) sends.

    ``with count_queries(db) as counter: ...`` then ``counter.count`` and
    ``counter.statements`` (a list of (sql, params)). It wraps ``execute_sql``, the one
    method every statement passes through. Counters nest (an inner one counts its block,
    the outer one everything) and may even end out of order: each restores exactly what
    it replaced.
    """

    def __init__(self, database, only_select=False):
        databases = getattr(database, "databases", None)
        self.databases = list(databases.values()) if isinstance(databases, dict) else [database]
        self.only_select = only_select
        self.statements = []
        self._lock = threading.Lock()
        self._installed = []  # (database, our wrapper); the wrapper keeps what it replaced
        self._active = False

    def __enter__(self):
        self._active = True
        for database in self.databases:
            previous = database.__dict__.get("execute_sql", _MISSING)
            original = database.execute_sql  # the instance's wrapper or the class method

            def counting(sql, params=None, *args, _original=original, **kwargs):
                if self._active and (
                    not self.only_select or sql.lstrip().upper().startswith(("SELECT", "WITH"))
                ):  # fmt: skip
                    with self._lock:
                        self.statements.append((sql, params))
                return _original(sql, params, *args, **kwargs)

            counting.counter = self
            counting.previous = previous
            database.execute_sql = counting
            self._installed.append((database, counting))
        return self

    def __exit__(self, *exc_info):
        self._active = False
        for database, counting in reversed(self._installed):
            if database.__dict__.get("execute_sql") is not counting:
                # A counter entered after this one is still installed on top and calls
                # through to this wrapper: it stays, inactive, until that one leaves.
                continue
            # Unwind this wrapper and any inactive ones it uncovers.
            top = counting
            while getattr(top, "counter", None) is not None and not top.counter._active:
                top = top.previous
            if top is _MISSING:
                del database.execute_sql
            else:
                database.execute_sql = top
        self._installed = []

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


# -- N+1 detection -----------------------------------------------------------------------------
class NPlusOneError(TinyORMError, AssertionError):
    """A lazy load ran more often than allowed from one place in the code."""


# Frames inside these folders are tinyorm's own; the call site is the first frame outside.
_LIBRARY_DIRS = tuple(
    os.path.dirname(os.path.abspath(module.__file__)) + os.sep
    for module in (sys.modules["tinyorm"], sys.modules[__name__.rpartition(".")[0]])
)


def _call_site():
    frame = sys._getframe(2)
    while frame is not None:
        filename = frame.f_code.co_filename
        if not filename.startswith(_LIBRARY_DIRS) and not filename.startswith("<frozen"):
            return filename, frame.f_lineno
        frame = frame.f_back
    return "<unknown>", 0


def _belongs_to(model, database):
    if database is None:
        return True
    bound = model._meta.database
    if bound is database:
        return True
    databases = getattr(bound, "databases", None)  # a Router: any of its databases
    return isinstance(databases, dict) and any(member is database for member in databases.values())


class detect_n_plus_one:
    """Catch the same lazy load running over and over from one line (the N+1 pattern).

    A lazy load is ``tweet.user`` loading its User or ``user.tweets`` querying its
    tweets. Loads are counted per (relation, file:line of the code outside tinyorm that
    triggered them); when one count exceeds ``threshold``, leaving the block raises
    ``NPlusOneError`` (``mode="raise"``) or logs a warning on the ``playhouse.test_utils``
    logger (``mode="warn"``), naming the place and the fix (``prefetch(...)`` or a join).
    ``database`` limits the count to models bound to it (None: every database). Loads
    answered by a session's identity map, prefetched relations and joined selects run no
    query and are not counted. The block's result is in ``.report`` (a list of findings).
    """

    def __init__(self, database=None, mode="raise", threshold=1):
        if mode not in ("raise", "warn"):
            raise ValueError(f"mode must be 'raise' or 'warn', not {mode!r}")
        if not isinstance(threshold, int) or isinstance(threshold, bool) or threshold < 1:
            raise ValueError(f"threshold must be a positive integer, not {threshold!r}")
        self.database = database
        self.mode = mode
        self.threshold = threshold
        self.counts = {}
        self.report = []
        self._lock = threading.Lock()

    def _on_lazy_load(self, instance, field, kind):
        model = field.rel_model if kind == "foreign_key" else field.model
        if not _belongs_to(model, self.database):
            return
        key = (field, kind, _call_site())
        with self._lock:
            self.counts[key] = self.counts.get(key, 0) + 1

    def __enter__(self):
        self.counts = {}
        self.report = []
        events.lazy_load_listeners.append(self._on_lazy_load)
        return self

    def __exit__(self, exc_type, exc, tb):
        events.lazy_load_listeners.remove(self._on_lazy_load)
        self.report = [
            _describe(field, kind, site, count)
            for (field, kind, site), count in self.counts.items()
            if count > self.threshold
        ]
        if not self.report:
            return False
        message = "N+1 queries detected:\n" + "\n".join(f"  {line}" for line in self.report)
        if self.mode == "warn":
            logger.warning("%s", message)
        elif exc_type is None:  # never hide the block's own error
            raise NPlusOneError(message)
        return False

    def __call__(self, function):
        @functools.wraps(function)
        def wrapper(*args, **kwargs):
            with detect_n_plus_one(self.database, self.mode, self.threshold):
                return function(*args, **kwargs)

        return wrapper


def _describe(field, kind, site, count):
    filename, line = site
    if kind == "foreign_key":
        owner, target = field.model.__name__, field.rel_model.__name__
        relation = f"{owner}.{field.name}"
        fix = f"load them together: prefetch(query, {target}) or {owner}.select({owner}, {target}).join({target})"
    else:
        owner, target = field.rel_model.__name__, field.model.__name__
        relation = f"{owner}.{getattr(field, 'backref_name', None) or field.name}"
        fix = f"load them together: prefetch(query, {target})"
    return f"{filename}:{line}: {relation} loaded lazily {count} times; {fix}"


try:  # the pytest fixture, for projects that enable this module as a plugin
    import pytest
except ImportError:  # pragma: no cover - pytest is only needed to use the fixture
    pytest = None

if pytest is not None:

    @pytest.fixture
    def n_plus_one():
        """Fail the test if it runs the same lazy load more than once from one line."""
        with detect_n_plus_one(None, mode="raise") as detector:
            yield detector


__all__ = [
    "count_queries",
    "assert_query_count",
    "rollback_after",
    "detect_n_plus_one",
    "NPlusOneError",
]
