"""Golden SQL for full-text search per dialect (no server, no driver): the user's text
reaches the engine only as a parameter holding its words, in each engine's safe form."""

import pytest

from tinyorm import CharField, Model, TextField
from tinyorm.dialects import MySQLDialect, PostgresDialect, SqliteDialect


class Entry(Model):
    title = CharField()
    body = TextField()

    class Meta:
        search = ("title", "body")


DIALECTS = {"sqlite": SqliteDialect(), "postgresql": PostgresDialect(), "mysql": MySQLDialect()}
QUERIES = {
    "match": Entry.select(Entry.id).where(Entry.match("user's -words OR \"x")),
    "rank": Entry.select(Entry.id).order_by(Entry.search_rank("python").desc()),
}
GOLDEN = [
    (
        "match",
        "sqlite",
        'SELECT "entry"."id" FROM "entry" WHERE ("entry"."id" IN (SELECT rowid FROM "entry_search" WHERE "entry_search" MATCH ?))',
        ['"user" "s" "words" "or" "x"'],
    ),
    (
        "rank",
        "sqlite",
        'SELECT "entry"."id" FROM "entry" ORDER BY (SELECT -bm25("entry_search") FROM "entry_search" WHERE "entry_search" MATCH ? AND rowid = "entry"."id") DESC',
        ['"python"'],
    ),
    (
        "match",
        "postgresql",
        'SELECT "entry"."id" FROM "entry" WHERE (to_tsvector(\'english\', COALESCE("entry"."title", \'\') || \' \' || COALESCE("entry"."body", \'\')) @@ plainto_tsquery(\'english\', %s))',
        ["user s words or x"],
    ),
    (
        "rank",
        "postgresql",
        'SELECT "entry"."id" FROM "entry" ORDER BY ts_rank(to_tsvector(\'english\', COALESCE("entry"."title", \'\') || \' \' || COALESCE("entry"."body", \'\')), plainto_tsquery(\'english\', %s)) DESC',
        ["python"],
    ),
    (
        "match",
        "mysql",
        "SELECT `entry`.`id` FROM `entry` WHERE MATCH (`entry`.`title`, `entry`.`body`) AGAINST (%s IN BOOLEAN MODE)",
        ["+(user User USER) +(words Words WORDS)"],
    ),
    (
        "rank",
        "mysql",
        "SELECT `entry`.`id` FROM `entry` ORDER BY MATCH (`entry`.`title`, `entry`.`body`) AGAINST (%s IN BOOLEAN MODE) DESC",
        ["+(python Python PYTHON)"],
    ),
]


@pytest.mark.parametrize(("query", "dialect", "sql", "params"), GOLDEN, ids=[f"{g[0]}-{g[1]}" for g in GOLDEN])
def test_search_golden_sql(query, dialect, sql, params):
    assert QUERIES[query].sql(DIALECTS[dialect]) == (sql, params)


@pytest.mark.parametrize("dialect", DIALECTS.values(), ids=list(DIALECTS))
def test_search_ddl_names_only_the_declared_columns(dialect):
    statements = dialect.search_ddl(Entry._meta.search)
    assert statements and all("entry_search" in statement for statement in statements[:1])


def test_empty_search_matches_nothing_without_a_parameter():
    for dialect in DIALECTS.values():
        sql, params = Entry.select(Entry.id).where(Entry.match("!!! --- ***")).sql(dialect)
        assert sql.endswith("WHERE (1 = 0)") and params == []
