"""Dialects as objects: a name for users, identity for caches, flags for code and tests.

Each ``Database`` owns its dialect, whose version-gated flags are set at connect, so two
dialects of one engine may differ: they compare equal only to themselves and never share a
cache entry. Comparing with a string compares the name (``db.dialect == "mysql"``, as the
API promises). No server, no driver.
"""

import pytest

import tinyorm
from tinyorm import CharField, Model
from tinyorm.dialects import MySQLDialect, PostgresDialect, SqliteDialect

from ..conftest import unmet_requirements


class Note(Model):
    body = CharField(max_length=20)


def test_a_dialect_reads_as_its_name_for_users():
    for dialect, name in ((SqliteDialect(), "sqlite"), (PostgresDialect(), "postgresql"), (MySQLDialect(), "mysql")):
        assert dialect.name == name
        assert dialect == name and not dialect != name
        assert dialect != "base" and "other" != dialect
        assert str(dialect) == name and f"{dialect}" == name and f"{dialect:>12}" == name.rjust(12)
    assert not isinstance(SqliteDialect(), str)


def test_two_dialects_of_one_engine_are_equal_only_to_themselves():
    first, second = MySQLDialect(), MySQLDialect()
    assert first == first and first != second
    assert first.name == second.name
    assert len({first, second}) == 2
    assert {first: 1}.get(second) is None
    assert {first: 1}.get("mysql") is None  # look a dialect up by .name, not by the object


def test_a_flag_set_at_connect_is_not_served_from_another_dialects_cache():
    # Two MySQL-family servers whose flags differ after connect (as versions make them):
    # the second refuses NUL in text. A cache keyed by the name would hand it the first
    # server's adapter, which lets NUL through.
    permissive, strict = MySQLDialect(), MySQLDialect()
    strict.text_allows_nul = False
    assert Note.body.adapter(permissive)("a\x00b") == "a\x00b"
    with pytest.raises(tinyorm.DataError, match="NUL"):
        Note.body.adapter(strict)("a\x00b")
    assert Note.body.adapter(permissive) is not Note.body.adapter(strict)


def test_compiled_statements_are_cached_per_dialect_object():
    first, second = PostgresDialect(), PostgresDialect()
    query = Note.select().where(Note.body == "x")
    assert query.sql(first) == query.sql(second)
    keys = [key for key in Note.body._sql if key[0] in (first, second)]
    assert sorted(id(key[0]) for key in keys) == sorted([id(first), id(second)])


def test_requirements_read_the_dialect_flags_and_refuse_unknown_ones():
    mysql = MySQLDialect()
    assert unmet_requirements(mysql, "supports_for_update") == []
    assert unmet_requirements(mysql, "transactional_ddl") == ["transactional_ddl=False"]
    assert unmet_requirements(mysql, transactional_ddl=False) == []
    assert unmet_requirements(SqliteDialect(), "supports_for_update", returning=True) == ["supports_for_update=False"]
    with pytest.raises(AttributeError):
        unmet_requirements(mysql, "transactional_dll")
