"""A scratch project for driving the ``tinyorm`` command as a subprocess.

``project`` is a temporary directory holding ``models.py`` and ``migrations/``, wired to the
``db`` fixture's database. ``project.run("migrate", "up")`` runs
``python -m tinyorm --database URL --models models migrate up`` there and returns the exit
code with stdout and stderr; ``expect=`` says what exit code the step must have.
"""

import os
import pathlib
import re
import subprocess
import sys
import textwrap

import pytest

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]

# Every error the command reports itself ends in one line like "tinyorm: error: ...";
# argparse's usage errors print the usage first and the same kind of line last.
ERROR_LINE = re.compile(r"^tinyorm(?: [\w-]+)*: error: \S.*$")


class Result:
    def __init__(self, args, code, out, err):
        self.args = args
        self.code = code
        self.out = out
        self.err = err

    @property
    def output(self):
        return self.out + self.err

    def __repr__(self):
        return f"<exit {self.code} from {' '.join(self.args)}>\n--- stdout\n{self.out}--- stderr\n{self.err}"


def clean_env(extra=None):
    """The environment for the subprocess: no TINYORM_* settings leak in from the caller."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("TINYORM_")}
    env["PYTHONDONTWRITEBYTECODE"] = "1"  # models.py is rewritten within one second
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    env.update(extra or {})
    return env


def tinyorm_command(*args):
    return [sys.executable, "-m", "tinyorm", *args]


def assert_one_line_error(result, *fragments):
    """A failure that ends with one clear ``tinyorm: error: ...`` line and no traceback."""
    assert result.code != 0, result
    assert "Traceback" not in result.err, result
    last = result.err.strip().splitlines()[-1] if result.err.strip() else ""
    assert ERROR_LINE.match(last), f"last stderr line is not a one-line error: {last!r}\n{result!r}"
    for fragment in fragments:
        assert fragment in result.err, f"{fragment!r} not in the error\n{result!r}"


class Project:
    def __init__(self, path, url):
        self.path = path
        self.url = url
        self.migrations = path / "migrations"

    def write_models(self, source):
        (self.path / "models.py").write_text(textwrap.dedent(source), encoding="utf-8")

    def write_migration(self, filename, source):
        self.migrations.mkdir(exist_ok=True)
        path = self.migrations / filename
        path.write_text(textwrap.dedent(source), encoding="utf-8")
        return path

    def migration_files(self):
        if not self.migrations.is_dir():
            return []
        return sorted(path.name for path in self.migrations.glob("*.py"))

    def migration_source(self, prefix):
        (path,) = [path for path in self.migrations.glob(f"{prefix}*.py")]
        return path.read_text(encoding="utf-8")

    def command(self, *args, database=True, models=True):
        options = []
        if database:
            options += ["--database", self.url]
        if models:
            options += ["--models", "models"]
        return tinyorm_command(*options, *args)

    def run(self, *args, expect=0, database=True, models=True, env=None, cwd=None, timeout=120):
        command = self.command(*args, database=database, models=models)
        completed = subprocess.run(
            command,
            check=False,
            cwd=cwd or self.path,
            env=clean_env(env),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        result = Result(command[3:], completed.returncode, completed.stdout, completed.stderr)
        if expect == "fail":
            assert result.code != 0, result
        elif expect is not None:
            assert result.code == expect, result
        return result

    def popen(self, *args):
        return subprocess.Popen(
            self.command(*args),
            cwd=self.path,
            env=clean_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )


@pytest.fixture
def project(db, db_url, tmp_path):
    """A scratch project directory wired to the ``db`` fixture's (empty) database."""
    path = tmp_path / "project"
    path.mkdir()
    project = Project(path, db_url)
    project.write_models("from tinyorm import *  # no models yet\n")
    return project


def foreign_keys(database, table):
    """``database.get_foreign_keys(table)``, also right after another process changed the schema.

    SQLite answers a repeated ``PRAGMA foreign_key_list`` on one connection from the
    compiled statement, even after another connection changed the table (see
    test_introspect.py::test_sqlite_foreign_keys_seen_after_another_connection_changes_them);
    reading sqlite_master first makes the connection reload the schema.
    """
    if database.dialect.name == "sqlite":  # the quirk above is SQLite's
        database.execute_sql("SELECT COUNT(*) FROM sqlite_master").fetchall()
    return database.get_foreign_keys(table)


def schema_snapshot(database, skip=()):
    """Everything introspection sees of a database's schema, comparable with ==."""
    snapshot = {}
    for table in sorted(database.get_tables()):
        if table in skip:
            continue
        snapshot[table] = (
            [tuple(column) for column in database.get_columns(table)],
            sorted((index.name, tuple(index.columns), index.unique) for index in database.get_indexes(table)),
            sorted(
                (fk.column, fk.dest_table, fk.dest_column, fk.on_delete, fk.on_update)
                for fk in foreign_keys(database, table)
            ),
        )
    return snapshot


def column_names(database, table):
    return [column.name for column in database.get_columns(table)]


def rows(database, sql, params=()):
    return [tuple(row) for row in database.execute_sql(sql, params).fetchall()]
