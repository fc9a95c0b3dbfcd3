"""Index names: shortened to the engines' limit by bytes, with a hash, at a character
boundary; and never ``IF NOT EXISTS`` hiding a different index under the same name."""

import pytest

import tinyorm
from tinyorm import CharField, Index, IntegerField, Model
from tinyorm.schema import IDENTIFIER_BYTES, index_name, shorten_name

PREFIX = "ä" * 25  # 50 bytes: each column name fits every engine, "table_column" does not


class Wide(Model):
    first = CharField(max_length=20, unique=True, column_name=PREFIX + "_first")
    second = CharField(max_length=20, unique=True, column_name=PREFIX + "_second")
    third = IntegerField(null=True, index=True, column_name="中" * 20)  # MariaDB: no 4-byte characters

    class Meta:
        table_name = "wïde_tâble"


def test_shorten_name_cuts_at_a_character_boundary_with_a_hash():
    for name in [PREFIX + "_x", "🎉" * 40, "a" * 100, "é" * 31 + "x", "t_" + "中" * 30, "a" * 60, "a" * 61]:
        short = shorten_name(name)
        assert len(short.encode("utf-8")) <= IDENTIFIER_BYTES, name
        assert short.encode("utf-8").decode("utf-8") == short
        if short != name:
            assert len(short) <= 60 and short[-9] == "_"
    assert shorten_name("a" * 60) == "a" * 60  # short ASCII names are unchanged
    assert shorten_name(PREFIX + "_first") != shorten_name(PREFIX + "_second")
    # The same rule as before for ASCII: existing databases keep their index names.
    long_ascii = "t_" + "c" * 70
    assert shorten_name(long_ascii) == long_ascii[:51] + "_" + shorten_name(long_ascii)[-8:]


def test_two_long_non_ascii_unique_indexes_both_exist(db):
    Wide.bind(db)
    db.create_tables([Wide])
    indexes = {index.name: index for index in db.get_indexes(Wide._meta.table_name)}
    for field in (Wide.first, Wide.second, Wide.third):
        name = index_name(Wide._meta.table_name, [field.column_name])
        assert name in indexes, (name, sorted(indexes))
        assert list(indexes[name].columns) == [field.column_name]
    assert indexes[index_name(Wide._meta.table_name, [Wide.first.column_name])].unique
    Wide.create(first="a", second="b")
    for values in ({"first": "a", "second": "c"}, {"first": "d", "second": "b"}):
        with pytest.raises(tinyorm.IntegrityError):
            Wide.create(**values)
    assert Wide.select().count() == 1
    db.create_tables([Wide])  # safe: a second call finds the same indexes and adds none
    assert len(db.get_indexes(Wide._meta.table_name)) == len(indexes)


class First(Model):
    a = IntegerField()

    class Meta:
        table_name = "first_table"
        indexes = (Index("a", name="same_name_idx"),)


class Second(Model):
    b = IntegerField()

    class Meta:
        table_name = "second_table"
        indexes = (Index("b", unique=True, name="same_name_idx"),)


def test_an_index_name_taken_is_never_skipped_silently(db):
    """PostgreSQL and SQLite name indexes per schema: the second CREATE must fail, not be
    skipped by IF NOT EXISTS; MySQL names them per table: both exist."""
    First.bind(db)
    Second.bind(db)
    db.create_tables([First])
    try:
        db.create_tables([Second])
    except tinyorm.DatabaseError:
        return
    found = {index.name: index for index in db.get_indexes("second_table")}
    assert "same_name_idx" in found and list(found["same_name_idx"].columns) == ["b"] and found["same_name_idx"].unique


def test_an_existing_index_of_another_definition_is_an_error(db):
    First.bind(db)
    db.create_tables([First])

    class Changed(Model):
        a = IntegerField()
        c = IntegerField(null=True)

        class Meta:
            table_name = "first_table"
            indexes = ((("a",), True),)

    Changed.bind(db)
    name = index_name("first_table", ["a"])
    db.execute_sql(
        f"CREATE INDEX {db.dialect.quote(name)} ON {db.dialect.quote('first_table')} ({db.dialect.quote('a')})", ()
    )
    with pytest.raises(tinyorm.ProgrammingError, match="already exists"):
        db.create_tables([Changed])


def test_explicit_names_too_long_for_the_engine_are_refused(db):
    class Named(Model):
        a = IntegerField()

        class Meta:
            table_name = "named_table"
            indexes = (Index("a", name="ü" * 40),)  # 80 bytes, 40 characters

    Named.bind(db)
    if db.dialect.identifier_length_in_bytes and db.dialect.max_identifier_length < 80:
        with pytest.raises(tinyorm.UnsafeSQLError, match="allows"):
            db.create_tables([Named])
    else:
        db.create_tables([Named])
        assert "ü" * 40 in {index.name for index in db.get_indexes("named_table")}


def test_table_and_column_names_too_long_for_the_engine_are_refused(db, count_queries):
    class Long(Model):
        a = IntegerField(column_name="ö" * 40)  # 80 bytes, 40 characters

        class Meta:
            table_name = "long_names"

    Long.bind(db)
    if db.dialect.identifier_length_in_bytes and db.dialect.max_identifier_length < 80:
        with count_queries(db) as counter, pytest.raises(tinyorm.UnsafeSQLError, match="allows"):
            db.create_tables([Long])
        assert not any(sql.startswith("CREATE") for sql, _params in counter.statements)
    else:
        db.create_tables([Long])
        assert [column.name for column in db.get_columns("long_names")][-1] == "ö" * 40
