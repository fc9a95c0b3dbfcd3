"""Contended read-modify-write transactions through ``db.retry``: 8 threads x 100
transactions, each locking two of four counters in a random order (so deadlocks happen
on the servers), end with exact counts and no error reaching the caller. Also
``get_or_create`` racing from several threads, inside transactions."""

import random
import threading

from tinyorm import CharField, IntegerField, Model

from .conftest import record, run_threads

THREADS, TRANSACTIONS, COUNTERS = 8, 100, 4

# Session settings that keep the test quick: PostgreSQL looks for deadlocks after
# deadlock_timeout (1 s by default; settable per session by a superuser, as the test user is).
FAST_DEADLOCKS = {"postgresql": "SET deadlock_timeout = '20ms'"}


def test_contended_read_modify_write_through_retry_is_exact(db):
    class Counter(Model):
        value = IntegerField(default=0)

        class Meta:
            database = db

    db.create_tables([Counter])
    ids = [Counter.create().id for _ in range(COUNTERS)]
    db.close()
    retries = []
    lock = threading.Lock()

    def on_retry(error, attempt):
        with lock:
            retries.append(type(error).__name__)

    def transfer(pair):
        touched = []
        for pk in pair:  # a random order: two threads may lock the same rows crosswise
            query = Counter.select().where(Counter.id == pk)
            if db.dialect.supports_for_update:
                query = query.for_update()
            counter = query.get()
            counter.value += 1
            counter.save()
            touched.append(pk)
        return touched

    def worker(index):
        rng = random.Random(index)
        done = []
        setting = FAST_DEADLOCKS.get(db.dialect.name)
        try:
            if setting:
                db.execute_sql(setting)
            for _ in range(TRANSACTIONS):
                pair = rng.sample(ids, 2)
                done.extend(db.retry(lambda pair=pair: transfer(pair), attempts=30, on_retry=on_retry))
            return done
        finally:
            db.close()

    results = run_threads(THREADS, worker, timeout=300)
    expected = {pk: sum(touched.count(pk) for touched in results) for pk in ids}
    stored = dict(Counter.select(Counter.id, Counter.value).tuples())
    assert stored == expected
    assert sum(stored.values()) == THREADS * TRANSACTIONS * 2
    record(db.dialect.name, injected=len(retries), survived=len(retries))
    print(f"\n{db.dialect.name}: {len(retries)} retries ({', '.join(sorted(set(retries))) or 'none'})")


def test_get_or_create_race_inside_transactions_returns_one_row(db):
    class Tag(Model):
        name = CharField(max_length=30, unique=True)

        class Meta:
            database = db

    db.create_tables([Tag])
    Tag.create(name="warm-up")
    db.close()
    ready = threading.Barrier(4)
    # Engines with row locks run the four transactions at once; SQLite's take turns (the
    # write lock is taken at BEGIN), so there the threads meet before it.
    concurrent_writers = db.dialect.supports_for_update

    def worker(index):
        try:
            if not concurrent_writers:
                ready.wait(10)
            with db.atomic():
                Tag.select().count()  # the snapshot (MySQL/MariaDB REPEATABLE READ) starts here
                if concurrent_writers:
                    ready.wait(10)
                tag, created = Tag.get_or_create(name="raced")
                return tag.id, created
        finally:
            db.close()

    outcomes = run_threads(4, worker)
    assert len({tag_id for tag_id, _created in outcomes}) == 1
    assert sum(created for _tag_id, created in outcomes) == 1
    assert Tag.select().where(Tag.name == "raced").count() == 1
