"""Identifier-like arguments that become SQL text: each hostile one is refused with
``UnsafeSQLError`` before any SQL is sent, on every engine; each valid one runs.

Surfaces: ``Field.cast(type)`` and ``join(other, join_type)``. Values are bound, and
table, column and alias names are quoted (tests/orm/test_traps.py); these two are the
arguments that are words of SQL, so they are checked against a grammar.
"""

import pytest

from tinyorm import JOIN, CharField, DatabaseError, ForeignKeyField, IntegerField, Model, UnsafeSQLError

from ._hostile import family, no_sql_sent


class Secret(Model):
    secret = CharField()

    class Meta:
        table_name = "secret"


class Owner(Model):
    name = CharField()
    n = IntegerField(null=True)
    note = CharField(null=True)


class Pet(Model):
    owner = ForeignKeyField(Owner, backref="pets")
    name = CharField()


MODELS = [Secret, Owner, Pet]

NOT_STRINGS = [None, 5, 1.5, b"INTEGER", ["INTEGER"], ("INTEGER",), object()]
CAST_CASES = family(["INTEGER", "TEXT", "VARCHAR(10)", "DECIMAL(10, 2)", "DOUBLE PRECISION"], NOT_STRINGS) + [
    "",
    " ",
    "INTEGER()",
    "VARCHAR(10,)",
    "VARCHAR(-1)",
    "VARCHAR(1e3)",
    "VARCHAR(12345)",
    "NUMERIC(10, 2, 3)",
    "INTEGER(10)",  # a size where the engine takes none
    "TEXT COLLATE C",
    "INTEGER ARRAY",
    "INTEGER[]",
    "pg_catalog.text",
    "secret",
]
JOIN_CASES = family(["INNER JOIN", "LEFT OUTER JOIN", "CROSS", "LEFT"], NOT_STRINGS) + [
    "",
    " ",
    "NATURAL JOIN",
    "LEFT JOIN LATERAL",
    "JOIN secret ON 1=1 JOIN",
    "INNER  JOIN",
    " INNER JOIN",
    "STRAIGHT_JOIN",
]


@pytest.fixture
def tables(db):
    for model in MODELS:
        model.bind(db)
    db.create_tables(MODELS)
    Secret.create(secret="the-crown-jewels")
    owner = Owner.create(name="ann", n=7)
    Pet.create(owner=owner, name="rex")
    return db


def _refused(db, build, cases):
    """Run ``build(case)`` for every case; return the cases that were not refused."""
    leaked = []
    for case in cases:
        with no_sql_sent(db):
            try:
                list(build(case))
            except UnsafeSQLError:
                continue
            leaked.append(case)
    return leaked


def test_cast_families_are_refused_before_sql(tables):
    assert len(CAST_CASES) > 500
    assert _refused(tables, lambda t: Owner.select(Owner.n.cast(t)).tuples(), CAST_CASES) == []


def test_cast_refuses_the_reported_exploit(tables):
    exploit = "INTEGER) AS x, (SELECT secret FROM secret) AS y, CAST(1 AS INTEGER"
    with no_sql_sent(tables), pytest.raises(UnsafeSQLError, match="not a type"):
        Owner.select(Owner.n.cast(exploit)).scalar()
    assert isinstance(UnsafeSQLError("x"), ValueError)


def test_every_allowed_cast_type_runs(tables):
    """The grammar is not just strict: each name it allows is one the engine takes."""
    dialect = tables.dialect
    names = sorted(dialect.cast_type_names)
    for name in names:
        # Text casts to every type (PostgreSQL checks the pair even for NULL), and a NULL
        # converts to anything: this tests the type's spelling, not a conversion.
        assert Owner.select(Owner.note.cast(name)).tuples()[:] == [(None,)], name
        if name in dialect.cast_sized_types:
            assert Owner.select(Owner.note.cast(f"{name}(10)")).tuples()[:] == [(None,)], name
    assert Owner.select(Owner.n.cast("integer")).scalar() == 7
    assert Owner.select(Owner.n.cast("  TEXT ")).scalar() == "7"
    assert Owner.select(Owner.n.cast("decimal(10,2)")).scalar() == 7


def test_join_families_are_refused_before_sql(tables):
    assert len(JOIN_CASES) > 400

    def build(kind):
        return Pet.select(Pet.name, Owner.name).join(Owner, kind, on=(Pet.owner == Owner.id)).tuples()

    assert _refused(tables, build, JOIN_CASES) == []
    assert _refused(tables, lambda kind: Pet.select().join(Owner, kind), JOIN_CASES[:50]) == []


def test_join_kinds_in_any_case_run(tables):
    rows = {("rex", "ann")}
    for kind in (JOIN.INNER, "inner", "join", "Left Outer Join", "left", JOIN.LEFT_OUTER, "LEFT JOIN"):
        query = Pet.select(Pet.name, Owner.name).join(Owner, kind, on=(Pet.owner == Owner.id))
        assert set(query.tuples()) == rows, kind
    assert len(Pet.select(Pet.name, Secret.secret).join(Secret, "cross").tuples()[:]) == 1


NAME_CASES = family(["owner", "n", "select"]) + ["", "\x00", "a\x00b", "ö" * 40, "x" * 70]


def test_alias_families_are_quoted_or_refused(tables):
    """A hostile alias is quoted (the row comes back under exactly that key) or refused
    before SQL (NUL, empty, too long for the engine); never injected."""
    refused, kept = 0, 0
    for name in NAME_CASES:
        sent = []
        original = tables.execute_sql

        def recording(sql, params=None, *args, sent=sent, original=original, **kwargs):
            sent.append(sql)
            return original(sql, params, *args, **kwargs)

        tables.execute_sql = recording
        try:
            row = Owner.select(Owner.n.alias(name)).dicts().get()
        except UnsafeSQLError:
            assert not sent, (name, sent)
            refused += 1
            continue
        finally:
            del tables.execute_sql
        assert row == {name: 7}, (name, row)
        kept += 1
    assert refused >= 3 and kept > 300, (refused, kept)


TABLE_CASES = [case for case in family(["t"]) if len(case) < 40] + ["ö" * 40, "t" * 70, "\x00t", ""]


def test_table_and_column_name_families_round_trip_or_are_refused(db):
    """A hostile table or column name is quoted through CREATE, INSERT, SELECT and DROP (the
    row comes back under that table and column) or refused before any SQL. An engine may
    reject a name it cannot store (MariaDB: a trailing space); that is its own error, not
    an injection, and stays rare."""
    refused, kept, engine_refused = 0, 0, []
    for name in TABLE_CASES:
        column = (name + "c") if name else "c"
        meta = type("Meta", (), {"table_name": name})
        model = type("Hostile", (Model,), {"value": IntegerField(column_name=column), "Meta": meta})
        model.bind(db)
        try:
            with no_sql_sent(db):
                db.dialect.quote(name)
                db.dialect.check_identifier_length(column)
        except UnsafeSQLError:
            refused += 1
            continue
        try:
            db.create_tables([model])
        except DatabaseError as exc:
            engine_refused.append((name, str(exc)[:80]))
            continue
        model.create(value=41)
        assert [row.value for row in model.select()] == [41], name
        assert name in db.get_tables(), name
        db.drop_tables([model])
        kept += 1
    assert refused >= 3 and kept > 70 and len(engine_refused) <= 5, (refused, kept, engine_refused)
