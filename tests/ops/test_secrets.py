"""No password in any error, ``repr``, log record or generated file.

Every URL of the test matrix gets a password (SQLite, which has none, gets one as a query
option), and the real servers see it: PostgreSQL (trust authentication) accepts any
password, so it also gets an unknown role; MariaDB's root has none, so any password is a
wrong one. Each case collects what a person could read — exception messages with their
whole chain, reprs, every log record at DEBUG, the CLI's stdout/stderr and the files it
writes — and the password must appear in none of it.
"""

import logging
import traceback
from urllib.parse import quote, urlsplit, urlunsplit

import pytest

import tinyorm
from tinyorm.backends.url import mask_url, parse_url

from ..migrations.conftest import clean_env, tinyorm_command

SECRET = "Pw-7e5t_s3cret!"
DEAD_PORT = 1  # nothing listens there: connecting fails at once


def with_password(url, password=SECRET, user=None, port=None):
    """``url`` with ``password`` (and optionally another user or port) in it."""
    if url.startswith("sqlite:"):
        return f"{url}?password={quote(password)}"
    parts = urlsplit(url)
    user = user or parts.username or "root"
    netloc = f"{user}:{quote(password, safe='')}@{parts.hostname}:{port or parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def readable(exc):
    """Everything a traceback of ``exc`` shows: the messages of it and its whole chain."""
    return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))


class Seen:
    """What a person could read: texts gathered, and the log records caught meanwhile."""

    def __init__(self, caplog):
        self.caplog = caplog
        self.texts = []

    def add(self, text):
        self.texts.append(str(text))

    def attempt(self, function, *args, **kwargs):
        """Run ``function``; keep its result's repr, or its error's full traceback."""
        try:
            result = function(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - every error is read for the secret
            self.add(readable(exc))
            return exc
        self.add(repr(result))
        return result

    def assert_no_secret(self, secret=SECRET):
        records = [record.getMessage() for record in self.caplog.records]
        records += [readable(record.exc_info[1]) for record in self.caplog.records if record.exc_info]
        for text in self.texts + records:
            for form in (secret, quote(secret, safe="")):
                assert form not in text, f"the password shows in: {text!r}"


@pytest.fixture
def seen(caplog):
    caplog.set_level(logging.DEBUG)
    return Seen(caplog)


def _run(database, sql="SELECT 1"):
    try:
        return database.execute_sql(sql).fetchall()
    finally:
        database.close_all()


def test_connecting_with_a_password_shows_it_nowhere(db, db_url, seen):
    url = with_password(db_url)
    scheme = url.split("://", 1)[0]
    urls = [url, f"{url}{'&' if '?' in url else '?'}password={quote(SECRET)}"]
    if db.dialect != "sqlite":
        urls += [
            with_password(db_url, user="tinyorm_no_such_role"),  # refused by the server
            with_password(db_url, port=DEAD_PORT),  # nothing listens
            f"{url}?max_connections=x",  # a bad option value
            f"{url}?no_such_option=1",  # an option the driver refuses
            url.replace(f":{urlsplit(db_url).port}/", ":99999/"),  # port out of range
            "oracle" + url[len(scheme) :],  # unknown scheme
            url.rsplit("/", 1)[0] + "/",  # names no database
        ]
    outcomes = []
    for url in urls:
        database = seen.attempt(tinyorm.connect, url)
        if isinstance(database, tinyorm.Database):
            seen.add(repr(database))
            seen.add(str(database))
            outcomes.append(seen.attempt(_run, database))
        else:
            outcomes.append(database)
    # the cases really failed or succeeded as they would for a user
    errors = [outcome for outcome in outcomes if isinstance(outcome, Exception)]
    assert errors, outcomes
    assert all(isinstance(error, tinyorm.TinyORMError) for error in errors), errors
    seen.assert_no_secret()


servers_only = pytest.mark.backends("postgresql", "mysql")  # SQLite has no login to refuse


@servers_only
def test_wrong_password_is_refused_without_echoing_it(db, db_url, seen):
    # PostgreSQL here trusts local connections whatever the password: an unknown role is
    # refused instead. MariaDB's root has no password, so any password is wrong.
    user = "tinyorm_no_such_role" if db.dialect == "postgresql" else None
    database = tinyorm.connect(with_password(db_url, user=user))
    with pytest.raises(tinyorm.OperationalError) as caught:
        database.execute_sql("SELECT 1")
    seen.add(readable(caught.value))
    seen.assert_no_secret()


def test_password_of_digits_stays_text(db, db_url):
    url = with_password(db_url, password="007")
    assert tinyorm.connect(url).connect_params["password"] == "007"
    assert parse_url("postgresql://u@h/db?password=007&sslmode=require")[2] == {
        "host": "h",
        "user": "u",
        "password": "007",
        "sslmode": "require",
    }
    if db.dialect == "mysql":
        # the driver gets the text: refused by the server as a wrong password, not a TypeError
        with pytest.raises(tinyorm.OperationalError, match="Access denied"):
            tinyorm.connect(url).execute_sql("SELECT 1")


@servers_only
def test_router_logs_and_errors_hide_passwords(db, db_url, seen):
    good = with_password(db_url) if db.dialect == "postgresql" else db_url
    # pin_window=0: reads go to the (dead) replica right after the CREATE TABLE
    router = tinyorm.Router(primary=good, replicas=[with_password(db_url, port=DEAD_PORT)], pin_window=0)
    seen.add(repr(router))

    class Item(tinyorm.Model):
        name = tinyorm.CharField(max_length=20)

        class Meta:
            database = router
            table_name = "secret_item"

    try:
        router.create_tables([Item])
        assert seen.attempt(lambda: list(Item.select())) == []  # the dead replica is marked down
        assert "replica1" in router.stats()["down"]
        assert any("marked down" in record.getMessage() for record in seen.caplog.records)
        with router.using("replica1"):
            seen.attempt(lambda: list(Item.select()))  # this one surfaces the error
    finally:
        router.drop_tables([Item])
        router.close_all()
    seen.assert_no_secret()


def test_mask_url_hides_every_form_of_password():
    assert mask_url("postgresql://app:s3cret@db:5432/app?sslmode=require") == (
        "postgresql://app:***@db:5432/app?sslmode=require"
    )
    assert mask_url("mysql://app:p@ss/w@rd@db/app") == "mysql://app:***@db/app"  # raw "@" and "/" in it
    assert mask_url("mysql://app:pa?ss@db/app") == "mysql://app:***@db/app"  # a raw "?" in it
    assert mask_url("postgresql://db/app?user=x&password=s3cret&a=1") == "postgresql://db/app?user=x&password=***&a=1"
    assert mask_url("app:s3cret@db/app") == "app:***@db/app"
    for unchanged in ("sqlite:///app.db", "mysql://root@db/app", "postgresql://db:5432/app?x=a@b"):
        assert mask_url(unchanged) == unchanged


# -- the command ---------------------------------------------------------------------------------
def _command(args, cwd, env=None):
    import subprocess

    completed = subprocess.run(
        tinyorm_command(*args), cwd=cwd, env=clean_env(env), capture_output=True, text=True, timeout=120
    )
    return completed


def test_command_output_and_generated_files_hide_passwords(db, db_url, tmp_path, seen):
    url = with_password(db_url)
    if db.dialect != "sqlite":
        db.execute_sql("CREATE TABLE secret_note (id INTEGER PRIMARY KEY, body VARCHAR(20))")
    else:
        url = db_url  # introspection needs a working URL; SQLite's passwords are covered above
    (tmp_path / "migrations").mkdir()
    runs = [
        ["--database", url, "check"],
        ["--database", url, "migrate", "status"],
        ["--database", url, "migrate", "check"],
        ["--database", with_password(db_url, port=DEAD_PORT) if db.dialect != "sqlite" else url, "migrate", "up"],
        ["--database", url + "?max_connections=nope", "check"],
        ["introspect", url],
    ]
    outputs = []
    for args in runs:
        completed = _command(args, tmp_path)
        outputs.append(completed)
        seen.add(completed.stdout)
        seen.add(completed.stderr)
    generated = outputs[-1]
    assert generated.returncode in (0, 1), generated.stderr
    if db.dialect == "postgresql":
        assert generated.returncode == 0, generated.stderr
        assert "TINYORM_DATABASE_URL" in generated.stdout
        # the generated module imports and runs with the URL from the environment
        module = tmp_path / "generated_models.py"
        module.write_text(generated.stdout, encoding="utf-8")
        probe = _command_python(
            tmp_path,
            "import generated_models as m; print(m.SecretNote.select().count())",
            {"TINYORM_DATABASE_URL": url},
        )
        assert probe.returncode == 0 and probe.stdout.strip() == "0", probe.stderr
        seen.add(module.read_text(encoding="utf-8"))
    # the same URL in the environment (as production sets it) is masked too
    completed = _command(["migrate", "status"], tmp_path, env={"TINYORM_DATABASE_URL": url})
    seen.add(completed.stdout + completed.stderr)
    seen.assert_no_secret()
    if db.dialect != "sqlite":
        db.execute_sql("DROP TABLE secret_note")


def _command_python(cwd, code, env):
    import subprocess
    import sys

    return subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, env=clean_env(env), capture_output=True, text=True, timeout=60
    )
