"""Golden SQL for JSON paths and predicates, per dialect (no server, no driver).

Keys and documents only ever appear among the parameters. The same shapes run live on
SQLite, PostgreSQL and MariaDB in tests/orm/test_json.py.
"""

import pytest

from tinyorm import JSONField, Model
from tinyorm.dialects import MySQLDialect, PostgresDialect, SqliteDialect


class Doc(Model):
    data = JSONField()


DIALECTS = {"sqlite": SqliteDialect(), "postgresql": PostgresDialect(), "mysql": MySQLDialect()}

QUERIES = {
    "path": Doc.select(Doc.data["user"]["name"]),
    "text": Doc.select(Doc.id).where(Doc.data["user"]["name"].as_text() == "x"),
    "compare": Doc.select(Doc.id).where(Doc.data["age"] > 3),
    "has_key": Doc.select(Doc.id).where(Doc.data.has_key('a"b')),
    "contains": Doc.select(Doc.id).where(Doc.data.contains({"tags": ["x"]})),
    "equals": Doc.select(Doc.id).where(Doc.data == [1, 2]),
    "hostile": Doc.select(Doc.id).where(Doc.data['a"b'] == 1),
}

GOLDEN = [
    (
        "path",
        "sqlite",
        'SELECT (CASE json_type("doc"."data", ?) WHEN \'true\' THEN \'true\' WHEN \'false\' THEN \'false\' WHEN \'null\' THEN \'null\' WHEN \'object\' THEN json_extract("doc"."data", ?) WHEN \'array\' THEN json_extract("doc"."data", ?) ELSE json_quote(json_extract("doc"."data", ?)) END) FROM "doc"',
        ['$."user"."name"', '$."user"."name"', '$."user"."name"', '$."user"."name"'],
    ),
    ("path", "postgresql", 'SELECT ("doc"."data" -> %s -> %s) FROM "doc"', ["user", "name"]),
    ("path", "mysql", "SELECT JSON_EXTRACT(`doc`.`data`, %s) FROM `doc`", ['$."user"."name"']),
    (
        "text",
        "sqlite",
        'SELECT "doc"."id" FROM "doc" WHERE (json_extract("doc"."data", ?) = ?)',
        ['$."user"."name"', "x"],
    ),
    (
        "text",
        "postgresql",
        'SELECT "doc"."id" FROM "doc" WHERE ((("doc"."data" -> %s) ->> %s) = %s)',
        ["user", "name", "x"],
    ),
    (
        "text",
        "mysql",
        "SELECT `doc`.`id` FROM `doc` WHERE (JSON_VALUE(`doc`.`data`, %s) = %s)",
        ['$."user"."name"', "x"],
    ),
    (
        "compare",
        "sqlite",
        'SELECT "doc"."id" FROM "doc" WHERE (json_type("doc"."data", ?) IN (\'integer\', \'real\') AND json_extract("doc"."data", ?) > ?)',
        ['$."age"', '$."age"', 3],
    ),
    (
        "compare",
        "postgresql",
        'SELECT "doc"."id" FROM "doc" WHERE (jsonb_typeof(("doc"."data" -> %s)) = \'number\' AND ("doc"."data" -> %s) > CAST(%s AS JSONB))',
        ["age", "age", "3"],
    ),
    (
        "compare",
        "mysql",
        "SELECT `doc`.`id` FROM `doc` WHERE (CASE WHEN JSON_TYPE(JSON_EXTRACT(`doc`.`data`, %s)) IN ('INTEGER', 'DOUBLE') THEN CAST(JSON_EXTRACT(`doc`.`data`, %s) AS DOUBLE) END > %s)",
        ['$."age"', '$."age"', 3],
    ),
    (
        "has_key",
        "sqlite",
        'SELECT "doc"."id" FROM "doc" WHERE COALESCE((SELECT (_json1.type IS NOT NULL) FROM json_each("doc"."data") AS _json1 WHERE _json1.key = ?), 1 = 0)',
        ['a"b'],
    ),
    (
        "has_key",
        "postgresql",
        'SELECT "doc"."id" FROM "doc" WHERE (jsonb_typeof("doc"."data") = \'object\' AND "doc"."data" ? %s)',
        ['a"b'],
    ),
    (
        "has_key",
        "mysql",
        "SELECT `doc`.`id` FROM `doc` WHERE JSON_CONTAINS_PATH(`doc`.`data`, 'one', %s)",
        ['$."a\\"b"'],
    ),
    (
        "contains",
        "sqlite",
        'SELECT "doc"."id" FROM "doc" WHERE (json_type("doc"."data", ?) = \'object\' AND (json_type(json_extract("doc"."data", ?), ?) = \'array\' AND EXISTS (SELECT 1 FROM json_each(json_extract(json_extract("doc"."data", ?), ?)) AS _json1 WHERE ((_json1.type IN (\'text\') AND _json1.value = ?)))))',
        ["$", "$", '$."tags"', "$", '$."tags"', "x"],
    ),
    (
        "contains",
        "postgresql",
        'SELECT "doc"."id" FROM "doc" WHERE ("doc"."data" @> CAST(%s AS JSONB))',
        ['{"tags":["x"]}'],
    ),
    ("contains", "mysql", "SELECT `doc`.`id` FROM `doc` WHERE JSON_CONTAINS(`doc`.`data`, %s)", ['{"tags":["x"]}']),
    ("equals", "sqlite", 'SELECT "doc"."id" FROM "doc" WHERE ("doc"."data" = ?)', ["[1,2]"]),
    ("equals", "postgresql", 'SELECT "doc"."id" FROM "doc" WHERE ("doc"."data" = CAST(%s AS JSONB))', ["[1,2]"]),
    ("equals", "mysql", "SELECT `doc`.`id` FROM `doc` WHERE (`doc`.`data` = %s)", ["[1,2]"]),
    (
        "hostile",
        "sqlite",
        'SELECT "doc"."id" FROM "doc" WHERE (SELECT (_json1.type IN (\'integer\', \'real\') AND _json1.value = ?) FROM json_each("doc"."data") AS _json1 WHERE _json1.key = ?)',
        [1, 'a"b'],
    ),
    (
        "hostile",
        "postgresql",
        'SELECT "doc"."id" FROM "doc" WHERE (jsonb_typeof(("doc"."data" -> %s)) = \'number\' AND ("doc"."data" -> %s) = CAST(%s AS JSONB))',
        ['a"b', 'a"b', "1"],
    ),
    (
        "hostile",
        "mysql",
        "SELECT `doc`.`id` FROM `doc` WHERE (CASE WHEN JSON_TYPE(JSON_EXTRACT(`doc`.`data`, %s)) IN ('INTEGER', 'DOUBLE') THEN CAST(JSON_EXTRACT(`doc`.`data`, %s) AS DOUBLE) END = %s)",
        ['$."a\\"b"', '$."a\\"b"', 1],
    ),
]


@pytest.mark.parametrize(("query", "dialect", "sql", "params"), GOLDEN, ids=[f"{g[0]}-{g[1]}" for g in GOLDEN])
def test_json_golden_sql(query, dialect, sql, params):
    assert QUERIES[query].sql(DIALECTS[dialect]) == (sql, params)


def test_keys_never_enter_the_sql_text():
    hostile = "'); DROP TABLE doc; --"
    for dialect in DIALECTS.values():
        for node in (Doc.data[hostile] == 1, Doc.data.has_key(hostile), Doc.data[hostile].as_text() == "x"):
            sql, params = Doc.select(Doc.id).where(node).sql(dialect)
            assert "DROP" not in sql and any("DROP" in str(param) for param in params)
