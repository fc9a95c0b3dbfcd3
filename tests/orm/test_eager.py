"""Eager loading without N+1: ``prefetch()`` and joined selects, counted statement by statement."""

import types

import pytest

from tinyorm import (
    JOIN,
    CharField,
    ForeignKeyField,
    IntegerField,
    Model,
    TextField,
    prefetch,
)


class User(Model):
    username = CharField(max_length=50, unique=True)
    age = IntegerField(default=0)

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


class Photo(Model):
    owner = ForeignKeyField(User, null=True, backref="photos")
    title = CharField()


MODELS = [User, Tweet, Like, Photo]


@pytest.fixture
def data(db):
    for model in MODELS:
        model.bind(db)
    db.create_tables(MODELS)
    uid = {}
    for name, age in [("alice", 30), ("bob", 25), ("carol", 35), ("dave", 40)]:
        uid[name] = User.insert(username=name, age=age).execute()
    tid = {}
    for name, content, likes in [
        ("alice", "a1", 5),
        ("alice", "a2", 10),
        ("bob", "b1", 3),
        ("carol", "c1", 7),
        ("carol", "c2", 1),
        ("carol", "c3", 0),
    ]:
        tid[content] = Tweet.insert(user=uid[name], content=content, likes=likes).execute()
    for liker, content in [("bob", "a1"), ("carol", "a1"), ("alice", "b1")]:
        Like.insert(user=uid[liker], tweet=tid[content]).execute()
    Photo.insert_many([{"owner": uid["alice"], "title": "p1"}, {"owner": None, "title": "p2"}]).execute()
    return types.SimpleNamespace(db=db, uid=uid, tid=tid)


EXPECTED_TWEETS = {
    "alice": ["a1", "a2"],
    "bob": ["b1"],
    "carol": ["c1", "c2", "c3"],
    "dave": [],
}


# -- prefetch -------------------------------------------------------------------------------


def test_prefetch_backref_two_statements_then_none(data, count_queries):
    with count_queries(data.db) as counter:
        users = prefetch(User.select().order_by(User.id), Tweet)
    assert counter.count == 2
    with count_queries(data.db) as counter:
        seen = {}
        for user in users:
            assert isinstance(user.tweets, list)
            seen[user.username] = sorted(tweet.content for tweet in user.tweets)
            for tweet in user.tweets:
                assert tweet.user is user
                assert tweet.user.username == user.username
    assert counter.count == 0
    assert seen == EXPECTED_TWEETS


def test_prefetch_foreign_key_two_statements_then_none(data, count_queries):
    with count_queries(data.db) as counter:
        tweets = prefetch(Tweet.select().order_by(Tweet.id), User)
        pairs = [(tweet.content, tweet.user.username) for tweet in tweets]
    assert counter.count == 2
    assert pairs == [
        ("a1", "alice"),
        ("a2", "alice"),
        ("b1", "bob"),
        ("c1", "carol"),
        ("c2", "carol"),
        ("c3", "carol"),
    ]
    # both tweets of one user share the one loaded object
    assert tweets[0].user is tweets[1].user


def test_prefetch_with_a_filtered_subquery(data, count_queries):
    with count_queries(data.db) as counter:
        users = prefetch(User.select().order_by(User.id), Tweet.select().where(Tweet.likes > 4))
        result = {user.username: sorted(t.content for t in user.tweets) for user in users}
    assert counter.count == 2
    assert result == {"alice": ["a1", "a2"], "bob": [], "carol": ["c1"], "dave": []}


def test_prefetch_only_loads_children_of_the_selected_parents(data, count_queries):
    with count_queries(data.db) as counter:
        users = prefetch(User.select().where(User.username == "carol"), Tweet)
        assert [t.content for t in sorted(users[0].tweets, key=lambda t: t.id)] == [
            "c1",
            "c2",
            "c3",
        ]
    assert counter.count == 2
    tweet_sql, _params = counter.statements[1]
    assert "IN" in tweet_sql.upper()


def test_prefetch_two_levels_one_statement_per_level(data, count_queries):
    with count_queries(data.db) as counter:
        users = prefetch(User.select().order_by(User.id), Tweet, Like)
        likes = {
            tweet.content: sorted(like.user_id for like in tweet.likes_received)
            for user in users
            for tweet in user.tweets
        }
    assert counter.count == 3
    assert likes == {
        "a1": sorted([data.uid["bob"], data.uid["carol"]]),
        "a2": [],
        "b1": [data.uid["alice"]],
        "c1": [],
        "c2": [],
        "c3": [],
    }


def test_prefetch_of_nothing(data, count_queries):
    with count_queries(data.db) as counter:
        users = prefetch(User.select().where(User.age > 100), Tweet)
    assert users == []
    assert counter.count <= 1


def test_prefetch_as_a_query_method(data, count_queries):
    with count_queries(data.db) as counter:
        users = User.select().order_by(User.id).prefetch(Tweet)
        assert [len(user.tweets) for user in users] == [2, 1, 3, 0]
    assert counter.count == 2


def test_prefetch_nullable_foreign_key(data, count_queries):
    with count_queries(data.db) as counter:
        photos = prefetch(Photo.select().order_by(Photo.id), User)
        owners = [(photo.title, photo.owner.username if photo.owner else None) for photo in photos]
    assert counter.count == 2
    assert owners == [("p1", "alice"), ("p2", None)]


# -- joined selects -------------------------------------------------------------------------


def test_joined_select_fills_the_foreign_key_in_one_statement(data, count_queries):
    with count_queries(data.db) as counter:
        tweets = list(Tweet.select(Tweet, User).join(User).order_by(Tweet.id))
        pairs = [(tweet.content, tweet.user.username, tweet.user.age) for tweet in tweets]
    assert counter.count == 1
    assert pairs[:3] == [("a1", "alice", 30), ("a2", "alice", 30), ("b1", "bob", 25)]
    assert len(pairs) == 6
    assert isinstance(tweets[0].user, User)
    assert tweets[0].user.id == data.uid["alice"]


def test_joined_select_with_explicit_on(data, count_queries):
    with count_queries(data.db) as counter:
        tweets = list(Tweet.select(Tweet, User).join(User, on=(Tweet.user == User.id)).where(User.username == "bob"))
        assert [(t.content, t.user.username) for t in tweets] == [("b1", "bob")]
    assert counter.count == 1


def test_joined_select_of_some_columns(data, count_queries):
    with count_queries(data.db) as counter:
        tweets = list(Tweet.select(Tweet.content, User.username).join(User).where(Tweet.likes >= 7).order_by(Tweet.id))
        assert [(t.content, t.user.username) for t in tweets] == [
            ("a2", "alice"),
            ("c1", "carol"),
        ]
    assert counter.count == 1


def test_left_outer_join_without_a_match_gives_none(data, count_queries):
    with count_queries(data.db) as counter:
        photos = list(Photo.select(Photo, User).join(User, JOIN.LEFT_OUTER).order_by(Photo.id))
        owners = [(photo.title, photo.owner.username if photo.owner is not None else None) for photo in photos]
    assert counter.count == 1
    assert owners == [("p1", "alice"), ("p2", None)]
    assert photos[1].owner is None


def test_three_model_join_fills_every_level(data, count_queries):
    with count_queries(data.db) as counter:
        likes = list(Like.select(Like, Tweet, User).join(Tweet).join(User).order_by(Like.id))
        result = [(like.tweet.content, like.tweet.user.username) for like in likes]
    assert counter.count == 1
    assert result == [("a1", "alice"), ("a1", "alice"), ("b1", "bob")]


def test_lazy_loading_without_eager_loading_costs_one_query_per_row(data, count_queries):
    # the baseline the eager paths are measured against
    tweets = list(Tweet.select().order_by(Tweet.id))
    with count_queries(data.db) as counter:
        names = [tweet.user.username for tweet in tweets]
    assert names[0] == "alice"
    assert counter.count == len(tweets)
