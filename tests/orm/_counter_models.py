"""The counter used by the concurrency tests, importable by worker processes.

Worker processes are started with the ``spawn`` method, so they share nothing with the test
process: each gets the database URL, connects, binds the model with :func:`bind` and runs
:func:`increment`.
"""

import time

import tinyorm
from tinyorm import (
    IntegerField,
    Model,
    OperationalError,
    Session,
    StaleDataError,
    VersionField,
)


def make_counter_model(database):
    """A versioned ``Counter`` model bound to ``database``."""

    class Counter(Model):
        value = IntegerField(default=0)
        version = VersionField()

        class Meta:
            table_name = "counter"

    database.bind([Counter])
    return Counter


def bind(url):
    """Connect to ``url`` and return ``(database, Counter)``."""
    database = tinyorm.connect(url)
    return database, make_counter_model(database)


def increment_once(database, Counter, pk, mode):
    """Read the counter, add one, write it back with the version check.

    ``mode`` is ``"save"`` (active record) or ``"session"`` (a Session's flush and commit).
    Raises StaleDataError when another writer got in between the read and the write.
    """
    if mode == "save":
        counter = Counter.get_by_id(pk)
        counter.value += 1
        counter.save()
    elif mode == "session":
        with Session(database) as session:
            counter = session.get(Counter, pk)
            counter.value += 1
    else:  # pragma: no cover - a test bug
        raise ValueError(mode)


def increment(database, Counter, pk, times, mode):
    """Increment the counter ``times`` times with optimistic retries.

    Returns ``{"ok": successful increments, "stale": retries after StaleDataError,
    "locked": retries after SQLite's "database is locked"}``.
    """
    stats = {"ok": 0, "stale": 0, "locked": 0}
    deadline = time.monotonic() + 120
    while stats["ok"] < times:
        if time.monotonic() > deadline:
            raise RuntimeError(f"no progress: {stats}")
        try:
            increment_once(database, Counter, pk, mode)
        except StaleDataError:
            stats["stale"] += 1  # someone else incremented first: read again and retry
            continue
        except OperationalError as exc:
            # SQLite allows one writer at a time. tinyorm sets a busy timeout, so a writer
            # normally waits its turn; if the wait still ends in "database is locked" the
            # write did not happen (its transaction was rolled back), so retrying is safe.
            # This is the only error retried, and only where the engine locks the whole
            # database rather than rows; it is counted so a test can see it happened.
            if database.dialect.supports_for_update or "locked" not in str(exc).lower():
                raise
            stats["locked"] += 1
            continue
        stats["ok"] += 1
    return stats


def process_worker(url, pk, times, mode, barrier, results):
    """Entry point of a spawned worker process: connect, wait for the others, increment."""
    database, Counter = bind(url)
    try:
        database.execute_sql("SELECT 1")  # connect before the race starts
        barrier.wait(60)
        results.put(("ok", increment(database, Counter, pk, times, mode)))
    except BaseException as exc:  # noqa: BLE001 - reported to the test process
        results.put(("error", f"{type(exc).__name__}: {exc}"))
    finally:
        database.close_all()
