"""Golden SQL of the unit-of-work flush: statements built from sql/ nodes once per shape and
kept compiled. No server, no driver."""

from tinyorm import CharField, IntegerField, Model, VersionField
from tinyorm.dialects import MySQLDialect, PostgresDialect, SqliteDialect
from tinyorm.unitofwork import _delete_sql, _insert_sql


class Item(Model):
    name = CharField(max_length=20)

    class Meta:
        table_name = "item"


class Versioned(Model):
    name = CharField(max_length=20)
    qty = IntegerField(default=0)
    version = VersionField()

    class Meta:
        table_name = "versioned"


def test_a_flush_insert_returns_the_new_keys_where_the_engine_can():
    name = (Item._meta.fields["name"],)
    pk = Item._meta.primary_key
    assert _insert_sql(Item, name, 2, PostgresDialect(), pk) == (
        'INSERT INTO "item" ("name") VALUES (%s), (%s) RETURNING "id"'
    )
    assert _insert_sql(Item, name, 1, MySQLDialect(), pk) == "INSERT INTO `item` (`name`) VALUES (%s)"
    mariadb = MySQLDialect()
    mariadb.returning_insert = True  # MariaDB 10.5: RETURNING from INSERT only (set at connect)
    assert _insert_sql(Item, name, 1, mariadb, pk) == "INSERT INTO `item` (`name`) VALUES (%s) RETURNING `id`"
    assert _insert_sql(Item, (), 1, SqliteDialect(), None) == 'INSERT INTO "item" DEFAULT VALUES'


def test_a_flush_delete_matches_keys_and_versions():
    sqlite = SqliteDialect()
    assert _delete_sql(Item, (Item._meta.primary_key,), 3, sqlite) == (
        'DELETE FROM "item" WHERE ("item"."id" IN (?, ?, ?))'
    )
    columns = (Versioned._meta.primary_key, Versioned._meta.version_field)
    assert _delete_sql(Versioned, columns, 2, sqlite) == (
        'DELETE FROM "versioned" WHERE (("versioned"."id", "versioned"."version") IN ((?, ?), (?, ?)))'
    )


def test_each_shape_compiles_once():
    dialect = SqliteDialect()
    name = (Item._meta.fields["name"],)
    first = _insert_sql(Item, name, 5, dialect, None)
    assert _insert_sql(Item, name, 5, dialect, None) is first
