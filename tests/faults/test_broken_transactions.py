"""A transaction the engine aborted is never reported as committed, nothing of its block is
autocommitted, and its errors are typed: connections killed from another connection,
deadlocks between two threads, lock timeouts, Ctrl-C, and a Session flushing into a lost
transaction. On the shared servers (only this test's own connections are killed)."""

import logging
import signal
import threading

import pytest

import tinyorm
from tinyorm import (
    CharField,
    ConcurrencyError,
    ConnectionLostError,
    DeadlockError,
    IntegerField,
    IntegrityError,
    LockTimeoutError,
    Model,
    OperationalError,
    Session,
    TransactionAbortedError,
)

from ..conftest import requires
from .conftest import record, run_threads


def make_models(db):
    class Item(Model):
        name = CharField(max_length=40, unique=True)
        qty = IntegerField(default=0)

        class Meta:
            database = db

    db.create_tables([Item])
    return Item


def stored_names(db, Item):
    """Names committed, as another connection sees them."""
    result = {}

    def read():
        try:
            result["names"] = sorted(row.name for row in Item.select())
        finally:
            db.close()

    thread = threading.Thread(target=read)
    thread.start()
    thread.join(30)
    return result["names"]


def assert_no_tracebacks_logged(caplog):
    noisy = [record for record in caplog.records if record.name == "tinyorm" and record.exc_info]
    assert noisy == [], [record.getMessage() for record in noisy]


# -- connection killed inside a nested block ---------------------------------------------
def test_killed_connection_inside_nested_block_never_commits_the_outer_block(db, injector, caplog):
    Item = make_models(db)
    caplog.set_level(logging.DEBUG, logger="tinyorm")
    with pytest.raises(TransactionAbortedError) as raised:
        with db.atomic():
            Item.create(name="before")
            try:
                with db.atomic():
                    injector.kill(injector.session_id())
                    Item.create(name="inside")
            except ConnectionLostError:
                pass
            assert db.in_transaction()  # still inside the block: nothing may autocommit
            with pytest.raises(TransactionAbortedError):
                Item.create(name="after")  # refused, not autocommitted
    assert isinstance(raised.value.original, ConnectionLostError)
    assert not db.in_transaction()
    assert stored_names(db, Item) == []
    Item.create(name="next")  # the next statement gets a new connection
    assert stored_names(db, Item) == ["next"]
    assert_no_tracebacks_logged(caplog)
    record(db.dialect.name, injected=1, survived=1)


def test_killed_idle_connection_next_transaction_starts_on_a_new_one(db, injector):
    Item = make_models(db)
    injector.kill(injector.session_id())
    with db.atomic():  # BEGIN finds the connection dead and starts on a new one
        Item.create(name="a")
    assert stored_names(db, Item) == ["a"]
    record(db.dialect.name, injected=1, survived=1)


# -- deadlocks -----------------------------------------------------------------------------
def deadlock_two_threads(db, Item, body):
    """Two threads lock rows a, b in opposite orders; ``body(index, lock_both)`` runs in each.
    Returns their results."""
    both_locked_one = threading.Barrier(2)
    attempts = [0, 0]

    def lock_both(index):
        first, second = ("a", "b") if index == 0 else ("b", "a")
        Item.update(qty=Item.qty + 1).where(Item.name == first).execute()
        attempts[index] += 1
        if attempts[index] == 1:  # the first attempts meet; a retry just runs
            both_locked_one.wait(10)
        Item.update(qty=Item.qty + 1).where(Item.name == second).execute()

    def worker(index):
        try:
            return body(index, lock_both)
        finally:
            db.close()

    return run_threads(2, worker)


def test_deadlock_is_a_typed_retryable_error_and_the_victim_commits_nothing(db, injector, caplog):
    Item = make_models(db)
    Item.create(name="a")
    Item.create(name="b")
    db.close()
    caplog.set_level(logging.DEBUG, logger="tinyorm")

    def body(index, lock_both):
        try:
            with db.atomic():
                Item.create(name=f"marker{index}")
                try:
                    with db.atomic():
                        lock_both(index)
                except DeadlockError:
                    pass  # caught inside the outer block: it must still tell the truth
            return "committed"
        except TransactionAbortedError as exc:
            assert isinstance(exc.original, DeadlockError)
            return "aborted"

    outcomes = deadlock_two_threads(db, Item, body)
    names = stored_names(db, Item)
    # A block reported committed has all of its rows; an aborted one none of them.
    for index, outcome in enumerate(outcomes):
        assert (f"marker{index}" in names) == (outcome == "committed"), (outcomes, names)
    assert issubclass(DeadlockError, ConcurrencyError) and issubclass(DeadlockError, OperationalError)
    assert_no_tracebacks_logged(caplog)
    record(db.dialect.name, injected=1, survived=1)


def test_deadlock_through_retry_completes_both(db, injector):
    Item = make_models(db)
    Item.create(name="a")
    Item.create(name="b")
    db.close()
    retried = []

    def body(index, lock_both):
        return db.retry(lambda: lock_both(index), attempts=5, on_retry=lambda exc, n: retried.append(exc))

    deadlock_two_threads(db, Item, body)
    assert [type(exc) for exc in retried] == [DeadlockError]
    assert sorted(Item.select(Item.name, Item.qty).tuples()) == [("a", 2), ("b", 2)]
    record(db.dialect.name, injected=1, survived=1)


# -- lock timeouts -------------------------------------------------------------------------
def test_lock_timeout_is_a_typed_retryable_error(db, injector):
    Item = make_models(db)
    Item.create(name="a")
    holding, release = threading.Event(), threading.Event()

    def holder():
        try:
            with db.atomic():
                Item.update(qty=1).where(Item.name == "a").execute()
                holding.set()
                release.wait(30)
        finally:
            db.close()

    thread = threading.Thread(target=holder)
    thread.start()
    try:
        holding.wait(10)
        injector.short_lock_timeout()
        with pytest.raises(LockTimeoutError) as raised:
            with db.atomic():
                Item.update(qty=2).where(Item.name == "a").execute()
        assert isinstance(raised.value, ConcurrencyError)
    finally:
        release.set()
        thread.join(30)
    assert not db.in_transaction()
    assert Item.get(Item.name == "a").qty == 1
    record(db.dialect.name, injected=1, survived=1)


@requires(supports_for_update=False)  # whole-database locking: one writer at a time
def test_busy_database_after_its_timeout_is_a_lock_timeout_error(db, db_url):
    Item = make_models(db)
    impatient = tinyorm.connect(db_url, timeout=0.2)
    Item.bind(impatient)
    try:
        with db.atomic():  # holds the write lock
            db.execute_sql("INSERT INTO item (name, qty) VALUES ('mine', 0)")
            with pytest.raises(LockTimeoutError):
                with impatient.atomic():
                    Item.create(name="theirs")
            assert not impatient.in_transaction()
    finally:
        Item.bind(db)
        impatient.close_all()
    assert stored_names(db, Item) == ["mine"]
    record(db.dialect.name, injected=1, survived=1)


def test_sqlite_writer_waits_for_the_lock_instead_of_failing(db):
    """Read-then-write transactions from several threads: the write lock is taken at BEGIN
    (IMMEDIATE), where the busy timeout applies, so none fails with "database is locked"."""
    Item = make_models(db)
    Item.create(name="a")
    db.close()

    def worker(index):
        try:
            for _ in range(10):
                with db.atomic():
                    Item.get(Item.name == "a")
                    Item.update(qty=Item.qty + 1).where(Item.name == "a").execute()
        finally:
            db.close()

    run_threads(6, worker)
    assert Item.get(Item.name == "a").qty == 60


# -- an error caught inside the block ------------------------------------------------------
def test_a_caught_error_never_leads_to_a_commit_that_lost_rows(db):
    """PostgreSQL refuses the rest of a transaction after an error; the others go on. Either
    way, what the block reports matches what is stored."""
    Item = make_models(db)
    Item.create(name="taken")
    try:
        with db.atomic():
            Item.create(name="first")
            try:
                Item.create(name="taken")
            except IntegrityError:
                pass
            Item.create(name="second")
        committed = True
    except TransactionAbortedError as exc:
        assert isinstance(exc.original, IntegrityError)
        committed = False
    expected = ["first", "second", "taken"] if committed else ["taken"]
    assert stored_names(db, Item) == expected
    assert db.transaction_error() is None and not db.in_transaction()


def test_nested_block_recovers_from_its_own_error(db):
    Item = make_models(db)
    Item.create(name="taken")
    with db.atomic():
        Item.create(name="first")
        with pytest.raises(IntegrityError):
            with db.atomic():
                Item.create(name="taken")
        Item.create(name="second")
    assert stored_names(db, Item) == ["first", "second", "taken"]


# -- Ctrl-C --------------------------------------------------------------------------------
def test_ctrl_c_during_a_statement_stays_keyboard_interrupt(db, injector):
    Item = make_models(db)
    before = injector.session_id()
    timer = threading.Timer(0.3, signal.raise_signal, (signal.SIGINT,))
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            with db.atomic():
                Item.create(name="doomed")
                db.execute_sql(injector.sleep_sql)
    finally:
        timer.cancel()
    assert not db.in_transaction()
    assert injector.session_id() != before  # the interrupted connection was not reused
    assert stored_names(db, Item) == []
    record(db.dialect.name, injected=1, survived=1)


# -- Session -------------------------------------------------------------------------------
def test_session_never_reports_lost_work_as_committed(db, injector):
    Item = make_models(db)
    session = Session(db)
    item = Item(name="flushed")
    session.add(item)
    session.flush()
    assert item.id is not None
    injector.kill(injector.session_id())
    session.add(Item(name="pending"))
    with pytest.raises((TransactionAbortedError, ConnectionLostError)):
        session.commit()
    with pytest.raises(TransactionAbortedError):
        session.commit()  # a second commit does not pretend either
    session.rollback()
    assert item.id is None and item not in session  # unsaved again, can be added anew
    assert stored_names(db, Item) == []
    session.add(item)
    session.commit()
    assert stored_names(db, Item) == ["flushed"]
    record(db.dialect.name, injected=1, survived=1)


# -- retry ---------------------------------------------------------------------------------
def test_retry_returns_the_result_and_reraises_after_the_last_attempt(db):
    Item = make_models(db)
    calls = []

    def flaky():
        calls.append(1)
        Item.create(name=f"try{len(calls)}")
        if len(calls) < 3:
            raise tinyorm.StaleDataError("lost a race")
        return "done"

    assert db.retry(flaky, attempts=3, backoff=0.001) == "done"
    assert stored_names(db, Item) == ["try3"]  # the failed attempts were rolled back

    @db.retry(attempts=2, backoff=0.001)
    def always_stale(name):
        Item.create(name=name)
        raise tinyorm.StaleDataError("again")

    with pytest.raises(tinyorm.StaleDataError):
        always_stale("x")
    assert stored_names(db, Item) == ["try3"]


def test_retry_does_not_rerun_other_errors(db):
    calls = []

    def broken():
        calls.append(1)
        raise ValueError("a bug, not a race")

    with pytest.raises(ValueError):
        db.retry(broken)
    assert calls == [1]


def test_retry_refuses_inside_a_transaction(db):
    with db.atomic():
        with pytest.raises(tinyorm.TinyORMError, match="inside an open transaction"):
            db.retry(lambda: None)
