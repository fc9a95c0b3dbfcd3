"""Pools that survive: idle connections killed from outside, threads that end without
close(), transactions left open by raw SQL. On the shared servers (the test's own
connections only) and SQLite files."""

import threading

import tinyorm

from .conftest import record


def pooled(db_url, **options):
    options.setdefault("max_connections", 6)
    return tinyorm.connect(db_url, **options)


def warm_up(pool, count, injector=None):
    """Open ``count`` pooled connections at once, return them to the pool; their server ids."""
    ids, ready, done = [], threading.Barrier(count), threading.Event()

    def hold():
        try:
            pool.execute_sql("SELECT 1")
            if injector is not None:
                ids.append(injector.session_id(pool))
            ready.wait(10)
            done.wait(10)
        finally:
            pool.close()

    threads = [threading.Thread(target=hold) for _ in range(count)]
    for thread in threads:
        thread.start()
    done.set()
    for thread in threads:
        thread.join(30)
    return ids


def request(pool):
    """One web-style request: take a connection, run a statement, give it back."""
    try:
        return pool.execute_sql("SELECT 1").fetchone()[0]
    finally:
        pool.close()


def test_requests_after_idle_connections_were_killed_all_succeed(db, db_url, injector):
    pool = pooled(db_url)
    try:
        ids = warm_up(pool, 6, injector)
        for session_id in ids:
            injector.kill(session_id)
        assert [request(pool) for _ in range(6)] == [1] * 6
    finally:
        pool.close_all()
    record(db.dialect.name, injected=len(ids), survived=len(ids))


def test_threads_that_end_without_close_give_their_slot_back(db, db_url):
    pool = pooled(db_url, max_connections=2, pool_timeout=5)
    try:

        def forgetful():
            pool.execute_sql("SELECT 1")  # and never close()

        for _ in range(12):
            thread = threading.Thread(target=forgetful)
            thread.start()
            thread.join(30)
        assert request(pool) == 1  # would wait 5 s and fail if the slots had leaked
        assert len(pool._open) <= 2
    finally:
        pool.close_all()


def test_a_raw_begin_left_open_is_rolled_back_on_check_in(db, db_url):
    db.execute_sql("CREATE TABLE note (body VARCHAR(20))")
    db.close()
    pool = pooled(db_url, max_connections=1)
    try:
        pool.execute_sql("BEGIN")
        pool.execute_sql("INSERT INTO note (body) VALUES ('left open')")
        pool.close()  # back to the pool with the transaction open
        with pool.atomic():  # the next user's transaction must not commit it
            pool.execute_sql("INSERT INTO note (body) VALUES ('mine')")
        pool.close()
        assert [tuple(row) for row in db.execute_sql("SELECT body FROM note").fetchall()] == [("mine",)]
    finally:
        pool.close_all()
