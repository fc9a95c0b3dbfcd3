"""The cache of compiled SQL by query shape (``tinyorm/sql/shapes.py``, issue 12).

A query built again with other values reuses the text compiled for its shape; anything that
changes the text -- operators, columns, models, identifiers, inlined LIMITs, the dialect --
is a different shape. Each query here is compiled twice: once into a cold cache (rendered)
and once after a query of the same shape filled it, and both must give the SQL and params
a fresh render gives.
"""

import datetime

import pytest

from tinyorm import SQL, CharField, DateTimeField, ForeignKeyField, IntegerField, Model, Table, fn
from tinyorm.dialects import MySQLDialect, PostgresDialect, SqliteDialect
from tinyorm.exceptions import DataError
from tinyorm.sql import shapes
from tinyorm.sql.nodes import Context, Expression, Value

SQLITE = SqliteDialect()
POSTGRES = PostgresDialect()
MYSQL = MySQLDialect()
# Two dialect objects of one engine with different flags (as two servers' versions give).
MYSQL8 = MySQLDialect()
MYSQL8.share_lock_clause = " FOR SHARE"


class Author(Model):
    name = CharField(max_length=40)
    age = IntegerField()
    joined = DateTimeField(null=True)


class Book(Model):
    author = ForeignKeyField(Author, backref="books")
    title = CharField(max_length=80)
    pages = IntegerField()


class Reader(Model):
    name = CharField(max_length=40)
    age = IntegerField()


def rendered(query, dialect):
    """The query rendered from scratch, never through the cache."""
    ctx = Context(dialect)
    query._render(ctx)
    return "".join(ctx.parts), ctx.params


def check(query, dialect=SQLITE):
    sql, params = query.sql(dialect)
    assert (sql, params) == rendered(query, dialect)
    return sql, params


@pytest.fixture(autouse=True)
def cold_cache():
    shapes._COMPILED.clear()
    yield
    shapes._COMPILED.clear()


def join_query(min_age, min_pages, name, limit=20):
    return (
        Book.select(Book, Author)
        .join(Author)
        .where((Author.age >= min_age) & (Book.pages > min_pages) & (Author.name != name))
        .order_by(Book.id.desc())
        .limit(limit)
    )


def test_same_shape_other_values_reuses_the_text_with_the_new_values():
    first = check(join_query(20, 5, "ann"))
    assert len(shapes._COMPILED) == 1
    second = check(join_query(30, 7, "bob"))
    assert len(shapes._COMPILED) == 1  # a hit: no new entry
    assert second[0] == first[0]
    assert first[1] == [20, 5, "ann"] and second[1] == [30, 7, "bob"]


def test_a_thousand_rebuilt_queries_keep_one_entry():
    for index in range(1000):
        sql, params = join_query(index, index % 10, f"user{index}").sql(SQLITE)
        assert params == [index, index % 10, f"user{index}"]
    assert len(shapes._COMPILED) == 1


@pytest.mark.parametrize(
    "make",
    [
        lambda v: Author.select().where(Author.age > v),
        lambda v: Author.select().where(Author.age < v),  # another operator
        lambda v: Author.select().where(Author.age >= v),
        lambda v: Author.select().where(Author.name == str(v)),  # another column
        lambda v: Reader.select().where(Reader.age > v),  # another model, same column names
        lambda v: Author.select(Author.name).where(Author.age > v),  # another select list
        lambda v: Author.select().where((Author.age > v) | (Author.age < v)),  # OR, not AND
        lambda v: Author.select().where((Author.age > v) & (Author.age < v)),
        lambda v: Author.select().where(~(Author.age > v)),
        lambda v: Author.select().where(Author.age == None),  # noqa: E711  # IS NULL, no value
        lambda v: Author.select().where(Author.age.in_([v, v + 1])),
        lambda v: Author.select().where(Author.age.in_([v, v + 1, v + 2])),  # more items
        lambda v: Author.select().where(Author.age.in_([])),
        lambda v: Author.select().where(Author.age.not_in([v])),
        lambda v: Author.select().where(Author.age.between(v, v + 10)),
        lambda v: Author.select().where(Expression(Author.age, "IN", Value([v, v + 1]))),
        lambda v: Author.select().where(SQL("age > ?", [v])),
        lambda v: Author.select().where(SQL("age < ?", [v])),  # other SQL text
        lambda v: Author.select().where(Author.age > v).limit(v % 3 + 1),  # LIMIT is inlined
        lambda v: Author.select().where(Author.age > v).limit(5).offset(v % 4),
        lambda v: Author.select().where(Author.age > v).order_by(Author.name),
        lambda v: Author.select().where(Author.age > v).order_by(Author.name.desc(nulls="last")),
        lambda v: Author.select().where(Author.age > v).distinct(),
        lambda v: Author.select(fn.COUNT(Author.id).alias("n")).where(Author.age > v),
        lambda v: Author.select(fn.COUNT(Author.id).alias("m")).where(Author.age > v),  # another alias
        lambda v: Author.select(fn.MAX(Author.id)).where(Author.age > v).group_by(Author.name),
        lambda v: Author.select().where(Author.age > v).for_update(),
        lambda v: Author.select().where(Author.age > v).for_update(share=True),
        lambda v: Book.select().join(Author).where(Author.age > v),
        lambda v: Book.select().join(Author, "LEFT OUTER JOIN").where(Author.age > v),
        lambda v: Table("events").select(Table("events").c.kind).where(Table("events").c.id > v),
        lambda v: Table("other").select(Table("other").c.kind).where(Table("other").c.id > v),
    ],
)
@pytest.mark.parametrize("dialect", [SQLITE, POSTGRES, MYSQL, MYSQL8], ids=["sqlite", "pg", "mysql", "mysql8"])
def test_every_shape_compiles_like_a_fresh_render_cold_and_warm(make, dialect):
    for value in (3, 4, 9):
        try:
            check(make(value), dialect)
        except Exception as exc:  # an engine refusing a shape must refuse it every time
            with pytest.raises(type(exc)):
                rendered(make(value), dialect)


def test_shapes_differing_only_in_operator_or_identifier_never_share_text():
    queries = [
        Author.select().where(Author.age > 1),
        Author.select().where(Author.age < 1),
        Author.select().where(Author.name > 1),
        Reader.select().where(Reader.age > 1),
        Author.select().where(Author.age > 1).limit(2),
    ]
    texts = {check(query)[0] for query in queries}
    assert len(texts) == len(queries)
    assert len(shapes._COMPILED) == len(queries)
    for query in queries:  # warm, each still gets its own text
        check(query)


def test_dialects_never_share_entries_even_of_the_same_engine():
    query = Author.select().where(Author.age > 3).order_by(Author.name.desc(nulls="first"))
    texts = {dialect: check(query, dialect)[0] for dialect in (SQLITE, POSTGRES, MYSQL)}
    assert len(set(texts.values())) == 3
    locking = Author.select().where(Author.age > 3).for_update(share=True)
    assert check(locking, MYSQL)[0].endswith("LOCK IN SHARE MODE")
    assert check(locking, MYSQL8)[0].endswith("FOR SHARE")
    assert check(locking, MYSQL)[0].endswith("LOCK IN SHARE MODE")  # warm: still its own


def test_values_are_converted_by_their_field_on_a_hit_too():
    when = datetime.datetime(2024, 5, 6, 7, 8, 9)
    cold = check(Author.select().where(Author.joined > when), SQLITE)
    warm = check(Author.select().where(Author.joined > when + datetime.timedelta(days=1)), SQLITE)
    assert cold[0] == warm[0] and warm[1] != cold[1]
    with pytest.raises(DataError):  # the field still checks the value on a hit
        Author.select().where(Author.age > "not a number").sql(SQLITE)


def test_a_list_value_with_nested_lists_never_takes_a_flat_lists_text():
    flat = Author.select().where(Expression(Author.age, "IN", Value([1, 2])))
    nested = Author.select().where(Expression(Author.age, "IN", Value([[1, 2], 3])))
    check(flat)
    assert check(nested)[0].endswith("IN ((?, ?), ?))")


def test_uncacheable_shapes_render_every_time():
    alias = Author.alias("a2")
    query = Book.select().join(alias, on=(Book.author == alias.id)).where(alias.age > 3)
    check(query)
    sub = Book.select().where(Book.author.in_(Author.select().where(Author.age > 3)))
    check(sub)
    arithmetic = Author.select().where((Author.age % 2) == 1)  # a dialect hook places the operands
    check(arithmetic, MYSQL)
    assert len(shapes._COMPILED) == 0


def test_the_cache_is_bounded():
    for index in range(shapes.COMPILED_CACHE_SIZE + 50):
        Author.select().where(Author.age > 1).limit(index + 1).sql(SQLITE)
    assert len(shapes._COMPILED) == shapes.COMPILED_CACHE_SIZE
