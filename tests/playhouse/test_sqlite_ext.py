"""playhouse.sqlite_ext: one writer thread for many writers, and read-only SQLite.

These apply to SQLite only (its single-writer lock and its authorizer), so they use their
own files rather than the ``db`` fixture.
"""

import sqlite3
import threading

import pytest

import tinyorm
from playhouse.sqlite_ext import ReadOnlySqliteDatabase, SqliteQueueDatabase
from tinyorm import CharField, IntegerField, Model, Session


def make_model(database):
    class Entry(Model):
        thread = IntegerField()
        number = IntegerField()
        label = CharField(max_length=40, default="")

        class Meta:
            table_name = "entry"

    Entry.bind(database)
    database.create_tables([Entry])
    return Entry


@pytest.fixture
def queued(tmp_path):
    database = SqliteQueueDatabase(str(tmp_path / "queued.db"), timeout=0.2)
    yield database
    database.close_all()


def _run_threads(count, target):
    errors = []

    def guarded(number):
        try:
            target(number)
        except Exception as exc:  # noqa: BLE001 - collected and asserted on
            errors.append(exc)

    threads = [threading.Thread(target=guarded, args=(number,)) for number in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


def test_eight_threads_writing_two_hundred_rows_each_all_land(queued):
    Entry = make_model(queued)

    def write(number):
        for index in range(200):
            Entry.create(thread=number, number=index)
            if index % 50 == 0:
                assert Entry.select().where(Entry.thread == number).count() == index + 1  # reads its writes
        queued.close()

    errors = _run_threads(8, write)
    assert errors == []  # no "database is locked", though the busy timeout is only 0.2 s
    assert Entry.select().count() == 1600
    assert sorted(Entry.select(Entry.thread).distinct().tuples()) == [(number,) for number in range(8)]


def test_atomic_blocks_borrow_the_writer_and_roll_back_alone(queued):
    Entry = make_model(queued)

    def work(number):
        with queued.atomic():
            Entry.create(thread=number, number=1)
            # Inside the block reads run on the writer: they see the block's own row.
            assert Entry.select().where(Entry.thread == number).count() == 1
            try:
                with queued.atomic():  # a savepoint
                    Entry.create(thread=number, number=2)
                    raise ValueError("undo the savepoint")
            except ValueError:
                pass
        with pytest.raises(RuntimeError):
            with queued.atomic():
                Entry.create(thread=number, number=3)
                raise RuntimeError("undo the whole block")
        queued.close()

    assert _run_threads(6, work) == []
    assert sorted(Entry.select(Entry.thread, Entry.number).tuples()) == [(number, 1) for number in range(6)]


def test_sessions_flush_through_the_writer(queued):
    Entry = make_model(queued)
    with Session(queued) as session:
        session.add_all([Entry(thread=0, number=index) for index in range(5)])
    assert Entry.select().count() == 5


def test_stop_drains_the_queue_and_a_write_restarts_the_writer(queued):
    Entry = make_model(queued)
    release = threading.Event()
    done = []

    def write(number):
        release.wait(10)
        Entry.create(thread=number, number=0)
        done.append(number)

    threads = [threading.Thread(target=write, args=(number,)) for number in range(4)]
    for thread in threads:
        thread.start()
    release.set()
    for thread in threads:
        thread.join()
    assert queued.stop() is True and queued.is_stopped()
    assert Entry.select().count() == 4 and len(done) == 4
    Entry.create(thread=9, number=9)  # autostart
    assert not queued.is_stopped()
    assert Entry.select().count() == 5


def test_errors_reach_the_thread_that_wrote(queued):
    Entry = make_model(queued)
    with pytest.raises(tinyorm.IntegrityError):
        queued.execute_sql("INSERT INTO entry (id, thread, number) VALUES (1, 1, 1), (1, 2, 2)")
    assert Entry.select().count() == 0
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        # A reader connection (PRAGMA query_only) never writes, whatever reaches it.
        queued.connection().execute("INSERT INTO entry (thread, number) VALUES (1, 1)")


def test_read_only_database_refuses_writes_before_they_run(tmp_path):
    path = str(tmp_path / "replica.db")
    writable = tinyorm.SqliteDatabase(path)
    Entry = make_model(writable)
    Entry.create(thread=1, number=1)
    read_only = ReadOnlySqliteDatabase(path)
    Entry.bind(read_only)
    assert [row.number for row in Entry.select()] == [1]
    assert read_only.get_tables() == ["entry"] and read_only.get_columns("entry")
    with pytest.raises(tinyorm.OperationalError, match=r"read-only database .*refused INSERT on entry"):
        Entry.create(thread=2, number=2)
    with pytest.raises(tinyorm.OperationalError, match="refused UPDATE"):
        Entry.update(number=5).execute()
    with pytest.raises(tinyorm.OperationalError, match="refused DELETE"):
        Entry.delete().execute()
    with pytest.raises(tinyorm.OperationalError, match="refused"):
        read_only.execute_sql("CREATE TABLE other (id INTEGER)")
    with pytest.raises(tinyorm.OperationalError, match="refused"):
        read_only.execute_sql("PRAGMA user_version = 7")
    with read_only.atomic():  # transactions themselves are reads' business too
        assert Entry.select().count() == 1
    assert writable.execute_sql("SELECT COUNT(*), SUM(number) FROM entry").fetchone() == (1, 1)
    assert tinyorm.connect(f"sqlite:///{path}?mode=ro").read_only
    with pytest.raises(tinyorm.ImproperlyConfigured):
        tinyorm.connect(f"sqlite:///{path}?mode=rwc")
    read_only.close_all()
    writable.close_all()


def test_a_router_opens_sqlite_replicas_read_only(tmp_path):
    primary_url = f"sqlite:///{tmp_path / 'primary.db'}"
    replica_url = f"sqlite:///{tmp_path / 'replica.db'}"
    router = tinyorm.Router(primary=primary_url, replicas=[replica_url])
    Entry = make_model(router)
    Entry.create(thread=1, number=1)  # the primary takes writes
    replica = router.database("replica1")
    assert replica.read_only and not router.primary.read_only
    with pytest.raises(tinyorm.OperationalError, match="refused"):
        replica.execute_sql("CREATE TABLE entry (id INTEGER)")
    router.close_all()


def test_a_failed_statement_inside_a_block_leaves_the_block_usable(queued):
    Entry = make_model(queued)
    Entry.select().count()  # this thread has a read connection of its own too
    with queued.atomic():
        Entry.create(thread=1, number=1)
        with pytest.raises(tinyorm.IntegrityError):
            with queued.atomic():
                queued.execute_sql("INSERT INTO entry (id, thread, number) VALUES (1, 9, 9)")
        Entry.create(thread=1, number=2)  # the transaction goes on
    assert sorted(Entry.select(Entry.number).tuples()) == [(1,), (2,)]
