"""Golden SQL of the unit-of-work flush: statements built from sql/ nodes once per shape and
kept compiled. No server, no driver."""

from tinyorm import CharField, IntegerField, Model, VersionField
from tinyorm.dialects import MySQLDialect, PostgresDialect, SqliteDialect
from tinyorm.models.writes import update_plan
from tinyorm.unitofwork import _bulk_update_sql, _delete_sql, _insert_sql


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


def test_a_flush_update_joins_the_rows_where_the_engine_can():
    fields = (Versioned._meta.fields["name"], Versioned._meta.fields["qty"])
    assert _bulk_update_sql(Versioned, fields, 2, PostgresDialect()) == (
        'UPDATE "versioned" SET "name" = "v"."s0", "qty" = "v"."s1", "version" = ("versioned"."version" + 1) '
        "FROM (VALUES (CAST(%s AS INTEGER), CAST(%s AS VARCHAR(20)), CAST(%s AS INTEGER), CAST(%s AS BIGINT)), "
        '(%s, %s, %s, %s)) AS "v" ("k0", "s0", "s1", "expected_version") '
        'WHERE (("versioned"."id" = "v"."k0") AND ("versioned"."version" = "v"."expected_version"))'
    )
    assert _bulk_update_sql(Versioned, fields[:1], 2, MySQLDialect()) == (
        "UPDATE `versioned` JOIN (SELECT %s AS `k0`, %s AS `s0`, %s AS `expected_version` "
        "UNION ALL SELECT %s, %s, %s) AS `v` "
        "ON ((`versioned`.`id` = `v`.`k0`) AND (`versioned`.`version` = `v`.`expected_version`)) "
        "SET `versioned`.`name` = `v`.`s0`, `versioned`.`version` = (`versioned`.`version` + 1)"
    )


def test_without_joined_rows_a_flush_update_is_the_one_row_update_run_many_times():
    fields = (Versioned._meta.fields["name"],)
    dialect = SqliteDialect()
    assert not dialect.bulk_update_joins_rows
    assert update_plan(Versioned, fields, dialect).sql == (
        'UPDATE "versioned" SET "name" = ?, "version" = ("versioned"."version" + 1) '
        'WHERE (("versioned"."id" = ?) AND ("versioned"."version" = ?))'
    )
    assert update_plan(Versioned, fields, dialect) is update_plan(Versioned, fields, dialect)
