"""insert_many's row handling: rows of dicts with one key set take a fast path (issue 12);
anything else -- keys in another order, another key set, a default to fill, an unknown
key, a value the field refuses -- must give the same rows as the general path."""

import pytest

from tinyorm import CharField, DataError, FieldError, IntegerField, Model


class Person(Model):
    name = CharField(max_length=20)
    email = CharField(max_length=40, column_name="mail")
    age = IntegerField()


class Member(Model):
    name = CharField(max_length=20)
    age = IntegerField(default=7)


@pytest.fixture
def tables(db):
    models = [Person, Member]
    db.bind(models)
    db.create_tables(models)
    return db


def people():
    return [(p.name, p.email, p.age) for p in Person.select().order_by(Person.name)]


def test_rows_with_one_key_set_in_any_order_and_spelling(tables):
    Person.insert_many(
        [
            {"name": "a", "email": "a@x", "age": 1},
            {"age": 2, "name": "b", "email": "b@x"},  # another order
            {"email": "c@x", "age": 3, "name": "c"},
        ]
    ).execute()
    Person.insert_many(
        [{Person.name: "d", "mail": "d@x", "age": 4}, {Person.name: "e", "mail": "e@x", "age": 5}]
    ).execute()
    assert people() == [("a", "a@x", 1), ("b", "b@x", 2), ("c", "c@x", 3), ("d", "d@x", 4), ("e", "e@x", 5)]


def test_a_row_with_other_keys_of_the_same_count_is_not_misread(tables):
    with pytest.raises(FieldError):
        Person.insert_many(
            [{"name": "a", "email": "a@x", "age": 1}, {"name": "b", "email": "b@x", "nick": 2}]
        ).execute()
    assert people() == []


def test_rows_missing_a_key_get_the_default(tables):
    Member.insert_many([{"name": "a", "age": 1}, {"name": "b"}]).execute()
    assert [(m.name, m.age) for m in Member.select().order_by(Member.name)] == [("a", 1), ("b", 7)]
    Member.insert_many([{"name": "c"}, {"name": "d"}]).execute()
    assert [m.age for m in Member.select().where(Member.name >= "c")] == [7, 7]


def test_values_are_still_checked_by_their_fields(tables):
    with pytest.raises(DataError):
        Person.insert_many(
            [{"name": "a", "email": "a@x", "age": 1}, {"name": "b" * 30, "email": "b@x", "age": 2}]
        ).execute()
    with pytest.raises(DataError):
        Person.insert_many(
            [{"name": "a", "email": "a@x", "age": 1}, {"name": "b", "email": "b@x", "age": "old"}]
        ).execute()
    assert people() == []
