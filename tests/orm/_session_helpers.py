"""Helpers shared by the session, unit-of-work, optimistic-locking and concurrency tests."""

import threading


def elsewhere(db, function):
    """Run ``function()`` in another thread, so on another connection, and return its result.

    tinyorm opens one connection per thread, so this sees only what has been committed:
    it is how the tests look at the database "from outside" the session under test.
    """
    result = {}

    def run():
        try:
            result["value"] = function()
        except BaseException as exc:  # noqa: BLE001 - re-raised in the calling thread
            result["error"] = exc
        finally:
            db.close()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(30)
    assert not thread.is_alive(), "the other connection hung (a lock held by the test?)"
    if "error" in result:
        raise result["error"]
    return result["value"]


def statements(counter, verb):
    """The SQL texts a QueryCounter saw that start with ``verb`` (INSERT, UPDATE, ...)."""
    verb = verb.upper()
    return [sql for sql, _params in counter.statements if sql.lstrip().upper().startswith(verb)]


def verbs(counter):
    """The first word of every statement a QueryCounter saw, in order."""
    return [sql.lstrip().split(None, 1)[0].upper() for sql, _params in counter.statements]
