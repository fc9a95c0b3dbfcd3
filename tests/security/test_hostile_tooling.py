"""Generated files stay valid Python for any text: ``tinyorm migrate make MESSAGE`` with
hostile messages, table and column names and default values, on every engine; ``make``
refuses (exit 1, file removed) a file that would not load.
"""

from tinyorm import cli
from tinyorm.migrations import autogenerate
from tinyorm.migrations.runner import Migration, discover

from ..migrations.conftest import (  # noqa: F401
    Project,
    clean_env,
    project,  # noqa: F401  (the fixture)
)

PAYLOADS = [
    '"""',
    '"""\nimport os\nopen("PWNED", "w").close()\n"""',
    "'''",
    '"',
    'ends with a quote"',
    "\\",
    "trailing backslash \\",
    "\\U",
    "\\U0001F600",
    "\\N",
    "\\N{BULLET}",
    "\\x",
    "\\x41",
    "\\u12",
    "\\0",
    "\\n",
    "\n",
    "two\nlines",
    "\r",
    "\r\n",
    "\t",
    "\x0b\x0c",
    "\x00",
    "\x1b[31mred",
    "\u2028",
    "\u2029",
    "\x85",
    "\u202eevil",
    "# not a comment",
    "\n# DESTRUCTIVE\ndef upgrade(op):\n    raise SystemExit",
    "ünïcødé ✓ 🎉 中文",
    "' or '1'='1",
    "{message}",
    "%s %d",
    "f'{__import__(\"os\")}'",
    "",
    " ",
    "x" * 2000,
]
MESSAGES = PAYLOADS + [f"add email {payload}" for payload in PAYLOADS] + [f"{payload} done" for payload in PAYLOADS]


def _make(tmp_path, message, *extra):
    return cli.main(["--migrations", str(tmp_path / "migrations"), "migrate", "make", "--empty", *extra, message])


def test_any_message_writes_a_file_that_loads(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    for message in MESSAGES:
        assert _make(tmp_path, message) == 0, repr(message)
    migrations = discover(str(tmp_path / "migrations"))
    assert len(migrations) == len(MESSAGES) > 100
    for migration, message in zip(migrations, MESSAGES):
        module = migration.module()
        # The docstring holds the message exactly (the file records what make was told).
        assert module.__doc__.startswith(message + "\n\nRevision: "), (message, module.__doc__)
        assert callable(module.upgrade)
    assert not (tmp_path / "PWNED").exists()


def test_make_removes_a_file_that_does_not_load(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(autogenerate, "render_migration", lambda *args: "def upgrade(op):\n  pass\n oops\n")
    assert _make(tmp_path, "broken") == 1
    assert "does not load" in capsys.readouterr().err
    assert list((tmp_path / "migrations").glob("*.py")) == []

    source = 'import os\nos.environ["X"] = "1"\ndef upgrade(op):\n    pass\ndef downgrade(op):\n    pass\n'
    monkeypatch.setattr(autogenerate, "render_migration", lambda *args: '"""doc"""\n' + source)
    assert _make(tmp_path, "top-level code") == 1
    assert "unexpected top-level code" in capsys.readouterr().err
    assert list((tmp_path / "migrations").glob("*.py")) == []


def test_source_writers_round_trip():
    for text in PAYLOADS:
        literal = autogenerate.source_docstring(text)
        assert eval(compile(literal, "<literal>", "eval")) == text + "\n", repr(text)  # noqa: S307
        comment = "# " + autogenerate.source_comment(text)
        assert len(comment.splitlines()) <= 1 and compile(comment + "\nx = 1\n", "<c>", "exec")


# Names and values that would break a file pasted together from text; each must survive
# make -> up as data. (Kept within every engine's identifier rules: no NUL, <= 64 chars.)
TABLE = 'we"ird\'t """ \\U ä'
COLUMNS = ["na\"me'; --", "\\N{BULLET} ü", "x'''y"]
DEFAULT = '"""\\U\\N{x}\n'
HOSTILE_MODELS = f"""
from tinyorm import *

class Weird(Model):
    name = CharField(max_length=50, column_name={COLUMNS[0]!r}, default={DEFAULT!r})
    note = CharField(max_length=50, null=True, column_name={COLUMNS[1]!r})
    flag = IntegerField(default=0, server_default="0", column_name={COLUMNS[2]!r})

    class Meta:
        table_name = {TABLE!r}
"""


def test_make_and_up_with_hostile_names_and_defaults(project, db):  # noqa: F811
    project.write_models(HOSTILE_MODELS)
    made = project.run("migrate", "make", 'create """ weird \\N table')
    assert "wrote" in made.out, made
    (path,) = project.migrations.glob("*.py")
    assert Migration(str(path)).module()
    project.run("migrate", "up")
    assert TABLE in db.get_tables()
    assert {column.name for column in db.get_columns(TABLE)} >= set(COLUMNS)
    # The models and the database now agree: nothing left to make.
    again = project.run("migrate", "make", "nothing")
    assert "No changes detected" in again.out, again
