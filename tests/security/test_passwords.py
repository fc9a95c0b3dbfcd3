"""No password in any error message, repr, log record or generated file.

A real user with a distinctive password is created on PostgreSQL and MariaDB/MySQL for the
test (and dropped after); tinyorm then connects with it, runs statements that succeed and
fail, is connected with a wrong password and to a closed port, is given malformed URLs,
runs the ``tinyorm`` command and ``introspect``. Every ``tinyorm.*`` log record (at DEBUG),
every error's text, every repr and every generated source is searched for the password, as
written and URL-encoded.
"""

import contextlib
import logging
import traceback
from urllib.parse import quote, urlsplit, urlunsplit

import pytest

import tinyorm
from tinyorm import CharField, Model, cli
from tinyorm.backends.url import mask_url

PASSWORD = "Zq7-s3cr3t@Pw/x!y"  # "@", "/" and "!" need care in a URL
WRONG = "Wr0ng-Pw-Kq8#zz"
SECRETS = [PASSWORD, quote(PASSWORD, safe=""), WRONG, quote(WRONG, safe="")]


def _user(db):
    return f"tinyorm_sec_{db.database}"[:32]


# Creating and dropping a login is engine administration with no tinyorm API.
SETUP = {
    "postgresql": [
        "DROP OWNED BY {user}",
        "DROP ROLE {user}",
        "CREATE ROLE {user} LOGIN PASSWORD %s",
        "GRANT ALL ON SCHEMA public TO {user}",
    ],
    "mysql": [
        "DROP USER IF EXISTS {user}",
        "CREATE USER {user} IDENTIFIED BY %s",
        "GRANT ALL ON {database}.* TO {user}",
    ],
}
TEARDOWN = {"postgresql": ["DROP OWNED BY {user}", "DROP ROLE {user}"], "mysql": ["DROP USER IF EXISTS {user}"]}


def _run_admin(db, statements, user, password=None):
    # ("%%": pymysql reads "%" in any statement sent with parameters.)
    quoted = db.dialect.quote(user) if db.dialect.name == "postgresql" else f"'{user}'@'%%'"
    for statement in statements:
        sql = statement.format(user=quoted, database=db.dialect.quote(db.database))
        with contextlib.suppress(tinyorm.DatabaseError):  # DROP of what is not there
            db.execute_sql(sql, (password,) if "%s" in sql else ())


def _with_credentials(url, user, password):
    parts = urlsplit(url)
    netloc = f"{quote(user, safe='')}:{quote(password, safe='')}@{parts.hostname}"
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


class _Records(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.texts = []

    def emit(self, record):
        self.texts.append(record.getMessage())
        if record.exc_info:
            self.texts.append("".join(traceback.format_exception(*record.exc_info)))


@contextlib.contextmanager
def _captured_logs():
    handler = _Records()
    root = logging.getLogger("tinyorm")
    old_level = root.level
    root.setLevel(logging.DEBUG)
    root.addHandler(handler)
    try:
        yield handler.texts
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)


def _error_text(fn):
    """The text of the tinyorm error ``fn()`` raises (message and repr)."""
    try:
        fn()
    except tinyorm.TinyORMError as exc:
        return f"{exc}\n{exc!r}"
    return ""


def _assert_no_secret(texts):
    for text in texts:
        for secret in SECRETS:
            assert secret not in text, f"password {secret!r} in: {text}"


MALFORMED = [
    f"postgresql://app:{PASSWORD}@db.example:notaport/app",
    f"postgresql://app:{quote(PASSWORD, safe='')}@db.example/",
    f"mysql://app:{quote(PASSWORD, safe='')}@db.example/app?max_connections=many",
    f"mysql://app:{quote(PASSWORD, safe='')}@db.example/app?connect_timeout=soon",
    f"nosuch://app:{quote(PASSWORD, safe='')}@db.example/app",
    f"app:{PASSWORD}@db.example/app",
    f"postgresql://app:{PASSWORD}@[::1/app",
    f"sqlite:///x.db?password={quote(PASSWORD, safe='')}&timeout=never",
    f"postgresql://app@db.example/app?password={quote(PASSWORD, safe='')}&max_connections=x",
]


def test_malformed_urls_never_echo_the_password(tmp_path, capsys):
    texts = []
    with _captured_logs() as logs:
        for url in MALFORMED:
            texts.append(_error_text(lambda url=url: tinyorm.connect(url)))
            texts.append(mask_url(url))
            code = cli.main(["--database", url, "--migrations", str(tmp_path), "migrate", "status"])
            assert code != 0, url
            captured = capsys.readouterr()
            texts += [captured.out, captured.err]
    assert all(texts[index] for index in range(0, len(texts), 4)), texts  # every URL was refused
    _assert_no_secret(texts + logs)


class Diary(Model):
    entry = CharField(max_length=50)


def test_no_password_anywhere_with_a_real_user(db, db_url, tmp_path, capsys, monkeypatch):
    if db.dialect.name not in SETUP:
        pytest.skip(f"{db.dialect.name} has no passwords")
    user = _user(db)
    _run_admin(db, SETUP[db.dialect.name], user, PASSWORD)
    good_url = _with_credentials(db_url, user, PASSWORD)
    wrong_url = _with_credentials(db_url, user, WRONG)
    closed_url = good_url.replace(f":{urlsplit(db_url).port}/", ":1/") if urlsplit(db_url).port else None
    texts = []
    try:
        with _captured_logs() as logs:
            good = tinyorm.connect(good_url + ("&" if "?" in good_url else "?") + "max_connections=2")
            Diary.bind(good)
            good.create_tables([Diary])
            Diary.create(entry=PASSWORD[:3])  # a value is data; the password itself is not sent
            assert Diary.select().count() == 1
            texts.append(repr(good))
            texts.append(_error_text(lambda: good.execute_sql("SELECT * FROM no_such_table_here", ())))
            # A statement quoting the password fails: the engine's message echoes it, tinyorm scrubs it.
            texts.append(_error_text(lambda: good.execute_sql(f"SELEC '{PASSWORD}'", ())))
            router = tinyorm.Router(primary=good_url, replicas=[good_url])
            texts.append(repr(router))
            texts += [repr(database) for database in router.databases.values()]
            router.close_all() if hasattr(router, "close_all") else None

            wrong = tinyorm.connect(wrong_url)
            texts.append(_error_text(lambda: wrong.execute_sql("SELECT 1", ())))
            texts.append(repr(wrong))
            wrong.close_all()
            if closed_url:
                closed = tinyorm.connect(closed_url + "?connect_timeout=2")
                texts.append(_error_text(lambda: closed.execute_sql("SELECT 1", ())))
                closed.close_all()

            monkeypatch.chdir(tmp_path)
            for argv in (
                ["--database", good_url, "-v", "migrate", "status"],
                ["--database", wrong_url, "migrate", "status"],
                ["introspect", good_url],
            ):
                cli.main(argv)
                captured = capsys.readouterr()
                texts += [captured.out, captured.err]
            source = texts[-2]
            assert "class Diary" in source and 'os.environ["TINYORM_DATABASE_URL"]' in source
            good.drop_tables([Diary])
            good.close_all()
        assert logs, "nothing was logged: the loggers were not captured"
        assert any(text for text in texts[-6:-2]), "the CLI printed nothing"
        _assert_no_secret(texts + logs)
    finally:
        _run_admin(db, TEARDOWN[db.dialect.name], user)
