"""The ``tinyorm`` command end to end: a scratch project, the real command as a subprocess,
and a real database on every engine (SQLite, PostgreSQL, MySQL/MariaDB).

Each test walks a whole workflow on one engine, because starting the command costs a few
hundred milliseconds: make -> sql -> up -> status -> change the models -> make -> up keeps
the rows -> down; renames with and without a hint; destructive changes; failing migrations
(rolled back where DDL is transactional, reported and blocked on MySQL); two processes
migrating at once; settings; the router's databases; help and usage errors.
"""

import re
import subprocess
import textwrap

import pytest

from ..conftest import requires
from .conftest import (
    Project,
    Result,
    assert_one_line_error,
    clean_env,
    column_names,
    foreign_keys,
    rows,
    schema_snapshot,
    tinyorm_command,
)

HISTORY = "tinyorm_migrations"

MODELS_V1 = """
import datetime
from tinyorm import *

class Author(Model):
    name = CharField(max_length=50, unique=True)
    email = CharField(max_length=100, null=True)

class Post(Model):
    author = ForeignKeyField(Author, backref="posts", on_delete="CASCADE")
    title = CharField(max_length=200)
    created = DateTimeField(default=datetime.datetime.utcnow)
"""

# v2: a widened column, two new columns (nullable; constant default), a new index and a
# new table with a foreign key. Nothing here loses data, so no flag is needed.
MODELS_V2 = """
import datetime
from tinyorm import *

class Author(Model):
    name = CharField(max_length=100, unique=True)
    email = CharField(max_length=100, null=True, index=True)
    bio = TextField(null=True)
    score = IntegerField(default=0)

class Post(Model):
    author = ForeignKeyField(Author, backref="posts", on_delete="CASCADE")
    title = CharField(max_length=200)
    created = DateTimeField(default=datetime.datetime.utcnow)

class Tag(Model):
    post = ForeignKeyField(Post, backref="tags", on_delete="CASCADE")
    label = CharField(max_length=30)
"""

APPLIED_LINE = r"applied {name} \(\d+ ms\)"


def _q(db, name):
    return db.dialect.quote(name)


def _insert(db, table, **values):
    columns = ", ".join(_q(db, column) for column in values)
    marks = ", ".join([db.dialect.param] * len(values))
    db.execute_sql(f"INSERT INTO {_q(db, table)} ({columns}) VALUES ({marks})", tuple(values.values()))


def _history(db):
    return sorted(name for (name,) in rows(db, f"SELECT {_q(db, 'name')} FROM {_q(db, HISTORY)}"))


def _data_type(db, table, column):
    return next(meta.data_type for meta in db.get_columns(table) if meta.name == column).lower()


# -- the whole workflow ------------------------------------------------------------------------
def test_make_up_status_change_up_down_sql(db, project):
    project.write_models(MODELS_V1)
    result = project.run("migrate", "make", "initial")
    assert "0001_initial.py" in result.out
    assert project.migration_files() == ["0001_initial.py"]
    source = project.migration_source("0001")
    assert "def upgrade(op):" in source and "def downgrade(op):" in source
    assert "op.create_table('author'" in source and "op.create_table('post'" in source
    assert "op.drop_table('post')" in source and "op.drop_table('author')" in source
    # The file is plain Python.
    compile(source, "0001_initial.py", "exec")

    # `sql` prints the engine's SQL and runs nothing.
    result = project.run("migrate", "sql")
    assert "0001_initial" in result.out
    assert re.search(r"CREATE TABLE .?author", result.out), result
    assert db.get_tables() == []

    result = project.run("migrate", "up")
    assert re.search(APPLIED_LINE.format(name="0001_initial"), result.out), result
    assert {"author", "post", HISTORY} <= set(db.get_tables())

    result = project.run("migrate", "status")
    assert re.search(r"applied\s+0001_initial", result.out), result

    _insert(db, "author", name="ann", email="ann@example.com")
    _insert(db, "author", name="bob")
    _insert(db, "post", author_id=1, title="hello", created="2024-01-02 03:04:05")

    # Change the models and autogenerate the next migration.
    project.write_models(MODELS_V2)
    result = project.run("migrate", "make", "profile")
    assert project.migration_files() == ["0001_initial.py", "0002_profile.py"]
    source = project.migration_source("0002")
    assert "DESTRUCTIVE" not in source, source  # widening a column loses nothing
    assert "op.add_column('author', 'bio'" in source
    assert "op.create_table('tag'" in source

    # A new migration must start from the latest schema: make refuses while one is pending.
    result = project.run("migrate", "make", "too soon", expect="fail")
    assert_one_line_error(result, "0002_profile")
    assert len(project.migration_files()) == 2

    result = project.run("migrate", "sql")
    assert "0002_profile" in result.out and "0001_initial" not in result.out, result
    assert "ALTER TABLE" in result.out.upper()
    assert "bio" not in column_names(db, "author")

    result = project.run("migrate", "status")
    assert re.search(r"applied\s+0001_initial", result.out), result
    assert re.search(r"pending\s+0002_profile", result.out), result

    # --verbose echoes every statement.
    result = project.run("--verbose", "migrate", "up")
    assert re.search(APPLIED_LINE.format(name="0002_profile"), result.out), result
    assert "ALTER TABLE" in result.output.upper() and "tag" in result.output, result

    # The rows are kept; new columns are filled for them.
    assert rows(db, f"SELECT name, email, bio, score FROM {_q(db, 'author')} ORDER BY id") == [
        ("ann", "ann@example.com", None, 0),
        ("bob", None, None, 0),
    ]
    assert rows(db, f"SELECT title FROM {_q(db, 'post')}") == [("hello",)]
    assert "100" in _data_type(db, "author", "name")
    assert "author_email" in {index.name for index in db.get_indexes("author")}
    assert [(fk.column, fk.dest_table) for fk in foreign_keys(db, "tag")] == [("post_id", "post")]
    _insert(db, "author", name="c" * 80)  # the widened column takes it
    db.execute_sql(f"DELETE FROM {_q(db, 'author')} WHERE name = {db.dialect.param}", ("c" * 80,))

    # Nothing changed: say so and write nothing.
    result = project.run("migrate", "make", "nothing")
    assert "no changes" in result.out.lower(), result
    assert len(project.migration_files()) == 2

    result = project.run("migrate", "down")
    assert re.search(r"rolled back 0002_profile \(\d+ ms\)", result.out), result
    assert column_names(db, "author") == ["id", "name", "email"]
    assert "tag" not in db.get_tables()
    assert "50" in _data_type(db, "author", "name")
    assert rows(db, f"SELECT name, email FROM {_q(db, 'author')} ORDER BY id") == [
        ("ann", "ann@example.com"),
        ("bob", None),
    ]
    result = project.run("migrate", "status")
    assert re.search(r"pending\s+0002_profile", result.out), result

    # down N, then up to a target.
    project.run("migrate", "down", "5")
    assert set(db.get_tables()) <= {HISTORY}
    result = project.run("migrate", "up", "0001_initial")
    assert "0001_initial" in result.out and "0002_profile" not in result.out, result
    assert _history(db) == ["0001_initial"]

    # Editing an applied file is reported.
    path = project.migrations / "0001_initial.py"
    path.write_text(path.read_text() + "\n# edited after it was applied\n")
    result = project.run("migrate", "status", expect=None)
    assert result.code != 0, result
    assert re.search(r"modified\s+0001_initial", result.out), result
    result = project.run("migrate", "up")
    assert "0001_initial" in result.output and "edited" in result.output, result
    assert _history(db) == ["0001_initial", "0002_profile"]


def test_sql_prints_what_up_runs(db, project):
    """`migrate sql` on a fresh database prints the very statements `up` then executes."""
    project.write_migration(
        "0001_notes.py",
        """
        from tinyorm import *

        def upgrade(op):
            op.create_table("note", [("id", AutoField()), ("title", CharField(max_length=40)),
                                     ("body", TextField(null=True)), ("stars", IntegerField(null=True))])
            op.add_index("note", ["body"])

        def downgrade(op):
            op.drop_table("note")
        """,
    )
    project.write_migration(
        "0002_trim.py",
        """
        from tinyorm import *

        def upgrade(op):
            op.drop_column("note", "stars")          # a table rebuild on SQLite
            op.alter_column("note", "title", CharField(max_length=80))

        def downgrade(op):
            op.alter_column("note", "title", CharField(max_length=40))
            op.add_column("note", "stars", IntegerField(null=True))
        """,
    )
    printed = project.run("migrate", "sql").out.splitlines()
    printed = [line.rstrip(";") for line in printed if line.strip() and not line.startswith("--")]
    assert db.get_tables() == []
    result = project.run("--verbose", "migrate", "up")
    echoed = [line.strip() for line in result.err.splitlines() if line.startswith("  ")]
    assert echoed and printed == echoed


# -- renames -------------------------------------------------------------------------------------
RENAME_V1 = """
from tinyorm import *

class Person(Model):
    name = CharField(max_length=40)
    email = CharField(max_length=120, null=True)
    age = IntegerField(null=True)
"""


def test_renames_keep_the_data(db, project):
    project.write_models(RENAME_V1)
    project.run("migrate", "make", "initial")
    project.run("migrate", "up")
    _insert(db, "person", name="ann", email="ann@example.com", age=30)
    _insert(db, "person", name="bob", email="bob@example.com", age=40)

    # Without a hint: a question naming both columns, a non-zero exit, no file.
    project.write_models(RENAME_V1.replace("email = ", "mail = "))
    result = project.run("migrate", "make", "rename", expect="fail")
    assert_one_line_error(result, "person.email", "person.mail")
    assert project.migration_files() == ["0001_initial.py"]

    # With --rename table.old:new.
    result = project.run("migrate", "make", "rename", "--rename", "person.email:mail")
    source = project.migration_source("0002")
    assert "op.rename_column('person', 'email', 'mail')" in source, source
    assert "drop_column" not in source and "add_column" not in source, source
    assert "DESTRUCTIVE" not in source
    project.run("migrate", "up")
    assert rows(db, "SELECT name, mail FROM person ORDER BY id") == [
        ("ann", "ann@example.com"),
        ("bob", "bob@example.com"),
    ]

    # With old_name= on the field.
    project.write_models(
        RENAME_V1.replace(
            "email = CharField(max_length=120, null=True)",
            'contact = CharField(max_length=120, null=True, old_name="mail")',
        )
    )
    project.run("migrate", "make", "rename again")
    source = project.migration_source("0003")
    assert "op.rename_column('person', 'mail', 'contact')" in source, source
    assert "drop_column" not in source
    project.run("migrate", "up")
    assert column_names(db, "person") == ["id", "name", "contact", "age"]
    assert rows(db, "SELECT contact, age FROM person ORDER BY id") == [("ann@example.com", 30), ("bob@example.com", 40)]

    # Both renames roll back, data and all.
    project.run("migrate", "down", "2")
    assert column_names(db, "person") == ["id", "name", "email", "age"]
    assert rows(db, "SELECT email FROM person ORDER BY id") == [("ann@example.com",), ("bob@example.com",)]


def test_rename_of_an_indexed_column_rolls_back(db, project):
    """The index that followed the column must be handled in an order that also reverses."""
    project.write_models(RENAME_V1.replace("null=True)\n    age", "null=True, index=True)\n    age"))
    project.run("migrate", "make", "initial")
    project.run("migrate", "up")
    _insert(db, "person", name="ann", email="ann@example.com")
    project.write_models(
        RENAME_V1.replace(
            "email = CharField(max_length=120, null=True)",
            'mail = CharField(max_length=120, null=True, index=True, old_name="email")',
        )
    )
    project.run("migrate", "make", "rename")
    project.run("migrate", "up")
    assert rows(db, "SELECT mail FROM person") == [("ann@example.com",)]
    assert [index.columns for index in db.get_indexes("person")] == [["mail"]]
    project.run("migrate", "down")
    assert rows(db, "SELECT email FROM person") == [("ann@example.com",)]
    assert [(index.name, index.columns) for index in db.get_indexes("person")] == [("person_email", ["email"])]
    project.run("migrate", "up")


# -- type and nullability changes -------------------------------------------------------------------
def test_type_and_null_changes_apply_and_settle(db, project):
    project.write_models(
        """
        from tinyorm import *

        class Thing(Model):
            a = IntegerField()
            b = CharField(max_length=20, null=True)
        """
    )
    project.run("migrate", "make", "initial")
    project.run("migrate", "up")
    _insert(db, "thing", a=1, b="one")
    project.write_models(
        """
        from tinyorm import *

        class Thing(Model):
            a = BigIntegerField(null=True)
            b = CharField(max_length=20)
        """
    )
    project.run("migrate", "make", "alter")
    assert "op.alter_column('thing'" in project.migration_source("0002")
    project.run("migrate", "up")
    columns = {column.name: column for column in db.get_columns("thing")}
    assert "bigint" in columns["a"].data_type.lower()
    assert (columns["a"].null, columns["b"].null) == (True, False)
    assert rows(db, "SELECT a, b FROM thing") == [(1, "one")]
    # Applied, the models and the database agree.
    result = project.run("migrate", "make", "nothing left")
    assert "no changes" in result.out.lower(), (
        project.migration_source("0003") if len(project.migration_files()) > 2 else result
    )
    project.run("migrate", "down")
    columns = {column.name: column for column in db.get_columns("thing")}
    assert (columns["a"].null, columns["b"].null) == (False, True)


# -- foreign keys and indexes ---------------------------------------------------------------------------
LIBRARY_V1 = """
from tinyorm import *

class Author(Model):
    name = CharField(max_length=50)
    email = CharField(max_length=50, index=True)

class Book(Model):
    title = CharField(max_length=50)
"""

LIBRARY_V2 = """
from tinyorm import *

class Author(Model):
    name = CharField(max_length=50)
    email = CharField(max_length=50, index=True)

class Book(Model):
    title = CharField(max_length=50)
    author = ForeignKeyField(Author, backref="books", null=True, on_delete="SET NULL")

    class Meta:
        indexes = ((("title", "author"), True),)
"""


def _library(db, project, models):
    project.write_models(models)
    project.run("migrate", "make", "initial")
    project.run("migrate", "up")
    _insert(db, "author", name="ann", email="ann@example.com")
    _insert(db, "book", title="first")


def test_adding_a_foreign_key_column_applies_and_rolls_back(db, project):
    _library(db, project, LIBRARY_V1)
    before = schema_snapshot(db, skip={HISTORY})
    project.write_models(LIBRARY_V2)
    project.run("migrate", "make", "author of book")
    project.run("migrate", "up")
    assert [(fk.column, fk.dest_table, fk.on_delete) for fk in foreign_keys(db, "book")] == [
        ("author_id", "author", "SET NULL")
    ]
    assert ("book_title_author_id", ("title", "author_id"), True) in {
        (index.name, tuple(index.columns), index.unique) for index in db.get_indexes("book")
    }
    assert "no changes" in project.run("migrate", "make", "nothing").out.lower()

    project.write_models(LIBRARY_V2.replace("SET NULL", "CASCADE"))
    project.run("migrate", "make", "cascade")
    project.run("migrate", "up")
    assert [fk.on_delete for fk in foreign_keys(db, "book")] == ["CASCADE"]
    assert "no changes" in project.run("migrate", "make", "nothing").out.lower()

    project.run("migrate", "down", "2")
    assert schema_snapshot(db, skip={HISTORY}) == before
    assert rows(db, "SELECT title FROM book") == [("first",)]


def test_removing_a_foreign_key_column_applies_and_rolls_back(db, project):
    _library(db, project, LIBRARY_V2)
    before = schema_snapshot(db, skip={HISTORY})
    project.write_models(LIBRARY_V1)
    project.run("migrate", "make", "no author", "--allow-destructive")
    project.run("migrate", "up")
    assert column_names(db, "book") == ["id", "title"]
    assert foreign_keys(db, "book") == []
    assert rows(db, "SELECT title FROM book") == [("first",)]
    project.run("migrate", "down")
    assert schema_snapshot(db, skip={HISTORY}) == before


def test_dropping_related_tables_drops_children_first(db, project):
    project.write_models(LIBRARY_V2)
    project.run("migrate", "make", "initial")
    project.run("migrate", "up")
    project.write_models("from tinyorm import *\n\nclass Other(Model):\n    x = IntegerField()\n")
    project.run("migrate", "make", "drop both", "--allow-destructive")
    project.run("migrate", "up")
    assert set(db.get_tables()) == {"other", HISTORY}
    project.run("migrate", "down")
    assert {"author", "book"} <= set(db.get_tables())
    assert [fk.dest_table for fk in foreign_keys(db, "book")] == ["author"]


def test_index_uniqueness_change_is_detected(db, project):
    _library(db, project, LIBRARY_V1)
    project.write_models(LIBRARY_V1.replace("index=True", "unique=True"))
    result = project.run("migrate", "make", "unique email")
    assert project.migration_files() == ["0001_initial.py", "0002_unique_email.py"], result
    project.run("migrate", "up")
    assert [(index.columns, index.unique) for index in db.get_indexes("author")] == [(["email"], True)]
    project.run("migrate", "down")
    assert [(index.columns, index.unique) for index in db.get_indexes("author")] == [(["email"], False)]


# -- destructive changes ----------------------------------------------------------------------------
DESTRUCTIVE_V1 = """
from tinyorm import *

class Item(Model):
    name = CharField(max_length=100)
    price = IntegerField(null=True)
    legacy = TextField(null=True)

class Log(Model):
    line = TextField()
"""

DESTRUCTIVE_V2 = """
from tinyorm import *

class Item(Model):
    name = CharField(max_length=20)
    price = IntegerField(null=True)
"""


def test_destructive_changes_are_refused_then_marked(db, project):
    project.write_models(DESTRUCTIVE_V1)
    project.run("migrate", "make", "initial")
    project.run("migrate", "up")
    _insert(db, "item", name="short", price=3, legacy="old")
    _insert(db, "log", line="a line")

    project.write_models(DESTRUCTIVE_V2)
    result = project.run("migrate", "make", "cleanup", expect="fail")
    assert_one_line_error(result, "--allow-destructive", "item.legacy", "log", "item.name")
    assert project.migration_files() == ["0001_initial.py"]

    result = project.run("migrate", "make", "cleanup", "--allow-destructive")
    assert "DESTRUCTIVE" in result.out, result
    source = project.migration_source("0002")
    lines = source.splitlines()
    header = "\n".join(lines[: lines.index("def upgrade(op):")])
    assert "DESTRUCTIVE" in header, source
    upgrade = lines[lines.index("def upgrade(op):") + 1 : lines.index("def downgrade(op):")]
    upgrade = [line.strip() for line in upgrade if line.strip()]
    destructive = [upgrade[index + 1] for index, line in enumerate(upgrade) if line.startswith("# DESTRUCTIVE")]
    assert sorted(op.split("(")[0] for op in destructive) == ["op.alter_column", "op.drop_column", "op.drop_table"], (
        source
    )
    assert all("# DESTRUCTIVE" in upgrade[upgrade.index(op) - 1] for op in upgrade if op.startswith("op.drop")), source

    project.run("migrate", "up")
    assert "log" not in db.get_tables()
    assert column_names(db, "item") == ["id", "name", "price"]
    assert rows(db, "SELECT name, price FROM item") == [("short", 3)]
    assert "20" in _data_type(db, "item", "name")

    project.run("migrate", "down")
    assert "log" in db.get_tables()
    assert column_names(db, "item") == ["id", "name", "price", "legacy"]
    assert rows(db, "SELECT name, price, legacy FROM item") == [("short", 3, None)]
    assert "100" in _data_type(db, "item", "name")


# -- failing migrations ----------------------------------------------------------------------------
GOOD = """
from tinyorm import *

def upgrade(op):
    op.create_table("good", [("id", AutoField()), ("name", CharField(max_length=20))],
                    indexes=[(("name",), True)])
    op.execute(f"INSERT INTO good (name) VALUES ({op.dialect.param})", ("kept",))

def downgrade(op):
    op.drop_table("good")
"""

# The second statement fails after the first created a table; on SQLite the drop_column
# before it is a whole-table rebuild.
BAD = """
from tinyorm import *

def upgrade(op):
    op.create_table("first", [("id", AutoField())])
    {bad}
    op.add_column("good", "extra", IntegerField(null=True))
    op.create_table("third", [("id", AutoField())])

def downgrade(op):
    op.drop_table("third")
    op.drop_column("good", "extra")
    op.drop_table("first")
"""

BAD_REBUILD = """
from tinyorm import *

def upgrade(op):
    op.add_column("good", "extra", IntegerField(null=True))
    op.drop_column("good", "name")
    op.create_table("first", [("id", AutoField())])
    op.execute("THIS IS NOT SQL")

def downgrade(op):
    pass
"""


@requires("transactional_ddl")
def test_failing_migration_leaves_the_schema_as_it_was(db, project):
    project.write_migration("0001_good.py", GOOD)
    project.run("migrate", "up")
    before = schema_snapshot(db)
    history_before = rows(db, f"SELECT * FROM {HISTORY}")

    project.write_migration("0002_bad.py", BAD.format(bad='op.execute("THIS IS NOT SQL")'))
    result = project.run("migrate", "up", expect="fail")
    assert "0002_bad" in result.err and "Traceback" not in result.err, result
    assert schema_snapshot(db) == before
    assert "first" not in db.get_tables()
    assert rows(db, f"SELECT * FROM {HISTORY}") == history_before
    result = project.run("migrate", "status")
    assert re.search(r"pending\s+0002_bad", result.out), result

    # A failing table rebuild (SQLite) or ALTERs (PostgreSQL) roll back as well.
    project.write_migration("0002_bad.py", BAD_REBUILD)
    project.run("migrate", "up", expect="fail")
    assert schema_snapshot(db) == before
    assert rows(db, "SELECT name FROM good") == [("kept",)]

    # Fixed, it applies.
    project.write_migration("0002_bad.py", BAD.format(bad="pass"))
    project.run("migrate", "up")
    assert {"first", "third"} <= set(db.get_tables())
    assert _history(db) == ["0001_good", "0002_bad"]


@requires(transactional_ddl=False)
def test_failing_migration_without_transactional_ddl_is_reported_and_blocks_until_resolved(db, project):
    project.write_migration("0001_good.py", GOOD)
    project.run("migrate", "up")
    project.write_migration("0002_bad.py", BAD.format(bad='op.execute("THIS IS NOT SQL")'))

    result = project.run("migrate", "up", expect="fail")
    assert "Traceback" not in result.err, result
    # The report names what ran (and stays in effect) and what failed.
    assert f"CREATE TABLE {db.dialect.quote('first')}" in result.err, result
    assert "THIS IS NOT SQL" in result.err, result
    assert "third" not in result.err.split("failed with")[0], result
    assert "resolve" in result.err, result
    assert "first" in db.get_tables() and "third" not in db.get_tables()

    result = project.run("migrate", "status", expect=None)
    assert result.code != 0, result
    assert re.search(r"failed\s+0002_bad", result.out), result

    # The next `up` refuses until the failure is resolved.
    project.write_migration(
        "0003_next.py", 'def upgrade(op):\n    op.create_table("next", [])\n\ndef downgrade(op):\n    pass\n'
    )
    result = project.run("migrate", "up", expect="fail")
    assert_one_line_error(result, "0002_bad", "resolve")
    assert "next" not in db.get_tables()
    (project.migrations / "0003_next.py").unlink()

    result = project.run("migrate", "resolve", "0002_bad", expect="fail")
    assert_one_line_error(result, "--applied")

    # Undo by hand, fix the file, say so, and go on.
    db.execute_sql("DROP TABLE `first`")
    project.write_migration("0002_bad.py", BAD.format(bad="pass"))
    result = project.run("migrate", "resolve", "0002_bad", "--rolled-back")
    assert "0002_bad" in result.out
    result = project.run("migrate", "status")
    assert re.search(r"pending\s+0002_bad", result.out), result
    project.run("migrate", "up")
    assert {"first", "third"} <= set(db.get_tables())
    assert "extra" in column_names(db, "good")

    # The other way out: finish the change by hand and mark it applied.
    project.write_migration(
        "0003_half.py",
        """
        from tinyorm import *

        def upgrade(op):
            op.create_table("fourth", [("id", AutoField())])
            op.execute("THIS IS NOT SQL EITHER")

        def downgrade(op):
            op.drop_table("fourth")
        """,
    )
    project.run("migrate", "up", expect="fail")
    project.run("migrate", "resolve", "0003_half", "--applied")
    result = project.run("migrate", "status")
    assert re.search(r"applied\s+0003_half", result.out), result
    result = project.run("migrate", "up")
    assert "nothing to apply" in result.out.lower() or "up to date" in result.out.lower(), result


@requires(transactional_ddl=False)
def test_failing_downgrade_without_transactional_ddl_is_recorded_too(db, project):
    """A half-done rollback must not leave the migration looking applied and healthy."""
    project.write_migration(
        "0001_pair.py",
        """
        from tinyorm import *

        def upgrade(op):
            op.create_table("aa", [("id", AutoField())])
            op.create_table("bb", [("id", AutoField())])

        def downgrade(op):
            op.drop_table("bb")
            op.execute("THIS IS NOT SQL")
            op.drop_table("aa")
        """,
    )
    project.run("migrate", "up")
    result = project.run("migrate", "down", expect="fail")
    assert f"DROP TABLE {db.dialect.quote('bb')}" in result.err, result
    assert "bb" not in db.get_tables() and "aa" in db.get_tables()
    # The report said "marked failed": status must agree, and exit non-zero.
    result = project.run("migrate", "status", expect=None)
    assert result.code != 0 and re.search(r"failed\s+0001_pair", result.out), result
    result = project.run("migrate", "up", expect="fail")
    assert_one_line_error(result, "0001_pair", "resolve")


# -- two processes at once ----------------------------------------------------------------------
SLOW = """
import time
from tinyorm import *

def upgrade(op):
    op.create_table("counter", [("id", AutoField()), ("n", IntegerField())])

    def slow_insert(database):
        time.sleep(1)
        database.execute_sql("INSERT INTO counter (n) VALUES (1)")

    op.run_python(slow_insert)

def downgrade(op):
    op.drop_table("counter")
"""


def test_two_processes_migrating_at_once_apply_once(db, project):
    project.write_migration("0001_slow.py", SLOW)
    first = project.popen("migrate", "up")
    second = project.popen("migrate", "up")
    outputs = [process.communicate(timeout=120) for process in (first, second)]
    for process, (out, err) in zip((first, second), outputs):
        assert process.returncode == 0, (out, err)
    combined = "".join(out for out, _err in outputs)
    assert len(re.findall(APPLIED_LINE.format(name="0001_slow"), combined)) == 1, outputs
    assert rows(db, "SELECT n FROM counter") == [(1,)]
    assert _history(db) == ["0001_slow"]


@pytest.mark.backends("mysql")
def test_mysql_migration_lock_is_per_database(db, project):
    """GET_LOCK names are server-wide: a migration of another database must not block this one."""
    import tinyorm

    other_database = tinyorm.connect(project.url.rsplit("/", 1)[0] + "/information_schema")
    try:
        # What a `migrate up` of some other database on this server holds while it runs.
        (held,) = other_database.execute_sql("SELECT GET_LOCK('tinyorm_migrations', 0)").fetchone()
        assert held == 1
        project.write_migration(
            "0001_note.py",
            'def upgrade(op):\n    op.execute("CREATE TABLE note (id INTEGER)")\n\n'
            'def downgrade(op):\n    op.execute("DROP TABLE note")\n',
        )
        try:
            project.run("migrate", "up", timeout=8)
        except subprocess.TimeoutExpired:
            pytest.fail("`migrate up` waited for the lock held by a migration of another database")
        assert "note" in db.get_tables()
    finally:
        other_database.execute_sql("SELECT RELEASE_LOCK('tinyorm_migrations')").fetchall()
        other_database.close()


# -- the router: allow_migrate and --database NAME --------------------------------------------------
ROUTER_MODELS = """
from tinyorm import *

class AuditEverywhere(Router):
    def allow_migrate(self, db_name, model):
        if model.__name__ == "Audit":
            return True
        return super().allow_migrate(db_name, model)

router = AuditEverywhere(primary={primary!r}, partitions={{"analytics": {analytics!r}}})

class Base(Model):
    class Meta:
        database = router

class User(Base):
    name = CharField(max_length=40)

class Event(Base):
    kind = CharField(max_length=40)
    class Meta:
        partition = "analytics"

class Audit(Base):
    what = TextField()
"""


def test_router_databases_get_what_allow_migrate_allows(db, project, tmp_path):
    import tinyorm

    primary_url = f"sqlite:///{tmp_path / 'primary.db'}"
    project.write_models(ROUTER_MODELS.format(primary=primary_url, analytics=project.url))
    result = project.run("migrate", "make", "initial", database=False)
    project.run("migrate", "up", database=False)
    primary = tinyorm.connect(primary_url)
    try:
        assert set(primary.get_tables()) == {"user", "audit", HISTORY}
        assert set(db.get_tables()) == {"event", "audit", HISTORY}

        result = project.run("migrate", "sql", database=False)
        assert "primary" in result.out and "analytics" in result.out, result

        # --database NAME picks one of the router's databases.
        result = project.run("--database", "analytics", "migrate", "down", database=False)
        assert "0001_initial" in result.out
        assert set(db.get_tables()) == {HISTORY}
        assert set(primary.get_tables()) == {"user", "audit", HISTORY}
        result = project.run("migrate", "status", database=False)
        assert re.search(r"\[primary\]\s+applied\s+0001_initial", result.out), result
        assert re.search(r"\[analytics\]\s+pending\s+0001_initial", result.out), result

        result = project.run("--database", "nosuch", "migrate", "status", database=False, expect="fail")
        assert_one_line_error(result, "nosuch", "analytics")
    finally:
        primary.close()


# -- settings -------------------------------------------------------------------------------------
SIMPLE_MODELS = """
from tinyorm import *

class Note(Model):
    text = TextField()
"""


@pytest.mark.backends("sqlite")
def test_settings_from_pyproject_environment_and_flags(db, project, tmp_path):
    project.write_models(SIMPLE_MODELS)
    toml_db = tmp_path / "from_toml.db"
    env_db = tmp_path / "from_env.db"
    flag_db = tmp_path / "from_flag.db"
    (project.path / "pyproject.toml").write_text(
        textwrap.dedent(
            f"""
            [project]
            name = "scratch"

            [tool.tinyorm]
            database = "sqlite:///{toml_db}"
            models = "models"
            migrations = "db/migrations"
            """
        )
    )
    result = project.run("migrate", "make", "initial", database=False, models=False)
    assert (project.path / "db" / "migrations" / "0001_initial.py").exists(), result
    assert not project.migrations.exists()
    project.run("migrate", "up", database=False, models=False)
    assert toml_db.exists()

    # The environment beats the file...
    env = {"TINYORM_DATABASE_URL": f"sqlite:///{env_db}"}
    result = project.run("migrate", "status", database=False, models=False, env=env)
    assert re.search(r"pending\s+0001_initial", result.out), result
    project.run("migrate", "up", database=False, models=False, env=env)
    assert env_db.exists()

    # ... and a flag beats the environment.
    result = project.run(
        "--database", f"sqlite:///{flag_db}", "migrate", "status", database=False, models=False, env=env
    )
    assert re.search(r"pending\s+0001_initial", result.out), result

    # From a subdirectory the project's settings still hold (found by walking up).
    subdirectory = project.path / "src" / "deep"
    subdirectory.mkdir(parents=True)
    result = project.run("migrate", "status", database=False, models=False, cwd=subdirectory, expect=None)
    assert result.code == 0 and re.search(r"applied\s+0001_initial", result.out), result


def test_a_relative_database_file_in_pyproject_lies_beside_it():
    from tinyorm.backends.url import url_relative_to

    assert url_relative_to("sqlite:///app.db?timeout=2", "/srv/project") == "sqlite:////srv/project/app.db?timeout=2"
    for url in ("sqlite:////var/app.db", "sqlite:///:memory:", "postgresql://app@db/app"):
        assert url_relative_to(url, "/srv/project") == url


# -- help, usage and errors -------------------------------------------------------------------------
COMMANDS = [
    [],
    ["migrate"],
    ["migrate", "make"],
    ["migrate", "up"],
    ["migrate", "down"],
    ["migrate", "status"],
    ["migrate", "sql"],
    ["migrate", "resolve"],
    ["introspect"],
    ["check"],
]


def _run(args, cwd, env=None):
    completed = subprocess.run(
        tinyorm_command(*args), check=False, cwd=cwd, env=clean_env(env), capture_output=True, text=True, timeout=60
    )
    return Result(args, completed.returncode, completed.stdout, completed.stderr)


def test_help_on_every_command(tmp_path):
    for command in COMMANDS:
        result = _run([*command, "--help"], tmp_path)
        assert result.code == 0, result
        assert result.out.startswith("usage: tinyorm"), result
        assert " ".join(["tinyorm", *command]) in result.out.splitlines()[0], result
    result = _run(["--version"], tmp_path)
    assert result.code == 0 and result.out.startswith("tinyorm "), result


def test_usage_errors_are_one_line_and_non_zero(tmp_path):
    url = f"sqlite:///{tmp_path / 'app.db'}"
    cases = [
        (["frobnicate"], "frobnicate"),
        (["migrate", "frobnicate"], "frobnicate"),
        (["--no-such-flag", "migrate", "up"], "--no-such-flag"),
        (["--database", url, "migrate", "down", "two"], "two"),
        (["migrate", "up"], "--database"),  # no database anywhere
        (["--database", "nosuch://x", "migrate", "up"], "nosuch"),
        (["--database", url, "--models", "no_such_module", "migrate", "make", "x"], "no_such_module"),
        (["--database", url, "migrate", "make", "x"], "--models"),
        (["--database", url, "migrate", "up", "0042_nowhere"], "0042_nowhere"),
        (["--database", url, "migrate", "resolve", "0001_x", "--applied"], "0001_x"),
        (["introspect", url, "--tables", "no_such_table"], "no_such_table"),
    ]
    for args, fragment in cases:
        result = _run(args, tmp_path)
        assert_one_line_error(result, fragment)
    # `migrate` alone shows its actions and is a usage error.
    result = _run(["migrate"], tmp_path)
    assert result.code == 2 and "make" in result.output and "resolve" in result.output, result


@pytest.mark.backends("sqlite")
def test_make_empty_needs_no_models(db, project):
    result = project.run("migrate", "make", "--empty", "data fix", models=False)
    assert project.migration_files() == ["0001_data_fix.py"], result
    source = project.migration_source("0001")
    assert "def upgrade(op):" in source and "def downgrade(op):" in source
    project.run("migrate", "up", models=False)


@pytest.mark.backends("sqlite")
def test_missing_migration_file_is_reported_not_a_crash(db, project):
    project.write_models(SIMPLE_MODELS)
    project.run("migrate", "make", "initial")
    project.run("migrate", "up")
    (project.migrations / "0001_initial.py").unlink()
    result = project.run("migrate", "status", expect="fail")
    assert "0001_initial" in result.out and "missing" in result.out, result
    result = project.run("migrate", "make", "next", expect="fail")
    assert_one_line_error(result, "0001_initial")


def test_project_helper_runs_in_its_directory(tmp_path):
    """The helper itself: commands run in the project directory with no TINYORM_* leaking in."""
    project = Project(tmp_path, "sqlite:///x.db")
    result = project.run("check", models=False, env={})
    assert result.code == 0 and "sqlite" in result.out, result
    assert (tmp_path / "x.db").exists()
