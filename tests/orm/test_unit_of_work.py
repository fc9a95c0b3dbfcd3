"""The unit of work: change tracking, the SQL a flush sends, flush ordering over the
foreign-key graph, batching, new keys, atomic flushes and relations in the session, on every
backend (the ``db`` fixture)."""

import itertools

import pytest

import tinyorm
import tinyorm.unitofwork
from tinyorm import CharField, ForeignKeyField, IntegerField, Model, Session, TextField

from ._session_helpers import elsewhere, statements, verbs

_unique = itertools.count()


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

    # A three-level chain with plain (NO ACTION) foreign keys: the order of writes matters.
    class Blog(Base):
        title = CharField(max_length=50)

    class Post(Base):
        blog = ForeignKeyField(Blog, backref="posts")
        title = CharField(max_length=50)

    class Comment(Base):
        post = ForeignKeyField(Post, backref="comments")
        body = CharField(max_length=50)

    class Node(Base):
        name = CharField(max_length=20)
        parent = ForeignKeyField("self", null=True, backref="children")

    db.create_tables([User, Tweet, Blog, Post, Comment, Node])
    return User, Tweet, Blog, Post, Comment, Node


@pytest.fixture
def models(db):
    return make_models(db)


def table_rows(db, model, *columns, order_by=None):
    """Rows of ``model`` as seen from another connection (committed data only)."""
    order = order_by if order_by is not None else model._meta.primary_key
    return elsewhere(db, lambda: list(model.select(*columns).order_by(order).tuples()))


def insert_order(counter, db):
    """Table names in the order the counter saw INSERTs into them."""
    names = []
    for sql in statements(counter, "INSERT"):
        table = sql.split("INTO", 1)[1].split()[0]
        names.append(table)
    return [name.strip('"`') for name in names]


def delete_order(counter, db):
    names = []
    for sql in statements(counter, "DELETE"):
        table = sql.split("FROM", 1)[1].split()[0]
        names.append(table.strip('"`'))
    return names


# -- change tracking and the SQL of a flush ---------------------------------------------------
def test_update_writes_only_the_changed_columns(db, models, count_queries):
    User = models[0]
    a = User.create(username="alice", email="a@example.com", age=30)
    s = Session(db)
    u = s.get(User, a.id)
    u.email = "new@example.com"
    with count_queries(db) as counter:
        s.flush()
    updates = statements(counter, "UPDATE")
    assert len(updates) == 1
    quote = db.dialect.quote
    assert quote("email") in updates[0]
    assert quote("username") not in updates[0]
    assert quote("age") not in updates[0]
    params = [
        p for sql, params in counter.statements if sql.lstrip().upper().startswith("UPDATE") for p in (params or [])
    ]
    flat = [value for item in params for value in (item if isinstance(item, (list, tuple)) else [item])]
    assert "new@example.com" in flat and "alice" not in flat and 30 not in flat
    assert set(verbs(counter)) <= {"BEGIN", "SAVEPOINT", "UPDATE", "RELEASE", "START"}
    s.commit()
    assert table_rows(db, User, User.username, User.email, User.age) == [("alice", "new@example.com", 30)]


def test_a_flush_with_nothing_to_do_sends_no_sql(db, models, count_queries):
    User = models[0]
    a = User.create(username="alice", age=1)
    s = Session(db)
    u = s.get(User, a.id)
    list(s.query(User))
    with count_queries(db) as counter:
        s.flush()
    assert counter.statements == []
    # Writing a value equal to the loaded one is not a change.
    u.age = 1
    u.username = "alice"
    with count_queries(db) as counter:
        s.flush()
    assert counter.statements == []
    # After a real flush, the next one is clean again.
    u.age = 2
    s.add(User(username="bob"))
    s.flush()
    with count_queries(db) as counter:
        s.flush()
        s.flush()
    assert counter.statements == []
    s.commit()
    with count_queries(db) as counter:
        s.flush()
        s.commit()
    assert statements(counter, "INSERT") == statements(counter, "UPDATE") == []
    assert statements(counter, "BEGIN") == []


def test_a_change_reverted_before_the_flush_sends_no_sql(db, models, count_queries):
    User = models[0]
    a = User.create(username="alice", age=1)
    s = Session(db)
    u = s.get(User, a.id)
    u.age = 5
    u.age = 1
    with count_queries(db) as counter:
        s.flush()
    assert counter.statements == []
    s.close()


# -- flush ordering -----------------------------------------------------------------------
def test_inserts_parents_before_children_when_added_children_first(db, models, count_queries):
    _, _, Blog, Post, Comment, _ = models
    blog = Blog(title="b")
    post = Post(blog=blog, title="p")
    comment = Comment(post=post, body="c")
    s = Session(db, expire_on_commit=False)  # the keys are checked in memory after commit
    s.add(comment)
    s.add(post)
    s.add(blog)
    with count_queries(db) as counter:
        s.commit()
    assert insert_order(counter, db) == ["blog", "post", "comment"]
    assert post.blog_id == blog.id and comment.post_id == post.id
    assert table_rows(db, Post, Post.id, Post.blog) == [(post.id, blog.id)]
    assert table_rows(db, Comment, Comment.id, Comment.post) == [(comment.id, post.id)]


def test_parents_only_reachable_from_new_children_are_inserted_too(db, models):
    _, _, Blog, Post, Comment, _ = models
    s = Session(db, expire_on_commit=False)  # the keys are checked in memory after commit
    comments = [Comment(post=Post(blog=Blog(title=f"b{n}"), title=f"p{n}"), body=f"c{n}") for n in range(3)]
    s.add_all(comments)
    s.commit()
    assert len(table_rows(db, Blog, Blog.id)) == 3
    rows = table_rows(db, Comment, Comment.body, Comment.post)
    assert rows == [(c.body, c.post_id) for c in comments]
    assert all(c.post_id is not None for c in comments)


def test_inserts_a_self_referential_chain_parents_first(db, models):
    Node = models[5]
    nodes = [Node(name="n0")]
    for number in range(1, 6):
        nodes.append(Node(name=f"n{number}", parent=nodes[-1]))
    s = Session(db)
    s.add_all(reversed(nodes))
    s.commit()
    rows = dict(table_rows(db, Node, Node.name, Node.parent))
    names = {node.id: node.name for node in nodes}
    assert rows["n0"] is None
    for number in range(1, 6):
        assert names[rows[f"n{number}"]] == f"n{number - 1}"


def test_inserts_a_nullable_cycle_between_two_rows(db, models):
    Node = models[5]
    first = Node(name="first")
    second = Node(name="second", parent=first)
    first.parent = second
    s = Session(db, expire_on_commit=False)  # the keys are checked in memory after commit
    s.add_all([first, second])
    s.commit()
    assert first.parent_id == second.id and second.parent_id == first.id
    rows = dict(table_rows(db, Node, Node.name, Node.parent))
    assert rows == {"first": second.id, "second": first.id}


def test_inserts_a_nullable_cycle_between_two_models(db):
    # Unique class names: a string reference is resolved by class name.
    number = next(_unique)

    class Base(Model):
        class Meta:
            database = db

    Employee = type(
        f"Employee{number}",
        (Base,),
        {
            "__module__": __name__,
            "name": CharField(max_length=20),
            "desk": ForeignKeyField(f"Desk{number}", null=True, backref="+"),
            "Meta": type("Meta", (), {"table_name": "employee"}),
        },
    )
    Desk = type(
        f"Desk{number}",
        (Base,),
        {
            "__module__": __name__,
            "label": CharField(max_length=20),
            "owner": ForeignKeyField(Employee, null=True, backref="+"),
            "Meta": type("Meta", (), {"table_name": "desk"}),
        },
    )
    db.create_tables([Employee, Desk])
    employee = Employee(name="ann")
    desk = Desk(label="d1", owner=employee)
    employee.desk = desk
    s = Session(db)
    s.add(employee)
    s.commit()
    assert table_rows(db, Employee, Employee.name, Employee.desk) == [("ann", desk.id)]
    assert table_rows(db, Desk, Desk.label, Desk.owner) == [("d1", employee.id)]


def test_a_cycle_of_required_references_is_refused_without_writing(db, models):
    Blog = models[2]
    number = next(_unique)

    class Base(Model):
        class Meta:
            database = db

    Chicken = type(
        f"Chicken{number}",
        (Base,),
        {
            "__module__": __name__,
            "egg": ForeignKeyField(f"Egg{number}", backref="+"),
            "Meta": type("Meta", (), {"table_name": "chicken"}),
        },
    )
    Egg = type(
        f"Egg{number}",
        (Base,),
        {
            "__module__": __name__,
            "chicken": ForeignKeyField(Chicken, backref="+"),
            "Meta": type("Meta", (), {"table_name": "egg"}),
        },
    )
    db.create_tables([Chicken, Egg])
    chicken = Chicken()
    egg = Egg(chicken=chicken)
    chicken.egg = egg
    s = Session(db)
    s.add(Blog(title="not written"))
    s.add(chicken)
    with pytest.raises(tinyorm.FlushError, match="cycle") as raised:
        s.flush()
    assert isinstance(raised.value, tinyorm.TinyORMError)
    assert tinyorm.unitofwork.FlushError is tinyorm.FlushError  # its old home still works
    s.rollback()
    assert table_rows(db, Blog, Blog.id) == []
    assert table_rows(db, Chicken, Chicken.id) == []
    s.add(Blog(title="usable again"))
    s.commit()
    assert table_rows(db, Blog, Blog.title) == [("usable again",)]


def test_deletes_children_before_parents(db, models, count_queries):
    _, _, Blog, Post, Comment, _ = models
    blog = Blog.create(title="b")
    post = Post.create(blog=blog, title="p")
    comment = Comment.create(post=post, body="c")
    s = Session(db)
    loaded = [s.get(Blog, blog.id), s.get(Post, post.id), s.get(Comment, comment.id)]
    # Marked parents first: the flush must still delete the children first.
    for obj in loaded:
        s.delete(obj)
    with count_queries(db) as counter:
        s.commit()
    assert delete_order(counter, db) == ["comment", "post", "blog"]
    assert table_rows(db, Blog, Blog.id) == table_rows(db, Post, Post.id) == table_rows(db, Comment, Comment.id) == []


def test_deletes_a_self_referential_chain_children_first(db, models):
    Node = models[5]
    root = Node.create(name="root")
    middle = Node.create(name="middle", parent=root)
    leaf = Node.create(name="leaf", parent=middle)
    s = Session(db)
    loaded = [s.get(Node, node.id) for node in (root, middle, leaf)]
    for node in loaded:
        s.delete(node)
    s.commit()
    assert table_rows(db, Node, Node.id) == []


def test_inserts_updates_and_deletes_in_one_flush(db, models):
    _, _, Blog, Post, _, _ = models
    old_blog = Blog.create(title="old")
    old_post = Post.create(blog=old_blog, title="old post")
    s = Session(db)
    new_blog = Blog(title="new")
    moved = s.get(Post, old_post.id)
    doomed = s.get(Blog, old_blog.id)
    moved.blog = new_blog
    s.add(new_blog)
    s.delete(doomed)
    s.commit()
    assert table_rows(db, Blog, Blog.title) == [("new",)]
    assert table_rows(db, Post, Post.title, Post.blog) == [("old post", new_blog.id)]


# -- batching and new keys ----------------------------------------------------------------
def test_new_objects_of_one_model_are_inserted_by_one_statement(db, models, count_queries):
    User = models[0]
    users = [User(username=f"user{n}", age=n) for n in range(25)]
    s = Session(db)
    s.add_all(users)
    with count_queries(db) as counter:
        s.flush()
    inserts = statements(counter, "INSERT")
    if db.dialect.returning_insert:
        assert len(inserts) == 1
    else:
        assert len(inserts) == len(users)
    s.commit()
    ids = [u.id for u in users]
    assert None not in ids and len(set(ids)) == len(ids)
    assert table_rows(db, User, User.id, User.username) == [(u.id, u.username) for u in users]


def test_a_large_insert_is_batched_and_every_key_assigned(db, models, count_queries):
    User = models[0]
    users = [User(username=f"user{n}", email=f"u{n}@example.com", age=n) for n in range(2500)]
    s = Session(db)
    s.add_all(users)
    with count_queries(db) as counter:
        s.commit()
    inserts = statements(counter, "INSERT")
    if db.dialect.returning_insert:
        assert 1 <= len(inserts) <= 10
    rows = table_rows(db, User, User.id, User.username)
    assert rows == [(u.id, u.username) for u in users]


def test_new_children_get_the_keys_of_their_new_parents(db, models, count_queries):
    User, Tweet = models[:2]
    users = [User(username=f"user{n}") for n in range(10)]
    tweets = [Tweet(user=user, content=f"tweet {n}") for n, user in enumerate(users)]
    s = Session(db, expire_on_commit=False)  # the keys are checked in memory after commit
    s.add_all(tweets)
    with count_queries(db) as counter:
        s.commit()
    assert insert_order(counter, db)[:1] == ["user"]
    if db.dialect.returning_insert:
        assert len(statements(counter, "INSERT")) == 2
    assert [t.user_id for t in tweets] == [u.id for u in users]
    assert table_rows(db, Tweet, Tweet.content, Tweet.user) == [(t.content, t.user_id) for t in tweets]


def test_dirty_objects_with_the_same_changed_column_share_one_update(db, models, count_queries):
    User = models[0]
    for n in range(30):
        User.create(username=f"user{n}", age=n)
    s = Session(db)
    users = list(s.query(User).order_by(User.id))
    for user in users:
        user.age += 100
    with count_queries(db) as counter:
        s.flush()
    assert len(statements(counter, "UPDATE")) == 1
    s.commit()
    assert table_rows(db, User, User.age) == [(n + 100,) for n in range(30)]


def test_updates_are_grouped_by_changed_columns(db, models, count_queries):
    User = models[0]
    for n in range(20):
        User.create(username=f"user{n}", age=n)
    s = Session(db)
    users = list(s.query(User).order_by(User.id))
    for user in users[:10]:
        user.age = -user.age
    for user in users[10:]:
        user.email = f"{user.username}@example.com"
    with count_queries(db) as counter:
        s.commit()
    assert len(statements(counter, "UPDATE")) == 2
    rows = table_rows(db, User, User.age, User.email)
    assert rows[:10] == [(-n, None) for n in range(10)]
    assert rows[10:] == [(n, f"user{n}@example.com") for n in range(10, 20)]


def test_deletes_of_one_model_share_one_statement(db, models, count_queries):
    User = models[0]
    ids = [User.create(username=f"user{n}").id for n in range(20)]
    s = Session(db)
    for user in s.query(User).where(User.id.in_(ids[:15])):
        s.delete(user)
    with count_queries(db) as counter:
        s.commit()
    assert len(statements(counter, "DELETE")) == 1
    assert table_rows(db, User, User.id) == [(pk,) for pk in ids[15:]]


# -- atomic flushes -----------------------------------------------------------------------
def test_a_flush_failing_on_its_last_statement_leaves_nothing_behind(db, models, count_queries):
    User = models[0]
    User.create(username="taken")
    b = User.create(username="b", age=1)
    s = Session(db)
    existing = s.get(User, b.id)
    fresh = [User(username=f"new{n}") for n in range(3)]
    s.add_all(fresh)
    existing.age = 2
    existing.username = "taken"  # the UPDATE, after the INSERTs, violates the unique key
    with count_queries(db) as counter, pytest.raises(tinyorm.IntegrityError):
        s.flush()
    writes = [verb for verb in verbs(counter) if verb in ("INSERT", "UPDATE", "DELETE")]
    assert writes[-1] == "UPDATE" and "INSERT" in writes
    # Seen from another connection, nothing of that flush exists.
    assert table_rows(db, User, User.username, User.age) == [("taken", 0), ("b", 1)]
    # The objects are not left half-flushed either.
    assert [u.id for u in fresh] == [None, None, None]
    s.rollback()
    assert (s.new, s.dirty, s.deleted) == ([], [], [])
    # rollback() makes the session usable again.
    assert existing.username == "b"
    existing.age = 3
    s.add(User(username="after"))
    s.commit()
    assert table_rows(db, User, User.username, User.age) == [("taken", 0), ("b", 3), ("after", 0)]


def test_a_failed_flush_leaves_earlier_flushes_and_the_session_can_go_on(db, models):
    User = models[0]
    User.create(username="taken")
    s = Session(db)
    s.add(User(username="first"))
    s.flush()
    clash = User(username="taken")
    s.add(User(username="second"))
    s.add(clash)
    with pytest.raises(tinyorm.IntegrityError):
        s.flush()
    # Still pending; fix the clash and go on in the same transaction.
    assert clash in s.new
    clash.username = "third"
    s.commit()
    assert sorted(name for (name,) in table_rows(db, User, User.username)) == ["first", "second", "taken", "third"]


def test_a_failing_batch_insert_writes_none_of_its_rows(db, models):
    User = models[0]
    User.create(username="dup")
    users = [User(username=f"user{n}") for n in range(5)] + [User(username="dup")] + [User(username="last")]
    s = Session(db)
    s.add_all(users)
    with pytest.raises(tinyorm.IntegrityError):
        s.commit()
    assert table_rows(db, User, User.username) == [("dup",)]
    assert all(u.id is None for u in users)
    s.rollback()
    assert s.new == []


def test_a_failed_delete_flush_restores_nothing_deleted(db, models):
    _, _, Blog, Post, _, _ = models
    keep = Blog.create(title="keep")
    lonely = Blog.create(title="lonely")
    Post.create(blog=keep, title="p")
    s = Session(db)
    loaded = [s.get(Blog, lonely.id), s.get(Blog, keep.id)]
    for blog in loaded:  # "keep" is still referenced by a post: NO ACTION refuses
        s.delete(blog)
    with pytest.raises(tinyorm.IntegrityError):
        s.flush()
    assert table_rows(db, Blog, Blog.title) == [("keep",), ("lonely",)]
    s.rollback()
    assert s.get(Blog, keep.id).title == "keep"
    s.close()


# -- relations in the session -------------------------------------------------------------
def test_assigning_a_new_parent_to_a_loaded_child_inserts_the_parent_first(db, models, count_queries):
    User, Tweet = models[:2]
    alice = User.create(username="alice")
    tweet = Tweet.create(user=alice, content="hi")
    s = Session(db)
    t = s.get(Tweet, tweet.id)
    bob = User(username="bob")
    t.user = bob
    with count_queries(db) as counter:
        s.commit()
    assert bob.id is not None
    assert [verb for verb in verbs(counter) if verb in ("INSERT", "UPDATE")] == ["INSERT", "UPDATE"]
    assert table_rows(db, Tweet, Tweet.content, Tweet.user) == [("hi", bob.id)]
    assert s.get(User, bob.id) is bob


def test_a_new_parent_assigned_through_a_nullable_key_is_not_lost(db, models):
    # With a nullable key a missed parent would not even fail: the reference would
    # silently be written as NULL.
    Node = models[5]
    child_id = Node.create(name="child").id
    s = Session(db, expire_on_commit=False)
    child = s.get(Node, child_id)
    parent = Node(name="parent")
    child.parent = parent
    s.commit()
    assert parent.id is not None
    assert dict(table_rows(db, Node, Node.name, Node.parent)) == {"child": parent.id, "parent": None}


def test_a_new_child_brings_its_new_parent_into_the_session(db, models):
    User, Tweet = models[:2]
    bob = User(username="bob")
    tweet = Tweet(user=bob, content="hi")
    s = Session(db, expire_on_commit=False)
    s.add(tweet)
    s.commit()
    assert tweet.user_id == bob.id is not None
    assert s.get(User, bob.id) is bob
    assert s.get(Tweet, tweet.id) is tweet
    assert table_rows(db, Tweet, Tweet.content, Tweet.user) == [("hi", bob.id)]


def test_deleting_a_parent_removes_its_cascaded_children_from_the_session(db, models):
    User, Tweet = models[:2]
    alice = User.create(username="alice")
    other = User.create(username="other")
    ids = [Tweet.create(user=alice, content=f"t{n}").id for n in range(3)]
    kept = Tweet.create(user=other, content="kept")
    s = Session(db)
    u = s.get(User, alice.id)
    tweets = [s.get(Tweet, pk) for pk in ids]
    survivor = s.get(Tweet, kept.id)
    s.delete(u)
    s.commit()
    for tweet in tweets:
        assert tweet not in s
    assert survivor in s
    assert all(s.get(Tweet, pk) is None for pk in ids)
    assert u not in s and s.get(User, alice.id) is None
    assert table_rows(db, Tweet, Tweet.content) == [("kept",)]


def test_cascaded_children_leave_the_map_as_soon_as_the_flush_runs(db, models, count_queries):
    User, Tweet = models[:2]
    alice = User.create(username="alice")
    tid = Tweet.create(user=alice, content="t").id
    s = Session(db)
    tweet = s.get(Tweet, tid)
    s.delete(s.get(User, alice.id))
    s.flush()
    assert tweet not in s
    with count_queries(db) as counter:
        assert s.get(Tweet, tid) is None
    assert counter.count == 1  # asked the database, which no longer has the row
    s.rollback()


def test_lazy_loads_go_through_the_session(db, models, count_queries):
    User, Tweet = models[:2]
    alice = User.create(username="alice")
    tid = Tweet.create(user=alice, content="hi").id
    s = Session(db)
    tweet = s.get(Tweet, tid)
    user = tweet.user
    assert user is s.get(User, alice.id)
    assert user in s
    # A parent already in the map costs no SQL.
    other = s.get(Tweet, Tweet.create(user=alice, content="again").id)
    with count_queries(db) as counter:
        assert other.user is user
    assert counter.count == 0
    s.close()


def test_backrefs_of_session_objects_go_through_the_session(db, models):
    User, Tweet = models[:2]
    alice = User.create(username="alice")
    tid = Tweet.create(user=alice, content="hi").id
    s = Session(db)
    tweet = s.get(Tweet, tid)
    user = s.get(User, alice.id)
    [loaded] = list(user.tweets)
    assert loaded == tweet
    assert loaded is tweet
    s.close()


def test_a_changed_foreign_key_is_written_and_reloads_the_new_parent(db, models):
    User, Tweet = models[:2]
    alice = User.create(username="alice")
    bob = User.create(username="bob")
    tid = Tweet.create(user=alice, content="hi").id
    s = Session(db)
    tweet = s.get(Tweet, tid)
    new_owner = s.get(User, bob.id)
    assert tweet.user.username == "alice"
    tweet.user = new_owner
    assert tweet.user is new_owner
    s.commit()
    assert table_rows(db, Tweet, Tweet.user) == [(bob.id,)]
    assert tweet.user is s.get(User, bob.id)
