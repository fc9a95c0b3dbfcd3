"""Golden DDL: one renderer (``tinyorm.sql.ddl``) for models, migrations and the history
table, per dialect. No server, no driver."""

import pytest

from tinyorm import CharField, ForeignKeyField, IntegerField, Model, TextField
from tinyorm.dialects import MySQLDialect, PostgresDialect, SqliteDialect
from tinyorm.exceptions import ImproperlyConfigured
from tinyorm.migrations.operations import Operations
from tinyorm.schema import create_index_statements, create_table_sql
from tinyorm.sql import SQL, ddl

SQLITE, POSTGRES, MYSQL = SqliteDialect(), PostgresDialect(), MySQLDialect()
MYSQL_OPTIONS = " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin"


class Author(Model):
    name = CharField(max_length=50, unique=True)

    class Meta:
        table_name = "author"


class Book(Model):
    author = ForeignKeyField(Author, on_delete="CASCADE")
    title = TextField(null=True)
    pages = IntegerField(server_default=0)

    class Meta:
        table_name = "book"


BOOK_COLUMNS = (
    '"author_id" INTEGER NOT NULL, "title" TEXT, "pages" INTEGER NOT NULL DEFAULT 0, '
    'CONSTRAINT "fk_book_author_id" FOREIGN KEY ("author_id") REFERENCES "author" ("id") ON DELETE CASCADE)'
)


def test_create_table_for_a_model_on_each_engine():
    assert create_table_sql(Book, SQLITE) == (
        'CREATE TABLE IF NOT EXISTS "book" ("id" INTEGER NOT NULL PRIMARY KEY, ' + BOOK_COLUMNS
    )
    assert create_table_sql(Book, POSTGRES, safe=False) == (
        'CREATE TABLE "book" ("id" SERIAL NOT NULL PRIMARY KEY, ' + BOOK_COLUMNS
    )
    assert create_table_sql(Book, MYSQL) == (
        "CREATE TABLE IF NOT EXISTS `book` (`id` INTEGER NOT NULL AUTO_INCREMENT PRIMARY KEY, "
        "`author_id` INTEGER NOT NULL, `title` LONGTEXT, `pages` INTEGER NOT NULL DEFAULT 0, "
        "CONSTRAINT `fk_book_author_id` FOREIGN KEY (`author_id`) REFERENCES `author` (`id`) ON DELETE CASCADE)"
        + MYSQL_OPTIONS
    )


def test_indexes_and_drops_differ_only_where_the_engine_does():
    assert create_index_statements(Book, MYSQL, safe=False) == ["CREATE INDEX `book_author_id` ON `book` (`author_id`)"]
    assert ddl.ddl_sql(ddl.DropTable("book", cascade=True), POSTGRES) == 'DROP TABLE IF EXISTS "book" CASCADE'
    assert ddl.ddl_sql(ddl.DropTable("book", cascade=True), SQLITE) == 'DROP TABLE IF EXISTS "book"'
    assert ddl.ddl_sql(ddl.DropIndex("book", "ix", safe=False), MYSQL) == "DROP INDEX `ix` ON `book`"
    assert ddl.ddl_sql(ddl.DropIndex("book", "ix"), POSTGRES) == 'DROP INDEX IF EXISTS "ix"'
    text = ddl.CreateIndex("book", "ix", [("title", "TEXT")], unique=True, safe=False)
    assert ddl.ddl_sql(text, MYSQL) == "CREATE UNIQUE INDEX `ix` ON `book` (`title`(255))"


def test_a_composite_key_unique_and_a_hand_written_constraint():
    table = ddl.CreateTable(
        "pair",
        [
            ddl.ColumnDefinition("a", "INTEGER", null=False),
            ddl.ColumnDefinition("b", "TEXT", default_sql="'x'"),
            ddl.PrimaryKey(["a", "b"]),
            ddl.Unique(["b"]),
            SQL("CHECK (a > 0)"),
        ],
    )
    assert ddl.ddl_sql(table, SQLITE) == (
        'CREATE TABLE "pair" ("a" INTEGER NOT NULL, "b" TEXT DEFAULT \'x\', PRIMARY KEY ("a", "b"), '
        'UNIQUE ("b"), CHECK (a > 0))'
    )


def test_ddl_refuses_a_bound_parameter():
    table = ddl.CreateTable("t", [ddl.ColumnDefinition("a", "INTEGER"), SQL("CHECK (a > ?)", [1])])
    with pytest.raises(ImproperlyConfigured):
        ddl.ddl_sql(table, SQLITE)


class _NoDatabase:
    def __init__(self, dialect):
        self.dialect = dialect


def _collected(dialect, upgrade):
    op = Operations(_NoDatabase(dialect), mode="sql")
    upgrade(op)
    return [sql for sql, _params in op.collected]


def test_migration_operations_render_through_the_same_nodes():
    def upgrade(op):
        op.create_table("tag", [("id", IntegerField(primary_key=True)), ("label", CharField(max_length=20))])
        op.add_column("tag", "weight", IntegerField(), default=1)
        op.rename_column("tag", "label", "name")
        op.alter_column("tag", "weight", IntegerField(null=True))
        op.add_foreign_key("tag", "weight", "author", "id", on_delete="SET NULL")
        op.drop_foreign_key("tag", "weight", name="fk_tag_weight")
        op.drop_table("tag", cascade=True)

    assert _collected(POSTGRES, upgrade) == [
        'CREATE TABLE "tag" ("id" INTEGER NOT NULL PRIMARY KEY, "label" VARCHAR(20) NOT NULL)',
        'ALTER TABLE "tag" ADD COLUMN "weight" INTEGER NOT NULL DEFAULT 1',
        'ALTER TABLE "tag" RENAME COLUMN "label" TO "name"',
        'ALTER TABLE "tag" ALTER COLUMN "weight" TYPE INTEGER USING "weight"::INTEGER',
        'ALTER TABLE "tag" ALTER COLUMN "weight" DROP NOT NULL',
        'ALTER TABLE "tag" ADD CONSTRAINT "fk_tag_weight" FOREIGN KEY ("weight") REFERENCES "author" ("id") '
        "ON DELETE SET NULL",
        'ALTER TABLE "tag" DROP CONSTRAINT "fk_tag_weight"',
        'DROP TABLE "tag" CASCADE',
    ]
    assert _collected(MYSQL, upgrade)[3:6] == [
        "ALTER TABLE `tag` MODIFY COLUMN `weight` INTEGER",
        "ALTER TABLE `tag` ADD CONSTRAINT `fk_tag_weight` FOREIGN KEY (`weight`) REFERENCES `author` (`id`) "
        "ON DELETE SET NULL",
        "ALTER TABLE `tag` DROP FOREIGN KEY `fk_tag_weight`",
    ]
