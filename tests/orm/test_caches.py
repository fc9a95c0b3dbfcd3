"""Caches are keyed by shape and bounded (issue 12): a long-running process that rebuilds
the same queries per request keeps one entry per shape, and ever-new shapes evict the
oldest instead of growing without end."""

import datetime

import pytest

from tinyorm import CharField, DateTimeField, ForeignKeyField, Model, fn
from tinyorm.bounded import BoundedCache
from tinyorm.models import hydration


class Person(Model):
    name = CharField(max_length=40)
    joined = DateTimeField(default=datetime.datetime(2024, 1, 2, 3, 4, 5))


class Post(Model):
    author = ForeignKeyField(Person, backref="posts")
    title = CharField(max_length=40)


@pytest.fixture
def people(db):
    for model in (Person, Post):
        model.bind(db)
    db.create_tables([Person, Post])
    alice = Person.create(name="alice")
    Person.create(name="bob")
    Post.create(author=alice, title="one")
    Post.create(author=alice, title="two")
    return db


def _counted():
    return Person.select(Person, fn.COUNT(Post.id).alias("n")).join(Post).group_by(Person).order_by(Person.name)


def test_rebuilt_identical_multi_model_queries_share_one_row_constructor(people):
    first = list(_counted())
    assert [(person.name, person.n) for person in first] == [("alice", 2)]
    hydrators = Person._meta._hydrators
    size = len(hydrators)
    for _ in range(1000):
        assert [(person.name, person.n) for person in _counted()] == [("alice", 2)]
    assert len(hydrators) == size


def test_dicts_with_a_datetime_generate_their_converter_once(people, monkeypatch):
    query = lambda: Person.select(Person.name, Person.joined).order_by(Person.name).dicts()  # noqa: E731
    expected = [
        {"name": "alice", "joined": datetime.datetime(2024, 1, 2, 3, 4, 5)},
        {"name": "bob", "joined": datetime.datetime(2024, 1, 2, 3, 4, 5)},
    ]
    assert list(query()) == expected
    generated = []
    original = hydration.generate_function

    def counting(name, source, namespace):
        generated.append(name)
        return original(name, source, namespace)

    monkeypatch.setattr(hydration, "generate_function", counting)
    for _ in range(1000):
        assert list(query()) == expected
    assert generated == []


def test_every_model_cache_is_bounded(people):
    meta = Person._meta
    assert isinstance(meta._query_cache, BoundedCache) and isinstance(meta._hydrators, BoundedCache)
    assert isinstance(hydration.ROW_CONVERTERS, BoundedCache)
    # ever-new shapes: more distinct column sets than the cache holds
    fields = list(meta.fields.values())
    for number in range(meta._hydrators.maxsize + 50):
        hydration._hydrator_for(Person, tuple(fields) + (fields[0],) * number, people.dialect)
        meta._query_cache[("shape", number)] = "SELECT 1"
    assert len(meta._query_cache) <= meta._query_cache.maxsize
    assert len(meta._hydrators) <= meta._hydrators.maxsize


def test_a_full_cache_drops_the_entry_inserted_longest_ago():
    cache = BoundedCache(2)
    cache["a"], cache["b"] = 1, 2
    cache["a"] = 10  # replacing an entry evicts nothing
    assert dict(cache) == {"a": 10, "b": 2}
    cache["c"] = 3
    assert list(cache) == ["b", "c"] and cache.get("a") is None
