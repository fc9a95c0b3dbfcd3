"""playhouse extensions, on every backend."""

import threading

import pytest

import tinyorm
from playhouse import signals
from playhouse.cache import CacheRegion, MemoryBackend, ModelCache
from playhouse.kv import KeyValue
from playhouse.pool import PooledSqliteDatabase
from playhouse.shortcuts import dict_to_model, model_to_dict
from playhouse.test_utils import assert_query_count, count_queries, rollback_after
from tinyorm import CharField, ForeignKeyField, IntegerField, Model, TextField


def make_models(db, base=Model):
    class Base(base):
        class Meta:
            database = db

    class Author(Base):
        name = CharField(max_length=40)

    class Book(Base):
        author = ForeignKeyField(Author, backref="books")
        title = TextField()
        pages = IntegerField(default=0)

    db.create_tables([Author, Book])
    return Author, Book


def test_key_value_store_round_trips_json_and_upserts(db):
    kv = KeyValue(db, table_name="settings")
    kv["theme"] = {"dark": True, "accent": "blue"}
    kv.update({"a": 1, "b": [1, 2, "drei"]})
    kv["a"] = 2  # overwrite through the upsert
    assert kv["theme"] == {"dark": True, "accent": "blue"}
    assert kv["a"] == 2 and kv["b"] == [1, 2, "drei"]
    assert "a" in kv and "zzz" not in kv
    assert kv.keys() == ["a", "b", "theme"] and len(kv) == 3
    assert kv.pop("a") == 2 and kv.get("a") is None
    with pytest.raises(KeyError):
        del kv["a"]
    with pytest.raises(TypeError):
        kv[1] = "x"


def test_model_to_dict_and_back(db):
    Author, Book = make_models(db)
    ann = Author.create(name="Ann")
    book = Book.create(author=ann, title="Tinyorm", pages=12)
    data = model_to_dict(Book.get_by_id(book.id))
    assert data == {"id": book.id, "author": {"id": ann.id, "name": "Ann"}, "title": "Tinyorm", "pages": 12}
    assert model_to_dict(book, recurse=False)["author"] == ann.id
    assert model_to_dict(ann, backrefs=True)["books"] == [
        {"id": book.id, "author": ann.id, "title": "Tinyorm", "pages": 12}
    ]
    assert model_to_dict(book, only=[Book.title]) == {"title": "Tinyorm"}
    copy = dict_to_model(Book, {"title": "Copy", "author": {"id": ann.id, "name": "Ann"}})
    assert copy.title == "Copy" and copy.author_id == ann.id
    with pytest.raises(AttributeError):
        dict_to_model(Book, {"nope": 1})


def test_signals_fire_around_save_and_delete(db):
    Author, _Book = make_models(db, base=signals.Model)
    seen = []

    def on_save(model_class, instance, created):
        seen.append(("saved", instance.name, created))

    def on_delete(model_class, instance):
        seen.append(("deleted", instance.name))

    signals.post_save.connect(on_save, sender=Author)
    signals.post_delete.connect(on_delete, sender=Author)
    try:
        author = Author.create(name="Bo")
        author.name = "Bob"
        author.save()
        author.delete_instance()
    finally:
        signals.post_save.disconnect(on_save)
        signals.post_delete.disconnect(on_delete)
    assert seen == [("saved", "Bo", True), ("saved", "Bob", False), ("deleted", "Bob")]


def test_query_counting_helpers(db):
    Author, _Book = make_models(db)
    Author.create(name="x")
    with count_queries(db) as counter:
        list(Author.select())
        Author.get_by_id(1)
    assert counter.count == 2
    with assert_query_count(db, 1):
        list(Author.select())
    with pytest.raises(AssertionError):
        with assert_query_count(db, 0):
            list(Author.select())


def test_rollback_after_leaves_nothing(db):
    Author, _Book = make_models(db)
    with rollback_after(db):
        Author.create(name="temp")
        assert Author.select().count() == 1
    assert Author.select().count() == 0


def test_model_cache_serves_repeated_gets_from_memory(db):
    Author, _Book = make_models(db)
    author = Author.create(name="cached")
    cache = ModelCache(CacheRegion(MemoryBackend(), expiration_time=60))
    with count_queries(db) as counter:
        first = cache.get_by_id(Author, author.id)
        second = cache.get_by_id(Author, author.id)
    assert counter.count == 1 and first.name == second.name == "cached" and first is not second
    Author.update(name="changed").where(Author.id == author.id).execute()
    assert cache.get_by_id(Author, author.id).name == "changed"  # the update invalidated it
    db.execute_sql(f"UPDATE {Author._meta.table_name} SET name = 'raw'")  # unseen by tinyorm
    cache.invalidate(author)
    assert cache.get_by_id(Author, author.id).name == "raw"
    cache.close()


def test_pooled_database_reuses_connections_across_threads(tmp_path):
    database = PooledSqliteDatabase(str(tmp_path / "pool.db"), max_connections=2)
    seen = []

    def work():
        database.execute_sql("SELECT 1").fetchall()
        seen.append(id(database.connection()))
        database.close()

    for _ in range(4):
        thread = threading.Thread(target=work)
        thread.start()
        thread.join()
    assert len(set(seen)) == 1  # one pooled connection served every thread in turn
    database.close_all()
    assert isinstance(database, tinyorm.SqliteDatabase)


def test_session_flushes_send_signals_after_each_statement_in_flush_order(db):
    Author, Book = make_models(db, base=signals.Model)
    seen = []

    def on_save(model_class, instance, created):
        # Sent after the statement: the row is there (with its new key) when a receiver runs.
        seen.append(("saved", model_class.__name__, created, instance.id is not None))

    def on_delete(model_class, instance):
        seen.append(("deleted", model_class.__name__))

    existing = Author.create(name="old")
    signals.post_save.connect(on_save, name="flush_save")
    signals.post_delete.connect(on_delete, name="flush_delete")
    try:
        with tinyorm.Session(db) as session:
            author = Author(name="new")
            session.add(Book(author=author, title="child"))  # the parent goes in first
            session.get(Author, existing.id).name = "renamed"
            session.flush()
            session.delete(session.get(Author, existing.id))
    finally:
        signals.post_save.disconnect(name="flush_save")
        signals.post_delete.disconnect(name="flush_delete")
    assert seen == [
        ("saved", "Author", True, True),
        ("saved", "Book", True, True),
        ("saved", "Author", False, True),
        ("deleted", "Author"),
    ]
