"""playhouse.test_utils: statement counters that nest, and the N+1 detector."""

import logging

import pytest

from playhouse.test_utils import NPlusOneError, count_queries, detect_n_plus_one
from tinyorm import CharField, ForeignKeyField, Model, Session, TextField, prefetch


def make_models(db):
    class Base(Model):
        class Meta:
            database = db

    class User(Base):
        username = CharField(max_length=40)

    class Tweet(Base):
        user = ForeignKeyField(User, backref="tweets")
        content = TextField()

    db.create_tables([User, Tweet])
    for number in range(3):
        user = User.create(username=f"user{number}")
        for index in range(2):
            Tweet.create(user=user, content=f"tweet {index} of {number}")
    return User, Tweet


def _line_of(marker):
    """The line number in this file of the line that ends with ``# marker``."""
    with open(__file__, encoding="utf-8") as source:
        for number, text in enumerate(source, start=1):
            if text.rstrip().endswith(f"# {marker}"):
                return number
    raise AssertionError(marker)


def test_the_detector_names_the_line_of_a_loop_over_tweet_user(db):
    _User, Tweet = make_models(db)
    with pytest.raises(NPlusOneError) as caught:
        with detect_n_plus_one(db, mode="raise"):
            for tweet in Tweet.select():
                assert tweet.user.username  # lazy-user-load
    message = str(caught.value)
    assert f"{__file__}:{_line_of('lazy-user-load')}:" in message
    assert "Tweet.user loaded lazily 6 times" in message
    assert "prefetch(query, User)" in message and "Tweet.select(Tweet, User).join(User)" in message


def test_the_detector_stays_quiet_for_prefetch_and_joins(db):
    User, Tweet = make_models(db)
    with detect_n_plus_one(db) as detector:
        for tweet in prefetch(Tweet.select(), User):
            assert tweet.user.username
        for tweet in Tweet.select(Tweet, User).join(User):
            assert tweet.user.username
        for user in prefetch(User.select(), Tweet):
            assert len(user.tweets) == 2
    assert detector.report == [] and detector.counts == {}


def test_the_detector_catches_backref_loops_and_respects_the_threshold(db):
    User, _Tweet = make_models(db)
    with pytest.raises(NPlusOneError, match=r"User\.tweets loaded lazily 3 times; load them together: prefetch"):
        with detect_n_plus_one(db):
            for user in User.select():
                assert len(list(user.tweets)) == 2  # backref-load
    with detect_n_plus_one(db, threshold=3):
        for user in User.select():
            list(user.tweets)


def test_identity_map_hits_are_not_lazy_loads(db):
    User, Tweet = make_models(db)
    with Session(db) as session:
        users = list(session.query(User))  # every user is in the map now (held: the map is weak)
        with detect_n_plus_one(db) as detector:
            for tweet in session.query(Tweet):
                assert tweet.user.username
    assert detector.report == [] and len(users) == 3


def test_warn_mode_logs_instead(db, caplog):
    _User, Tweet = make_models(db)
    with caplog.at_level(logging.WARNING, logger="playhouse.test_utils"):
        with detect_n_plus_one(db, mode="warn") as detector:
            for tweet in Tweet.select():
                tweet.user  # noqa: B018 - the lazy load is the point
    assert len(detector.report) == 1
    assert "N+1 queries detected" in caplog.text and "Tweet.user" in caplog.text
    with pytest.raises(ValueError):
        detect_n_plus_one(db, mode="loud")


def test_the_detector_ignores_other_databases(db, tmp_path):
    import tinyorm

    _User, Tweet = make_models(db)
    other = tinyorm.connect(f"sqlite:///{tmp_path / 'other.db'}")
    with detect_n_plus_one(other) as detector:
        for tweet in Tweet.select():
            tweet.user  # noqa: B018
    assert detector.report == []
    other.close()


def test_the_pytest_fixture_is_active(db, n_plus_one):
    _User, Tweet = make_models(db)
    tweet = Tweet.select().first()
    tweet.user  # noqa: B018 - one lazy load is allowed
    assert sum(n_plus_one.counts.values()) == 1


def test_count_queries_nests_and_unwinds_in_any_order(db):
    User, _Tweet = make_models(db)
    with count_queries(db) as outer:
        list(User.select())
        with count_queries(db) as inner:
            list(User.select())
        list(User.select())
    assert (outer.count, inner.count) == (3, 1)
    assert "execute_sql" not in db.__dict__  # the class method is back
    first = count_queries(db).__enter__()
    second = count_queries(db).__enter__()
    list(User.select())
    first.__exit__(None, None, None)  # out of order: the outer one leaves first
    list(User.select())
    second.__exit__(None, None, None)
    assert (first.count, second.count) == (1, 2)
    assert "execute_sql" not in db.__dict__
