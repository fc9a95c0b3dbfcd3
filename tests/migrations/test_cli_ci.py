"""The commands a CI job or a deploy script runs: ``migrate check`` (exit 1 on a pending
migration or on model drift, naming it), ``migrate current``, ``migrate history`` and
``migrate stamp``, driven as the real ``tinyorm`` command against every engine."""

import re

from .conftest import assert_one_line_error, rows

HISTORY = "tinyorm_migrations"

MODELS_V1 = """
from tinyorm import *

class Author(Model):
    name = CharField(max_length=50, unique=True)
"""

# v2 adds a column and a table: drift until a migration says so
MODELS_V2 = """
from tinyorm import *

class Author(Model):
    name = CharField(max_length=50, unique=True)
    bio = TextField(null=True)

class Book(Model):
    author = ForeignKeyField(Author, backref="books", on_delete="CASCADE")
    title = CharField(max_length=100)
"""


def _applied(db):
    quote = db.dialect.quote
    if HISTORY not in db.get_tables():
        return []
    return sorted(name for (name,) in rows(db, f"SELECT {quote('name')} FROM {quote(HISTORY)}"))


def test_check_fails_on_pending_migrations_and_on_model_drift(db, project):
    project.write_models(MODELS_V1)
    project.run("migrate", "make", "initial")

    # pending: check fails and names it; status still exits 0
    result = project.run("migrate", "check", expect=1)
    assert re.search(r"pending\s+0001_initial", result.out), result
    assert_one_line_error(result, "not applied", "0001_initial", "migrate up")
    assert project.run("migrate", "status").code == 0

    project.run("migrate", "up")
    result = project.run("migrate", "check")
    assert result.out.startswith("ok:") and "models match" in result.out, result

    # the models change but no migration says so: drift, named operation by operation
    project.write_models(MODELS_V2)
    result = project.run("migrate", "check", expect=1)
    assert "op.add_column('author', 'bio'" in result.out, result
    assert "op.create_table('book'" in result.out, result
    assert_one_line_error(result, "models differ from the migrations", "migrate make")
    assert "bio" not in [column.name for column in db.get_columns("author")]  # check changed nothing

    project.run("migrate", "make", "books")
    result = project.run("migrate", "check", expect=1)  # written but not applied yet
    assert re.search(r"pending\s+0002_books", result.out), result
    project.run("migrate", "up")
    assert project.run("migrate", "check").code == 0

    # without --models only the migrations are checked
    result = project.run("migrate", "check", models=False)
    assert "model changes not checked" in result.out, result

    # a migration edited after it was applied fails the check too
    path = project.migrations / "0002_books.py"
    path.write_text(path.read_text(encoding="utf-8") + "\n# edited\n", encoding="utf-8")
    result = project.run("migrate", "check", expect=1)
    assert re.search(r"modified\s+0002_books", result.out), result


def test_current_history_and_stamp(db, project):
    result = project.run("migrate", "history")
    assert "no migrations" in result.out, result
    project.write_models(MODELS_V1)
    project.run("migrate", "make", "initial")
    project.write_migration(
        "0002_books.py",
        '''
        """Add books
        and more lines"""
        from tinyorm import *


        def upgrade(op):
            op.create_table("book", [("id", AutoField()), ("title", CharField(max_length=100))])


        def downgrade(op):
            op.drop_table("book")
        ''',
    )

    # history reads the files only: every migration with its message, the last one marked head
    result = project.run("migrate", "history", database=False, models=False)
    assert result.out.splitlines() == ["0001_initial  initial", "0002_books  Add books  (head)"], result

    assert project.run("migrate", "current").out.strip() == "(none applied) (2 pending)"
    project.run("migrate", "up", "1")
    assert project.run("migrate", "current").out.strip() == "0001_initial (1 pending)"

    # stamp: the schema was made some other way; record it without running anything
    db.execute_sql("CREATE TABLE book (id INTEGER PRIMARY KEY, title VARCHAR(100) NOT NULL)")
    result = project.run("migrate", "stamp", "head")
    assert result.out.strip() == "stamped 0002_books as applied", result
    assert _applied(db) == ["0001_initial", "0002_books"]
    assert project.run("migrate", "current").out.strip() == "0002_books (head)"
    assert project.run("migrate", "up").out.strip() == "nothing to apply: up to date"
    assert project.run("migrate", "stamp", "2").out.strip().startswith("nothing to stamp")

    # back to an earlier point: later migrations are forgotten, the schema is untouched
    result = project.run("migrate", "stamp", "0001_initial")
    assert result.out.strip() == "stamped 0002_books as not applied", result
    assert _applied(db) == ["0001_initial"]
    assert "book" in db.get_tables()
    result = project.run("migrate", "stamp", "base")
    assert _applied(db) == []
    assert {"author", "book"} <= set(db.get_tables())

    result = project.run("migrate", "stamp", "0009_nothing", expect=1)
    assert_one_line_error(result, "no migration named '0009_nothing'")
    result = project.run("migrate", "stamp", expect=2)  # TARGET is required
