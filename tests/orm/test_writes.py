"""INSERT / UPDATE / DELETE through the query builder on every backend."""

import pytest

import tinyorm
from tinyorm import EXCLUDED, CharField, ForeignKeyField, IntegerField, Model, TextField


class User(Model):
    username = CharField(max_length=50, unique=True)
    age = IntegerField(default=0)

    class Meta:
        table_name = "users"


class Tweet(Model):
    user = ForeignKeyField(User, backref="tweets")
    content = TextField()


class Counter(Model):
    """Its key is its only unique key: an upsert target every engine can honour."""

    key = CharField(max_length=20, primary_key=True)
    hits = IntegerField()


class Account(Model):
    """Two unique keys that every INSERT supplies."""

    username = CharField(max_length=20, unique=True)
    email = CharField(max_length=50, unique=True)
    visits = IntegerField(default=0)


class Document(Model):
    body = TextField()


class Row(Model):
    """Two columns, for big batches."""

    name = CharField(max_length=20, unique=True)
    value = IntegerField()


MODELS = [User, Tweet, Counter, Row, Document, Account]


@pytest.fixture
def tables(db):
    for model in MODELS:
        model.bind(db)
    db.create_tables(MODELS)
    return db


# -- insert ---------------------------------------------------------------------------------


def test_insert_returns_the_new_primary_key(tables):
    first = User.insert(username="ann", age=1).execute()
    second = User.insert({"username": "ben"}).execute()
    assert isinstance(first, int) and isinstance(second, int)
    assert second > first
    assert User.get_by_id(first).username == "ann"
    assert User.get(User.id == second).username == "ben"
    tweet = Tweet.insert(user=first, content="hi").execute()
    assert Tweet.get_by_id(tweet).user_id == first


def test_insert_with_a_natural_key_returns_that_key(tables):
    assert Counter.insert(key="k1", hits=1).execute() == "k1"
    assert Counter.get_by_id("k1").hits == 1


def test_insert_uses_defaults_and_foreign_key_objects(tables):
    pk = User.insert(username="dee").execute()
    user = User.get_by_id(pk)
    assert user.age == 0
    tweet_pk = Tweet.insert(user=user, content="via object").execute()
    assert Tweet.get_by_id(tweet_pk).user_id == pk


def test_insert_with_a_bad_value_raises_data_error_before_sql(tables, count_queries):
    with count_queries(tables) as counter, pytest.raises(tinyorm.DataError):
        User.insert(username="x", age="abc").execute()
        with pytest.raises(tinyorm.DataError):
            User.insert(username="x" * 51).execute()
    assert counter.count == 0


def test_insert_many_dicts(tables):
    result = User.insert_many([{"username": "a", "age": 1}, {"username": "b"}, {"username": "c", "age": 3}]).execute()
    assert result == 3
    assert list(User.select(User.username, User.age).order_by(User.username).tuples()) == [
        ("a", 1),
        ("b", 0),
        ("c", 3),
    ]


def test_insert_many_tuples_with_fields(tables):
    User.insert_many([("a", 1), ("b", 2)], fields=[User.username, User.age]).execute()
    User.insert_many([(5, "c")], fields=["age", "username"]).execute()
    assert list(User.select(User.username, User.age).order_by(User.username).tuples()) == [
        ("a", 1),
        ("b", 2),
        ("c", 5),
    ]


def test_insert_many_tuples_without_fields_use_every_non_auto_field(tables):
    User.insert_many([("a", 1), ("b", 2)]).execute()
    assert list(User.select(User.username, User.age).order_by(User.username).tuples()) == [("a", 1), ("b", 2)]


def test_insert_many_model_instances(tables):
    User.insert_many([User(username="m1", age=7), User(username="m2")]).execute()
    assert list(User.select(User.username, User.age).order_by(User.username).tuples()) == [
        ("m1", 7),
        ("m2", 0),
    ]


def test_insert_many_nothing(tables):
    assert User.insert_many([]).execute() == 0
    assert User.select().count() == 0


BIG = 40_000  # x 2 columns = 80,000 parameters: more than SQLite's 32,766 in one statement


def test_insert_many_splits_batches_to_the_parameter_limit(tables, count_queries):
    rows = [(f"n{i}", i) for i in range(BIG)]
    with count_queries(tables) as counter:
        Row.insert_many(rows, fields=[Row.name, Row.value]).execute()
    inserts = [(sql, params) for sql, params in counter.statements if sql.startswith("INSERT")]
    assert len(inserts) >= 2
    assert all(len(params) <= tables.dialect.max_params for _sql, params in inserts)
    assert Row.select().count() == BIG
    assert Row.select(tinyorm.fn.SUM(Row.value)).scalar() == sum(range(BIG))
    assert Row.get(Row.name == f"n{BIG - 1}").value == BIG - 1


@pytest.mark.parametrize("bad", [("n4999", "not a number"), ("x" * 21, 1)])
def test_a_bad_value_deep_in_a_big_insert_writes_nothing(tables, count_queries, bad):
    rows = [(f"n{i}", i) for i in range(BIG)]
    rows[4999] = bad
    with count_queries(tables) as counter, pytest.raises(tinyorm.DataError):
        Row.insert_many(rows, fields=[Row.name, Row.value]).execute()
    assert not [sql for sql, _ in counter.statements if sql.startswith("INSERT")]
    assert Row.select().count() == 0


def test_a_server_error_in_a_later_batch_rolls_back_the_earlier_ones(tables):
    rows = [(f"n{i}", i) for i in range(BIG)]
    rows[BIG - 1] = ("n0", -1)  # duplicate unique name in the last batch
    with pytest.raises(tinyorm.IntegrityError):
        Row.insert_many(rows, fields=[Row.name, Row.value]).execute()
    assert Row.select().count() == 0


def test_insert_many_splits_batches_to_the_packet_size(tables, count_queries):
    # 48 values of 1,000,000 characters, half of them quotes (which the driver escapes to
    # two bytes each): about 72 MB on the wire, several times MySQL's max_allowed_packet.
    bodies = [("'" if i % 2 else "x") * 1_000_000 for i in range(48)]
    with count_queries(tables) as counter:
        Document.insert_many([{"body": body} for body in bodies]).execute()
    inserts = [params for sql, params in counter.statements if sql.startswith("INSERT")]
    limit = tables.dialect.max_query_bytes
    if limit:
        assert len(inserts) > 1
        for params in inserts:
            assert sum(2 * len(value) for value in params) < limit
    assert Document.select().count() == 48
    lengths = Document.select(tinyorm.fn.SUM(tinyorm.fn.LENGTH(Document.body))).scalar()
    assert int(lengths) == 48_000_000


# -- upsert ---------------------------------------------------------------------------------


def test_on_conflict_update_with_target(tables):
    Counter.insert(key="k", hits=1).execute()
    Counter.insert(key="k", hits=1).on_conflict(
        conflict_target=[Counter.key], update={Counter.hits: Counter.hits + 1}
    ).execute()
    assert Counter.get_by_id("k").hits == 2
    Counter.insert(key="k", hits=10).on_conflict(
        conflict_target=[Counter.key],
        update={Counter.hits: Counter.hits + EXCLUDED.hits},
    ).execute()
    assert Counter.get_by_id("k").hits == 12
    Counter.insert(key="new", hits=5).on_conflict(
        conflict_target=[Counter.key], update={Counter.hits: Counter.hits + 1}
    ).execute()
    assert Counter.get_by_id("new").hits == 5


def test_on_conflict_preserve_takes_the_proposed_value(tables):
    Counter.insert(key="k", hits=1).execute()
    Counter.insert(key="k", hits=9).on_conflict(conflict_target=[Counter.key], preserve=[Counter.hits]).execute()
    assert Counter.get_by_id("k").hits == 9


def test_on_conflict_update_without_target_uses_the_only_unique_key(tables):
    Counter.insert(key="k", hits=1).execute()
    Counter.insert(key="k", hits=1).on_conflict(update={Counter.hits: 100}).execute()
    assert Counter.get_by_id("k").hits == 100


def test_insert_many_with_on_conflict(tables):
    Counter.insert(key="a", hits=1).execute()
    Counter.insert_many([{"key": "a", "hits": 5}, {"key": "b", "hits": 7}]).on_conflict(
        conflict_target=[Counter.key], preserve=[Counter.hits]
    ).execute()
    assert list(Counter.select(Counter.key, Counter.hits).order_by(Counter.key).tuples()) == [
        ("a", 5),
        ("b", 7),
    ]


def test_on_conflict_ignore(tables):
    User.insert(username="u", age=1).execute()
    User.insert(username="u", age=2).on_conflict_ignore().execute()
    assert User.get(User.username == "u").age == 1
    User.insert_many([{"username": "u", "age": 3}, {"username": "v", "age": 4}]).on_conflict_ignore().execute()
    assert list(User.select(User.username, User.age).order_by(User.username).tuples()) == [("u", 1), ("v", 4)]


def test_on_conflict_ignore_does_not_hide_data_errors(tables):
    with pytest.raises(tinyorm.DataError):
        User.insert(username="x" * 51).on_conflict_ignore().execute()
    assert User.select().count() == 0


def test_on_conflict_target_beside_a_server_assigned_key(tables):
    # users has an auto-increment id and a unique username; the INSERT leaves id to the
    # server, so only username can conflict and every engine can honour the target
    User.insert(username="u", age=1).execute()
    User.insert(username="u", age=2).on_conflict(conflict_target=[User.username], update={User.age: 2}).execute()
    assert list(User.select(User.username, User.age).tuples()) == [("u", 2)]


def test_on_conflict_target_that_is_not_the_only_unique_key(tables, count_queries):
    Account.insert(username="u", email="u@x", visits=1).execute()
    query = Account.insert(username="u", email="other@x", visits=1).on_conflict(
        conflict_target=[Account.username], update={Account.visits: Account.visits + 1}
    )
    if tables.dialect.upsert_honours_conflict_target:
        query.execute()
        assert list(Account.select(Account.email, Account.visits).tuples()) == [("u@x", 2)]
        return
    # ON DUPLICATE KEY UPDATE would also fire on a duplicate email: refused, explained
    with count_queries(tables) as counter, pytest.raises(tinyorm.NotSupportedError) as info:
        query.execute()
    assert counter.count == 0
    message = str(info.value)
    assert "username" in message and "email" in message  # the target and the other unique key
    assert "DUPLICATE KEY" in message.upper()
    assert list(Account.select(Account.email, Account.visits).tuples()) == [("u@x", 1)]


# -- returning ------------------------------------------------------------------------------


def test_returning_on_insert_update_delete(tables, count_queries):
    if not tables.dialect.returning:
        with count_queries(tables) as counter, pytest.raises(tinyorm.NotSupportedError):
            User.insert(username="r").returning(User.id).execute()
            with pytest.raises(tinyorm.NotSupportedError):
                User.update(age=1).returning(User.id).execute()
            with pytest.raises(tinyorm.NotSupportedError):
                User.delete().returning(User.id).execute()
        assert counter.count == 0
        return
    rows = User.insert(username="r", age=3).returning(User.id, User.username, User.age).execute()
    assert len(rows) == 1
    user_id, username, age = rows[0]
    assert (username, age) == ("r", 3)
    assert User.get_by_id(user_id).username == "r"
    many = User.insert_many([{"username": "s"}, {"username": "t"}]).returning(User.username).execute()
    assert sorted(many) == ["s", "t"]
    updated = User.update(age=User.age + 10).where(User.username != "r").returning(User.username, User.age).execute()
    assert sorted(updated) == [("s", 10), ("t", 10)]
    deleted = User.delete().where(User.username == "t").returning(User.id).execute()
    assert len(deleted) == 1 and isinstance(deleted[0], int)
    assert User.select().count() == 2


# -- update and delete ----------------------------------------------------------------------


@pytest.fixture
def people(tables):
    User.insert_many([("a", 10), ("b", 20), ("c", 30)], fields=[User.username, User.age]).execute()
    return tables


def test_update_returns_rows_matched(people):
    assert User.update(age=99).where(User.age >= 20).execute() == 2
    assert User.update(age=1).where(User.username == "nobody").execute() == 0
    assert sorted(User.select(User.age).tuples()) == [(10,), (99,), (99,)]


def test_update_setting_the_same_value_still_counts_as_matched(people):
    assert User.update(age=10).where(User.username == "a").execute() == 1
    assert User.update(age=User.age).execute() == 3


def test_update_with_expressions(people):
    assert User.update(age=User.age + 1, username=User.username.concat("!")).where(User.age < 25).execute() == 2
    assert list(User.select(User.username, User.age).order_by(User.age).tuples()) == [
        ("a!", 11),
        ("b!", 21),
        ("c", 30),
    ]


def test_update_converts_values_before_sql(people, count_queries):
    with count_queries(people) as counter, pytest.raises(tinyorm.DataError):
        User.update(age="old").where(User.username == "a").execute()
    assert counter.count == 0


def test_delete_returns_rows_deleted(people):
    assert User.delete().where(User.age > 15).execute() == 2
    assert User.delete().where(User.age > 15).execute() == 0
    assert [u.username for u in User.select()] == ["a"]
    assert User.delete().execute() == 1
