"""Five query-builder traps a peewee user walks into (issue 13), each on every engine.

1. a foreign key given as ``join(..., on=fk)`` joins along it;
2. a model query used as a one-column subquery selects the key the column refers to;
3. ``ForeignKeyField("Name")`` resolves in the declaring module, ``"module.Name"`` elsewhere;
4. ``JSONField == [...]`` is one JSON value and ``contains`` is JSON containment;
5. a model in ``group_by``/``order_by``/``distinct`` stands for its columns.
"""

import pytest

import tinyorm
from tinyorm import JOIN, CharField, ForeignKeyField, JSONField, Model, TextField, fn
from tinyorm.exceptions import FieldError, ImproperlyConfigured, NotSupportedError

from ..conftest import requires


class User(Model):
    username = CharField(max_length=40, unique=True)


class Relationship(Model):
    from_user = ForeignKeyField(User, backref="relationships")
    to_user = ForeignKeyField(User, backref="related_to")


class Message(Model):
    user = ForeignKeyField(User, backref="messages")
    content = TextField()


class Doc(Model):
    tags = JSONField(default=list)


MODELS = [User, Relationship, Message, Doc]


@pytest.fixture
def twitter(db):
    for model in MODELS:
        model.bind(db)
    db.create_tables(MODELS)
    users = {name: User.create(username=name) for name in ("alice", "bob", "carol", "dave")}
    for follower, followed in [("alice", "bob"), ("alice", "carol"), ("bob", "carol")]:
        Relationship.create(from_user=users[follower], to_user=users[followed])
    for name, count in [("alice", 2), ("bob", 1), ("carol", 3)]:
        for number in range(count):
            Message.create(user=users[name], content=f"{name} {number}")
    return users


# -- 1. a foreign key as on= ---------------------------------------------------------------------
def test_foreign_key_as_on_joins_along_it(twitter):
    following = (
        User.select()
        .join(Relationship, on=Relationship.to_user)
        .where(Relationship.from_user == twitter["alice"])
        .order_by(User.username)
    )
    assert [user.username for user in following] == ["bob", "carol"]
    followers = (
        User.select()
        .join(Relationship, on=Relationship.from_user)
        .where(Relationship.to_user == twitter["carol"])
        .order_by(User.username)
    )
    assert [user.username for user in followers] == ["alice", "bob"]


def test_foreign_key_as_on_forward_and_with_an_alias(twitter):
    rows = (
        Relationship.select(Relationship, User)
        .join(User, on=Relationship.to_user)
        .where(Relationship.from_user == twitter["alice"])
        .order_by(User.username)
    )
    assert [rel.to_user.username for rel in rows] == ["bob", "carol"]  # linked, no extra query
    Follower = User.alias("follower")
    rows = (
        Relationship.select(Relationship.id, Follower.username)
        .join(Follower, on=Relationship.from_user)
        .where(Relationship.to_user == twitter["carol"])
        .order_by(Follower.username)
        .tuples()
    )
    assert [name for _id, name in rows] == ["alice", "bob"]


def test_a_foreign_key_linking_neither_side_is_refused(twitter):
    with pytest.raises(FieldError, match="links Message to User"):
        Relationship.select().join(Doc, on=Message.user)


# -- 2. a model query as a one-column subquery ---------------------------------------------------
def test_model_query_in_subquery_selects_its_key(twitter):
    active = User.select().where(User.username.in_(["alice", "carol"]))
    messages = Message.select().where(Message.user.in_(active)).order_by(Message.content)
    assert [m.content for m in messages] == ["alice 0", "alice 1", "carol 0", "carol 1", "carol 2"]
    sql, _params = Message.select().where(Message.user.in_(active)).sql()
    assert "IN (SELECT" in sql and sql.count("username") == 1  # the key alone inside, not every column
    assert [m.content for m in Message.select().where(Message.user.not_in(active))] == ["bob 0"]
    one = User.select().where(User.username == "bob")
    assert [m.content for m in Message.select().where(Message.user == one)] == ["bob 0"]


def test_a_many_column_subquery_is_refused_with_the_fix(twitter):
    with pytest.raises(FieldError, match=r"must select one column.*Message.user"):
        User.id.in_(Message.select(Message.user, Message.content))


# -- 3. ForeignKeyField("Name") per declaring module ------------------------------------------------
def _model(class_name, module, **fields):
    return type(class_name, (Model,), {"__module__": module, **fields})


def _module(db, name):
    """A module name of this test run's own, so runs on other backends start afresh."""
    return f"{db.dialect.name}_{name}"


def test_bare_name_resolves_in_the_declaring_module(db):
    plugin_user = _model("Author", _module(db, "plugin_one.models"), name=CharField())
    app_user = _model("Author", _module(db, "app_one.models"), name=CharField())
    post = _model("Post", _module(db, "app_one.models"), author=ForeignKeyField("Author"))
    assert post.author.rel_model is app_user
    later = _model("Comment", _module(db, "app_one.models"), author=ForeignKeyField("Reviewer"))
    reviewer = _model("Reviewer", _module(db, "app_one.models"), name=CharField())
    assert later.author.rel_model is reviewer
    dotted = _model(
        "Page", _module(db, "app_two.models"), author=ForeignKeyField(_module(db, "plugin_one.models.Author"))
    )
    assert dotted.author.rel_model is plugin_user
    for model in (plugin_user, app_user, post):
        model.bind(db)
    db.create_tables([plugin_user, app_user, post])
    author = app_user.create(name="ann")
    post.create(author=author)
    assert post.select().join(app_user).where(app_user.name == "ann").count() == 1


def test_unresolvable_and_ambiguous_names_name_the_candidates(db):
    # Kept referenced: the registry holds models weakly, as an application's modules do.
    editors = [_model("Editor", _module(db, f"{site}.models"), name=CharField()) for site in ("site_a", "site_b")]
    orphan = _model("Draft", _module(db, "site_c.views"), editor=ForeignKeyField("Editor"))
    orphan.bind(db)
    with pytest.raises(ImproperlyConfigured, match=r"site_a\.models\.Editor.*site_b\.models\.Editor"):
        db.create_tables([orphan])
    with pytest.raises(ImproperlyConfigured, match="no model"):
        orphan.select().where(orphan.editor == 1).sql()
    with pytest.raises(ImproperlyConfigured, match="ambiguous"):
        _model("Note", _module(db, "site_c.views"), editor=ForeignKeyField("models.Editor"))
    fine = _model("Memo", _module(db, "site_c.views"), editor=ForeignKeyField(_module(db, "site_b.models.Editor")))
    assert fine.editor.rel_model is editors[1]


# -- 4. JSONField equality and containment ---------------------------------------------------------
def test_json_equality_is_one_value_and_contains_is_containment(twitter):
    first = Doc.create(tags=["python", "orm"])
    Doc.create(tags=["pythonista"])
    Doc.create(tags=[])
    assert [d.id for d in Doc.select().where(Doc.tags == ["python", "orm"])] == [first.id]
    assert Doc.select().where(Doc.tags != ["python", "orm"]).count() == 2
    assert [d.id for d in Doc.select().where(Doc.tags.contains("python"))] == [first.id]
    assert [d.id for d in Doc.select().where(Doc.tags.contains(["orm", "python"]))] == [first.id]
    assert Doc.select().where(Doc.tags == []).count() == 1


# -- 5. a model in group_by / order_by / distinct ---------------------------------------------------
def test_group_by_a_model_means_its_columns(twitter):
    counts = (
        User.select(User, fn.COUNT(Message.id).alias("n")).join(Message, JOIN.LEFT_OUTER).group_by(User).order_by(User)
    )
    assert [(user.username, user.n) for user in counts] == [("alice", 2), ("bob", 1), ("carol", 3), ("dave", 0)]


def test_order_by_a_model_alias_means_its_key(twitter):
    Sender = User.alias("sender")
    rows = Message.select(Message.content).join(Sender, on=Message.user).order_by(Sender, Message.content).tuples()
    assert [content for (content,) in rows][:3] == ["alice 0", "alice 1", "bob 0"]


def test_distinct_on_a_model(twitter, db):
    query = Message.select(Message.user, Message.content).distinct(Message.user).order_by(Message.user, Message.content)
    if not db.dialect.supports_distinct_on:
        with pytest.raises(NotSupportedError, match="DISTINCT ON"):
            list(query)
        return
    assert [m.content for m in query] == ["alice 0", "bob 0", "carol 0"]


@requires("supports_distinct_on")
def test_distinct_on_a_whole_model(twitter):
    rows = User.select(User).join(Message).distinct(User).order_by(User)
    assert [user.username for user in rows] == ["alice", "bob", "carol"]


def test_model_in_group_by_compiles_to_columns_everywhere():
    for dialect in (tinyorm.dialects.SqliteDialect(), tinyorm.dialects.PostgresDialect()):
        sql, params = User.select(fn.COUNT(Message.id)).join(Message).group_by(User).sql(dialect)
        assert 'GROUP BY "user"."id", "user"."username"' in sql and params == []
