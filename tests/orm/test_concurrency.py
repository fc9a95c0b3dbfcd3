"""Proof under concurrency: optimistic locking loses no update when several threads (each on
its own connection) and several processes increment one counter row, and of two sessions
editing the same object exactly one wins. On every backend (the ``db`` fixture)."""

import multiprocessing
import queue
import threading

import pytest

from tinyorm import Session, StaleDataError

from ._counter_models import increment, make_counter_model, process_worker
from ._session_helpers import elsewhere

THREADS, THREAD_INCREMENTS = 4, 25
PROCESSES, PROCESS_INCREMENTS = 3, 15


@pytest.fixture
def counter(db):
    Counter = make_counter_model(db)
    db.create_tables([Counter])
    pk = Counter.create(value=0).id
    db.close()
    return Counter, pk


def read_counter(db, Counter, pk):
    return elsewhere(db, lambda: Counter.select(Counter.value, Counter.version).where(Counter.id == pk).tuples().get())


def run_threads(count, target):
    """Start ``count`` threads running ``target(index)`` together; return their results."""
    barrier = threading.Barrier(count)
    results, errors = [None] * count, []

    def run(index):
        try:
            barrier.wait(30)
            results[index] = target(index)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not any(thread.is_alive() for thread in threads), "a worker thread hung"
    if errors:
        raise errors[0]
    return results


# -- (a) threads --------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["save", "session", "mixed"])
def test_threads_increment_one_counter_without_losing_updates(db, counter, mode):
    Counter, pk = counter

    def worker(index):
        how = mode if mode != "mixed" else ("save", "session")[index % 2]
        try:
            return increment(db, Counter, pk, THREAD_INCREMENTS, how)
        finally:
            db.close()  # this thread's connection

    stats = run_threads(THREADS, worker)
    successes = sum(item["ok"] for item in stats)
    assert successes == THREADS * THREAD_INCREMENTS
    value, version = read_counter(db, Counter, pk)
    assert value == successes == THREADS * THREAD_INCREMENTS
    assert version == 1 + successes  # every successful write bumped it exactly once


# -- (b) processes ------------------------------------------------------------------------
def test_processes_increment_one_counter_without_losing_updates(db, db_url, counter):
    Counter, pk = counter
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(PROCESSES)
    results = context.Queue()
    modes = ["save", "session", "save"]
    processes = [
        context.Process(
            target=process_worker, args=(db_url, pk, PROCESS_INCREMENTS, modes[index % 3], barrier, results)
        )
        for index in range(PROCESSES)
    ]
    for process in processes:
        process.start()
    outcomes = []
    try:
        for _ in processes:
            outcomes.append(results.get(timeout=120))
    except queue.Empty:
        pytest.fail(f"a worker process reported nothing; got {outcomes}")
    finally:
        for process in processes:
            process.join(30)
            if process.is_alive():
                process.terminate()
    errors = [detail for status, detail in outcomes if status != "ok"]
    assert errors == []
    successes = sum(detail["ok"] for _status, detail in outcomes)
    assert successes == PROCESSES * PROCESS_INCREMENTS
    value, version = read_counter(db, Counter, pk)
    assert value == successes == PROCESSES * PROCESS_INCREMENTS
    assert version == 1 + successes
    assert all(process.exitcode == 0 for process in processes)


# -- (c) two sessions, one object ---------------------------------------------------------
def test_two_sessions_editing_one_object_exactly_one_wins(db, counter):
    """Both sessions load the row, then both commit at once: one commit wins."""
    Counter, pk = counter

    def edit(index):
        session = Session(db)
        try:
            obj = session.get(Counter, pk)
            obj.value = 100 + index
            loaded.wait(30)
            try:
                session.commit()
            except StaleDataError as exc:
                session.rollback()
                return ("stale", str(exc))
            return ("won", 100 + index)
        finally:
            session.close()
            db.close()

    loaded = threading.Barrier(2)
    outcomes = run_threads(2, edit)
    won = [detail for status, detail in outcomes if status == "won"]
    stale = [detail for status, detail in outcomes if status == "stale"]
    assert len(won) == 1 and len(stale) == 1, outcomes
    assert "Counter" in stale[0] and repr(pk) in stale[0]
    assert read_counter(db, Counter, pk) == (won[0], 2)


def test_the_session_that_commits_second_gets_stale_data_error(db, counter):
    """A deterministic interleaving: A flushes (holding the row), B tries while A is still
    open and must wait, then A commits; B's write is refused and A's value stays."""
    Counter, pk = counter
    a_flushed = threading.Event()
    order = []

    def session_a():
        session = Session(db)
        try:
            session.get(Counter, pk).value = 1
            b_loaded.wait(30)
            session.flush()
            a_flushed.set()
            threading.Event().wait(0.3)  # give B time to block on the row
            order.append("a commits")
            session.commit()
            return "won"
        finally:
            session.close()
            db.close()

    def session_b():
        session = Session(db)
        try:
            obj = session.get(Counter, pk)
            b_loaded.set()
            a_flushed.wait(30)
            obj.value = 2
            try:
                session.commit()
            except StaleDataError:
                order.append("b refused")
                session.rollback()
                return "stale"
            return "won"
        finally:
            session.close()
            db.close()

    b_loaded = threading.Event()
    results = run_threads(2, lambda index: (session_a, session_b)[index]())
    assert results == ["won", "stale"]
    assert order == ["a commits", "b refused"]
    assert read_counter(db, Counter, pk) == (1, 2)
