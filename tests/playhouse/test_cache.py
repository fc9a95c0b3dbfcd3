"""playhouse.cache: regions with a dogpile lock, and a model cache that every write keeps fresh.

Region tests run on the memory backend and on the real Redis; model cache tests on every
database backend too. Other processes are real ones (``_cache_workers.py``).
"""

import datetime
import decimal
import json
import os
import signal
import threading
import time
import uuid

import pytest

import tinyorm
from playhouse.cache import NO_VALUE, CacheRegion, MemoryBackend, ModelCache, RedisBackend, function_key_generator
from playhouse.test_utils import count_queries
from tinyorm import (
    BigIntegerField,
    BlobField,
    BooleanField,
    CharField,
    DateField,
    DateTimeField,
    DecimalField,
    DoubleField,
    FloatField,
    ForeignKeyField,
    IntegerField,
    JSONField,
    Model,
    Session,
    SmallIntegerField,
    TextField,
    TimeField,
    UUIDField,
    VersionField,
)

from ._cache_workers import make_note_model, write_through
from .conftest import REDIS_URL, worker


# -- regions ---------------------------------------------------------------------------------
def test_region_get_set_delete(cache_backend):
    region = CacheRegion(cache_backend, expiration_time=60)
    assert region.get("missing") is NO_VALUE
    region.set("answer", {"value": 42, "when": datetime.date(2024, 1, 2)})
    region.set("nothing", None)
    assert region.get("answer") == {"value": 42, "when": datetime.date(2024, 1, 2)}
    assert region.get("nothing") is None  # a cached None is a value
    region.delete("answer")
    assert region.get("answer") is NO_VALUE
    with pytest.raises(TypeError):
        region.get(42)


def test_region_values_expire(cache_backend):
    region = CacheRegion(cache_backend, expiration_time=0.05)
    region.set("soon", "gone")
    time.sleep(0.1)
    assert region.get("soon") is NO_VALUE
    assert region.get_or_create("soon", lambda: "again") == "again"


def test_region_rejects_bad_settings():
    with pytest.raises(ValueError):
        CacheRegion(MemoryBackend(), expiration_time=-1)
    with pytest.raises(ValueError):
        CacheRegion(MemoryBackend(), lock_timeout=0)
    with pytest.raises(ValueError):
        MemoryBackend(max_size=0)


def test_memory_backend_is_a_bounded_lru():
    backend = MemoryBackend(max_size=3)
    region = CacheRegion(backend)
    for key in "abc":
        region.set(key, key)
    region.get("a")  # now the most recently used
    region.set("d", "d")
    assert len(backend) == 3
    assert region.get("b") is NO_VALUE
    assert [region.get(key) for key in "acd"] == ["a", "c", "d"]


def test_cache_on_arguments_keys_are_stable_and_invalidate(cache_backend):
    region = CacheRegion(cache_backend, expiration_time=60)
    calls = []

    @region.cache_on_arguments()
    def total(a, b=2, *, scale=1):
        calls.append((a, b, scale))
        return (a + b) * scale

    assert total(1) == 3 and total(1, 2) == 3 and total(1, b=2, scale=1) == 3
    assert calls == [(1, 2, 1)]  # defaults and keywords bind to one key
    assert total.key_for(1) == f"{__name__}:test_cache_on_arguments_keys_are_stable_and_invalidate.<locals>.total|1,2,1"
    total.invalidate(1)
    assert total(1) == 3 and len(calls) == 2
    total.set(99, 1)
    assert total(1) == 99 and total.get(1) == 99
    assert total.refresh(1) == 3 and total(1) == 3
    assert total(decimal.Decimal("1.5"), 1) == decimal.Decimal("2.5")
    with pytest.raises(TypeError, match="stable cache key"):
        total(object())


def test_cache_on_arguments_leaves_self_out_of_method_keys():
    region = CacheRegion(MemoryBackend())

    class Service:
        def __init__(self, tag):
            self.tag = tag

        @region.cache_on_arguments(namespace="v2")
        def lookup(self, name):
            return f"{self.tag}:{name}"

    assert Service("first").lookup("x") == "first:x"
    assert Service("second").lookup("x") == "first:x"  # one key for every instance
    key = function_key_generator("v2", Service.lookup)(Service("any"), "x")
    assert key.endswith("lookup|v2|'x'")
    assert len(function_key_generator(None, lambda text: text)("y" * 1000)) < 250


@pytest.mark.parametrize("cache_backend", ["memory", "redis"], indirect=True)
def test_twenty_threads_missing_one_key_run_the_creator_once(cache_backend):
    region = CacheRegion(cache_backend, expiration_time=60)
    runs = []
    start = threading.Barrier(20)
    results = []

    def creator():
        runs.append(1)
        time.sleep(0.3)  # long enough for every other thread to miss meanwhile
        return "made once"

    def work():
        start.wait()
        results.append(region.get_or_create("hot", creator))

    threads = [threading.Thread(target=work) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(runs) == 1
    assert results == ["made once"] * 20


def test_four_processes_missing_one_key_run_the_creator_once(redis_prefix, redis_client):
    processes = [
        worker("stampede", REDIS_URL, redis_prefix, "shared", 5, stdout=__import__("subprocess").PIPE) for _ in range(4)
    ]
    time.sleep(0.5)  # let them connect and wait for the signal
    redis_client.set(redis_prefix + "go", "1")
    seen = []
    for process in processes:
        out, _ = process.communicate(timeout=60)
        assert process.returncode == 0
        seen.extend(json.loads(out))
    assert int(redis_client.get(redis_prefix + "creator_runs")) == 1
    assert len(seen) == 20 and len({json.dumps(value) for value in seen}) == 1


def test_serve_stale_answers_while_one_caller_regenerates():
    region = CacheRegion(MemoryBackend(), expiration_time=0.05, serve_stale=True, stale_time=60)
    region.set("page", "old")
    time.sleep(0.1)
    assert region.get("page") is NO_VALUE  # expired for plain reads
    release = threading.Event()
    started = threading.Event()

    def slow_creator():
        started.set()
        release.wait(10)
        return "new"

    regenerating = threading.Thread(target=lambda: region.get_or_create("page", slow_creator))
    regenerating.start()
    started.wait(10)
    assert region.get_or_create("page", lambda: "not me") == "old"  # the lock is held: stale
    release.set()
    regenerating.join()
    assert region.get_or_create("page", lambda: "not me") == "new"


def test_a_lock_holder_killed_mid_regeneration_blocks_only_until_the_lock_timeout(redis_prefix, redis_client):
    holder = worker("hold", REDIS_URL, redis_prefix, "report", 1.0)
    try:
        for _ in range(2000):
            if redis_client.exists(redis_prefix + "started"):
                break
            time.sleep(0.005)
        else:
            pytest.fail("the holder never started regenerating")
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait(10)
    finally:
        if holder.poll() is None:
            holder.kill()
    lock_key = f"{redis_prefix}lock:report"
    assert redis_client.exists(lock_key)  # the dead holder's lock is still there
    region = CacheRegion(RedisBackend(redis_client, prefix=redis_prefix), expiration_time=60, lock_timeout=1.0)
    runs = []

    def creator():
        runs.append(1)
        return "regenerated"

    assert region.get_or_create("report", creator) == "regenerated"
    assert runs == [1]
    assert not redis_client.exists(lock_key)  # released by its new owner


# -- the model cache -------------------------------------------------------------------------
def make_models(db):
    class Base(Model):
        class Meta:
            database = db

    class Author(Base):
        name = CharField(max_length=40, unique=True)
        version = VersionField()

    class Book(Base):
        author = ForeignKeyField(Author, backref="books", on_delete="CASCADE")
        title = TextField()

    db.create_tables([Author, Book])
    return Author, Book


@pytest.fixture
def model_cache(cache_backend):
    cache = ModelCache(CacheRegion(cache_backend, expiration_time=60))
    yield cache
    cache.close()


def test_a_cached_object_round_trips_every_field_type_exactly(db, model_cache):
    class Everything(Model):
        char = CharField(max_length=100, null=True)
        text = TextField(null=True)
        integer = IntegerField(null=True)
        small = SmallIntegerField(null=True)
        big = BigIntegerField(null=True)
        exact = DecimalField(30, 10, null=True)
        flt = FloatField(null=True)
        dbl = DoubleField(null=True)
        flag = BooleanField(null=True)
        when = DateTimeField(null=True)
        day = DateField(null=True)
        clock = TimeField(null=True)
        ident = UUIDField(null=True)
        blob = BlobField(null=True)
        doc = JSONField(null=True)

        class Meta:
            database = db

    db.create_tables([Everything])
    row = Everything.create(
        char="naïve 🐍 'quoted' \\ back",
        text="line\nbreak\x01",
        integer=-2_147_483_648,
        small=-32768,
        big=9_007_199_254_740_993,
        exact=decimal.Decimal("12345678901234567890.0123456789"),
        flt=0.1,
        dbl=1e-300,
        flag=False,
        when=datetime.datetime(2024, 2, 29, 23, 59, 59, 999999),
        day=datetime.date(1, 1, 1),
        clock=datetime.time(0, 0, 0, 1),
        ident=uuid.UUID("12345678-1234-5678-1234-567812345678"),
        blob=b"\x00\xff\x00",
        doc={"nested": [1, 2.5, None, True, "x"]},
    )
    empty = Everything.create()
    for pk in (row.id, empty.id):
        loaded = Everything.get_by_id(pk)
        model_cache.get_by_id(Everything, pk)  # the miss stores it
        cached = model_cache.get_by_id(Everything, pk)  # a hit
        # The instance state (every field's value and the ORM state), as a copy would keep it.
        cached_state, loaded_state = cached.__getstate__(), loaded.__getstate__()
        assert cached_state.keys() == loaded_state.keys()
        for key, value in loaded_state.items():
            assert type(cached_state[key]) is type(value), key
            assert cached_state[key] == value, key
        assert not cached.is_dirty() and cached_state["_persisted"] is True
    first = model_cache.get_by_id(Everything, row.id)
    first.doc["nested"].append("mine")
    assert model_cache.get_by_id(Everything, row.id).doc == {"nested": [1, 2.5, None, True, "x"]}
    assert model_cache.misses == 2  # one load per row; every other get was a hit


def test_gets_are_served_from_the_cache_until_a_write(db, model_cache):
    Author, _Book = make_models(db)
    ann = Author.create(name="ann")
    with count_queries(db) as counter:
        assert model_cache.get_by_id(Author, ann.id).name == "ann"
        assert model_cache.get_by_id(Author, str(ann.id)).name == "ann"  # the field converts keys
        assert model_cache.get(Author, name="ann").id == ann.id
        assert model_cache.get(Author, name="ann").id == ann.id
    assert counter.count == 2  # one load by key, one by the unique name
    with pytest.raises(Author.DoesNotExist):
        model_cache.get_by_id(Author, 999)
    with pytest.raises(tinyorm.DataError):
        model_cache.get_by_id(Author, "not a number")
    with pytest.raises(tinyorm.FieldError):
        model_cache.get(Author, version=1)  # not a unique key


WRITE_PATHS = [
    "save",
    "delete_instance",
    "update_query",
    "delete_query",
    "upsert",
    "session_flush",
    "session_delete",
    "router_save",
    "atomic_save",
]


def _expect_after(path, cache, Note, pk, value):
    if "delete" in path:
        with pytest.raises(Note.DoesNotExist):
            cache.get_by_id(Note, pk)
    else:
        assert cache.get_by_id(Note, pk).title == value


@pytest.mark.parametrize("path", WRITE_PATHS)
def test_every_write_path_invalidates_in_this_process(db, db_url, model_cache, path):
    Note = make_note_model(db)
    db.create_tables([Note])
    note = Note.create(title="before")
    assert model_cache.get_by_id(Note, note.id).title == "before"
    router = tinyorm.Router(primary=db_url)
    write_through(path, Note, make_note_model(router), db, note.id, "after")
    router.close_all()
    _expect_after(path, model_cache, Note, note.id, "after")


@pytest.mark.parametrize("cache_backend", ["redis"], indirect=True)
def test_a_write_in_another_process_is_seen_by_the_next_read_here(db, db_url, model_cache, redis_prefix):
    import subprocess

    Note = make_note_model(db)
    db.create_tables([Note])
    db.close()  # SQLite: let the other process write the file freely
    writer = worker("write", db_url, REDIS_URL, redis_prefix, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        for number, path in enumerate(WRITE_PATHS):
            note = Note.create(title="before")
            cached = model_cache.get_by_id(Note, note.id)
            misses = model_cache.misses
            assert model_cache.get_by_id(Note, note.id).title == cached.title == "before"
            assert model_cache.misses == misses  # served from Redis
            value = f"after{number}"
            writer.stdin.write(f"{path} {note.id} {value}\n")
            writer.stdin.flush()
            assert writer.stdout.readline().strip() == "done", path
            _expect_after(path, model_cache, Note, note.id, value)
    finally:
        writer.stdin.close()
        writer.wait(30)


def test_a_transaction_reads_its_own_writes_and_others_see_them_at_commit(db, model_cache):
    Author, _Book = make_models(db)
    ann = Author.create(name="ann")
    assert model_cache.get_by_id(Author, ann.id).name == "ann"
    seen_by_other = []
    with db.atomic():
        author = Author.get_by_id(ann.id)
        author.name = "anna"
        author.save()
        assert model_cache.get_by_id(Author, ann.id).name == "anna"  # bypasses the cache
        # Another thread reads (and caches) the committed row meanwhile...
        other = threading.Thread(target=lambda: seen_by_other.append(model_cache.get_by_id(Author, ann.id).name))
        other.start()
        other.join()
    assert seen_by_other == ["ann"]
    # ... and the commit invalidates it again.
    assert model_cache.get_by_id(Author, ann.id).name == "anna"
    with pytest.raises(RuntimeError):
        with db.atomic():
            author.name = "rolled back"
            author.save()
            raise RuntimeError
    assert model_cache.get_by_id(Author, ann.id).name == "anna"


def test_twenty_threads_missing_one_row_load_it_once(db, model_cache):
    Author, _Book = make_models(db)
    ann = Author.create(name="ann")
    start = threading.Barrier(20)
    names = []

    def work():
        start.wait()
        names.append(model_cache.get_by_id(Author, ann.id).name)
        db.close()

    with count_queries(db, only_select=True) as counter:
        threads = [threading.Thread(target=work) for _ in range(20)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert names == ["ann"] * 20
    assert counter.count == 1


def test_deletes_cascade_to_cached_children(db, model_cache):
    Author, Book = make_models(db)
    ann = Author.create(name="ann")
    book = Book.create(author=ann, title="one")
    assert model_cache.get_by_id(Book, book.id).title == "one"
    Author.get_by_id(ann.id).delete_instance()  # ON DELETE CASCADE removes the book
    with pytest.raises(Book.DoesNotExist):
        model_cache.get_by_id(Book, book.id)


def test_unique_lookups_follow_renames(db, model_cache):
    Author, _Book = make_models(db)
    ann = Author.create(name="ann")
    assert model_cache.get(Author, name="ann").id == ann.id
    author = Author.get_by_id(ann.id)
    author.name = "bea"
    author.save()
    with pytest.raises(Author.DoesNotExist):
        model_cache.get(Author, name="ann")
    assert model_cache.get(Author, name="bea").id == ann.id
    newcomer = Author.create(name="ann")
    assert model_cache.get(Author, name="ann").id == newcomer.id


def test_a_session_identity_map_is_respected(db, model_cache):
    Author, _Book = make_models(db)
    ann = Author.create(name="ann")
    bea = Author.create(name="bea")
    model_cache.get_by_id(Author, bea.id)  # cached
    with Session(db) as session:
        loaded = session.get(Author, ann.id)
        assert model_cache.get_by_id(Author, ann.id, session=session) is loaded
        from_cache = model_cache.get_by_id(Author, bea.id, session=session)
        assert session.get(Author, bea.id) is from_cache  # it joined the identity map
        from_cache.name = "beatrice"
    assert model_cache.get_by_id(Author, bea.id).name == "beatrice"  # the flush invalidated it


def test_writes_cost_nothing_once_every_model_cache_is_gone():
    from playhouse.cache.models import _on_transaction_end, _on_write
    from tinyorm import events

    cache = ModelCache(CacheRegion(MemoryBackend()))
    assert _on_write in events.write_listeners
    cache.close()
    del cache
    database = tinyorm.connect("sqlite:///:memory:")
    Note = make_note_model(database)
    database.create_tables([Note])
    Note.create(title="x")  # the first write after the last cache finds nobody and unhooks
    # (other subscribers, such as playhouse.signals receivers, may stay hooked)
    assert _on_write not in events.write_listeners
    assert _on_transaction_end not in events.transaction_listeners
