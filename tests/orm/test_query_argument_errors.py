"""Query arguments that used to give wrong results: each gives the right result or a typed
tinyorm error before any SQL is sent."""

import pytest

import tinyorm
from tinyorm import Case, CharField, FieldError, ForeignKeyField, IntegerField, Model, TextField, fn


def make_models(db):
    class Author(Model):
        username = CharField(max_length=40)
        score = IntegerField(default=0)

        class Meta:
            database = db

    class Post(Model):
        author = ForeignKeyField(Author, backref="posts")
        title = CharField(max_length=40)
        bio = TextField(null=True)

        class Meta:
            database = db

    db.create_tables([Author, Post])
    for name, score in (("bob", 2), ("amy", 1), ("cat", 3)):
        author = Author.create(username=name, score=score)
        Post.create(author=author, title=f"{name}'s", bio=None if name == "amy" else "x")
    return Author, Post


# -- order_by / group_by strings ---------------------------------------------------------
def test_order_by_strings_name_fields_and_minus_means_descending(db):
    Author, Post = make_models(db)
    assert [a.username for a in Author.select().order_by("username")] == ["amy", "bob", "cat"]
    assert [a.username for a in Author.select().order_by("-id")] == ["cat", "amy", "bob"]
    assert [a.username for a in Author.select().order_by("-score", "id")] == ["cat", "bob", "amy"]
    joined = Post.select(Post, Author).join(Author).order_by("-username")
    assert [p.title for p in joined] == ["cat's", "bob's", "amy's"]


def test_order_by_and_group_by_strings_name_selected_aliases(db):
    Author, Post = make_models(db)
    query = (
        Author.select(Author.username, fn.COUNT(Post.id).alias("n"))
        .join(Post)
        .group_by("username")
        .order_by("-n", "username")
        .tuples()
    )
    assert list(query) == [("amy", 1), ("bob", 1), ("cat", 1)]
    compound = Author.select(Author.username).where(Author.score > 1).union(Author.select(Author.username))
    assert [row[0] for row in compound.order_by("-username").tuples()] == ["cat", "bob", "amy"]


@pytest.mark.parametrize(
    "call",
    [
        lambda q: q.order_by("nosuch"),
        lambda q: q.order_by("-nosuch"),
        lambda q: q.order_by("-"),
        lambda q: q.order_by(""),
        lambda q: q.order_by("username; DROP TABLE author"),
        lambda q: q.order_by("1"),
        lambda q: q.order_by_extend("id", "nope"),
        lambda q: q.group_by("-username"),
        lambda q: q.group_by("nosuch"),
    ],
)
def test_unknown_names_in_order_by_and_group_by_are_refused(db, count_queries, call):
    Author, _Post = make_models(db)
    with count_queries(db) as counter, pytest.raises(FieldError):
        list(call(Author.select()))
    assert counter.count == 0


# -- Case converts its values by the field -------------------------------------------------
def test_case_values_are_converted_by_the_field(db):
    Author, _Post = make_models(db)
    label = Case(Author.username, [(0, "zero"), ("bob", "b")], "other")
    rows = Author.select(Author.username, label.alias("label")).order_by(Author.username).tuples()
    assert list(rows) == [("amy", "other"), ("bob", "b"), ("cat", "other")]
    by_score = Case(Author.score, [("2", "two")], "other")
    assert [row[0] for row in Author.select(by_score).order_by(Author.id).tuples()] == ["two", "other", "other"]


def test_case_values_that_do_not_fit_the_field_are_refused(db, count_queries):
    Author, _Post = make_models(db)
    with count_queries(db) as counter, pytest.raises(tinyorm.DataError, match="Author.score"):
        list(Author.select(Case(Author.score, [("abc", 1)], 0)))
    assert counter.count == 0


# -- lookups check their argument ------------------------------------------------------------
@pytest.mark.parametrize(
    "lookups",
    [
        {"bio__isnull": "false"},
        {"bio__isnull": 0},
        {"bio__isnull": None},
        {"title": ["a", "b"]},
        {"title__ne": ("a",)},
        {"author__username__startswith": ["a"]},
        {"id__gt": {1}},
        {"id__in": 5},
        {"id__in": "123"},
        {"id__in": None},
        {"id__between": 5},
        {"id__between": (1, 2, 3)},
    ],
)
def test_lookup_arguments_of_the_wrong_shape_are_refused(db, count_queries, lookups):
    _Author, Post = make_models(db)
    with count_queries(db) as counter, pytest.raises(FieldError):
        list(Post.select().filter(**lookups))
    assert counter.count == 0


def test_lookups_with_the_right_shape_work(db):
    _Author, Post = make_models(db)
    assert Post.select().filter(bio__isnull=True).count() == 1
    assert Post.select().filter(bio__isnull=False).count() == 2
    assert Post.select().filter(title__in=("amy's", "cat's")).count() == 2
    assert Post.select().filter(title__in={"amy's"}).count() == 1
    assert Post.select().filter(id__in=range(1, 3)).count() == 2
    assert Post.select().filter(author__score__in=[2, 3]).count() == 2


@pytest.mark.parametrize("value", [1.9, "3", -1, True, None.__class__, 2.0])
def test_limit_and_offset_take_non_negative_integers_only(db, count_queries, value):
    Author, _Post = make_models(db)
    with count_queries(db) as counter:
        for method in ("limit", "offset"):
            with pytest.raises(ValueError):
                list(getattr(Author.select(), method)(value))
        with pytest.raises(ValueError):
            Author.select().paginate(value, 10)
    assert counter.count == 0
    assert len(Author.select().limit(2).offset(1)) == 2


# -- execute_sql: "%%" is "%" on every engine, with or without params -------------------------
def test_percent_rule_in_execute_sql_is_one_rule(db):
    Author, _Post = make_models(db)
    table = db.dialect.quote("author")
    p = db.dialect.param
    db.execute_sql(f"UPDATE {table} SET username = '100%%' WHERE score = 1")
    db.execute_sql(f"UPDATE {table} SET username = '50%%' WHERE score = {p}", (2,))
    db.execute_sql(f"UPDATE {table} SET username = {p} WHERE score = 3", ("a%%b",))  # values are never read
    names = [row[0] for row in db.execute_sql(f"SELECT username FROM {table} ORDER BY score").fetchall()]
    assert names == ["100%", "50%", "a%%b"]
    like = db.execute_sql(f"SELECT COUNT(*) FROM {table} WHERE username LIKE '%%0%%'").fetchone()[0]
    assert like == 2
    assert db.execute_sql(f"SELECT 7 %% 4 FROM {table} WHERE score = 1").fetchone()[0] == 3


def test_compiled_sql_runs_through_execute_sql(db):
    Author, _Post = make_models(db)
    query = Author.select(Author.username, (Author.score % 2).alias("odd")).where(
        Author.username.contains("%") | (Author.score > 0)
    )
    sql, params = query.sql()
    assert sorted(db.execute_sql(sql, params).fetchall()) == [("amy", 1), ("bob", 0), ("cat", 1)]


def test_a_lone_percent_is_a_programming_error_on_percent_s_drivers(db):
    make_models(db)
    table = db.dialect.quote("author")
    if db.dialect.param != "%s":
        pytest.skip("the driver does not read % in the SQL text")
    with pytest.raises(tinyorm.ProgrammingError, match="%%"):
        db.execute_sql(f"SELECT '100%' FROM {table}")


# -- URL options keep their type ----------------------------------------------------------------
@pytest.mark.parametrize(
    "query, expected",
    [
        ("password=007", {"password": "007"}),
        ("sslmode=1", {"sslmode": "1"}),
        ("application_name=12", {"application_name": "12"}),
        ("connect_timeout=7", {"connect_timeout": 7}),
        ("max_connections=3", {"max_connections": 3}),
        ("autoconnect=false", {"autoconnect": False}),
    ],
)
def test_url_option_values_keep_their_type(query, expected):
    _engine, _name, options = tinyorm.backends.url.parse_url(f"postgresql://app@db:6543/app?{query}")
    assert options["port"] == 6543
    for key, value in expected.items():
        assert options[key] == value and type(options[key]) is type(value)


def test_percent_rule_holds_for_queued_sqlite_writes(tmp_path):
    from playhouse.sqlite_ext import SqliteQueueDatabase

    queued = SqliteQueueDatabase(str(tmp_path / "queue.db"), autostart=True)
    try:
        queued.execute_sql("CREATE TABLE t (label TEXT)")
        queued.execute_sql("INSERT INTO t (label) VALUES ('100%%')")
        queued.execute_sql("INSERT INTO t (label) VALUES (?)", ("5%%",))
        assert queued.execute_sql("SELECT label FROM t ORDER BY rowid").fetchall() == [("100%",), ("5%%",)]
    finally:
        queued.stop()
        queued.close_all()
