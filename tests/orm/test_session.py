"""Session: the identity map, pending sets, transactions, expiry, autoflush and the context
manager, on every backend (the ``db`` fixture)."""

import gc
import weakref

import pytest

import tinyorm
from tinyorm import CharField, ForeignKeyField, IntegerField, Model, Session, TextField

from ._session_helpers import elsewhere, statements


def make_models(db):
    class Base(Model):
        class Meta:
            database = db

    class User(Base):
        username = CharField(max_length=50, unique=True)
        email = CharField(max_length=100, null=True)
        age = IntegerField(default=0)

    class Tweet(Base):
        user = ForeignKeyField(User, backref="tweets", on_delete="CASCADE")
        content = TextField()

    db.create_tables([User, Tweet])
    return User, Tweet


@pytest.fixture
def models(db):
    return make_models(db)


def usernames_elsewhere(db, User):
    return elsewhere(db, lambda: sorted(name for (name,) in User.select(User.username).tuples()))


# -- identity map ---------------------------------------------------------------------------
def test_get_twice_returns_the_same_object_and_the_second_costs_no_sql(db, models, count_queries):
    User, _ = models
    alice = User.create(username="alice")
    s = Session(db)
    with count_queries(db) as first:
        u = s.get(User, alice.id)
    assert first.count == 1
    assert u.username == "alice" and u is not alice
    with count_queries(db) as second:
        again = s.get(User, alice.id)
        for _ in range(100):
            assert s.get(User, alice.id) is u
    assert again is u
    assert second.count == 0
    s.close()


def test_get_coerces_the_key_before_looking_it_up(db, models, count_queries):
    User, _ = models
    alice = User.create(username="alice")
    s = Session(db)
    u = s.get(User, alice.id)
    with count_queries(db) as counter:
        assert s.get(User, str(alice.id)) is u
    assert counter.count == 0
    s.close()


def test_get_of_a_missing_row_returns_none(db, models):
    User, _ = models
    s = Session(db)
    assert s.get(User, 12345) is None
    s.close()


def test_sessions_have_separate_identity_maps(db, models):
    User, _ = models
    alice = User.create(username="alice")
    s1, s2 = Session(db), Session(db)
    assert s1.get(User, alice.id) is not s2.get(User, alice.id)
    s1.close()
    s2.close()


def test_query_results_pass_through_the_identity_map(db, models, count_queries):
    User, _ = models
    ids = [User.create(username=name).id for name in ("a", "b", "c")]
    s = Session(db)
    b = s.get(User, ids[1])
    rows = list(s.query(User).order_by(User.id))
    assert [row.id for row in rows] == ids
    assert rows[1] is b
    # Again: every row is the object already mapped.
    again = list(s.query(User).order_by(User.id))
    assert all(x is y for x, y in zip(rows, again))
    # ...and get() answers from the map for rows a query loaded.
    with count_queries(db) as counter:
        assert s.get(User, ids[0]) is rows[0]
        assert s.get(User, ids[2]) is rows[2]
    assert counter.count == 0
    assert s.query(User).where(User.username == "c").get() is rows[2]
    assert s.query(User).where(User.username == "a").first() is rows[0]
    s.close()


def test_joined_related_objects_pass_through_the_identity_map(db, models, count_queries):
    User, Tweet = models
    alice = User.create(username="alice")
    Tweet.create(user=alice, content="one")
    Tweet.create(user=alice, content="two")
    s = Session(db)
    u = s.get(User, alice.id)
    # ``s.query(model, *columns)`` is ``model.select(*columns)`` through the session, so
    # this is ``Tweet.select(Tweet, User).join(User)``: tweets with their users filled.
    with count_queries(db) as counter:
        tweets = list(s.query(Tweet, Tweet, User).join(User).order_by(Tweet.id))
        assert [t.content for t in tweets] == ["one", "two"]
        assert tweets[0].user is u
        assert tweets[1].user is u
    assert counter.count == 1
    s.close()


def test_query_of_a_model_and_a_joined_model_selects_both(db, models, count_queries):
    # As in SQLAlchemy (and as ``Tweet.select(Tweet, User)``): naming the joined model
    # adds its columns; it does not replace the queried model's own.
    User, Tweet = models
    alice = User.create(username="alice")
    Tweet.create(user=alice, content="one")
    s = Session(db)
    with count_queries(db) as counter:
        tweets = list(s.query(Tweet, User).join(User))
        assert [(t.content, t.user.username) for t in tweets] == [("one", "alice")]
    assert counter.count == 1
    s.close()


def test_a_query_does_not_overwrite_loaded_objects(db, models):
    User, _ = models
    alice = User.create(username="alice", email="old@example.com")
    s = Session(db)
    u = s.get(User, alice.id)
    # Another connection changes the row; the session's object keeps what it loaded...
    elsewhere(db, lambda: User.update(email="new@example.com").where(User.id == alice.id).execute())
    assert s.query(User).where(User.id == alice.id).get() is u
    assert u.email == "old@example.com"
    s.close()


def test_populate_existing_reloads_objects_already_in_the_map(db, models):
    User, _ = models
    alice = User.create(username="alice", email="old@example.com")
    s = Session(db)
    u = s.get(User, alice.id)
    elsewhere(db, lambda: User.update(email="new@example.com").where(User.id == alice.id).execute())
    rows = list(s.query(User).where(User.id == alice.id).populate_existing())
    assert rows == [u] and rows[0] is u
    assert u.email == "new@example.com"
    assert not u.is_dirty() and s.dirty == []
    s.close()


def test_refresh_reloads_the_row_and_discards_unsaved_changes(db, models, count_queries):
    User, _ = models
    alice = User.create(username="alice", email="old@example.com", age=30)
    s = Session(db, autoflush=False)
    u = s.get(User, alice.id)
    u.age = 99
    assert s.dirty == [u]
    elsewhere(db, lambda: User.update(email="new@example.com").where(User.id == alice.id).execute())
    with count_queries(db) as counter:
        assert s.refresh(u) is u
    assert len(statements(counter, "SELECT")) == 1
    assert (u.email, u.age) == ("new@example.com", 30)
    assert s.dirty == []
    assert s.get(User, alice.id) is u
    s.close()


def test_refresh_of_a_deleted_row_raises_does_not_exist(db, models):
    User, _ = models
    alice = User.create(username="alice")
    s = Session(db)
    u = s.get(User, alice.id)
    elsewhere(db, lambda: User.delete().where(User.id == alice.id).execute())
    with pytest.raises(User.DoesNotExist):
        s.refresh(u)
    s.close()


def test_expire_makes_the_next_access_reload(db, models, count_queries):
    User, _ = models
    alice = User.create(username="alice", email="old@example.com")
    s = Session(db)
    u = s.get(User, alice.id)
    elsewhere(db, lambda: User.update(email="new@example.com").where(User.id == alice.id).execute())
    s.expire(u)
    with count_queries(db) as counter:
        assert u.email == "new@example.com"
        assert u.username == "alice"
    assert counter.count == 1
    s.close()


def test_objects_dropped_by_the_user_leave_the_identity_map(db, models, count_queries):
    User, _ = models
    ids = [User.create(username=f"user{n}").id for n in range(50)]
    s = Session(db)
    loaded = list(s.query(User))
    refs = [weakref.ref(obj) for obj in loaded]
    del loaded
    gc.collect()
    assert all(ref() is None for ref in refs), "the session kept clean objects alive"
    # Gone from the map: a get loads the row again.
    with count_queries(db) as counter:
        u = s.get(User, ids[0])
    assert counter.count == 1 and u.username == "user0"
    s.close()


def test_objects_with_pending_changes_are_kept_alive(db, models):
    User, _ = models
    a = User.create(username="a")
    b = User.create(username="b")
    s = Session(db)
    dirty = s.get(User, a.id)
    doomed = s.get(User, b.id)
    dirty.email = "changed@example.com"
    s.delete(doomed)
    s.add(User(username="fresh"))
    refs = [weakref.ref(dirty), weakref.ref(doomed)]
    del dirty, doomed
    gc.collect()
    assert all(ref() is not None for ref in refs), "the session dropped an object with pending changes"
    assert [obj.username for obj in s.dirty] == ["a"]
    assert [obj.username for obj in s.deleted] == ["b"]
    assert [obj.username for obj in s.new] == ["fresh"]
    s.commit()
    assert usernames_elsewhere(db, User) == ["a", "fresh"]
    assert User.get(User.username == "a").email == "changed@example.com"


def test_new_dirty_and_deleted_sets(db, models):
    User, _ = models
    a = User.create(username="a")
    b = User.create(username="b")
    s = Session(db)
    assert (s.new, s.dirty, s.deleted) == ([], [], [])
    ua, ub = s.get(User, a.id), s.get(User, b.id)
    assert (s.new, s.dirty, s.deleted) == ([], [], [])
    fresh = User(username="c")
    s.add(fresh)
    ua.age = 7
    s.delete(ub)
    assert s.new == [fresh]
    assert s.dirty == [ua]
    assert s.deleted == [ub]
    assert fresh in s and ua in s and ub in s
    assert s.get(User, b.id) is None  # pending deletion
    s.flush()
    assert (s.new, s.dirty, s.deleted) == ([], [], [])
    assert fresh.id is not None
    assert s.get(User, fresh.id) is fresh
    assert s.get(User, b.id) is None
    s.commit()


def test_a_value_set_back_to_its_original_is_not_dirty(db, models):
    User, _ = models
    a = User.create(username="a", age=1)
    s = Session(db)
    u = s.get(User, a.id)
    u.age = 2
    assert s.dirty == [u]
    u.age = 1
    assert s.dirty == []
    s.close()


def test_deleting_a_pending_new_object_just_drops_it(db, models, count_queries):
    User, _ = models
    s = Session(db)
    fresh = User(username="never")
    s.add(fresh)
    s.delete(fresh)
    assert s.new == [] and s.deleted == []
    with count_queries(db) as counter:
        s.flush()
    assert counter.count == 0
    s.close()


def test_expunge_stops_tracking_an_object(db, models, count_queries):
    User, _ = models
    a = User.create(username="a")
    s = Session(db)
    u = s.get(User, a.id)
    s.expunge(u)
    assert u not in s
    u.age = 5
    assert s.dirty == []
    with count_queries(db) as counter:
        s.flush()
        other = s.get(User, a.id)
    assert other is not u
    assert statements(counter, "UPDATE") == []
    s.close()


def test_adding_a_loaded_object_attaches_it(db, models):
    User, _ = models
    a = User.create(username="a")
    loaded = User.get_by_id(a.id)
    s = Session(db)
    s.add(loaded)
    assert s.get(User, a.id) is loaded
    loaded.age = 41
    assert s.dirty == [loaded]
    s.commit()
    assert elsewhere(db, lambda: User.get_by_id(a.id).age) == 41


def test_an_object_belongs_to_one_session(db, models):
    User, _ = models
    a = User.create(username="a")
    s1, s2 = Session(db), Session(db)
    u = s1.get(User, a.id)
    with pytest.raises(tinyorm.TinyORMError):
        s2.add(u)
    s1.close()
    s2.close()


# -- transactions -------------------------------------------------------------------------
def test_flush_writes_inside_a_transaction_that_commit_ends(db, models):
    User, _ = models
    s = Session(db)
    s.add(User(username="pending"))
    s.flush()
    assert usernames_elsewhere(db, User) == []  # flushed, not committed
    s.commit()
    assert usernames_elsewhere(db, User) == ["pending"]


def test_commit_flushes_pending_work(db, models):
    User, _ = models
    s = Session(db)
    s.add(User(username="x"))
    s.commit()
    assert usernames_elsewhere(db, User) == ["x"]


def test_rollback_discards_flushed_and_pending_work(db, models):
    User, _ = models
    a = User.create(username="a", age=1)
    s = Session(db)
    u = s.get(User, a.id)
    u.age = 2
    flushed = User(username="flushed")
    s.add(flushed)
    s.flush()
    pending = User(username="pending")
    s.add(pending)
    s.rollback()
    assert (s.new, s.dirty, s.deleted) == ([], [], [])
    # The flushed INSERT was undone: that object is new (unsaved) again.
    assert flushed.id is None
    assert flushed not in s and pending not in s
    # Other objects are expired and reload what the database holds.
    assert u.age == 1
    assert usernames_elsewhere(db, User) == ["a"]
    # The session is usable afterwards.
    s.add(User(username="after"))
    s.commit()
    assert usernames_elsewhere(db, User) == ["a", "after"]


def test_rollback_restores_objects_deleted_by_a_flush(db, models):
    User, _ = models
    a = User.create(username="a")
    s = Session(db)
    u = s.get(User, a.id)
    s.delete(u)
    s.flush()
    assert s.get(User, a.id) is None
    s.rollback()
    assert s.get(User, a.id) is u
    assert u.username == "a"
    s.close()


def test_session_transaction_is_a_savepoint_inside_an_open_transaction(db, models):
    User, _ = models
    with pytest.raises(RuntimeError), db.atomic():
        User.create(username="outer")
        with Session(db) as s:
            s.add(User(username="inner"))
        # The session committed its savepoint; the outer transaction still decides.
        assert sorted(u.username for u in User.select()) == ["inner", "outer"]
        raise RuntimeError("abort the outer transaction")
    assert usernames_elsewhere(db, User) == []


def test_a_session_inside_an_outer_transaction_commits_with_it(db, models):
    User, _ = models
    with db.atomic():
        with Session(db) as s:
            s.add(User(username="inner"))
        assert usernames_elsewhere(db, User) == []
    assert usernames_elsewhere(db, User) == ["inner"]


# -- expiry -------------------------------------------------------------------------------
def test_objects_expire_on_commit_and_reload_on_access(db, models, count_queries):
    User, _ = models
    a = User.create(username="a", email="a@example.com")
    s = Session(db)
    u = s.get(User, a.id)
    u.age = 3
    s.commit()
    elsewhere(db, lambda: User.update(email="other@example.com").where(User.id == a.id).execute())
    with count_queries(db) as counter:
        assert u.email == "other@example.com"
        assert u.age == 3
        assert u.username == "a"
    assert len(statements(counter, "SELECT")) == 1
    assert s.get(User, a.id) is u
    s.close()


def test_new_objects_expire_on_commit_too(db, models, count_queries):
    User, _ = models
    s = Session(db)
    fresh = User(username="fresh")
    s.add(fresh)
    s.commit()
    with count_queries(db) as counter:
        assert fresh.username == "fresh"
        assert fresh.age == 0
    assert len(statements(counter, "SELECT")) == 1


def test_foreign_key_values_reload_after_expiry(db, models, count_queries):
    User, Tweet = models
    alice = User.create(username="alice")
    s = Session(db)
    tweet = Tweet(user=s.get(User, alice.id), content="hi")
    s.add(tweet)
    s.commit()
    with count_queries(db) as counter:
        assert tweet.user_id == alice.id  # the raw key reloads like any other column
    assert len(statements(counter, "SELECT")) == 1
    assert tweet.user is s.get(User, alice.id)
    s.close()


def test_related_objects_reload_after_expiry(db, models):
    User, Tweet = models
    alice = User.create(username="alice")
    tid = Tweet.create(user=alice, content="hi").id
    s = Session(db)
    tweet = s.get(Tweet, tid)
    s.commit()  # nothing to write; the objects are expired all the same
    assert tweet.user is not None
    assert tweet.user is s.get(User, alice.id)
    assert tweet.user.username == "alice"
    s.close()


def test_expire_on_commit_false_keeps_values_without_sql(db, models, count_queries):
    User, _ = models
    a = User.create(username="a", email="a@example.com")
    s = Session(db, expire_on_commit=False)
    u = s.get(User, a.id)
    u.age = 3
    fresh = User(username="fresh")
    s.add(fresh)
    s.commit()
    with count_queries(db) as counter:
        assert (u.username, u.email, u.age) == ("a", "a@example.com", 3)
        assert fresh.username == "fresh" and fresh.id is not None
        assert s.get(User, a.id) is u
    assert counter.count == 0
    s.close()


def test_expire_all_reloads_every_object(db, models, count_queries):
    User, _ = models
    a = User.create(username="a")
    b = User.create(username="b")
    s = Session(db)
    ua, ub = s.get(User, a.id), s.get(User, b.id)
    elsewhere(db, lambda: User.update(age=9).execute())
    s.expire_all()
    with count_queries(db) as counter:
        assert (ua.age, ub.age) == (9, 9)
    assert len(statements(counter, "SELECT")) == 2
    s.close()


# -- autoflush ----------------------------------------------------------------------------
def test_queries_autoflush_pending_changes(db, models, count_queries):
    User, _ = models
    a = User.create(username="a", age=1)
    s = Session(db)
    u = s.get(User, a.id)
    s.add(User(username="b", age=5))
    u.age = 10
    with count_queries(db) as counter:
        names = [x.username for x in s.query(User).where(User.age >= 5).order_by(User.username)]
    assert names == ["a", "b"]
    first_select = next(
        index for index, (sql, _) in enumerate(counter.statements) if sql.lstrip().upper().startswith("SELECT")
    )
    kinds = [sql.lstrip().split()[0].upper() for sql, _ in counter.statements[:first_select]]
    assert "INSERT" in kinds and "UPDATE" in kinds
    assert s.query(User).count() == 2
    s.rollback()
    assert usernames_elsewhere(db, User) == ["a"]


def test_count_autoflushes(db, models):
    User, _ = models
    s = Session(db)
    s.add_all([User(username="a"), User(username="b")])
    assert s.query(User).count() == 2
    s.rollback()


def test_get_of_a_missing_key_autoflushes_first(db, models):
    User, _ = models
    s = Session(db)
    fresh = User(username="fresh")
    s.add(fresh)
    # The tables are new, so the pending row gets key 1 once it is flushed.
    assert s.get(User, 1) is fresh
    assert fresh.id == 1
    s.rollback()


def test_autoflush_false_leaves_pending_work_alone(db, models, count_queries):
    User, _ = models
    s = Session(db, autoflush=False)
    s.add(User(username="b"))
    with count_queries(db) as counter:
        assert list(s.query(User)) == []
    assert statements(counter, "INSERT") == []
    s.commit()
    assert usernames_elsewhere(db, User) == ["b"]


# -- context manager ----------------------------------------------------------------------
def test_context_manager_commits_on_success(db, models):
    User, _ = models
    with Session(db) as s:
        s.add(User(username="kept"))
    assert usernames_elsewhere(db, User) == ["kept"]


def test_context_manager_rolls_back_on_an_exception(db, models):
    User, _ = models
    a = User.create(username="a", age=1)
    with pytest.raises(ZeroDivisionError), Session(db) as s:
        s.add(User(username="dropped"))
        s.get(User, a.id).age = 2
        s.flush()
        raise ZeroDivisionError
    assert usernames_elsewhere(db, User) == ["a"]
    assert User.get_by_id(a.id).age == 1
    assert not db.in_transaction()


def test_context_manager_closes_the_session(db, models):
    User, _ = models
    a = User.create(username="a")
    with Session(db) as s:
        u = s.get(User, a.id)
    assert u not in s
    assert (s.new, s.dirty, s.deleted) == ([], [], [])
    assert not db.in_transaction()
    # A closed session can be used again as an empty one.
    assert s.get(User, a.id) is not u
    s.close()


def test_context_manager_error_in_commit_propagates_and_rolls_back(db, models):
    User, _ = models
    User.create(username="taken")
    with pytest.raises(tinyorm.IntegrityError), Session(db) as s:
        s.add(User(username="ok"))
        s.add(User(username="taken"))
    assert usernames_elsewhere(db, User) == ["taken"]
    assert not db.in_transaction()
