"""Migration operations: the SQL each engine gets, and their effect on a live database.

The golden-SQL tests need no server (a Database connects lazily and ``sql`` mode only
collects statements). The live tests apply hand-written migration files with
``MigrationRunner`` in this process, on every engine: every operation forth and back, and
the SQLite table rebuild (for changes its ALTER TABLE cannot make) keeping rows, indexes
and foreign keys.
"""

import datetime
import textwrap

import pytest

import tinyorm
from tinyorm import (
    AutoField,
    BigIntegerField,
    CharField,
    DateTimeField,
    DecimalField,
    IntegerField,
    TextField,
)
from tinyorm.migrations import MigrationRunner, Operations

from .conftest import column_names, rows, schema_snapshot

HISTORY = "tinyorm_migrations"

LAZY_URLS = {
    "sqlite": "sqlite:///:memory:",
    "postgresql": "postgresql://nobody@127.0.0.1:1/nowhere",  # never connected: sql mode
    "mysql": "mysql://nobody@127.0.0.1:1/nowhere",
}


def _sql_ops(engine):
    return Operations(tinyorm.connect(LAZY_URLS[engine]), mode="sql")


def _collected(op):
    return [sql for sql, _params in op.collected]


# -- golden SQL ------------------------------------------------------------------------------------
@pytest.mark.parametrize("engine", ["sqlite", "postgresql", "mysql"])
def test_create_table_sql(engine):
    op = _sql_ops(engine)
    op.create_table(
        "item",
        [
            ("id", AutoField()),
            ("name", CharField(max_length=40)),
            ("price", DecimalField(max_digits=10, decimal_places=2, null=True)),
            ("owner_id", IntegerField()),
        ],
        foreign_keys=[("owner_id", "owner", "id", "CASCADE", None)],
        indexes=[(("name",), True)],
    )
    op.create_table("pair", [("a", IntegerField()), ("b", IntegerField())], primary_key=["a", "b"])
    expected = {
        "sqlite": [
            (
                'CREATE TABLE "item" ("id" INTEGER NOT NULL PRIMARY KEY, "name" VARCHAR(40) NOT NULL, '
                '"price" DECIMAL_TEXT(10, 2), "owner_id" INTEGER NOT NULL, CONSTRAINT "fk_item_owner_id" '
                'FOREIGN KEY ("owner_id") REFERENCES "owner" ("id") ON DELETE CASCADE)'
            ),
            'CREATE UNIQUE INDEX "item_name" ON "item" ("name")',
            'CREATE TABLE "pair" ("a" INTEGER NOT NULL, "b" INTEGER NOT NULL, PRIMARY KEY ("a", "b"))',
        ],
        "postgresql": [
            (
                'CREATE TABLE "item" ("id" SERIAL NOT NULL PRIMARY KEY, "name" VARCHAR(40) NOT NULL, '
                '"price" NUMERIC(10, 2), "owner_id" INTEGER NOT NULL, CONSTRAINT "fk_item_owner_id" '
                'FOREIGN KEY ("owner_id") REFERENCES "owner" ("id") ON DELETE CASCADE)'
            ),
            'CREATE UNIQUE INDEX "item_name" ON "item" ("name")',
            'CREATE TABLE "pair" ("a" INTEGER NOT NULL, "b" INTEGER NOT NULL, PRIMARY KEY ("a", "b"))',
        ],
        "mysql": [
            (
                "CREATE TABLE `item` (`id` INTEGER NOT NULL AUTO_INCREMENT PRIMARY KEY, `name` VARCHAR(40) NOT NULL, "
                "`price` DECIMAL(10, 2), `owner_id` INTEGER NOT NULL, CONSTRAINT `fk_item_owner_id` "
                "FOREIGN KEY (`owner_id`) REFERENCES `owner` (`id`) ON DELETE CASCADE) "
                "ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin"
            ),
            "CREATE UNIQUE INDEX `item_name` ON `item` (`name`)",
            (
                "CREATE TABLE `pair` (`a` INTEGER NOT NULL, `b` INTEGER NOT NULL, PRIMARY KEY (`a`, `b`)) "
                "ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin"
            ),
        ],
    }[engine]
    assert _collected(op) == expected


@pytest.mark.parametrize("engine", ["sqlite", "postgresql", "mysql"])
def test_column_table_and_index_sql(engine):
    op = _sql_ops(engine)
    op.add_column("item", "qty", IntegerField(), default=0)
    op.add_column("item", "note", TextField(null=True))
    op.rename_column("item", "note", "memo")
    op.rename_table("item", "product")
    op.drop_index("product", "product_qty")
    op.drop_table("pair")
    op.execute("UPDATE product SET qty = 1")
    q = "`" if engine == "mysql" else '"'
    text = "LONGTEXT" if engine == "mysql" else "TEXT"
    drop_index = "DROP INDEX `product_qty` ON `product`" if engine == "mysql" else 'DROP INDEX "product_qty"'
    expected = [
        f"ALTER TABLE {q}item{q} ADD COLUMN {q}qty{q} INTEGER NOT NULL DEFAULT 0",
        f"ALTER TABLE {q}item{q} ADD COLUMN {q}note{q} {text}",
        f"ALTER TABLE {q}item{q} RENAME COLUMN {q}note{q} TO {q}memo{q}",
        f"ALTER TABLE {q}item{q} RENAME TO {q}product{q}",
        drop_index,
        f"DROP TABLE {q}pair{q}",
        "UPDATE product SET qty = 1",
    ]
    assert _collected(op) == expected


def test_alter_and_key_sql_on_servers():
    # PostgreSQL alters one property per statement; MySQL restates the whole column.
    op = _sql_ops("postgresql")
    op.drop_column("product", "memo")
    op.alter_column("product", "qty", BigIntegerField(), null=True)
    op.alter_column("product", "qty", BigIntegerField(null=True), default=5)
    op.add_foreign_key("product", "owner_id", "owner", "id", on_delete="SET NULL")
    op.drop_foreign_key("product", "owner_id", name="fk_product_owner_id")
    assert _collected(op) == [
        'ALTER TABLE "product" DROP COLUMN "memo"',
        'ALTER TABLE "product" ALTER COLUMN "qty" TYPE BIGINT USING "qty"::BIGINT',
        'ALTER TABLE "product" ALTER COLUMN "qty" DROP NOT NULL',
        'ALTER TABLE "product" ALTER COLUMN "qty" TYPE BIGINT USING "qty"::BIGINT',
        'ALTER TABLE "product" ALTER COLUMN "qty" DROP NOT NULL',  # the field's own null=True
        'ALTER TABLE "product" ALTER COLUMN "qty" SET DEFAULT 5',
        (
            'ALTER TABLE "product" ADD CONSTRAINT "fk_product_owner_id" FOREIGN KEY ("owner_id") '
            'REFERENCES "owner" ("id") ON DELETE SET NULL'
        ),
        'ALTER TABLE "product" DROP CONSTRAINT "fk_product_owner_id"',
    ]
    op = _sql_ops("mysql")
    op.drop_column("product", "memo")
    op.alter_column("product", "qty", BigIntegerField(), null=True)
    op.add_foreign_key("product", "owner_id", "owner", "id", on_delete="SET NULL")
    op.drop_foreign_key("product", "owner_id", name="fk_product_owner_id")
    assert _collected(op) == [
        "ALTER TABLE `product` DROP COLUMN `memo`",
        "ALTER TABLE `product` MODIFY COLUMN `qty` BIGINT",
        (
            "ALTER TABLE `product` ADD CONSTRAINT `fk_product_owner_id` FOREIGN KEY (`owner_id`) "
            "REFERENCES `owner` (`id`) ON DELETE SET NULL"
        ),
        "ALTER TABLE `product` DROP FOREIGN KEY `fk_product_owner_id`",
    ]


@pytest.mark.parametrize("engine", ["postgresql", "mysql"])
def test_nullability_given_on_the_field_is_applied(engine):
    """``alter_column(t, c, Field(null=True))`` (what autogenerate writes) must change NULL-ness."""
    op = _sql_ops(engine)
    op.alter_column("product", "qty", IntegerField(null=True))
    op.alter_column("product", "name", CharField(max_length=40))
    statements = " ; ".join(_collected(op)).upper()
    if engine == "postgresql":
        assert 'ALTER COLUMN "QTY" DROP NOT NULL' in statements, statements
        assert 'ALTER COLUMN "NAME" SET NOT NULL' in statements, statements
    else:
        assert "MODIFY COLUMN `QTY` INTEGER ;" in statements + " ;", statements
        assert "MODIFY COLUMN `NAME` VARCHAR(40) NOT NULL" in statements, statements


def test_sql_mode_skips_data_steps_and_refuses_python_defaults():
    op = _sql_ops("sqlite")
    op.run_python(lambda database: pytest.fail("a data step ran in sql mode"))
    assert "run_python" in _collected(op)[0] and _collected(op)[0].startswith("--")
    with pytest.raises(tinyorm.MigrationError, match="default="):
        op.add_column("t", "at", DateTimeField(default=datetime.datetime.now))
    with pytest.raises(tinyorm.MigrationError, match="field instance"):
        op.add_column("t", "at", "INTEGER")


# -- live: applying migration files ------------------------------------------------------------------
class Migrations:
    """Hand-written migration files in a temporary folder, applied by a MigrationRunner."""

    def __init__(self, database, directory):
        self.database = database
        self.directory = directory
        self.directory.mkdir(exist_ok=True)
        self.output = []
        self.runner = MigrationRunner(database, str(directory), out=self.output.append)

    def add(self, name, source):
        number = len(list(self.directory.glob("*.py"))) + 1
        path = self.directory / f"{number:04d}_{name}.py"
        path.write_text("from tinyorm import *\n" + textwrap.dedent(source), encoding="utf-8")
        return path.stem

    def up(self):
        return self.runner.up()

    def down(self, steps=1):
        return self.runner.down(steps)


@pytest.fixture
def migrations(db, tmp_path):
    return Migrations(db, tmp_path / "migrations")


def _q(db, name):
    return db.dialect.quote(name)


def _indexes(db, table):
    return sorted(
        (index.name, tuple(index.columns), index.unique)
        for index in db.get_indexes(table)
        # The engine's own index behind each foreign key (InnoDB) is not one we declared.
        if not (db.dialect.indexes_foreign_keys and index.name.startswith("fk_"))
    )


def _foreign_keys(db, table):
    return sorted((fk.column, fk.dest_table, fk.dest_column, fk.on_delete) for fk in db.get_foreign_keys(table))


SCHEMA = """
def upgrade(op):
    op.create_table("parent", [("id", AutoField()), ("name", CharField(max_length=30)),
                               ("legacy", TextField(null=True))],
                    indexes=[(("name",), True)])
    op.create_table("child", [
        ("id", AutoField()),
        ("parent_id", IntegerField()),
        ("qty", IntegerField(null=True)),
        ("note", CharField(max_length=10, null=True)),
        ("code", CharField(max_length=10, null=True)),
        ("extra", TextField(null=True)),
    ], foreign_keys=[("parent_id", "parent", "id", "CASCADE", None)],
       indexes=[(("parent_id", "qty"), True), (("code",), False)])

def downgrade(op):
    op.drop_table("child")
    op.drop_table("parent")
"""


def _seed(db):
    p = db.dialect.param
    db.execute_sql(f"INSERT INTO parent (name, legacy) VALUES ({p}, {p}), ({p}, {p})", ("p1", "x", "p2", "y"))
    db.execute_sql(
        f"INSERT INTO child (parent_id, qty, note, code, extra) VALUES ({p}, {p}, {p}, {p}, {p}), ({p}, {p}, {p}, {p}, {p})",
        (1, 5, "five", "c5", "e", 2, 7, "seven", "c7", "f"),
    )


def test_every_operation_forth_and_back(db, migrations):
    migrations.add("schema", SCHEMA)
    migrations.up()
    _seed(db)
    before = schema_snapshot(db, skip={HISTORY})

    migrations.add(
        "everything",
        """
        def upgrade(op):
            op.create_table("tag", [("id", AutoField()), ("label", CharField(max_length=20))])
            op.add_column("child", "flag", BooleanField(), default=False)
            op.add_column("child", "tag_id", IntegerField(null=True))
            op.add_foreign_key("child", "tag_id", "tag", "id", on_delete="SET NULL")
            op.add_index("child", ["qty"], name="child_qty_idx")
            op.rename_column("child", "note", "memo")
            op.alter_column("child", "memo", CharField(max_length=50, null=True))
            op.drop_index("child", "child_code")
            op.drop_foreign_key("child", "parent_id")
            op.rename_table("child", "kid")
            op.execute(f"INSERT INTO tag (label) VALUES ({op.dialect.param})", ("red",))

            def tag_everything(database):
                database.execute_sql("UPDATE kid SET tag_id = 1")

            op.run_python(tag_everything)

        def downgrade(op):
            op.rename_table("kid", "child")
            op.add_foreign_key("child", "parent_id", "parent", "id", on_delete="CASCADE")
            op.add_index("child", ["code"], name="child_code")
            op.alter_column("child", "memo", CharField(max_length=10, null=True))
            op.rename_column("child", "memo", "note")
            op.drop_index("child", "child_qty_idx")
            op.drop_foreign_key("child", "tag_id")
            op.drop_column("child", "tag_id")
            op.drop_column("child", "flag")
            op.drop_table("tag")
        """,
    )
    migrations.up()
    assert "child" not in db.get_tables() and "kid" in db.get_tables()
    assert column_names(db, "kid") == ["id", "parent_id", "qty", "memo", "code", "extra", "flag", "tag_id"]
    # (False == 0: SQLite and MySQL hand back the boolean as an integer)
    assert rows(db, "SELECT memo, flag, tag_id FROM kid ORDER BY id") == [("five", False, 1), ("seven", False, 1)]
    assert ("child_qty_idx", ("qty",), False) in _indexes(db, "kid")
    assert "child_code" not in {name for name, _columns, _unique in _indexes(db, "kid")}
    assert _foreign_keys(db, "kid") == [("tag_id", "tag", "id", "SET NULL")]
    p = db.dialect.param
    db.execute_sql(f"UPDATE kid SET memo = {p} WHERE id = 1", ("m" * 50,))  # the widened column takes it
    db.execute_sql(f"UPDATE kid SET memo = {p} WHERE id = 1", ("five",))

    migrations.down()
    assert schema_snapshot(db, skip={HISTORY}) == before
    assert rows(db, "SELECT parent_id, qty, note, code FROM child ORDER BY id") == [
        (1, 5, "five", "c5"),
        (2, 7, "seven", "c7"),
    ]


def test_changes_alter_table_cannot_make_keep_rows_indexes_and_keys(db, migrations):
    """On SQLite these rebuild the table; every engine must end with the same data and keys."""
    migrations.add("schema", SCHEMA)
    migrations.up()
    _seed(db)
    indexes_before = _indexes(db, "child")
    keys_before = _foreign_keys(db, "child")

    migrations.add(
        "rebuilds",
        """
        def upgrade(op):
            op.alter_column("child", "qty", BigIntegerField(null=True))   # type
            op.alter_column("child", "note", null=False)                  # nullability
            op.alter_column("child", "code", default="zz")                # default
            op.drop_column("child", "extra")
            op.drop_column("parent", "legacy")   # the parent of ON DELETE CASCADE rows

        def downgrade(op):
            op.add_column("parent", "legacy", TextField(null=True))
            op.add_column("child", "extra", TextField(null=True))
            op.alter_column("child", "note", null=True)
            op.alter_column("child", "qty", IntegerField(null=True))
        """,
    )
    migrations.up()
    assert rows(db, "SELECT name FROM parent ORDER BY id") == [("p1",), ("p2",)]
    assert rows(db, "SELECT id, parent_id, qty, note, code FROM child ORDER BY id") == [
        (1, 1, 5, "five", "c5"),
        (2, 2, 7, "seven", "c7"),
    ]
    assert column_names(db, "child") == ["id", "parent_id", "qty", "note", "code"]
    assert column_names(db, "parent") == ["id", "name"]
    assert "bigint" in next(c.data_type for c in db.get_columns("child") if c.name == "qty").lower()
    assert _indexes(db, "child") == indexes_before
    assert _foreign_keys(db, "child") == keys_before
    assert ("parent_name", ("name",), True) in _indexes(db, "parent")

    p = db.dialect.param
    # Still enforced: the foreign key, the unique indexes, NOT NULL; the new default applies.
    with pytest.raises(tinyorm.IntegrityError):
        db.execute_sql(f"INSERT INTO child (parent_id, qty, note) VALUES ({p}, {p}, {p})", (999, 1, "n"))
    with pytest.raises(tinyorm.IntegrityError):
        db.execute_sql(f"INSERT INTO child (parent_id, qty, note) VALUES ({p}, {p}, {p})", (1, 5, "dup"))
    with pytest.raises(tinyorm.IntegrityError):
        db.execute_sql(f"INSERT INTO child (parent_id, qty, note) VALUES ({p}, {p}, {p})", (1, 6, None))
    with pytest.raises(tinyorm.IntegrityError):
        db.execute_sql(f"INSERT INTO parent (name) VALUES ({p})", ("p1",))
    db.execute_sql(f"INSERT INTO child (parent_id, qty, note) VALUES ({p}, {p}, {p})", (1, 6, "six"))
    assert rows(db, "SELECT code FROM child WHERE qty = 6") == [("zz",)]
    db.execute_sql("DELETE FROM parent WHERE id = 2")  # ON DELETE CASCADE survived
    assert rows(db, "SELECT parent_id FROM child ORDER BY id") == [(1,), (1,)]

    migrations.down()
    assert column_names(db, "child") == ["id", "parent_id", "qty", "note", "code", "extra"]
    assert "legacy" in column_names(db, "parent")
    assert _indexes(db, "child") == indexes_before
    assert _foreign_keys(db, "child") == keys_before


@pytest.mark.backends("sqlite")
def test_sqlite_rebuild_keeps_foreign_keys_enforced_afterwards(db, migrations):
    migrations.add("schema", SCHEMA)
    migrations.up()
    _seed(db)
    migrations.add("drop", 'def upgrade(op):\n    op.drop_column("child", "extra")\n\ndef downgrade(op):\n    pass\n')
    migrations.up()
    assert rows(db, "PRAGMA foreign_keys") == [(1,)]
    assert rows(db, "PRAGMA foreign_key_check") == []
    assert not [table for table in db.get_tables() if table.startswith("_tinyorm")]


@pytest.mark.backends("sqlite")
def test_sqlite_rebuild_of_a_table_with_inline_unique_constraints(db, migrations):
    """Tables made outside tinyorm: UNIQUE in the column definition is an automatic index."""
    db.execute_sql(
        "CREATE TABLE account (id INTEGER PRIMARY KEY, email TEXT NOT NULL UNIQUE, code TEXT, extra TEXT, UNIQUE (code))"
    )
    db.execute_sql("INSERT INTO account (email, code, extra) VALUES ('a@x', 'A', 'e')")
    migrations.add("drop", 'def upgrade(op):\n    op.drop_column("account", "extra")\n\ndef downgrade(op):\n    pass\n')
    migrations.up()
    assert rows(db, "SELECT email, code FROM account") == [("a@x", "A")]
    with pytest.raises(tinyorm.IntegrityError):
        db.execute_sql("INSERT INTO account (email, code) VALUES ('a@x', 'B')")
    with pytest.raises(tinyorm.IntegrityError):
        db.execute_sql("INSERT INTO account (email, code) VALUES ('b@x', 'A')")


def test_data_step_uses_a_model_and_rolls_back_with_the_migration(db, migrations):
    key = {"sqlite": "INTEGER", "postgresql": "SERIAL", "mysql": "INTEGER AUTO_INCREMENT"}[db.dialect.name]
    db.execute_sql(f"CREATE TABLE person (id {key} PRIMARY KEY, name VARCHAR(40) NOT NULL)")
    p = db.dialect.param
    db.execute_sql(f"INSERT INTO person (name) VALUES ({p}), ({p})", ("ann", "bob"))
    step = """
        def upgrade(op):
            op.add_column("person", "shout", CharField(max_length=40, null=True))

            def fill(database):
                class Person(Model):
                    name = CharField(max_length=40)
                    shout = CharField(max_length=40, null=True)

                Person.bind(database)
                for person in Person.select():
                    person.shout = person.name.upper()
                    person.save()

            op.run_python(fill)
            {after}

        def downgrade(op):
            op.drop_column("person", "shout")
        """
    name = migrations.add("shout", step.replace("{after}", "pass"))
    migrations.up()
    assert rows(db, "SELECT name, shout FROM person ORDER BY id") == [("ann", "ANN"), ("bob", "BOB")]
    migrations.down()
    assert column_names(db, "person") == ["id", "name"]

    if not db.dialect.transactional_ddl:
        return  # MySQL: see test_cli's failure report and resolve tests
    (migrations.directory / f"{name}.py").write_text(
        "from tinyorm import *\n" + textwrap.dedent(step.replace("{after}", 'op.execute("THIS IS NOT SQL")'))
    )
    with pytest.raises(tinyorm.MigrationError, match="rolled back"):
        migrations.up()
    assert column_names(db, "person") == ["id", "name"]
