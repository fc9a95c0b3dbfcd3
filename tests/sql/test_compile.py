"""Golden SQL per dialect: the compiler pinned with no server and no driver.

Every query here is built from models that have no database (``Meta.database`` unset) and
compiled with ``query.sql(dialect)``. Each golden string was checked to be valid SQL for its
engine (SQLite 3.40, PostgreSQL 15, MariaDB 10.11) before it was pinned. Values only ever
appear in the parameter list; identifiers go through the dialect's quoting.
"""

import pytest

import tinyorm
from tinyorm import (
    EXCLUDED,
    JOIN,
    SQL,
    Case,
    CharField,
    ForeignKeyField,
    IntegerField,
    Model,
    Table,
    TextField,
    fn,
)
from tinyorm.dialects import MySQLDialect, PostgresDialect, SqliteDialect

SQLITE = SqliteDialect()
POSTGRES = PostgresDialect()
MYSQL = MySQLDialect()
DIALECTS = {"sqlite": SQLITE, "postgresql": POSTGRES, "mysql": MYSQL}

HOSTILE = "'; DROP TABLE users; --"


class User(Model):
    username = CharField(max_length=50, unique=True)
    email = CharField(null=True)


class Tweet(Model):
    user = ForeignKeyField(User, backref="tweets")
    content = TextField()

    class Meta:
        table_name = "tweets"


class Category(Model):
    title = CharField()
    parent = ForeignKeyField("self", null=True, backref="children")


class Counter(Model):
    key = CharField(max_length=20, unique=True)
    hits = IntegerField()


class Account(Model):
    """Two unique keys an INSERT supplies: MySQL cannot upsert on just one of them."""

    username = CharField(max_length=20, unique=True)
    email = CharField(max_length=50, unique=True)


class Oddity(Model):
    """Identifiers with every character that needs care."""

    weird = CharField(column_name='we"ird`col%x')

    class Meta:
        table_name = 'ta"b`le%s'


def render(query, dialect):
    """``(sql, params)`` of ``query`` for one dialect (params as a list)."""
    sql, params = query.sql(dialect)
    return sql, list(params)


def assert_sql(query, expected):
    """``expected`` maps dialect name -> (sql, params) or an exception class."""
    for name, want in expected.items():
        dialect = DIALECTS[name]
        if isinstance(want, type) and issubclass(want, BaseException):
            with pytest.raises(want):
                render(query, dialect)
            continue
        assert render(query, dialect) == (want[0], list(want[1])), name


# -- compiling without a database -----------------------------------------------------------


def test_models_without_database_compile_for_any_dialect():
    assert User._meta.database is None
    for dialect in DIALECTS.values():
        sql, params = User.select().where(User.id == 1).sql(dialect)
        assert sql.startswith("SELECT ")
        assert params == [1]


def test_sql_without_dialect_on_an_unbound_model_is_a_clear_error():
    with pytest.raises(tinyorm.TinyORMError):
        User.select().sql()


# -- quoting and placeholders ---------------------------------------------------------------


def test_select_all_columns_quotes_per_dialect():
    assert_sql(
        User.select(),
        {
            "sqlite": (
                'SELECT "user"."id", "user"."username", "user"."email" FROM "user"',
                [],
            ),
            "postgresql": (
                'SELECT "user"."id", "user"."username", "user"."email" FROM "user"',
                [],
            ),
            "mysql": (
                "SELECT `user`.`id`, `user`.`username`, `user`.`email` FROM `user`",
                [],
            ),
        },
    )


def test_placeholders_per_dialect():
    assert_sql(
        User.select(User.id).where((User.username == "a") & (User.id > 3)),
        {
            "sqlite": (
                'SELECT "user"."id" FROM "user" WHERE (("user"."username" = ?) AND ("user"."id" > ?))',
                ["a", 3],
            ),
            "postgresql": (
                'SELECT "user"."id" FROM "user" WHERE (("user"."username" = %s) AND ("user"."id" > %s))',
                ["a", 3],
            ),
            "mysql": (
                "SELECT `user`.`id` FROM `user` WHERE ((`user`.`username` = %s) AND (`user`.`id` > %s))",
                ["a", 3],
            ),
        },
    )


@pytest.mark.parametrize(
    "dialect, name, quoted",
    [
        (SQLITE, 'a"b', '"a""b"'),
        (SQLITE, "a`b", '"a`b"'),
        (SQLITE, "a%b", '"a%%b"'),  # execute_sql reads %% as % on every engine
        (POSTGRES, 'a"b', '"a""b"'),
        (POSTGRES, "a`b", '"a`b"'),
        (POSTGRES, "a%b", '"a%%b"'),
        (POSTGRES, "a%%s", '"a%%%%s"'),
        (MYSQL, "a`b", "`a``b`"),
        (MYSQL, 'a"b', '`a"b`'),
        (MYSQL, "a%b", "`a%%b`"),
        (MYSQL, "x` FROM t; --", "`x`` FROM t; --`"),
    ],
)
def test_identifier_quoting(dialect, name, quoted):
    assert dialect.quote(name) == quoted


@pytest.mark.parametrize("dialect", DIALECTS.values(), ids=list(DIALECTS))
@pytest.mark.parametrize("name", ["a\x00b", ""])
def test_unquotable_identifiers_are_refused(dialect, name):
    with pytest.raises(ValueError):
        dialect.quote(name)


@pytest.mark.parametrize("dialect", DIALECTS.values(), ids=list(DIALECTS))
def test_nul_in_a_table_or_alias_name_is_refused_at_compile(dialect):
    with pytest.raises(ValueError):
        render(User.select(SQL("1")).select_from(Table("ev\x00il")), dialect)
    with pytest.raises(ValueError):
        render(User.select(User.id.alias("a\x00b")), dialect)


def test_hostile_identifiers_in_a_model():
    assert_sql(
        Oddity.select().where(Oddity.weird == "x"),
        {
            "sqlite": (
                (
                    'SELECT "ta""b`le%%s"."id", "ta""b`le%%s"."we""ird`col%%x" FROM "ta""b`le%%s" '
                    'WHERE ("ta""b`le%%s"."we""ird`col%%x" = ?)'
                ),
                ["x"],
            ),
            "postgresql": (
                (
                    'SELECT "ta""b`le%%s"."id", "ta""b`le%%s"."we""ird`col%%x" FROM "ta""b`le%%s" '
                    'WHERE ("ta""b`le%%s"."we""ird`col%%x" = %s)'
                ),
                ["x"],
            ),
            "mysql": (
                (
                    'SELECT `ta"b``le%%s`.`id`, `ta"b``le%%s`.`we"ird``col%%x` FROM `ta"b``le%%s` '
                    'WHERE (`ta"b``le%%s`.`we"ird``col%%x` = %s)'
                ),
                ["x"],
            ),
        },
    )


def test_alias_names_are_quoted():
    assert_sql(
        User.select(User.id.alias('n"1`')),
        {
            "sqlite": ('SELECT "user"."id" AS "n""1`" FROM "user"', []),
            "postgresql": ('SELECT "user"."id" AS "n""1`" FROM "user"', []),
            "mysql": ('SELECT `user`.`id` AS `n"1``` FROM `user`', []),
        },
    )


def test_function_names_must_be_plain_words():
    assert render(fn.my_func(1), SQLITE) == ("my_func(?)", [1])
    with pytest.raises(AttributeError):
        getattr(fn, "X(1); DROP TABLE user; --")


# -- values never inlined -------------------------------------------------------------------


@pytest.mark.parametrize("dialect", DIALECTS.values(), ids=list(DIALECTS))
def test_hostile_values_travel_only_as_parameters(dialect):
    queries = [
        User.select().where(User.username == HOSTILE),
        User.select().where(User.username.in_([HOSTILE, "b"])),
        User.select().where(User.username.contains(HOSTILE)),
        User.select().where(User.username.icontains(HOSTILE)),
        User.select().where(User.username.like(HOSTILE)),
        User.select().where(User.username.regexp(HOSTILE)),
        User.select(Case(None, [(User.id > 1, HOSTILE)], HOSTILE)),
        User.select().where(SQL("username = ?", [HOSTILE])),
        User.insert(username=HOSTILE),
        User.insert_many([{"username": HOSTILE}, {"username": "x" + HOSTILE}]),
        User.delete().where(User.username == HOSTILE),
    ]
    if dialect is not MYSQL:
        queries.append(
            User.insert(username=HOSTILE).on_conflict(conflict_target=[User.username], update={User.email: HOSTILE})
        )
    for query in queries:
        sql, params = render(query, dialect)
        assert "DROP" not in sql, sql
        assert "'" not in sql.replace("ESCAPE '!'", ""), sql
        assert any(HOSTILE in str(param) for param in params), (sql, params)


@pytest.mark.parametrize("dialect", DIALECTS.values(), ids=list(DIALECTS))
def test_update_values_travel_only_as_parameters(dialect):
    sql, params = render(User.update(username=HOSTILE).where(User.email == HOSTILE), dialect)
    assert "DROP" not in sql
    assert params == [HOSTILE, HOSTILE]


def test_comparisons_convert_values_through_the_field_before_sql():
    with pytest.raises(tinyorm.DataError):
        render(User.select().where(User.id == "1 OR 1=1"), SQLITE)
    with pytest.raises(tinyorm.DataError):
        render(User.select().where(User.username == "x" * 51), SQLITE)


# -- operators ------------------------------------------------------------------------------


def test_in_empty_list_is_constant_false_and_not_in_empty_is_true():
    assert_sql(
        User.select(User.id).where(User.id.in_([])),
        {
            "sqlite": ('SELECT "user"."id" FROM "user" WHERE (1 = 0)', []),
            "postgresql": ('SELECT "user"."id" FROM "user" WHERE (1 = 0)', []),
            "mysql": ("SELECT `user`.`id` FROM `user` WHERE (1 = 0)", []),
        },
    )
    assert_sql(
        User.select(User.id).where(User.id.not_in([])),
        {
            "sqlite": ('SELECT "user"."id" FROM "user" WHERE (1 = 1)', []),
            "postgresql": ('SELECT "user"."id" FROM "user" WHERE (1 = 1)', []),
            "mysql": ("SELECT `user`.`id` FROM `user` WHERE (1 = 1)", []),
        },
    )


def test_in_list_converts_each_value():
    assert_sql(
        User.select(User.id).where(User.id.in_(["1", 2])),
        {
            "sqlite": (
                'SELECT "user"."id" FROM "user" WHERE ("user"."id" IN (?, ?))',
                [1, 2],
            ),
            "postgresql": (
                'SELECT "user"."id" FROM "user" WHERE ("user"."id" IN (%s, %s))',
                [1, 2],
            ),
            "mysql": (
                "SELECT `user`.`id` FROM `user` WHERE (`user`.`id` IN (%s, %s))",
                [1, 2],
            ),
        },
    )


def test_eq_none_is_is_null_and_ne_none_is_is_not_null():
    assert_sql(
        User.select(User.id).where((User.email == None) | (User.username != None)),
        {
            "sqlite": (
                'SELECT "user"."id" FROM "user" WHERE (("user"."email" IS NULL) OR ("user"."username" IS NOT NULL))',
                [],
            ),
            "postgresql": (
                'SELECT "user"."id" FROM "user" WHERE (("user"."email" IS NULL) OR ("user"."username" IS NOT NULL))',
                [],
            ),
            "mysql": (
                "SELECT `user`.`id` FROM `user` WHERE ((`user`.`email` IS NULL) OR (`user`.`username` IS NOT NULL))",
                [],
            ),
        },
    )


def test_contains_escapes_wildcards_and_backslash_in_the_parameter():
    assert_sql(
        User.select(User.id).where(User.username.contains("50%_\\")),
        {
            # SQLite: GLOB is case-sensitive and has no % _ \ wildcards at all.
            "sqlite": (
                'SELECT "user"."id" FROM "user" WHERE ("user"."username" GLOB ?)',
                ["*50%_\\*"],
            ),
            "postgresql": (
                'SELECT "user"."id" FROM "user" WHERE ("user"."username" LIKE %s ESCAPE \'!\')',
                ["%50!%!_\\%"],
            ),
            # LIKE BINARY: case-sensitive whatever the column's collation.
            "mysql": (
                "SELECT `user`.`id` FROM `user` WHERE (`user`.`username` LIKE BINARY %s ESCAPE '!')",
                ["%50!%!_\\%"],
            ),
        },
    )


def test_escape_character_itself_is_escaped():
    for dialect in (POSTGRES, MYSQL):
        assert render(User.select(User.id).where(User.username.startswith("a!b")), dialect)[1] == ["a!!b%"]
        assert render(User.select(User.id).where(User.username.endswith("a!b")), dialect)[1] == ["%a!!b"]


def test_sqlite_glob_wildcards_are_escaped():
    _sql, params = render(User.select(User.id).where(User.username.startswith("a*?[")), SQLITE)
    assert params == ["a[*][?][[]*"]
    assert render(User.select(User.id).where(User.username.endswith("]x")), SQLITE)[1] == ["*]x"]


def test_icontains_is_case_insensitive_like_with_escape():
    assert_sql(
        User.select(User.id).where(User.username.icontains("50%_\\")),
        {
            "sqlite": (
                'SELECT "user"."id" FROM "user" WHERE (LOWER("user"."username") LIKE LOWER(?) ESCAPE \'!\')',
                ["%50!%!_\\%"],
            ),
            "postgresql": (
                'SELECT "user"."id" FROM "user" WHERE ("user"."username" ILIKE %s ESCAPE \'!\')',
                ["%50!%!_\\%"],
            ),
            "mysql": (
                "SELECT `user`.`id` FROM `user` WHERE (LOWER(`user`.`username`) LIKE LOWER(%s) ESCAPE '!')",
                ["%50!%!_\\%"],
            ),
        },
    )


def test_like_and_ilike_use_the_callers_pattern():
    assert_sql(
        User.select(User.id).where(User.username.like("a%_b") & User.email.ilike("X%")),
        {
            "sqlite": (
                (
                    'SELECT "user"."id" FROM "user" WHERE (("user"."username" LIKE ?) AND '
                    '(LOWER("user"."email") LIKE LOWER(?)))'
                ),
                ["a%_b", "X%"],
            ),
            "postgresql": (
                'SELECT "user"."id" FROM "user" WHERE (("user"."username" LIKE %s) AND ("user"."email" ILIKE %s))',
                ["a%_b", "X%"],
            ),
            "mysql": (
                (
                    "SELECT `user`.`id` FROM `user` WHERE ((`user`.`username` LIKE %s) AND "
                    "(LOWER(`user`.`email`) LIKE LOWER(%s)))"
                ),
                ["a%_b", "X%"],
            ),
        },
    )


def test_regexp_per_dialect():
    assert_sql(
        User.select(User.id).where(User.username.regexp("^a.c$")),
        {
            "sqlite": (
                'SELECT "user"."id" FROM "user" WHERE ("user"."username" REGEXP ?)',
                ["^a.c$"],
            ),
            "postgresql": (
                'SELECT "user"."id" FROM "user" WHERE ("user"."username" ~ %s)',
                ["^a.c$"],
            ),
            "mysql": (
                "SELECT `user`.`id` FROM `user` WHERE (`user`.`username` REGEXP %s)",
                ["^a.c$"],
            ),
        },
    )


def test_concat_is_pipes_except_on_mysql():
    assert_sql(
        User.select(User.username.concat("!")),
        {
            "sqlite": ('SELECT ("user"."username" || ?) FROM "user"', ["!"]),
            "postgresql": ('SELECT ("user"."username" || %s) FROM "user"', ["!"]),
            # MySQL reads || as OR unless PIPES_AS_CONCAT is set.
            "mysql": ("SELECT CONCAT(`user`.`username`, %s) FROM `user`", ["!"]),
        },
    )


def test_arithmetic_and_modulo():
    assert_sql(
        User.select((User.id + 1) * 2 - User.id, User.id / 2, User.id % 3),
        {
            "sqlite": (
                'SELECT ((("user"."id" + ?) * ?) - "user"."id"), ("user"."id" / ?), ("user"."id" %% ?) FROM "user"',
                [1, 2, 2, 3],
            ),
            # execute_sql reads %% as % on every engine (the %s drivers need it): modulo is %%
            "postgresql": (
                'SELECT ((("user"."id" + %s) * %s) - "user"."id"), ("user"."id" / %s), ("user"."id" %% %s) FROM "user"',
                [1, 2, 2, 3],
            ),
            "mysql": (
                "SELECT (((`user`.`id` + %s) * %s) - `user`.`id`), (`user`.`id` / %s), (`user`.`id` %% %s) FROM `user`",
                [1, 2, 2, 3],
            ),
        },
    )


def test_reflected_arithmetic():
    assert render(User.select(10 - User.id), SQLITE) == (
        'SELECT (? - "user"."id") FROM "user"',
        [10],
    )


@pytest.mark.parametrize("dialect", DIALECTS.values(), ids=list(DIALECTS))
def test_double_negation_never_renders_a_comment(dialect):
    # "--" starts a comment in every engine: -(-x) must not render as --x
    sql, _ = render(User.select(-(-User.id)).where(User.id > 0), dialect)  # noqa: B002
    assert "--" not in sql, sql


def test_comparison_operators():
    sql, params = render(
        User.select(User.id).where(
            (User.id == 1) | (User.id != 2) | (User.id < 3) | (User.id <= 4) | (User.id > 5) | (User.id >= 6)
        ),
        SQLITE,
    )
    assert sql == (
        'SELECT "user"."id" FROM "user" WHERE (((((("user"."id" = ?) OR ("user"."id" != ?)) OR '
        '("user"."id" < ?)) OR ("user"."id" <= ?)) OR ("user"."id" > ?)) OR ("user"."id" >= ?))'
    )
    assert params == [1, 2, 3, 4, 5, 6]


def test_not_and_between():
    assert_sql(
        User.select(User.id).where(~(User.id.between(1, 5)) & User.id.not_in([7, 8])),
        {
            "sqlite": (
                'SELECT "user"."id" FROM "user" WHERE (NOT ("user"."id" BETWEEN ? AND ?) AND ("user"."id" NOT IN (?, ?)))',
                [1, 5, 7, 8],
            ),
            "postgresql": (
                'SELECT "user"."id" FROM "user" WHERE (NOT ("user"."id" BETWEEN %s AND %s) AND ("user"."id" NOT IN (%s, %s)))',
                [1, 5, 7, 8],
            ),
            "mysql": (
                "SELECT `user`.`id` FROM `user` WHERE (NOT (`user`.`id` BETWEEN %s AND %s) AND (`user`.`id` NOT IN (%s, %s)))",
                [1, 5, 7, 8],
            ),
        },
    )


def test_cast_maps_type_names_per_dialect():
    assert_sql(
        User.select(User.id.cast("TEXT"), User.username.cast("INTEGER")),
        {
            "sqlite": (
                'SELECT CAST("user"."id" AS TEXT), CAST("user"."username" AS INTEGER) FROM "user"',
                [],
            ),
            "postgresql": (
                'SELECT CAST("user"."id" AS TEXT), CAST("user"."username" AS INTEGER) FROM "user"',
                [],
            ),
            "mysql": (
                "SELECT CAST(`user`.`id` AS CHAR), CAST(`user`.`username` AS SIGNED) FROM `user`",
                [],
            ),
        },
    )


def test_cast_refuses_anything_but_a_type_name():
    with pytest.raises(ValueError):
        render(User.select(User.id.cast("INT); DROP TABLE user; --")), SQLITE)


def test_sql_fragment_params_use_the_dialect_placeholder():
    query = User.select(User.id).where(SQL("LENGTH(username) > ?", [3]))
    assert_sql(
        query,
        {
            "sqlite": (
                'SELECT "user"."id" FROM "user" WHERE LENGTH(username) > ?',
                [3],
            ),
            "postgresql": (
                'SELECT "user"."id" FROM "user" WHERE LENGTH(username) > %s',
                [3],
            ),
            "mysql": (
                "SELECT `user`.`id` FROM `user` WHERE LENGTH(username) > %s",
                [3],
            ),
        },
    )


def test_sql_fragment_percent_is_escaped_for_execute_sql():
    query = User.select(SQL("'100%'"))
    assert render(query, SQLITE) == ("SELECT '100%%' FROM \"user\"", [])
    assert render(query, POSTGRES) == ("SELECT '100%%' FROM \"user\"", [])


def test_sql_fragment_placeholder_count_must_match():
    with pytest.raises(ValueError):
        SQL("a = ? AND b = ?", [1])


def test_functions_and_case():
    assert_sql(
        User.select(
            fn.COALESCE(User.email, "none").alias("e"),
            Case(None, [(User.id < 10, "low")], "high").alias("band"),
            Case(User.id, [(1, "one"), (2, "two")]).alias("word"),
        ),
        {
            "sqlite": (
                (
                    'SELECT COALESCE("user"."email", ?) AS "e", CASE WHEN ("user"."id" < ?) THEN ? ELSE ? END AS "band", '
                    'CASE "user"."id" WHEN ? THEN ? WHEN ? THEN ? END AS "word" FROM "user"'
                ),
                ["none", 10, "low", "high", 1, "one", 2, "two"],
            ),
            "mysql": (
                (
                    "SELECT COALESCE(`user`.`email`, %s) AS `e`, CASE WHEN (`user`.`id` < %s) THEN %s ELSE %s END AS `band`, "
                    "CASE `user`.`id` WHEN %s THEN %s WHEN %s THEN %s END AS `word` FROM `user`"
                ),
                ["none", 10, "low", "high", 1, "one", 2, "two"],
            ),
        },
    )


# -- limits and ordering --------------------------------------------------------------------


def test_limit_offset():
    assert_sql(
        User.select(User.id).order_by(User.id.desc()).limit(5).offset(10),
        {
            "sqlite": (
                'SELECT "user"."id" FROM "user" ORDER BY "user"."id" DESC LIMIT 5 OFFSET 10',
                [],
            ),
            "postgresql": (
                'SELECT "user"."id" FROM "user" ORDER BY "user"."id" DESC LIMIT 5 OFFSET 10',
                [],
            ),
            "mysql": (
                "SELECT `user`.`id` FROM `user` ORDER BY `user`.`id` DESC LIMIT 5 OFFSET 10",
                [],
            ),
        },
    )


def test_offset_without_limit():
    assert_sql(
        User.select(User.id).offset(10),
        {
            # SQLite has no OFFSET without LIMIT; LIMIT -1 means "no limit"
            "sqlite": ('SELECT "user"."id" FROM "user" LIMIT -1 OFFSET 10', []),
            "postgresql": ('SELECT "user"."id" FROM "user" OFFSET 10', []),
            # MySQL neither; its manual's idiom is the largest BIGINT UNSIGNED
            "mysql": (
                "SELECT `user`.`id` FROM `user` LIMIT 18446744073709551615 OFFSET 10",
                [],
            ),
        },
    )


def test_limit_and_offset_must_be_integers():
    with pytest.raises(ValueError):
        User.select().limit("1; DROP TABLE user")
    with pytest.raises(ValueError):
        User.select().offset(-1)


def test_paginate_is_one_based():
    assert render(User.select(User.id).paginate(1, 10), SQLITE)[0] == 'SELECT "user"."id" FROM "user" LIMIT 10'
    assert (
        render(User.select(User.id).paginate(3, 10), SQLITE)[0] == 'SELECT "user"."id" FROM "user" LIMIT 10 OFFSET 20'
    )
    with pytest.raises(ValueError):
        User.select().paginate(0, 10)


def test_nulls_first_and_last():
    assert_sql(
        User.select(User.id).order_by(User.email.asc(nulls="first"), User.id.desc(nulls="last")),
        {
            "sqlite": (
                'SELECT "user"."id" FROM "user" ORDER BY "user"."email" ASC NULLS FIRST, "user"."id" DESC NULLS LAST',
                [],
            ),
            "postgresql": (
                'SELECT "user"."id" FROM "user" ORDER BY "user"."email" ASC NULLS FIRST, "user"."id" DESC NULLS LAST',
                [],
            ),
            # MySQL has neither keyword: a leading sort key emulates them
            "mysql": (
                (
                    "SELECT `user`.`id` FROM `user` ORDER BY (CASE WHEN `user`.`email` IS NULL THEN 0 ELSE 1 END), "
                    "`user`.`email` ASC, (CASE WHEN `user`.`id` IS NULL THEN 1 ELSE 0 END), `user`.`id` DESC"
                ),
                [],
            ),
        },
    )


def test_group_by_having_distinct():
    assert_sql(
        Tweet.select(Tweet.user, fn.COUNT(Tweet.id).alias("n"))
        .group_by(Tweet.user)
        .having(fn.COUNT(Tweet.id) > 1)
        .distinct(),
        {
            "sqlite": (
                (
                    'SELECT DISTINCT "tweets"."user_id", COUNT("tweets"."id") AS "n" FROM "tweets" '
                    'GROUP BY "tweets"."user_id" HAVING (COUNT("tweets"."id") > ?)'
                ),
                [1],
            ),
            "mysql": (
                (
                    "SELECT DISTINCT `tweets`.`user_id`, COUNT(`tweets`.`id`) AS `n` FROM `tweets` "
                    "GROUP BY `tweets`.`user_id` HAVING (COUNT(`tweets`.`id`) > %s)"
                ),
                [1],
            ),
        },
    )


# -- joins ----------------------------------------------------------------------------------


def test_join_through_foreign_key_without_on():
    assert_sql(
        Tweet.select(Tweet.content, User.username).join(User),
        {
            "sqlite": (
                (
                    'SELECT "tweets"."content", "user"."username" FROM "tweets" '
                    'INNER JOIN "user" ON ("tweets"."user_id" = "user"."id")'
                ),
                [],
            ),
            "mysql": (
                (
                    "SELECT `tweets`.`content`, `user`.`username` FROM `tweets` "
                    "INNER JOIN `user` ON (`tweets`.`user_id` = `user`.`id`)"
                ),
                [],
            ),
        },
    )


def test_join_backwards_through_foreign_key_and_switch():
    query = (
        User.select(User.username, Tweet.content, Category.title)
        .join(Tweet, JOIN.LEFT_OUTER)
        .switch(User)
        .join(Category, on=(Category.title == User.username))
    )
    assert render(query, POSTGRES) == (
        (
            'SELECT "user"."username", "tweets"."content", "category"."title" FROM "user" '
            'LEFT OUTER JOIN "tweets" ON ("tweets"."user_id" = "user"."id") '
            'INNER JOIN "category" ON ("category"."title" = "user"."username")'
        ),
        [],
    )


def test_full_outer_join_refused_on_mysql_right_join_allowed():
    full = User.select(User.id).join(Tweet, JOIN.FULL_OUTER, on=(Tweet.user == User.id))
    assert_sql(
        full,
        {
            "sqlite": (
                'SELECT "user"."id" FROM "user" FULL OUTER JOIN "tweets" ON ("tweets"."user_id" = "user"."id")',
                [],
            ),
            "postgresql": (
                'SELECT "user"."id" FROM "user" FULL OUTER JOIN "tweets" ON ("tweets"."user_id" = "user"."id")',
                [],
            ),
            "mysql": tinyorm.NotSupportedError,
        },
    )
    right = User.select(User.id).join(Tweet, JOIN.RIGHT_OUTER, on=(Tweet.user == User.id))
    assert render(right, MYSQL) == (
        "SELECT `user`.`id` FROM `user` RIGHT OUTER JOIN `tweets` ON (`tweets`.`user_id` = `user`.`id`)",
        [],
    )
    assert MYSQL.supports_full_join is False
    assert MYSQL.supports_right_join is True


def test_cross_join_has_no_on_clause():
    query = User.select(User.id, Category.id).join(Category, JOIN.CROSS)
    assert_sql(
        query,
        {
            "sqlite": (
                'SELECT "user"."id", "category"."id" FROM "user" CROSS JOIN "category"',
                [],
            ),
            "postgresql": (
                'SELECT "user"."id", "category"."id" FROM "user" CROSS JOIN "category"',
                [],
            ),
            "mysql": (
                "SELECT `user`.`id`, `category`.`id` FROM `user` CROSS JOIN `category`",
                [],
            ),
        },
    )


def test_cross_join_between_related_models_has_no_on_clause():
    sql, _ = render(Tweet.select(Tweet.id).join(User, JOIN.CROSS), POSTGRES)
    assert sql == 'SELECT "tweets"."id" FROM "tweets" CROSS JOIN "user"'


def test_self_join_with_model_alias():
    parent = Category.alias("parent")
    assert_sql(
        Category.select(Category.title, parent.title.alias("parent_title")).join(
            parent, JOIN.LEFT_OUTER, on=(Category.parent == parent.id)
        ),
        {
            "sqlite": (
                (
                    'SELECT "category"."title", "parent"."title" AS "parent_title" FROM "category" '
                    'LEFT OUTER JOIN "category" AS "parent" ON ("category"."parent_id" = "parent"."id")'
                ),
                [],
            ),
            "mysql": (
                (
                    "SELECT `category`.`title`, `parent`.`title` AS `parent_title` FROM `category` "
                    "LEFT OUTER JOIN `category` AS `parent` ON (`category`.`parent_id` = `parent`.`id`)"
                ),
                [],
            ),
        },
    )


def test_self_join_via_foreign_key_without_on():
    parent = Category.alias("p")
    sql, _ = render(Category.select(Category.id).join(parent), SQLITE)
    assert sql == (
        'SELECT "category"."id" FROM "category" INNER JOIN "category" AS "p" ON ("category"."parent_id" = "p"."id")'
    )


def test_unnamed_alias_gets_a_generated_name():
    other = Category.alias()
    sql, _ = render(
        Category.select(Category.id, other.id).join(other, on=(Category.parent == other.id)),
        SQLITE,
    )
    assert sql == (
        'SELECT "category"."id", "t1"."id" FROM "category" INNER JOIN "category" AS "t1" '
        'ON ("category"."parent_id" = "t1"."id")'
    )


def test_alias_of_a_model_whose_fields_are_called_name_and_model():
    class Tag(Model):
        name = CharField()
        model = CharField()

    other = Tag.alias("other")
    sql, _ = render(
        Tag.select(Tag.id).join(other, on=(Tag.name == other.name)).where(other.model == "x"),
        SQLITE,
    )
    assert sql == (
        'SELECT "tag"."id" FROM "tag" INNER JOIN "tag" AS "other" ON ("tag"."name" = "other"."name") '
        'WHERE ("other"."model" = ?)'
    )


# -- subqueries -----------------------------------------------------------------------------


def test_subquery_in_from():
    sub = User.select(User.id, User.username).where(User.id > 1).alias("sub")
    assert_sql(
        User.select(sub.c.username).select_from(sub).where(sub.c.id < 5),
        {
            "sqlite": (
                (
                    'SELECT "sub"."username" FROM (SELECT "user"."id", "user"."username" FROM "user" '
                    'WHERE ("user"."id" > ?)) AS "sub" WHERE ("sub"."id" < ?)'
                ),
                [1, 5],
            ),
            "postgresql": (
                (
                    'SELECT "sub"."username" FROM (SELECT "user"."id", "user"."username" FROM "user" '
                    'WHERE ("user"."id" > %s)) AS "sub" WHERE ("sub"."id" < %s)'
                ),
                [1, 5],
            ),
            "mysql": (
                (
                    "SELECT `sub`.`username` FROM (SELECT `user`.`id`, `user`.`username` FROM `user` "
                    "WHERE (`user`.`id` > %s)) AS `sub` WHERE (`sub`.`id` < %s)"
                ),
                [1, 5],
            ),
        },
    )


def test_subquery_in_where_and_select_and_exists():
    in_sub = User.select(User.id).where(User.id.in_(Tweet.select(Tweet.user).where(Tweet.content == "x")))
    assert render(in_sub, POSTGRES) == (
        (
            'SELECT "user"."id" FROM "user" WHERE ("user"."id" IN '
            '(SELECT "tweets"."user_id" FROM "tweets" WHERE ("tweets"."content" = %s)))'
        ),
        ["x"],
    )
    exists = User.select(User.id).where(fn.EXISTS(Tweet.select(SQL("1")).where(Tweet.user == User.id)))
    assert render(exists, SQLITE) == (
        'SELECT "user"."id" FROM "user" WHERE EXISTS(SELECT 1 FROM "tweets" WHERE ("tweets"."user_id" = "user"."id"))',
        [],
    )
    not_exists = User.select(User.id).where(~fn.EXISTS(Tweet.select(SQL("1")).where(Tweet.user == User.id)))
    assert render(not_exists, SQLITE)[0].endswith(
        'WHERE NOT EXISTS(SELECT 1 FROM "tweets" WHERE ("tweets"."user_id" = "user"."id"))'
    )


def test_scalar_subquery_in_select_list_keeps_its_alias():
    scalar = User.select(
        User.username,
        Tweet.select(fn.COUNT(Tweet.id)).where(Tweet.user == User.id).alias("n"),
    )
    assert render(scalar, MYSQL) == (
        (
            "SELECT `user`.`username`, (SELECT COUNT(`tweets`.`id`) FROM `tweets` "
            "WHERE (`tweets`.`user_id` = `user`.`id`)) AS `n` FROM `user`"
        ),
        [],
    )


def test_subquery_parameters_keep_their_order():
    sub = Tweet.select(Tweet.user).where(Tweet.content == "inner")
    query = User.select(User.id).where((User.username == "first") & User.id.in_(sub) & (User.email == "last"))
    assert render(query, SQLITE)[1] == ["first", "inner", "last"]


# -- CTEs, windows, compounds ---------------------------------------------------------------


def test_recursive_cte():
    base = Category.select(Category.id, Category.title, Category.parent).where(Category.parent.is_null())
    tree = base.cte("tree", recursive=True, columns=("id", "title", "parent_id"))
    step = Category.select(Category.id, Category.title, Category.parent).join(tree, on=(Category.parent == tree.c.id))
    tree = tree.union_all(step)
    query = Category.select(tree.c.id, tree.c.title).select_from(tree).with_cte(tree).order_by(tree.c.id)
    assert_sql(
        query,
        {
            "sqlite": (
                (
                    'WITH RECURSIVE "tree" ("id", "title", "parent_id") AS (SELECT "category"."id", "category"."title", '
                    '"category"."parent_id" FROM "category" WHERE ("category"."parent_id" IS NULL) UNION ALL '
                    'SELECT "category"."id", "category"."title", "category"."parent_id" FROM "category" '
                    'INNER JOIN "tree" ON ("category"."parent_id" = "tree"."id")) '
                    'SELECT "tree"."id", "tree"."title" FROM "tree" ORDER BY "tree"."id"'
                ),
                [],
            ),
            "mysql": (
                (
                    "WITH RECURSIVE `tree` (`id`, `title`, `parent_id`) AS (SELECT `category`.`id`, `category`.`title`, "
                    "`category`.`parent_id` FROM `category` WHERE (`category`.`parent_id` IS NULL) UNION ALL "
                    "SELECT `category`.`id`, `category`.`title`, `category`.`parent_id` FROM `category` "
                    "INNER JOIN `tree` ON (`category`.`parent_id` = `tree`.`id`)) "
                    "SELECT `tree`.`id`, `tree`.`title` FROM `tree` ORDER BY `tree`.`id`"
                ),
                [],
            ),
        },
    )


def test_plain_cte_joined():
    counts = Tweet.select(Tweet.user, fn.COUNT(Tweet.id).alias("n")).group_by(Tweet.user).cte("counts")
    query = (
        User.select(User.username, counts.c.n)
        .join(counts, on=(counts.c.user_id == User.id))
        .with_cte(counts)
        .where(counts.c.n > 1)
    )
    assert render(query, POSTGRES) == (
        (
            'WITH "counts" AS (SELECT "tweets"."user_id", COUNT("tweets"."id") AS "n" FROM "tweets" '
            'GROUP BY "tweets"."user_id") SELECT "user"."username", "counts"."n" FROM "user" '
            'INNER JOIN "counts" ON ("counts"."user_id" = "user"."id") WHERE ("counts"."n" > %s)'
        ),
        [1],
    )


def test_window_function():
    query = Tweet.select(
        Tweet.id,
        fn.ROW_NUMBER().over(partition_by=[Tweet.user], order_by=[Tweet.id.desc()]).alias("rn"),
    )
    assert_sql(
        query,
        {
            "sqlite": (
                (
                    'SELECT "tweets"."id", ROW_NUMBER() OVER (PARTITION BY "tweets"."user_id" ORDER BY "tweets"."id" DESC) '
                    'AS "rn" FROM "tweets"'
                ),
                [],
            ),
            "mysql": (
                (
                    "SELECT `tweets`.`id`, ROW_NUMBER() OVER (PARTITION BY `tweets`.`user_id` ORDER BY `tweets`.`id` DESC) "
                    "AS `rn` FROM `tweets`"
                ),
                [],
            ),
        },
    )


@pytest.mark.parametrize(
    "method, keyword",
    [
        ("union", "UNION"),
        ("union_all", "UNION ALL"),
        ("intersect", "INTERSECT"),
        ("except_", "EXCEPT"),
    ],
)
def test_compound_selects(method, keyword):
    lhs = User.select(User.id).where(User.id < 5)
    rhs = User.select(User.id).where(User.id > 2)
    query = getattr(lhs, method)(rhs).order_by(SQL("1")).limit(3)
    assert render(query, SQLITE) == (
        (
            f'SELECT "user"."id" FROM "user" WHERE ("user"."id" < ?) {keyword} '
            f'SELECT "user"."id" FROM "user" WHERE ("user"."id" > ?) ORDER BY 1 LIMIT 3'
        ),
        [5, 2],
    )
    assert render(query, MYSQL) == (
        (
            f"SELECT `user`.`id` FROM `user` WHERE (`user`.`id` < %s) {keyword} "
            f"SELECT `user`.`id` FROM `user` WHERE (`user`.`id` > %s) ORDER BY 1 LIMIT 3"
        ),
        [5, 2],
    )


def test_compound_part_with_its_own_limit():
    query = User.select(User.id).order_by(User.id).limit(1).union(User.select(User.id))
    assert render(query, POSTGRES) == (
        '(SELECT "user"."id" FROM "user" ORDER BY "user"."id" LIMIT 1) UNION SELECT "user"."id" FROM "user"',
        [],
    )
    # SQLite takes no parentheses around a compound's parts: refused, not mis-compiled
    with pytest.raises(tinyorm.NotSupportedError):
        render(query, SQLITE)


# -- row locks ------------------------------------------------------------------------------


def test_for_update_per_dialect():
    query = User.select(User.id).where(User.id == 1)
    assert (
        render(query.for_update(), POSTGRES)[0] == 'SELECT "user"."id" FROM "user" WHERE ("user"."id" = %s) FOR UPDATE'
    )
    assert render(query.for_update(nowait=True), MYSQL)[0] == (
        "SELECT `user`.`id` FROM `user` WHERE (`user`.`id` = %s) FOR UPDATE NOWAIT"
    )
    assert render(query.for_update(skip_locked=True), POSTGRES)[0].endswith(" FOR UPDATE SKIP LOCKED")
    # SQLite locks the whole database: a plain FOR UPDATE is dropped, NOWAIT/SKIP LOCKED refused
    assert render(query.for_update(), SQLITE)[0] == 'SELECT "user"."id" FROM "user" WHERE ("user"."id" = ?)'
    with pytest.raises(tinyorm.NotSupportedError):
        render(query.for_update(nowait=True), SQLITE)
    with pytest.raises(ValueError):
        query.for_update(nowait=True, skip_locked=True)


def test_shared_row_locks_per_dialect():
    query = User.select(User.id).where(User.id == 1)
    assert render(query.for_update(), MYSQL)[0].endswith(" FOR UPDATE")  # not confused by a cache
    assert render(query.for_update(share=True), POSTGRES)[0].endswith('("user"."id" = %s) FOR SHARE')
    # MariaDB has no FOR SHARE; MySQL 8 accepts the older spelling too
    assert render(query.for_update(share=True), MYSQL)[0].endswith("(`user`.`id` = %s) LOCK IN SHARE MODE")
    assert render(query.for_update(share=True), SQLITE)[0] == 'SELECT "user"."id" FROM "user" WHERE ("user"."id" = ?)'


# -- writes ---------------------------------------------------------------------------------


def test_insert_single_and_many():
    assert_sql(
        User.insert(username="a", email=None),
        {
            "sqlite": (
                'INSERT INTO "user" ("username", "email") VALUES (?, ?)',
                ["a", None],
            ),
            "postgresql": (
                'INSERT INTO "user" ("username", "email") VALUES (%s, %s)',
                ["a", None],
            ),
            "mysql": (
                "INSERT INTO `user` (`username`, `email`) VALUES (%s, %s)",
                ["a", None],
            ),
        },
    )
    assert render(
        User.insert_many([("a", "x"), ("b", None)], fields=[User.username, User.email]),
        MYSQL,
    ) == (
        "INSERT INTO `user` (`username`, `email`) VALUES (%s, %s), (%s, %s)",
        ["a", "x", "b", None],
    )


def test_insert_with_no_values():
    assert_sql(
        Category.insert(),
        {
            "sqlite": ('INSERT INTO "category" DEFAULT VALUES', []),
            "postgresql": ('INSERT INTO "category" DEFAULT VALUES', []),
            "mysql": ("INSERT INTO `category` () VALUES ()", []),
        },
    )


def test_upsert_update_per_dialect():
    query = Counter.insert(key="k", hits=1).on_conflict(
        conflict_target=[Counter.key],
        update={Counter.hits: Counter.hits + EXCLUDED.hits},
    )
    assert_sql(
        query,
        {
            "sqlite": (
                (
                    'INSERT INTO "counter" ("key", "hits") VALUES (?, ?) ON CONFLICT ("key") '
                    'DO UPDATE SET "hits" = ("counter"."hits" + EXCLUDED."hits")'
                ),
                ["k", 1],
            ),
            "postgresql": (
                (
                    'INSERT INTO "counter" ("key", "hits") VALUES (%s, %s) ON CONFLICT ("key") '
                    'DO UPDATE SET "hits" = ("counter"."hits" + EXCLUDED."hits")'
                ),
                ["k", 1],
            ),
            # the auto-increment id is left to the server and cannot conflict, so "key" is
            # the only key that can fire; LAST_INSERT_ID(id) makes lastrowid the row's key
            "mysql": (
                (
                    "INSERT INTO `counter` (`key`, `hits`) VALUES (%s, %s) ON DUPLICATE KEY UPDATE "
                    "`hits` = (`counter`.`hits` + VALUES(`hits`)), `id` = LAST_INSERT_ID(`id`)"
                ),
                ["k", 1],
            ),
        },
    )


def test_upsert_target_that_mysql_cannot_honour_is_refused():
    query = Account.insert(username="u", email="e").on_conflict(
        conflict_target=[Account.username], update={Account.email: "f"}
    )
    assert_sql(
        query,
        {
            "sqlite": (
                (
                    'INSERT INTO "account" ("username", "email") VALUES (?, ?) ON CONFLICT ("username") '
                    'DO UPDATE SET "email" = ?'
                ),
                ["u", "e", "f"],
            ),
            "postgresql": (
                (
                    'INSERT INTO "account" ("username", "email") VALUES (%s, %s) ON CONFLICT ("username") '
                    'DO UPDATE SET "email" = %s'
                ),
                ["u", "e", "f"],
            ),
            # ON DUPLICATE KEY UPDATE would also fire on a duplicate email
            "mysql": tinyorm.NotSupportedError,
        },
    )


def test_upsert_without_target_on_mysql():
    query = Counter.insert(key="k", hits=1).on_conflict(update={Counter.hits: Counter.hits + EXCLUDED.hits})
    assert render(query, MYSQL) == (
        (
            "INSERT INTO `counter` (`key`, `hits`) VALUES (%s, %s) ON DUPLICATE KEY UPDATE "
            "`hits` = (`counter`.`hits` + VALUES(`hits`)), `id` = LAST_INSERT_ID(`id`)"
        ),
        ["k", 1],
    )


def test_upsert_preserve_uses_the_proposed_value():
    query = Counter.insert(key="k", hits=1).on_conflict(conflict_target=[Counter.key], preserve=[Counter.hits])
    assert render(query, POSTGRES) == (
        'INSERT INTO "counter" ("key", "hits") VALUES (%s, %s) ON CONFLICT ("key") DO UPDATE SET "hits" = EXCLUDED."hits"',
        ["k", 1],
    )
    query = Counter.insert(key="k", hits=1).on_conflict(preserve=[Counter.hits])
    assert render(query, MYSQL) == (
        (
            "INSERT INTO `counter` (`key`, `hits`) VALUES (%s, %s) ON DUPLICATE KEY UPDATE "
            "`hits` = VALUES(`hits`), `id` = LAST_INSERT_ID(`id`)"
        ),
        ["k", 1],
    )


def test_upsert_ignore_per_dialect():
    assert_sql(
        Counter.insert(key="k", hits=1).on_conflict_ignore(),
        {
            "sqlite": (
                'INSERT INTO "counter" ("key", "hits") VALUES (?, ?) ON CONFLICT DO NOTHING',
                ["k", 1],
            ),
            "postgresql": (
                'INSERT INTO "counter" ("key", "hits") VALUES (%s, %s) ON CONFLICT DO NOTHING',
                ["k", 1],
            ),
            # a no-op assignment: INSERT IGNORE would also downgrade data errors to warnings
            "mysql": (
                "INSERT INTO `counter` (`key`, `hits`) VALUES (%s, %s) ON DUPLICATE KEY UPDATE `key` = `key`",
                ["k", 1],
            ),
        },
    )


def test_returning_per_dialect():
    assert_sql(
        User.insert(username="a").returning(User.id, User.username),
        {
            "sqlite": (
                'INSERT INTO "user" ("username") VALUES (?) RETURNING "id", "username"',
                ["a"],
            ),
            "postgresql": (
                'INSERT INTO "user" ("username") VALUES (%s) RETURNING "id", "username"',
                ["a"],
            ),
            "mysql": tinyorm.NotSupportedError,
        },
    )
    assert_sql(
        User.update(username="b").where(User.id == 1).returning(User.id),
        {
            "sqlite": (
                'UPDATE "user" SET "username" = ? WHERE ("user"."id" = ?) RETURNING "id"',
                ["b", 1],
            ),
            "postgresql": (
                'UPDATE "user" SET "username" = %s WHERE ("user"."id" = %s) RETURNING "id"',
                ["b", 1],
            ),
            "mysql": tinyorm.NotSupportedError,
        },
    )
    assert_sql(
        User.delete().where(User.id == 1).returning(User.id),
        {
            "sqlite": (
                'DELETE FROM "user" WHERE ("user"."id" = ?) RETURNING "id"',
                [1],
            ),
            "postgresql": (
                'DELETE FROM "user" WHERE ("user"."id" = %s) RETURNING "id"',
                [1],
            ),
            "mysql": tinyorm.NotSupportedError,
        },
    )


def test_update_and_delete():
    assert_sql(
        User.update(email="e", username=User.username.concat("!")).where(User.id == 1),
        {
            "sqlite": (
                'UPDATE "user" SET "email" = ?, "username" = ("user"."username" || ?) WHERE ("user"."id" = ?)',
                ["e", "!", 1],
            ),
            "postgresql": (
                'UPDATE "user" SET "email" = %s, "username" = ("user"."username" || %s) WHERE ("user"."id" = %s)',
                ["e", "!", 1],
            ),
            "mysql": (
                "UPDATE `user` SET `email` = %s, `username` = CONCAT(`user`.`username`, %s) WHERE (`user`.`id` = %s)",
                ["e", "!", 1],
            ),
        },
    )
    assert_sql(
        User.delete().where(User.id == 1),
        {
            "sqlite": ('DELETE FROM "user" WHERE ("user"."id" = ?)', [1]),
            "postgresql": ('DELETE FROM "user" WHERE ("user"."id" = %s)', [1]),
            "mysql": ("DELETE FROM `user` WHERE (`user`.`id` = %s)", [1]),
        },
    )


def test_update_set_columns_quoted_for_each_dialect_in_one_process():
    # One process may serve several engines (a Router): column text cached for one dialect
    # must not leak into another's SQL.
    query = Counter.update(hits=2).where(Counter.id == 1)
    assert render(query, SQLITE)[0] == 'UPDATE "counter" SET "hits" = ? WHERE ("counter"."id" = ?)'
    assert render(query, MYSQL)[0] == "UPDATE `counter` SET `hits` = %s WHERE (`counter`.`id` = %s)"
    assert render(query, POSTGRES)[0] == 'UPDATE "counter" SET "hits" = %s WHERE ("counter"."id" = %s)'


# -- generative chaining --------------------------------------------------------------------


def test_chaining_leaves_the_original_query_unchanged():
    base = User.select(User.id).where(User.id > 1)
    before = render(base, SQLITE)
    derived = [
        base.where(User.username == "x"),
        base.orwhere(User.username == "y"),
        base.order_by(User.id.desc()),
        base.limit(3),
        base.offset(2),
        base.paginate(2, 5),
        base.join(Tweet, JOIN.LEFT_OUTER),
        base.group_by(User.id),
        base.having(fn.COUNT(User.id) > 1),
        base.distinct(),
        base.for_update(),
        base.columns(User.username),
        base.select_extend(User.email),
        base.alias("named"),
        base.dicts(),
    ]
    for query in derived:
        render(query, SQLITE)
        assert render(base, SQLITE) == before
    assert render(base.where(User.username == "x"), SQLITE) != before


def test_chained_branches_are_independent():
    base = User.select(User.id)
    left = base.where(User.id == 1)
    right = base.where(User.id == 2)
    assert render(left, SQLITE) == (
        'SELECT "user"."id" FROM "user" WHERE ("user"."id" = ?)',
        [1],
    )
    assert render(right, SQLITE) == (
        'SELECT "user"."id" FROM "user" WHERE ("user"."id" = ?)',
        [2],
    )
    both = left.where(User.username == "z")
    assert render(left, SQLITE) == (
        'SELECT "user"."id" FROM "user" WHERE ("user"."id" = ?)',
        [1],
    )
    assert render(both, SQLITE)[1] == [1, "z"]


def test_write_queries_are_generative_too():
    base = User.update(email="e")
    filtered = base.where(User.id == 1)
    assert render(base, POSTGRES) == ('UPDATE "user" SET "email" = %s', ["e"])
    assert render(filtered, POSTGRES)[1] == ["e", 1]
    insert = Counter.insert(key="k", hits=1)
    insert.on_conflict_ignore()
    assert render(insert, SQLITE) == (
        'INSERT INTO "counter" ("key", "hits") VALUES (?, ?)',
        ["k", 1],
    )


def test_compiling_twice_gives_the_same_result():
    query = Tweet.select(Tweet, User).join(User).where(User.username.contains("a%")).limit(2)
    for dialect in DIALECTS.values():
        assert render(query, dialect) == render(query, dialect)
