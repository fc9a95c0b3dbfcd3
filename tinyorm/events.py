"""Hooks for extensions: after-write, end-of-transaction and lazy-load listeners.

The core calls these from its write paths (``save()``, ``delete_instance()``, INSERT,
UPDATE and DELETE queries, session flushes) and from lazy loads, so that extensions such
as ``playhouse.cache`` (invalidation), ``playhouse.signals`` (flush signals) and
``playhouse.test_utils`` (the N+1 detector) see every one without the core knowing them.

Each list is tested for emptiness at the call site (``if write_listeners:``) before
anything else happens, so a program that registers no listener pays one truthiness check
per statement and nothing more. The lists are mutated in place, never rebound: call sites
import the list objects themselves.

A listener that raises propagates its error to the caller. After a write the statement
has already run: inside a transaction (or a session flush) the error rolls it back with
the block; in autocommit mode the row is stored and the error says the extension could
not follow it (a cache that failed to invalidate must not pass silently).
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

__all__ = [
    "WriteEvent",
    "write_listeners",
    "transaction_listeners",
    "lazy_load_listeners",
    "notify_write",
    "notify_transaction_end",
    "notify_lazy_load",
]

# listener(WriteEvent), called after each write statement tinyorm sends for a model.
write_listeners: list[Callable[[Any], Any]] = []
# listener(database, committed), called after the outermost transaction of the calling
# thread on ``database`` has committed (committed=True) or rolled back (False).
transaction_listeners: list[Callable[[Any, bool], Any]] = []
# listener(instance, field, kind), called before a lazy load runs: kind "foreign_key"
# (``tweet.user`` loading its User) or "backref" (``user.tweets`` building its query).
lazy_load_listeners: list[Callable[[Any, Any, str], Any]] = []


class WriteEvent:
    """One write statement (or one batch of a session flush) that has just run.

    ``model``: the model written; ``action``: "insert", "update" or "delete";
    ``database``: the Database the statement ran on (a Router's primary, not the Router);
    ``objects``: the instances written (a tuple), or None for a query over rows that are
    not known one by one (``Model.update().where(...)``, ``insert_many``, upserts);
    ``source``: "save", "delete_instance", "query" or "flush".
    """

    __slots__ = ("model", "action", "database", "objects", "source")

    def __init__(self, model: Any, action: str, database: Any, objects: Sequence[Any] | None, source: str) -> None:
        self.model = model
        self.action = action
        self.database = database
        self.objects = objects
        self.source = source

    def __repr__(self) -> str:
        count = "rows" if self.objects is None else f"{len(self.objects)} object(s)"
        return f"<WriteEvent {self.action} {self.model.__name__} {count} from {self.source}>"


def notify_write(
    model: Any, action: str, database: Any, objects: Sequence[Any] | None = None, source: str = "query"
) -> None:
    """Tell every write listener about a statement that has run."""
    event = WriteEvent(model, action, database, objects, source)
    for listener in tuple(write_listeners):
        listener(event)


def notify_transaction_end(database: Any, committed: bool) -> None:
    """Tell every transaction listener that this thread's outermost transaction ended."""
    for listener in tuple(transaction_listeners):
        listener(database, committed)


def notify_lazy_load(instance: Any, field: Any, kind: str) -> None:
    """Tell every lazy-load listener that ``instance`` is about to load ``field``."""
    for listener in tuple(lazy_load_listeners):
        listener(instance, field, kind)
