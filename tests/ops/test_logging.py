"""Loggers by concern: ``tinyorm.sql`` (with parameters shown, hidden or cut by the
database's ``log_params`` option), ``tinyorm.pool`` and ``tinyorm.migrations``; and
nothing printed by the library itself."""

import logging

import pytest

import tinyorm
from tinyorm.migrations import MigrationRunner


def messages(caplog, logger):
    return [record.getMessage() for record in caplog.records if record.name == logger]


def _connect_like(db, db_url, option):
    return tinyorm.connect(f"{db_url}{'&' if '?' in db_url else '?'}{option}")


def test_sql_parameters_shown_hidden_or_truncated(db, db_url, caplog):
    caplog.set_level(logging.DEBUG, logger="tinyorm")
    long_text = "x" * 200
    select = f"SELECT {db.dialect.param}, {db.dialect.param}"
    for option, expected in (
        ("log_params=true", f"{select} (7, '{long_text}')"),
        ("log_params=false", f"{select} [2 parameters hidden]"),
        ("log_params=10", f"{select} (7, 'xxxxxxxxx...(+192 chars))"),
    ):
        caplog.clear()
        database = _connect_like(db, db_url, option)
        try:
            assert database.execute_sql(select, (7, long_text)).fetchone()[0] == 7
        finally:
            database.close_all()
        assert expected in messages(caplog, "tinyorm.sql"), (option, messages(caplog, "tinyorm.sql"))


def test_executemany_logs_a_few_rows(db, caplog):
    db.execute_sql("CREATE TABLE log_many (n INTEGER)")
    try:
        caplog.set_level(logging.DEBUG, logger="tinyorm.sql")
        db.execute_sql(f"INSERT INTO log_many (n) VALUES ({db.dialect.param})", [(n,) for n in range(10)], many=True)
        (line,) = [message for message in messages(caplog, "tinyorm.sql") if message.startswith("INSERT")]
        assert line.endswith("[executemany: 10 rows] (0,); (1,); (2,); ... 7 more"), line
        assert db.execute_sql("SELECT COUNT(*) FROM log_many").fetchone()[0] == 10
    finally:
        db.execute_sql("DROP TABLE log_many")


@pytest.mark.parametrize("value", ["maybe", "0", "-3"])
def test_bad_log_params_is_refused(value):
    with pytest.raises(tinyorm.ImproperlyConfigured, match="log_params"):
        tinyorm.connect(f"sqlite:///:memory:?log_params={value}")


def test_pool_logs_connections_and_exhaustion(db, db_url, caplog):
    caplog.set_level(logging.DEBUG, logger="tinyorm.pool")
    database = _connect_like(db, db_url, "max_connections=1&pool_timeout=0.01")
    try:
        database.execute_sql("SELECT 1")
        (opened,) = messages(caplog, "tinyorm.pool")
        assert opened.startswith("opened a connection to ") and opened.endswith("(1 open)"), opened
        errors = []

        def second_thread():
            try:
                database.execute_sql("SELECT 1")
            except tinyorm.OperationalError as exc:
                errors.append(exc)

        import threading

        thread = threading.Thread(target=second_thread)
        thread.start()
        thread.join(30)
        assert len(errors) == 1
        warnings = [r.getMessage() for r in caplog.records if r.name == "tinyorm.pool" and r.levelno == logging.WARNING]
        assert len(warnings) == 1 and "exhausted: 1 connections in use" in warnings[0], warnings
    finally:
        database.close_all()


MIGRATION = '''
"""create a table"""


def upgrade(op):
    op.execute("CREATE TABLE log_step (n INTEGER)")


def downgrade(op):
    op.execute("DROP TABLE log_step")
'''


def test_migrations_log_each_step_and_print_nothing(db, tmp_path, caplog, capsys):
    folder = tmp_path / "migrations"
    folder.mkdir()
    (folder / "0001_step.py").write_text(MIGRATION, encoding="utf-8")
    caplog.set_level(logging.INFO, logger="tinyorm.migrations")
    runner = MigrationRunner(db, str(folder))
    assert runner.up() == ["0001_step"]
    assert runner.down() == ["0001_step"]
    logged = messages(caplog, "tinyorm.migrations")
    assert logged[0] == f"applying 0001_step on {db!r}"
    assert logged[1] == "CREATE TABLE log_step (n INTEGER)"
    assert logged[2].startswith("applied 0001_step (") and logged[2].endswith(" ms)")
    assert logged[3] == f"rolling back 0001_step on {db!r}"
    assert logged[4] == "DROP TABLE log_step"
    assert logged[5].startswith("rolled back 0001_step (")
    assert capsys.readouterr().out == "", "the library prints nothing; the CLI prints"
