"""The query builder's behaviour on every backend, against a small known dataset.

users:  alice (30, email), bob (25), carol (35, email), dave (40) -- dave has no tweets
tweets: alice "hello world" 5, alice "alice again" 10, bob "bob here" 3,
        carol "carol one" 7, carol "carol two" 1, carol "carol three" 0
likes:  bob -> tweet 1, carol -> tweet 1, alice -> tweet 3
categories: root > (a > a1 > a1x), (b); other (a second root)
"""

import types

import pytest

import tinyorm
from tinyorm import (
    JOIN,
    SQL,
    Case,
    CharField,
    ForeignKeyField,
    IntegerField,
    Model,
    TextField,
    fn,
)

from ..conftest import requires


class User(Model):
    username = CharField(max_length=50, unique=True)
    email = CharField(null=True)
    age = IntegerField()

    class Meta:
        table_name = "users"  # so the hostile "'; DROP TABLE users; --" has a target


class Tweet(Model):
    user = ForeignKeyField(User, backref="tweets", on_delete="CASCADE")
    content = TextField()
    likes = IntegerField(default=0)

    class Meta:
        table_name = "tweets"


class Like(Model):
    user = ForeignKeyField(User, backref="likes_given")
    tweet = ForeignKeyField(Tweet, backref="likes_received")


class Category(Model):
    title = CharField()
    parent = ForeignKeyField("self", null=True, backref="children")


class Note(Model):
    text = TextField()


MODELS = [User, Tweet, Like, Category, Note]

USERS = [
    ("alice", "alice@example.com", 30),
    ("bob", None, 25),
    ("carol", "carol@example.com", 35),
    ("dave", None, 40),
]
TWEETS = [
    ("alice", "hello world", 5),
    ("alice", "alice again", 10),
    ("bob", "bob here", 3),
    ("carol", "carol one", 7),
    ("carol", "carol two", 1),
    ("carol", "carol three", 0),
]


@pytest.fixture
def data(db):
    for model in MODELS:
        model.bind(db)
    db.create_tables(MODELS)
    User.insert_many(USERS, fields=[User.username, User.email, User.age]).execute()
    uid = {u.username: u.id for u in User.select()}
    Tweet.insert_many(
        [(uid[name], content, likes) for name, content, likes in TWEETS],
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
    cid = {}
    for title, parent in [
        ("root", None),
        ("a", "root"),
        ("b", "root"),
        ("a1", "a"),
        ("a1x", "a1"),
        ("other", None),
    ]:
        cid[title] = Category.insert(title=title, parent=cid.get(parent)).execute()
    return types.SimpleNamespace(db=db, uid=uid, tid=tid, cid=cid)


def names(rows):
    return sorted(row.username for row in rows)


# -- joins ----------------------------------------------------------------------------------


def test_inner_join_through_foreign_key(data):
    rows = (
        Tweet.select(Tweet.content, User.username)
        .join(User)
        .where(User.username == "alice")
        .order_by(Tweet.id)
        .tuples()
    )
    assert list(rows) == [("hello world", "alice"), ("alice again", "alice")]


def test_left_outer_join_keeps_unmatched_rows(data):
    rows = (
        User.select(User.username, fn.COUNT(Tweet.id).alias("n"))
        .join(Tweet, JOIN.LEFT_OUTER)
        .group_by(User.username)
        .order_by(User.username)
        .tuples()
    )
    assert list(rows) == [("alice", 2), ("bob", 1), ("carol", 3), ("dave", 0)]


def test_join_with_on_expression(data):
    rows = (
        User.select(User.username, Tweet.content)
        .join(Tweet, on=((Tweet.user == User.id) & (Tweet.likes > 4)))
        .order_by(Tweet.likes)
        .tuples()
    )
    assert list(rows) == [
        ("alice", "hello world"),
        ("carol", "carol one"),
        ("alice", "alice again"),
    ]


def test_left_outer_join_with_on_expression(data):
    rows = (
        User.select(User.username, Tweet.content)
        .join(Tweet, JOIN.LEFT_OUTER, on=((Tweet.user == User.id) & (Tweet.likes >= 10)))
        .order_by(User.username)
        .tuples()
    )
    assert list(rows) == [
        ("alice", "alice again"),
        ("bob", None),
        ("carol", None),
        ("dave", None),
    ]


def test_right_outer_join(data):
    query = (
        Tweet.select(User.username, Tweet.content)
        .join(User, JOIN.RIGHT_OUTER, on=(Tweet.user == User.id))
        .where(Tweet.id.is_null())
        .tuples()
    )
    if not data.db.dialect.supports_right_join:
        with pytest.raises(tinyorm.NotSupportedError):
            list(query)
        return
    assert list(query) == [("dave", None)]


def test_full_outer_join(data):
    query = (
        User.select(User.username, Category.title)
        .join(Category, JOIN.FULL_OUTER, on=(Category.title == User.username))
        .tuples()
    )
    if not data.db.dialect.supports_full_join:
        with pytest.raises(tinyorm.NotSupportedError):
            list(query)
        return
    rows = list(query)
    assert len(rows) == 4 + 6
    assert ("dave", None) in rows
    assert (None, "root") in rows


def test_cross_join(data):
    rows = list(User.select(User.username, Category.title).join(Category, JOIN.CROSS).tuples())
    assert len(rows) == 4 * 6
    assert ("bob", "a1x") in rows


def test_switch_joins_from_an_earlier_model(data):
    # Without switch(Like), joining Tweet would follow User -> Tweet (the liker's tweets).
    rows = Like.select(User.username, Tweet.content).join(User).switch(Like).join(Tweet).order_by(Like.id).tuples()
    assert list(rows) == [
        ("bob", "hello world"),
        ("carol", "hello world"),
        ("alice", "bob here"),
    ]
    unswitched = Like.select(User.username, Tweet.content).join(User).join(Tweet).where(User.username == "bob").tuples()
    assert list(unswitched) == [("bob", "bob here")]


def test_self_join_with_model_alias(data):
    parent = Category.alias("parent")
    rows = (
        Category.select(Category.title, parent.title.alias("parent_title"))
        .join(parent, JOIN.LEFT_OUTER, on=(Category.parent == parent.id))
        .order_by(Category.id)
        .tuples()
    )
    assert list(rows) == [
        ("root", None),
        ("a", "root"),
        ("b", "root"),
        ("a1", "a"),
        ("a1x", "a1"),
        ("other", None),
    ]


def test_self_join_through_foreign_key_and_two_aliases(data):
    parent = Category.alias("p")
    grandparent = Category.alias("gp")
    rows = (
        Category.select(Category.title, grandparent.title)
        .join(parent, on=(Category.parent == parent.id))
        .join(grandparent, on=(parent.parent == grandparent.id))
        .order_by(Category.title)
        .tuples()
    )
    assert list(rows) == [("a1", "root"), ("a1x", "a")]
    children_of_root = (
        Category.select(Category.title).join(parent).where(parent.title == "root").order_by(Category.title)
    )
    assert [c.title for c in children_of_root] == ["a", "b"]


def test_alias_of_users_for_pairs(data):
    other = User.alias("other")
    rows = (
        User.select(User.username, other.username.alias("older"))
        .join(other, on=(other.age == User.age + 5))
        .order_by(User.age)
        .tuples()
    )
    assert list(rows) == [("bob", "alice"), ("alice", "carol"), ("carol", "dave")]


# -- subqueries -----------------------------------------------------------------------------


def test_subquery_in_from(data):
    sub = Tweet.select(Tweet.user, fn.SUM(Tweet.likes).alias("total")).group_by(Tweet.user).alias("per_user")
    rows = list(
        User.select(sub.c.user_id, sub.c.total).select_from(sub).where(sub.c.total > 5).order_by(sub.c.total).tuples()
    )
    assert [(user_id, int(total)) for user_id, total in rows] == [
        (data.uid["carol"], 8),
        (data.uid["alice"], 15),
    ]


def test_join_to_a_subquery(data):
    sub = Tweet.select(Tweet.user, fn.MAX(Tweet.likes).alias("best")).group_by(Tweet.user).alias("best_per_user")
    rows = (
        User.select(User.username, sub.c.best).join(sub, on=(sub.c.user_id == User.id)).order_by(User.username).tuples()
    )
    assert list(rows) == [("alice", 10), ("bob", 3), ("carol", 7)]


def test_in_subquery_and_not_in_subquery(data):
    popular = Tweet.select(Tweet.user).where(Tweet.likes > 4)
    assert names(User.select().where(User.id.in_(popular))) == ["alice", "carol"]
    assert names(User.select().where(User.id.not_in(popular))) == ["bob", "dave"]


def test_scalar_subquery_in_select(data):
    count = Tweet.select(fn.COUNT(Tweet.id)).where(Tweet.user == User.id)
    rows = User.select(User.username, count).order_by(User.username).tuples()
    assert list(rows) == [("alice", 2), ("bob", 1), ("carol", 3), ("dave", 0)]


def test_aliased_scalar_subquery_labels_the_column(data):
    count = Tweet.select(fn.COUNT(Tweet.id)).where(Tweet.user == User.id).alias("n")
    rows = list(User.select(User.username, count).order_by(User.username).dicts())
    assert rows[0] == {"username": "alice", "n": 2}


def test_exists_and_not_exists(data):
    has_tweets = fn.EXISTS(Tweet.select(SQL("1")).where(Tweet.user == User.id))
    assert names(User.select().where(has_tweets)) == ["alice", "bob", "carol"]
    assert names(User.select().where(~has_tweets)) == ["dave"]


def test_in_with_lists(data):
    assert names(User.select().where(User.username.in_(["alice", "dave", "nobody"]))) == ["alice", "dave"]
    assert names(User.select().where(User.username.not_in(["alice", "dave"]))) == [
        "bob",
        "carol",
    ]
    assert names(User.select().where(User.id.in_((data.uid["bob"],)))) == ["bob"]
    assert names(User.select().where(User.age.in_(x for x in (25, 40)))) == [
        "bob",
        "dave",
    ]


def test_in_empty_list_matches_nothing_and_not_in_empty_matches_everything(data):
    assert list(User.select().where(User.id.in_([]))) == []
    assert len(User.select().where(User.id.not_in([]))) == 4
    assert names(User.select().where(User.id.in_([]) | (User.username == "bob"))) == ["bob"]


# -- CTEs -----------------------------------------------------------------------------------


def test_cte_joined(data):
    counts = Tweet.select(Tweet.user, fn.COUNT(Tweet.id).alias("n")).group_by(Tweet.user).cte("counts")
    rows = (
        User.select(User.username, counts.c.n)
        .join(counts, on=(counts.c.user_id == User.id))
        .with_cte(counts)
        .where(counts.c.n > 1)
        .order_by(User.username)
        .tuples()
    )
    assert list(rows) == [("alice", 2), ("carol", 3)]


def test_cte_with_columns_selected_from(data):
    adults = User.select(User.username, User.age).where(User.age >= 30).cte("adults", columns=("who", "years"))
    rows = Category.select(adults.c.who).select_from(adults).with_cte(adults).order_by(adults.c.years.desc()).tuples()
    assert list(rows) == [("dave",), ("carol",), ("alice",)]


def test_recursive_cte_walks_a_tree(data):
    base = Category.select(Category.id, Category.title, SQL("0")).where(Category.title == "root")
    tree = base.cte("tree", recursive=True, columns=("id", "title", "depth"))
    step = Category.select(Category.id, Category.title, tree.c.depth + 1).join(tree, on=(Category.parent == tree.c.id))
    tree = tree.union_all(step)
    rows = (
        Category.select(tree.c.title, tree.c.depth)
        .select_from(tree)
        .with_cte(tree)
        .order_by(tree.c.depth, tree.c.title)
        .tuples()
    )
    assert list(rows) == [("root", 0), ("a", 1), ("b", 1), ("a1", 2), ("a1x", 3)]


# -- window functions, CASE -----------------------------------------------------------------


def test_window_function_row_number(data):
    rank = fn.ROW_NUMBER().over(partition_by=[Tweet.user], order_by=[Tweet.likes.desc()])
    rows = Tweet.select(Tweet.content, rank.alias("rn")).order_by(Tweet.user, rank).tuples()
    assert list(rows) == [
        ("alice again", 1),
        ("hello world", 2),
        ("bob here", 1),
        ("carol one", 1),
        ("carol two", 2),
        ("carol three", 3),
    ]


def test_window_function_running_total_in_a_subquery(data):
    ranked = Tweet.select(
        Tweet.user,
        Tweet.content,
        fn.ROW_NUMBER().over(partition_by=[Tweet.user], order_by=[Tweet.likes.desc()]).alias("rn"),
    ).alias("ranked")
    best = (
        Tweet.select(ranked.c.content).select_from(ranked).where(ranked.c.rn == 1).order_by(ranked.c.content).tuples()
    )
    assert list(best) == [("alice again",), ("bob here",), ("carol one",)]
    total = fn.SUM(Tweet.likes).over(order_by=[Tweet.id])
    rows = Tweet.select(total).order_by(Tweet.id).tuples()
    assert [int(row[0]) for row in rows] == [5, 15, 18, 25, 26, 26]


def test_searched_case(data):
    band = Case(None, [(User.age < 30, "young"), (User.age < 40, "middle")], "senior")
    rows = User.select(User.username, band.alias("band")).order_by(User.username).tuples()
    assert list(rows) == [
        ("alice", "middle"),
        ("bob", "young"),
        ("carol", "middle"),
        ("dave", "senior"),
    ]


def test_simple_case(data):
    word = Case(User.username, [("alice", "A"), ("bob", "B")])
    rows = User.select(User.username, word).order_by(User.username).tuples()
    assert list(rows) == [("alice", "A"), ("bob", "B"), ("carol", None), ("dave", None)]


def test_case_in_aggregate(data):
    popular = fn.SUM(Case(None, [(Tweet.likes >= 5, 1)], 0))
    assert int(Tweet.select(popular).scalar()) == 3


# -- compound selects -----------------------------------------------------------------------


def _compound_parts():
    older = User.select(User.username).where(User.age >= 35)
    popular = User.select(User.username).join(Tweet).where(Tweet.likes >= 7)
    return older, popular


def test_union_and_union_all(data):
    older, popular = _compound_parts()
    assert sorted(r[0] for r in older.union(popular).tuples()) == [
        "alice",
        "carol",
        "dave",
    ]
    assert sorted(r[0] for r in older.union_all(popular).tuples()) == [
        "alice",
        "carol",
        "carol",
        "dave",
    ]


def test_compound_order_and_limit(data):
    older, popular = _compound_parts()
    query = older.union(popular).order_by(SQL("1")).limit(2)
    assert [r[0] for r in query.tuples()] == ["alice", "carol"]


def test_intersect_and_except(data):
    older, popular = _compound_parts()
    if not data.db.dialect.supports_intersect:
        with pytest.raises(tinyorm.NotSupportedError):
            list(older.intersect(popular).tuples())
        return
    assert [r[0] for r in older.intersect(popular).tuples()] == ["carol"]
    assert [r[0] for r in older.except_(popular).tuples()] == ["dave"]


def test_compound_query_iterates_as_models_and_counts(data):
    older, popular = _compound_parts()
    union = older.union(popular)
    assert sorted(user.username for user in union) == ["alice", "carol", "dave"]
    assert union.count() == 3
    rows = list(union.order_by(SQL("1")).dicts())
    assert rows[0] == {"username": "alice"}


def test_compound_query_first(data):
    older, popular = _compound_parts()
    # first() was shadowed by the stored first SELECT and raised TypeError (found by mypy).
    assert older.union(popular).order_by(SQL("1")).first().username == "alice"
    assert older.intersect(popular).except_(older).first() is None


# -- grouping, distinct, locking ------------------------------------------------------------


def test_group_by_having(data):
    rows = (
        User.select(
            User.username,
            fn.COUNT(Tweet.id).alias("n"),
            fn.SUM(Tweet.likes).alias("total"),
        )
        .join(Tweet)
        .group_by(User.username)
        .having(fn.COUNT(Tweet.id) > 1)
        .order_by(fn.COUNT(Tweet.id).desc())
        .tuples()
    )
    assert [(name, n, int(total)) for name, n, total in rows] == [
        ("carol", 3, 8),
        ("alice", 2, 15),
    ]


def test_api_md_example_query(data):
    # The example from API.md, run on the dataset (limit/offset changed to fit it).
    query = (
        User.select(User.username, fn.COUNT(Tweet.id).alias("n"))
        .join(Tweet, JOIN.LEFT_OUTER, on=(Tweet.user == User.id))
        .where(User.username.startswith("c") | (User.id > 0))
        .group_by(User.username)
        .having(fn.COUNT(Tweet.id) >= 1)
        .order_by(fn.COUNT(Tweet.id).desc())
        .limit(2)
        .offset(1)
    )
    assert [(row.username, row.n) for row in query] == [("alice", 2), ("bob", 1)]


def test_distinct(data):
    rows = Tweet.select(Tweet.user).distinct().order_by(Tweet.user).tuples()
    assert list(rows) == [
        (data.uid["alice"],),
        (data.uid["bob"],),
        (data.uid["carol"],),
    ]
    assert Tweet.select(Tweet.user).distinct().count() == 3
    assert Tweet.select(fn.COUNT(Tweet.user.distinct())).scalar() == 3


def test_for_update_inside_a_transaction(data):
    db = data.db
    with db.atomic():
        rows = list(User.select().where(User.username == "bob").for_update())
        assert [u.username for u in rows] == ["bob"]
        User.update(age=26).where(User.id == rows[0].id).execute()
    assert User.get(User.username == "bob").age == 26


@pytest.mark.parametrize("option", ["nowait", "skip_locked"])
def test_for_update_nowait_and_skip_locked_per_dialect(data, option):
    db = data.db
    supported = db.dialect.supports_for_update and getattr(db.dialect, f"supports_{option}")
    query = User.select().where(User.username == "bob").for_update(**{option: True})
    with db.atomic():
        if supported:
            assert [u.username for u in query] == ["bob"]
        else:
            with pytest.raises(tinyorm.NotSupportedError):
                list(query)


@requires("supports_for_update")
def test_row_locks_are_real(data, db_url):
    db = data.db
    other = tinyorm.connect(db_url)
    try:
        with db.atomic():
            locked = list(User.select().where(User.username == "bob").for_update())
            assert len(locked) == 1
            if db.dialect.supports_skip_locked:
                with other.atomic():
                    rows = User.select().order_by(User.id).for_update(skip_locked=True).execute(other)
                    assert [u.username for u in rows] == ["alice", "carol", "dave"]
            if db.dialect.supports_nowait:
                with pytest.raises(tinyorm.DatabaseError), other.atomic():
                    User.select().where(User.username == "bob").for_update(nowait=True).execute(other)
    finally:
        other.close()


# -- terminal methods -----------------------------------------------------------------------


def test_count(data):
    assert User.select().count() == 4
    assert User.select().where(User.age > 28).count() == 3
    assert User.select().order_by(User.id).limit(2).count() == 2
    assert User.select(User.username).join(Tweet).distinct().count() == 3
    assert User.select(User.username).join(Tweet).group_by(User.username).count() == 3


def test_exists(data):
    assert User.select().where(User.username == "dave").exists() is True
    assert User.select().where(User.username == "zed").exists() is False


def test_first(data):
    assert User.select().order_by(User.age.desc()).first().username == "dave"
    assert User.select().where(User.age > 100).first() is None
    assert [u.username for u in User.select().order_by(User.age).first(2)] == [
        "bob",
        "alice",
    ]


def test_get(data):
    assert User.select().where(User.username == "carol").get().age == 35
    assert User.get(User.username == "carol").age == 35
    with pytest.raises(User.DoesNotExist):
        User.select().where(User.username == "zed").get()
    with pytest.raises(tinyorm.DoesNotExist):
        User.get(User.age > 100)


def test_scalar(data):
    assert User.select(fn.MAX(User.age)).scalar() == 40
    assert User.select(fn.MIN(User.age), fn.MAX(User.age)).scalar(as_tuple=True) == (
        25,
        40,
    )
    assert User.select(User.age).where(User.age > 100).scalar() is None


def test_paginate_is_one_based(data):
    query = User.select().order_by(User.id)
    assert [u.username for u in query.paginate(1, 3)] == ["alice", "bob", "carol"]
    assert [u.username for u in query.paginate(2, 3)] == ["dave"]
    assert list(query.paginate(3, 3)) == []


def test_limit_and_offset(data):
    query = User.select().order_by(User.id)
    assert [u.username for u in query.limit(2).offset(1)] == ["bob", "carol"]
    assert [u.username for u in query.offset(3)] == ["dave"]
    assert [u.username for u in query.limit(0)] == []


# -- result shapes --------------------------------------------------------------------------


def _joined():
    return (
        Tweet.select(Tweet.content, User.username, (Tweet.likes * 2).alias("double"))
        .join(User)
        .where(User.username == "bob")
    )


def test_dicts(data):
    assert list(_joined().dicts()) == [{"content": "bob here", "username": "bob", "double": 6}]
    assert list(User.select(User.username).where(User.age == 25).dicts()) == [{"username": "bob"}]


def test_tuples(data):
    assert list(_joined().tuples()) == [("bob here", "bob", 6)]


def test_namedtuples(data):
    (row,) = list(_joined().namedtuples())
    assert (row.content, row.username, row.double) == ("bob here", "bob", 6)
    assert tuple(row) == ("bob here", "bob", 6)


def test_objects(data):
    (row,) = list(_joined().objects())
    assert isinstance(row, Tweet)
    assert (row.content, row.username, row.double) == ("bob here", "bob", 6)


def test_models_are_the_default(data):
    (user,) = list(User.select().where(User.username == "carol"))
    assert isinstance(user, User)
    assert (user.username, user.email, user.age) == ("carol", "carol@example.com", 35)


# -- expressions ----------------------------------------------------------------------------


def test_sql_fragment_with_params(data):
    assert names(User.select().where(SQL("age > ?", [30]))) == ["carol", "dave"]
    rows = User.select(User.username, SQL("age + ?", [100]).alias("plus")).where(User.username == "bob").tuples()
    assert list(rows) == [("bob", 125)]
    assert names(User.select().where(User.username == SQL("?", ["alice"]))) == ["alice"]


def test_sql_fragment_with_a_literal_percent(data):
    # no parameters at all: the %s drivers must still read %% as %
    assert User.select(SQL("'100%'")).limit(1).scalar() == "100%"
    assert names(User.select().where(SQL("username LIKE 'a%'"))) == ["alice"]
    assert names(User.select().where(SQL("username LIKE 'c%'") & (User.age > 0))) == ["carol"]


def test_sql_fragment_hostile_param_is_a_value(data):
    hostile = "x' OR '1'='1"
    assert list(User.select().where(SQL("username = ?", [hostile]))) == []


def test_any_sql_function(data):
    rows = (
        User.select(
            fn.UPPER(User.username),
            fn.COALESCE(User.email, "none"),
            fn.ABS(User.age - 100),
        )
        .where(User.username == "bob")
        .tuples()
    )
    assert list(rows) == [("BOB", "none", 75)]
    assert User.select(fn.LOWER(fn.UPPER(User.username))).where(User.age == 30).scalar() == "alice"


def test_arithmetic(data):
    row = (
        User.select(
            User.age + 1,
            User.age - 1,
            User.age * 2,
            User.age % 7,
            User.age / 5,
            100 - User.age,
        )
        .where(User.username == "alice")
        .tuples()
        .get()
    )
    plus, minus, times, mod, div, rsub = row
    assert (plus, minus, times, mod, rsub) == (31, 29, 60, 2, 70)
    assert float(div) == 6.0


def test_modulo_in_where(data):
    # % is modulo, also where the driver uses %s placeholders
    assert names(User.select().where(User.age % 10 == 5)) == ["bob", "carol"]
    assert names(User.select().where((User.age % 10 == 0) & (User.username != "dave"))) == ["alice"]


def test_double_negation(data):
    rows = User.select(User.username, -(-User.age)).where(User.username == "bob").tuples()  # noqa: B002
    assert list(rows) == [("bob", 25)]


def test_comparisons(data):
    assert names(User.select().where(User.age == 30)) == ["alice"]
    assert names(User.select().where(User.age != 30)) == ["bob", "carol", "dave"]
    assert names(User.select().where(User.age < 30)) == ["bob"]
    assert names(User.select().where(User.age <= 30)) == ["alice", "bob"]
    assert names(User.select().where(User.age > 35)) == ["dave"]
    assert names(User.select().where(User.age >= 35)) == ["carol", "dave"]
    assert names(User.select().where((User.age < 26) | (User.age > 39))) == [
        "bob",
        "dave",
    ]
    assert names(User.select().where(~(User.age < 30) & (User.age < 40))) == [
        "alice",
        "carol",
    ]


def test_null_comparisons(data):
    assert names(User.select().where(User.email == None)) == ["bob", "dave"]
    assert names(User.select().where(User.email != None)) == ["alice", "carol"]
    assert names(User.select().where(User.email.is_null())) == ["bob", "dave"]
    assert names(User.select().where(User.email.is_null(False))) == ["alice", "carol"]


def test_cast(data):
    assert User.select(User.age.cast("TEXT")).where(User.username == "bob").scalar() == "25"
    Note.create(text="42")
    assert Note.select(Note.text.cast("INTEGER") + 1).scalar() == 43


def test_between(data):
    assert names(User.select().where(User.age.between(26, 35))) == ["alice", "carol"]
    assert names(User.select().where(~User.age.between(26, 35))) == ["bob", "dave"]


def test_like_and_ilike_use_the_callers_pattern(data):
    assert names(User.select().where(User.username.like("a%"))) == ["alice"]
    assert names(User.select().where(User.username.like("_ob"))) == ["bob"]
    assert names(User.select().where(User.username.like("%a%"))) == [
        "alice",
        "carol",
        "dave",
    ]
    assert names(User.select().where(User.username.ilike("A%"))) == ["alice"]
    assert names(User.select().where(User.username.ilike("%AR%"))) == ["carol"]
    assert names(User.select().where(User.email.ilike("%@EXAMPLE.COM"))) == [
        "alice",
        "carol",
    ]


def test_regexp(data):
    assert names(User.select().where(User.username.regexp("^(a|b)"))) == [
        "alice",
        "bob",
    ]
    assert names(User.select().where(User.username.regexp("l{2}|ve$"))) == ["dave"]
    assert names(User.select().where(User.username.regexp("^[a-c][a-z]+e$"))) == ["alice"]


def test_concat(data):
    assert User.select(User.username.concat("!")).where(User.age == 25).scalar() == "bob!"
    assert names(User.select().where(User.username.concat("x") == "bobx")) == ["bob"]


def test_chaining_does_not_change_the_original_query(data):
    base = User.select().where(User.age > 20)
    narrowed = base.where(User.age > 30)
    assert names(narrowed) == ["carol", "dave"]
    assert names(base) == ["alice", "bob", "carol", "dave"]
    ordered = base.order_by(User.age.desc()).limit(1)
    assert [u.username for u in ordered] == ["dave"]
    assert len(list(base)) == 4


def test_nulls_first_and_last_ordering(data):
    first = User.select(User.username).order_by(User.email.asc(nulls="first"), User.username).tuples()
    assert [r[0] for r in first] == ["bob", "dave", "alice", "carol"]
    last = User.select(User.username).order_by(User.email.desc(nulls="last"), User.username).tuples()
    assert [r[0] for r in last] == ["carol", "alice", "bob", "dave"]


# -- hostile input --------------------------------------------------------------------------

HOSTILE_VALUES = [
    "it's",
    'say "hi"',
    "'; DROP TABLE users; --",
    '"; DROP TABLE users; --',
    "back\\slash",
    "C:\\path\\",
    "double\\\\back",
    "\\%",
    "\\_",
    "50%",
    "500",
    "a_c",
    "abc",
    "Abc",
    "x%y_z\\",
    "100% sure",
    "!bang!",
    "[a-z]*?",
    "ÄBC",
    "äbc",
    "ÉCOLE école",
    "`tick`",
    "%s %(name)s {0}",
    "line\nbreak",
]


@pytest.fixture
def hostile(data):
    Note.insert_many([{"text": value} for value in HOSTILE_VALUES]).execute()
    return data


def texts(query):
    return sorted(note.text for note in query)


def test_hostile_values_round_trip_and_match_by_equality(hostile):
    stored = sorted(note.text for note in Note.select())
    assert stored == sorted(HOSTILE_VALUES)
    for value in HOSTILE_VALUES:
        assert texts(Note.select().where(Note.text == value)) == [value], value
    assert "users" in hostile.db.get_tables()
    assert User.select().count() == 4


def test_hostile_values_through_create_update_and_delete(hostile):
    value = "'; DROP TABLE users; --\\"
    note = Note.create(text=value)
    assert Note.get_by_id(note.id).text == value
    Note.update(text=value + "'").where(Note.text == value).execute()
    assert Note.get(Note.id == note.id).text == value + "'"
    assert Note.delete().where(Note.text == value + "'").execute() == 1
    assert "users" in hostile.db.get_tables()


CASE_SENSITIVE = [
    ("contains", "50%"),
    ("contains", "%"),
    ("contains", "a_c"),
    ("contains", "_"),
    ("contains", "\\"),
    ("contains", "\\%"),
    ("contains", "\\\\"),
    ("contains", "'"),
    ("contains", '"'),
    ("contains", "; DROP TABLE users; --"),
    ("contains", "!"),
    ("contains", "[a-z]*?"),
    ("contains", "*"),
    ("contains", "%s"),
    ("contains", "\n"),
    ("contains", "ÄB"),
    ("contains", "bc"),
    ("startswith", "50%"),
    ("startswith", "\\"),
    ("startswith", "a_"),
    ("startswith", "!"),
    ("startswith", "["),
    ("startswith", "Ä"),
    ("endswith", "%"),
    ("endswith", "\\"),
    ("endswith", "_c"),
    ("endswith", "!"),
    ("endswith", "?"),
    ("endswith", "BC"),
]


def test_case_sensitive_matching_is_literal(hostile):
    wrong = {}
    for method, needle in CASE_SENSITIVE:
        expected = sorted(
            value
            for value in HOSTILE_VALUES
            if {
                "contains": needle in value,
                "startswith": value.startswith(needle),
                "endswith": value.endswith(needle),
            }[method]
        )
        got = texts(Note.select().where(getattr(Note.text, method)(needle)))
        if got != expected:
            wrong[f"{method}({needle!r})"] = {"got": got, "expected": expected}
    assert wrong == {}


def test_look_alikes_do_not_match(hostile):
    assert texts(Note.select().where(Note.text.contains("50%"))) == ["50%"]  # not "500"
    assert texts(Note.select().where(Note.text.contains("a_c"))) == ["a_c"]  # not "abc"
    assert texts(Note.select().where(Note.text.contains("\\"))) == sorted(v for v in HOSTILE_VALUES if "\\" in v)
    assert texts(Note.select().where(Note.text.contains("Abc"))) == ["Abc"]  # case-sensitive


CASE_INSENSITIVE = [
    ("icontains", "äb"),
    ("icontains", "ÄB"),
    ("icontains", "école"),
    ("icontains", "ABC"),
    ("icontains", "a_C"),
    ("icontains", "50%"),
    ("icontains", "\\"),
    ("icontains", "X%Y_Z\\"),
    ("istartswith", "ä"),
    ("istartswith", "a"),
    ("istartswith", "C:\\"),
    ("istartswith", "\\"),
    ("iendswith", "bc"),
    ("iendswith", "ÉCOLE"),
    ("iendswith", "%"),
    ("iendswith", "Z\\"),
]


def test_case_insensitive_matching_is_literal(hostile):
    wrong = {}
    for method, needle in CASE_INSENSITIVE:
        low = needle.lower()
        mode = method[1:]
        expected = sorted(
            value
            for value in HOSTILE_VALUES
            if {
                "contains": low in value.lower(),
                "startswith": value.lower().startswith(low),
                "endswith": value.lower().endswith(low),
            }[mode]
        )
        got = texts(Note.select().where(getattr(Note.text, method)(needle)))
        if got != expected:
            wrong[f"{method}({needle!r})"] = {"got": got, "expected": expected}
    assert wrong == {}


def test_ilike_is_case_insensitive_for_non_ascii(hostile):
    assert texts(Note.select().where(Note.text.ilike("äb%"))) == ["ÄBC", "äbc"]
    assert texts(Note.select().where(Note.text.ilike("%ÉCOLE"))) == ["ÉCOLE école"]
    assert texts(Note.select().where(Note.text.ilike("A_C"))) == ["Abc", "a_c", "abc"]


def test_in_list_with_hostile_values(hostile):
    wanted = ["'; DROP TABLE users; --", "50%", "back\\slash", "nope"]
    assert texts(Note.select().where(Note.text.in_(wanted))) == sorted(wanted[:3])


class Oddity(Model):
    weird = CharField(column_name='we"ird`col%x')

    class Meta:
        table_name = 'ta"b`le%s'


def test_hostile_identifiers_work_end_to_end(db):
    Oddity.bind(db)
    try:
        db.create_tables([Oddity])
        assert 'ta"b`le%s' in db.get_tables()
        pk = Oddity.insert(weird="v%s'").execute()
        assert [(o.id, o.weird) for o in Oddity.select().where(Oddity.weird == "v%s'")] == [(pk, "v%s'")]
        assert Oddity.update(weird="w").where(Oddity.id == pk).execute() == 1
        assert list(Oddity.select(Oddity.weird).dicts()) == [{"weird": "w"}]
        assert Oddity.delete().execute() == 1
    finally:
        # drop under the right name and under the doubled-% name a broken DDL path would create
        for name in ('ta"b`le%s', 'ta"b`le%%s'):
            db.execute_sql(f"DROP TABLE IF EXISTS {db.dialect.quote(name)}", ())
