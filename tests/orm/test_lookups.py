"""Django-style ``filter()`` lookups on every backend.

users:  alice (30, email), bob (25), carol (35, email), dave (40) -- dave has no tweets
tweets: alice "hello world" 5, alice "alice again" 10, bob "bob here" 3,
        carol "carol one" 7, carol "50% off" 1, carol "ÄBC news" 0
likes:  bob -> "hello world", carol -> "hello world", alice -> "bob here"
"""

import re
import types

import pytest

import tinyorm
from tinyorm import CharField, ForeignKeyField, IntegerField, Model, TextField


class User(Model):
    username = CharField(max_length=50, unique=True)
    email = CharField(null=True)
    age = IntegerField()

    class Meta:
        table_name = "users"


class Tweet(Model):
    user = ForeignKeyField(User, backref="tweets")
    content = TextField()
    likes = IntegerField(default=0)

    class Meta:
        table_name = "tweets"


class Like(Model):
    user = ForeignKeyField(User, backref="likes_given")
    tweet = ForeignKeyField(Tweet, backref="likes_received")


MODELS = [User, Tweet, Like]


@pytest.fixture
def data(db):
    for model in MODELS:
        model.bind(db)
    db.create_tables(MODELS)
    User.insert_many(
        [
            ("alice", "alice@example.com", 30),
            ("bob", None, 25),
            ("carol", "carol@example.com", 35),
            ("dave", None, 40),
        ],
        fields=[User.username, User.email, User.age],
    ).execute()
    uid = {u.username: u.id for u in User.select()}
    Tweet.insert_many(
        [
            (uid["alice"], "hello world", 5),
            (uid["alice"], "alice again", 10),
            (uid["bob"], "bob here", 3),
            (uid["carol"], "carol one", 7),
            (uid["carol"], "50% off", 1),
            (uid["carol"], "ÄBC news", 0),
        ],
        fields=[Tweet.user, Tweet.content, Tweet.likes],
    ).execute()
    tid = {t.content: t.id for t in Tweet.select()}
    Like.insert_many(
        [
            {"user": uid["bob"], "tweet": tid["hello world"]},
            {"user": uid["carol"], "tweet": tid["hello world"]},
            {"user": uid["alice"], "tweet": tid["bob here"]},
        ]
    ).execute()
    return types.SimpleNamespace(db=db, uid=uid, tid=tid)


def usernames(query):
    return sorted(u.username for u in query)


def contents(query):
    return sorted(t.content for t in query)


# -- one lookup each ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "lookups, expected",
    [
        ({"username": "bob"}, ["bob"]),
        ({"username__exact": "bob"}, ["bob"]),
        ({"email": None}, ["bob", "dave"]),
        ({"username__ne": "bob"}, ["alice", "carol", "dave"]),
        ({"age__lt": 30}, ["bob"]),
        ({"age__lte": 30}, ["alice", "bob"]),
        ({"age__gt": 35}, ["dave"]),
        ({"age__gte": 35}, ["carol", "dave"]),
        ({"username__in": ["alice", "dave", "zed"]}, ["alice", "dave"]),
        ({"username__in": []}, []),
        ({"email__isnull": True}, ["bob", "dave"]),
        ({"email__isnull": False}, ["alice", "carol"]),
        ({"username__contains": "ar"}, ["carol"]),
        ({"username__contains": "AR"}, []),
        ({"username__icontains": "AR"}, ["carol"]),
        ({"username__startswith": "a"}, ["alice"]),
        ({"username__startswith": "A"}, []),
        ({"username__istartswith": "A"}, ["alice"]),
        ({"username__endswith": "e"}, ["alice", "dave"]),
        ({"username__endswith": "E"}, []),
        ({"username__iendswith": "E"}, ["alice", "dave"]),
        ({"age__between": (30, 35)}, ["alice", "carol"]),
        ({"age__between": [26, 100]}, ["alice", "carol", "dave"]),
        ({"username__regex": "^(b|d)"}, ["bob", "dave"]),
        ({"email__contains": "@example."}, ["alice", "carol"]),
    ],
)
def test_single_lookup(data, lookups, expected):
    assert usernames(User.select().filter(**lookups)) == expected


def test_model_level_filter_and_get(data):
    assert usernames(User.filter(age__gte=35)) == ["carol", "dave"]
    assert User.get(username="bob").age == 25
    with pytest.raises(User.DoesNotExist):
        User.get(username__startswith="z")
    assert User.get_or_none(username="zed") is None


def test_several_lookups_are_and_ed(data):
    assert usernames(User.select().filter(age__gte=30, email__isnull=False)) == [
        "alice",
        "carol",
    ]
    assert usernames(User.select().filter(age__gte=30).filter(email__isnull=True)) == ["dave"]
    assert usernames(User.select().filter(User.age < 40, username__contains="a")) == [
        "alice",
        "carol",
    ]


def test_like_lookups_treat_the_needle_literally(data):
    assert contents(Tweet.select().filter(content__contains="50%")) == ["50% off"]
    assert contents(Tweet.select().filter(content__contains="%")) == ["50% off"]
    assert contents(Tweet.select().filter(content__contains="_")) == []
    assert contents(Tweet.select().filter(content__startswith="5_")) == []
    assert contents(Tweet.select().filter(content__icontains="äbc")) == ["ÄBC news"]
    assert contents(Tweet.select().filter(content__istartswith="äb")) == ["ÄBC news"]
    assert contents(Tweet.select().filter(content__contains="äbc")) == []


# -- across relations -----------------------------------------------------------------------


def test_foreign_key_field(data):
    assert contents(Tweet.select().filter(user__username="bob")) == ["bob here"]
    assert contents(Tweet.select().filter(user__age__gte=35)) == [
        "50% off",
        "carol one",
        "ÄBC news",
    ]
    assert contents(Tweet.select().filter(user__username__startswith="al", likes__gt=5)) == ["alice again"]


def test_foreign_key_by_value_and_by_object(data):
    bob = User.get(username="bob")
    assert contents(Tweet.select().filter(user=bob.id)) == ["bob here"]
    assert contents(Tweet.select().filter(user_id=bob.id)) == ["bob here"]
    assert contents(Tweet.select().filter(user=bob)) == ["bob here"]
    assert contents(Tweet.select().filter(user__in=[bob.id, data.uid["alice"]])) == [
        "alice again",
        "bob here",
        "hello world",
    ]


def test_two_foreign_key_hops(data):
    likes = Like.select().filter(tweet__user__username="alice")
    assert sorted(like.user_id for like in likes) == sorted([data.uid["bob"], data.uid["carol"]])
    both = Like.select().filter(user__username="alice", tweet__user__username="bob")
    assert len(list(both)) == 1


def test_lookups_through_one_foreign_key_share_one_join(data):
    query = Tweet.select().filter(user__username__startswith="c", user__age=35)
    sql, _ = query.sql()
    assert sql.count("JOIN") == 1
    assert contents(query) == ["50% off", "carol one", "ÄBC news"]


def test_backref_lookup(data):
    assert usernames(User.select().filter(tweets__content__contains="again")) == ["alice"]
    assert usernames(User.select().filter(tweets__content="bob here")) == ["bob"]


def test_backref_lookup_returns_each_parent_once(data):
    # alice has two tweets with likes > 0, carol two: each user appears once
    assert usernames(User.select().filter(tweets__likes__gt=0)) == [
        "alice",
        "bob",
        "carol",
    ]
    assert User.select().filter(tweets__likes__gt=0).count() == 3


def test_backref_conditions_apply_to_the_same_child(data):
    # like Django's single filter() call: both conditions hold for one tweet
    assert usernames(User.select().filter(tweets__likes__gte=5, tweets__content__startswith="carol")) == ["carol"]
    assert usernames(User.select().filter(tweets__likes__gte=8, tweets__content__startswith="hello")) == []


def test_backref_then_foreign_key(data):
    # users whose tweets were liked by bob
    assert usernames(User.select().filter(tweets__likes_received__user__username="bob")) == ["alice"]
    # users who liked one of carol's tweets: nobody
    assert usernames(User.select().filter(likes_given__tweet__user__username="carol")) == []
    assert usernames(User.select().filter(likes_given__tweet__user__username="alice")) == ["bob", "carol"]


def test_api_md_filter_example(data):
    query = User.select().filter(username__startswith="a", tweets__content__contains="world")
    assert usernames(query) == ["alice"]


def test_filter_combined_with_join_and_order(data):
    query = (
        Tweet.select(Tweet.content, User.username).join(User).filter(likes__gte=5).order_by(Tweet.likes.desc()).tuples()
    )
    assert list(query) == [
        ("alice again", "alice"),
        ("carol one", "carol"),
        ("hello world", "alice"),
    ]


# -- errors ---------------------------------------------------------------------------------


def _names(message, word):
    return re.search(rf"\b{re.escape(word)}\b", message) is not None


@pytest.mark.parametrize(
    "lookups, culprit",
    [
        ({"nope": 1}, "nope"),
        ({"nope__gt": 1}, "nope"),
        ({"username__foo": "x"}, "foo"),
        ({"age__greater": 3}, "greater"),
        ({"user__nope": "x"}, "nope"),
        ({"user__username__foo": "x"}, "foo"),
        ({"tweets__nope": "x"}, "nope"),
        ({"nothing__username": "x"}, "nothing"),
    ],
)
def test_unknown_field_or_lookup_is_a_field_error_naming_it(data, count_queries, lookups, culprit):
    model = Tweet if next(iter(lookups)).startswith("user__") else User
    with count_queries(data.db) as counter, pytest.raises(tinyorm.FieldError) as info:
        list(model.select().filter(**lookups))
    assert isinstance(info.value, ValueError)
    assert _names(str(info.value), culprit), str(info.value)
    assert counter.count == 0


def test_between_needs_a_pair(data):
    with pytest.raises(tinyorm.FieldError):
        User.select().filter(age__between=5)
    with pytest.raises(tinyorm.FieldError):
        User.select().filter(age__between=(1, 2, 3))


@pytest.mark.parametrize(
    "model, lookups, field",
    [
        ("User", {"id": "abc"}, "id"),
        ("User", {"age": "1 OR 1=1"}, "age"),
        ("User", {"age__gt": "old"}, "age"),
        ("User", {"age__in": [1, "x"]}, "age"),
        ("User", {"age__between": (1, "x")}, "age"),
        ("User", {"username": "x" * 51}, "username"),
        ("Tweet", {"user__age": "old"}, "age"),
        ("Tweet", {"user": "1; DROP TABLE users"}, "user"),
    ],
)
def test_values_are_converted_by_the_field_before_any_sql(data, count_queries, model, lookups, field):
    model = {"User": User, "Tweet": Tweet}[model]
    with count_queries(data.db) as counter, pytest.raises(tinyorm.DataError) as info:
        list(model.select().filter(**lookups))
    assert field in str(info.value)
    assert counter.count == 0


def test_converted_values_still_match(data):
    assert usernames(User.select().filter(age="30")) == ["alice"]
    assert usernames(User.select().filter(id=str(data.uid["bob"]))) == ["bob"]
