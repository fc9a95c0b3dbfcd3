"""Active record: create/save/delete, getters, lazy relations, backrefs, DoesNotExist per
model, defaults, basic queries and optimistic locking with VersionField."""

import datetime
import itertools

import pytest

import tinyorm
from tinyorm import (
    BooleanField,
    CharField,
    DateTimeField,
    ForeignKeyField,
    IntegerField,
    JSONField,
    Model,
    TextField,
    VersionField,
)


def make_models(db):
    class Base(Model):
        class Meta:
            database = db

    class User(Base):
        username = CharField(max_length=50, unique=True)
        email = CharField(null=True, index=True)
        joined = DateTimeField(default=datetime.datetime.utcnow)
        karma = IntegerField(default=0)

    class Tweet(Base):
        user = ForeignKeyField(User, backref="tweets", on_delete="CASCADE")
        content = TextField()

        class Meta:
            table_name = "tweets"
            indexes = ((("user", "content"), False),)

    db.create_tables([User, Tweet])
    return User, Tweet


def make_versioned(db):
    class Doc(Model):
        title = CharField(max_length=50)
        body = TextField(null=True)
        version = VersionField()

        class Meta:
            database = db

    db.create_tables([Doc])
    return Doc


def statements_starting(counter, prefix):
    return [sql for sql, _ in counter.statements if sql.strip().upper().startswith(prefix)]


# -- create / save / delete -------------------------------------------------------------------
def test_create_returns_saved_instance(db):
    User, Tweet = make_models(db)
    alice = User.create(username="alice", email="a@example.com")
    bob = User.create(username="bob")
    assert isinstance(alice.id, int) and isinstance(bob.id, int)
    assert alice.id != bob.id
    fetched = User.get_by_id(alice.id)
    assert (fetched.username, fetched.email) == ("alice", "a@example.com")
    assert fetched == alice
    assert User.select().count() == 2


def test_save_inserts_when_new_then_updates(db, count_queries):
    User, Tweet = make_models(db)
    user = User(username="carol")
    assert user.id is None
    with count_queries(db) as counter:
        user.save()
    assert len(statements_starting(counter, "INSERT")) == 1
    assert user.id is not None
    user.email = "c@example.com"
    with count_queries(db) as counter:
        user.save()
    assert len(statements_starting(counter, "INSERT")) == 0
    assert len(statements_starting(counter, "UPDATE")) == 1
    assert User.select().count() == 1
    assert User.get_by_id(user.id).email == "c@example.com"


def test_save_without_changes_sends_no_sql(db, count_queries):
    User, Tweet = make_models(db)
    user = User.create(username="dave", email="d@example.com")
    fetched = User.get_by_id(user.id)
    with count_queries(db) as counter:
        assert not user.save()
        assert not fetched.save()
        fetched.username = "dave"  # assigned, but equal to what is stored
        fetched.save()
    assert counter.count == 0


def test_update_names_only_changed_columns(db, count_queries):
    User, Tweet = make_models(db)
    user = User.create(username="erin", email="e@example.com")
    fetched = User.get_by_id(user.id)
    fetched.email = "new@example.com"
    with count_queries(db) as counter:
        fetched.save()
    assert counter.count == 1
    sql = counter.statements[0][0]
    quote = db.dialect.quote
    assert sql.strip().upper().startswith("UPDATE")
    set_clause = sql.split(" WHERE ")[0]
    assert quote("email") in set_clause
    for other in ("username", "joined", "karma"):
        assert quote(other) not in set_clause
    # a concurrent change to another column survives our save
    User.update(karma=7).where(User.id == user.id).execute()
    fetched.email = "newer@example.com"
    fetched.save()
    row = User.get_by_id(user.id)
    assert (row.email, row.karma) == ("newer@example.com", 7)


def test_delete_instance(db):
    User, Tweet = make_models(db)
    user = User.create(username="frank")
    other = User.create(username="grace")
    assert user.delete_instance() == 1
    assert [u.username for u in User.select()] == ["grace"]
    assert User.get_or_none(User.id == user.id) is None
    assert other.delete_instance() == 1
    assert User.select().count() == 0


def test_insert_and_bulk_update_delete(db):
    User, Tweet = make_models(db)
    new_id = User.insert(username="heidi").execute()
    assert User.get_by_id(new_id).username == "heidi"
    User.create(username="ivan")
    assert User.update(karma=3).where(User.username == "ivan").execute() == 1
    assert User.get(User.username == "ivan").karma == 3
    assert User.delete().where(User.username == "heidi").execute() == 1
    assert [u.username for u in User.select()] == ["ivan"]


# -- getters ----------------------------------------------------------------------------------
def test_get_get_or_none_get_by_id(db):
    User, Tweet = make_models(db)
    alice = User.create(username="alice")
    assert User.get(User.username == "alice").id == alice.id
    assert User.get(username="alice").id == alice.id
    assert User.get_or_none(User.username == "nobody") is None
    assert User.get_or_none(User.username == "alice").id == alice.id
    assert User.get_by_id(alice.id).username == "alice"
    with pytest.raises(User.DoesNotExist):
        User.get_by_id(alice.id + 1000)
    with pytest.raises(User.DoesNotExist):
        User.get(User.username == "nobody")


def test_does_not_exist_per_model(db):
    User, Tweet = make_models(db)
    assert issubclass(User.DoesNotExist, tinyorm.DoesNotExist)
    assert issubclass(Tweet.DoesNotExist, tinyorm.DoesNotExist)
    assert not issubclass(User.DoesNotExist, Tweet.DoesNotExist)
    assert not issubclass(Tweet.DoesNotExist, User.DoesNotExist)
    with pytest.raises(User.DoesNotExist) as info:
        try:
            User.get(User.username == "ghost")
        except Tweet.DoesNotExist:  # must not catch a User miss
            pytest.fail("Tweet.DoesNotExist caught a User lookup")
    assert isinstance(info.value, tinyorm.TinyORMError)
    assert "User" in str(info.value)
    with pytest.raises(tinyorm.DoesNotExist):
        Tweet.get_by_id(1)


def test_get_or_create(db, count_queries):
    User, Tweet = make_models(db)
    user, created = User.get_or_create(username="judy", defaults={"email": "j@example.com", "karma": 5})
    assert created is True
    assert (user.username, user.email, user.karma) == ("judy", "j@example.com", 5)
    assert User.get_by_id(user.id).email == "j@example.com"
    again, created = User.get_or_create(username="judy", defaults={"email": "other@example.com"})
    assert created is False
    assert again.id == user.id
    assert again.email == "j@example.com"  # defaults only apply when creating
    assert User.select().count() == 1


# -- relations --------------------------------------------------------------------------------
def test_lazy_foreign_key_one_query_then_cached(db, count_queries):
    User, Tweet = make_models(db)
    alice = User.create(username="alice")
    tweet_id = Tweet.create(user=alice, content="hello").id
    tweet = Tweet.get_by_id(tweet_id)
    assert tweet.user_id == alice.id  # the raw key needs no query
    with count_queries(db) as counter:
        first = tweet.user
        second = tweet.user
    assert counter.count == 1
    assert first is second
    assert isinstance(first, User)
    assert first.username == "alice"


def test_assigning_related_object(db):
    User, Tweet = make_models(db)
    alice = User.create(username="alice")
    bob = User.create(username="bob")
    tweet = Tweet.create(user=alice, content="x")
    assert tweet.user is alice
    tweet.user = bob
    assert tweet.user_id == bob.id
    tweet.save()
    assert Tweet.get_by_id(tweet.id).user.username == "bob"
    tweet.user_id = alice.id
    assert tweet.user.username == "alice"  # changing the key reloads the object


def test_backref_is_a_query(db):
    User, Tweet = make_models(db)
    alice = User.create(username="alice")
    bob = User.create(username="bob")
    for text in ("one", "two", "three"):
        Tweet.create(user=alice, content=text)
    Tweet.create(user=bob, content="other")
    tweets = alice.tweets
    assert isinstance(tweets, tinyorm.ModelSelect)
    assert sorted(t.content for t in tweets) == ["one", "three", "two"]
    assert alice.tweets.count() == 3
    assert [t.content for t in alice.tweets.where(Tweet.content == "two")] == ["two"]
    assert [t.content for t in alice.tweets.order_by(Tweet.content.desc()).limit(1)] == ["two"]
    assert [t.content for t in bob.tweets] == ["other"]
    # each tweet from the backref knows its user without another query
    assert all(t.user is alice for t in alice.tweets)


# -- defaults ---------------------------------------------------------------------------------
def test_defaults_constant_and_callable(db):
    counter = itertools.count(1)

    class Item(Model):
        name = CharField(max_length=20, default="unnamed")
        rank = IntegerField(default=lambda: next(counter))
        active = BooleanField(default=True)
        stamp = DateTimeField(default=datetime.datetime.utcnow)
        tags = JSONField(default=list)
        meta = JSONField(default={"k": []})

        class Meta:
            database = db

    db.create_tables([Item])
    before = datetime.datetime.utcnow()
    a = Item.create()
    b = Item.create(name="given", rank=99)
    c = Item()
    assert (a.name, a.rank, a.active) == ("unnamed", 1, True)
    assert (b.name, b.rank) == ("given", 99)
    assert c.rank > a.rank  # callable evaluated per instance
    assert before <= a.stamp <= datetime.datetime.utcnow()
    a.tags.append("x")
    a.meta["k"].append(1)
    assert c.tags == [] and c.meta == {"k": []}  # mutable defaults are not shared
    fetched = Item.get_by_id(a.id)
    assert (fetched.name, fetched.rank, fetched.active, fetched.stamp) == ("unnamed", 1, True, a.stamp)
    assert fetched.tags == [] and fetched.meta == {"k": []}


def test_subclass_init_may_set_attributes_before_calling_model_init(db):
    User, _Tweet = make_models(db)

    class Member(User):
        def __init__(self, role="guest", **values):
            self.role = role  # before Model.__init__: kept, and not a field
            self.karma = -1  # a field set early: the values given to Model.__init__ win
            super().__init__(**values)
            self.greeting = f"hello {self.username}"

    db.create_tables([Member])
    member = Member(role="admin", username="ann")
    assert (member.role, member.greeting, member.karma) == ("admin", "hello ann", 0)
    assert member.__dict__ == {"role": "admin", "greeting": "hello ann"}
    assert not member.is_dirty()
    member.save()
    loaded = Member.get_by_id(member.id)
    assert (loaded.username, loaded.karma) == ("ann", 0)
    assert not hasattr(loaded, "role")  # loading a row does not run __init__
    member.karma = 5
    assert member.dirty_fields == [Member.karma]


# -- queries ----------------------------------------------------------------------------------
def test_select_where_order_by_limit(db):
    User, Tweet = make_models(db)
    for index, name in enumerate(["dan", "amy", "cat", "bob", "eve"]):
        User.create(username=name, karma=index)
    names = [u.username for u in User.select().order_by(User.username)]
    assert names == ["amy", "bob", "cat", "dan", "eve"]
    assert [u.username for u in User.select().order_by(User.karma.desc()).limit(2)] == ["eve", "bob"]
    assert [u.username for u in User.select().where(User.karma >= 2).order_by(User.karma)] == ["cat", "bob", "eve"]
    assert [u.username for u in User.select().where((User.karma < 1) | (User.username == "eve")).order_by(User.id)] == [
        "dan",
        "eve",
    ]
    assert User.select().where(User.email.is_null()).count() == 5
    assert [u.username for u in User.select().order_by(User.username).limit(2).offset(1)] == ["bob", "cat"]
    assert User.select().where(User.username == "nobody").first() is None
    rows = list(User.select(User.username).where(User.karma == 4).dicts())
    assert rows == [{"username": "eve"}]


def test_query_values_are_parameters(db):
    User, Tweet = make_models(db)
    User.create(username="x'; DROP TABLE tweets; --")
    User.create(username="plain")
    query = User.select().where(User.username == "x'; DROP TABLE tweets; --")
    sql, params = query.sql()
    assert "DROP" not in sql
    assert "x'; DROP TABLE tweets; --" in params
    assert [u.username for u in query] == ["x'; DROP TABLE tweets; --"]
    assert "tweets" in db.get_tables()


# -- optimistic locking -----------------------------------------------------------------------
def test_version_starts_at_one_and_save_bumps_it(db):
    Doc = make_versioned(db)
    doc = Doc.create(title="a")
    assert doc.version == 1
    doc.title = "b"
    doc.save()
    assert doc.version == 2
    doc.body = "c"
    doc.save()
    assert doc.version == 3
    stored = Doc.get_by_id(doc.id)
    assert (stored.title, stored.body, stored.version) == ("b", "c", 3)


def test_version_save_without_changes_does_not_bump(db, count_queries):
    Doc = make_versioned(db)
    doc = Doc.create(title="a")
    with count_queries(db) as counter:
        doc.save()
    assert counter.count == 0
    assert Doc.get_by_id(doc.id).version == 1


def test_stale_save_raises_and_keeps_first_write(db):
    Doc = make_versioned(db)
    doc_id = Doc.create(title="original").id
    first = Doc.get_by_id(doc_id)
    second = Doc.get_by_id(doc_id)
    first.title = "first"
    first.save()
    second.title = "second"
    with pytest.raises(tinyorm.StaleDataError) as info:
        second.save()
    assert isinstance(info.value, tinyorm.ConcurrencyError)
    message = str(info.value)
    assert "Doc" in message
    assert str(doc_id) in message
    stored = Doc.get_by_id(doc_id)
    assert (stored.title, stored.version) == ("first", 2)


def test_stale_save_with_identical_values_still_detected(db):
    """On MySQL rowcount must be rows matched: an UPDATE writing equal values is no conflict,
    but an UPDATE matching no row is."""
    Doc = make_versioned(db)
    doc_id = Doc.create(title="same").id
    first = Doc.get_by_id(doc_id)
    second = Doc.get_by_id(doc_id)
    first.body = "x"
    first.save()
    second.body = "x"  # the same value the other writer stored
    with pytest.raises(tinyorm.StaleDataError):
        second.save()
    assert Doc.get_by_id(doc_id).version == 2


def test_deleting_stale_copy_raises(db):
    Doc = make_versioned(db)
    doc_id = Doc.create(title="a").id
    first = Doc.get_by_id(doc_id)
    stale = Doc.get_by_id(doc_id)
    first.title = "b"
    first.save()
    with pytest.raises(tinyorm.StaleDataError) as info:
        stale.delete_instance()
    assert "Doc" in str(info.value) and str(doc_id) in str(info.value)
    assert Doc.get_by_id(doc_id).title == "b"  # not deleted
    assert first.delete_instance() == 1
    assert Doc.select().count() == 0


def test_stale_messages_distinguish_deleted_from_changed(db):
    Doc = make_versioned(db)
    changed_id = Doc.create(title="c").id
    deleted_id = Doc.create(title="d").id

    a, b = Doc.get_by_id(changed_id), Doc.get_by_id(changed_id)
    a.title = "c2"
    a.save()
    b.title = "c3"
    with pytest.raises(tinyorm.StaleDataError) as changed:
        b.save()

    c, d = Doc.get_by_id(deleted_id), Doc.get_by_id(deleted_id)
    c.delete_instance()
    d.title = "d2"
    with pytest.raises(tinyorm.StaleDataError) as deleted:
        d.save()

    changed_text, deleted_text = str(changed.value), str(deleted.value)
    assert "deleted" in deleted_text
    assert "deleted" not in changed_text
    assert str(changed_id) in changed_text and str(deleted_id) in deleted_text
    assert Doc.select().count() == 1
