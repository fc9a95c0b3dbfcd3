"""Databases: URLs, lazy connections, transactions, threads, error translation, engine
settings, identifier quoting and the one choke point every statement passes through."""

import logging
import os
import sqlite3
import threading

import psycopg2
import pymysql
import pytest

import tinyorm
from tinyorm import (
    CharField,
    ForeignKeyField,
    IntegerField,
    Model,
    MySQLDatabase,
    PostgresDatabase,
    SqliteDatabase,
    TextField,
)

DRIVER_ERRORS = {"sqlite": sqlite3.Error, "postgresql": psycopg2.Error, "mysql": pymysql.err.MySQLError}


def make_models(db):
    class Base(Model):
        class Meta:
            database = db

    class Account(Base):
        name = CharField(max_length=50, unique=True)
        balance = IntegerField(default=0)

    class Entry(Base):
        account = ForeignKeyField(Account, backref="entries")
        note = TextField(null=True)

    db.create_tables([Account, Entry])
    return Account, Entry


def count_from_other_thread(db, model):
    """Row count as seen by another thread (so: another connection)."""
    result = {}

    def run():
        try:
            result["count"] = model.select().count()
        except Exception as exc:  # pragma: no cover - reported below
            result["error"] = exc
        finally:
            db.close()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(30)
    if "error" in result:
        raise result["error"]
    return result["count"]


# -- URLs -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "url, klass, engine, name",
    [
        ("sqlite:///relative.db", SqliteDatabase, "sqlite", "relative.db"),
        ("sqlite:///sub/dir/relative.db", SqliteDatabase, "sqlite", "sub/dir/relative.db"),
        ("sqlite:////abs/path/app.db", SqliteDatabase, "sqlite", "/abs/path/app.db"),
        ("sqlite:///:memory:", SqliteDatabase, "sqlite", ":memory:"),
        ("postgresql://user:pw@127.0.0.1:5432/app", PostgresDatabase, "postgresql", "app"),
        ("postgres://user@127.0.0.1/app", PostgresDatabase, "postgresql", "app"),
        ("mysql://root@127.0.0.1:3306/test", MySQLDatabase, "mysql", "test"),
        ("mariadb://root:secret@127.0.0.1/shop", MySQLDatabase, "mysql", "shop"),
    ],
)
def test_connect_url_picks_database_class(url, klass, engine, name):
    db = tinyorm.connect(url)
    assert type(db) is klass
    assert isinstance(db, tinyorm.Database)
    assert db.dialect.name == engine
    assert db.database == name
    # lazy: nothing has been opened yet (the servers named here need not exist)
    assert db.is_closed()


def test_server_url_parts_reach_the_driver():
    db = tinyorm.connect("postgresql://alice:p%40ss@db.example:6543/app")
    assert db.connect_params["host"] == "db.example"
    assert db.connect_params["port"] == 6543
    assert db.connect_params["user"] == "alice"
    assert db.connect_params["password"] == "p@ss"


SCHEME_ALIASES = {"sqlite": ["sqlite"], "postgresql": ["postgresql", "postgres"], "mysql": ["mysql", "mariadb"]}


def test_every_scheme_alias_really_connects(db, db_url):
    for scheme in SCHEME_ALIASES[db.dialect.name]:
        url = scheme + db_url[db_url.index("://") :]
        other = tinyorm.connect(url)
        try:
            assert other.dialect.name == db.dialect.name
            assert other.execute_sql("SELECT 1").fetchone()[0] == 1
        finally:
            other.close_all()


def test_sqlite_relative_path_is_relative_to_cwd(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    db = tinyorm.connect("sqlite:///relative.db")
    db.execute_sql("CREATE TABLE t (x INTEGER)")
    db.close_all()
    assert (tmp_path / "relative.db").exists()


def test_sqlite_absolute_path(tmp_path, monkeypatch):
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    target = tmp_path / "abs.db"
    url = f"sqlite:///{target}"
    assert url.startswith("sqlite:////")
    db = tinyorm.connect(url)
    db.execute_sql("CREATE TABLE t (x INTEGER)")
    db.close_all()
    assert target.exists()
    assert os.listdir(elsewhere) == []


def test_sqlite_memory_creates_no_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    db = tinyorm.connect("sqlite:///:memory:")
    db.execute_sql("CREATE TABLE t (x INTEGER)")
    db.execute_sql("INSERT INTO t VALUES (1)")
    assert db.execute_sql("SELECT x FROM t").fetchall() == [(1,)]
    db.close_all()
    assert os.listdir(tmp_path) == []


def test_query_string_options_reach_the_database(tmp_path):
    db = tinyorm.connect(f"sqlite:///{tmp_path}/x.db?max_connections=5&stale_timeout=300")
    assert db.max_connections == 5
    assert db.stale_timeout == 300
    pg = tinyorm.connect("postgresql://u@127.0.0.1/app?max_connections=20&stale_timeout=300&connect_timeout=3")
    assert pg.max_connections == 20
    assert pg.stale_timeout == 300
    assert pg.connect_params["connect_timeout"] == 3


def test_query_string_option_changes_behaviour(tmp_path):
    db = tinyorm.connect(f"sqlite:///{tmp_path}/x.db?timeout=1.5&max_connections=1&pool_timeout=0.2")
    assert db.execute_sql("PRAGMA busy_timeout").fetchone()[0] == 1500
    # the only pooled connection is held by this thread: another thread cannot get one
    errors = []

    def other():
        try:
            db.execute_sql("SELECT 1")
        except tinyorm.OperationalError as exc:
            errors.append(exc)

    thread = threading.Thread(target=other)
    thread.start()
    thread.join(10)
    assert len(errors) == 1
    db.close_all()


@pytest.mark.parametrize("url", ["oracle://u@h/db", "mongodb://h/db", "nonsense", "", "http://x/y"])
def test_bad_url_is_improperly_configured(url):
    with pytest.raises(tinyorm.ImproperlyConfigured):
        tinyorm.connect(url)


@pytest.mark.parametrize("scheme", ["postgresql", "mysql"])
def test_unreachable_server_is_operational_error_naming_host_and_port(scheme):
    db = tinyorm.connect(f"{scheme}://root@127.0.0.1:1/test")
    assert db.is_closed()  # lazy: no error yet
    with pytest.raises(tinyorm.OperationalError) as info:
        db.execute_sql("SELECT 1")
    message = str(info.value)
    assert "127.0.0.1" in message
    assert ":1" in message or "port 1" in message
    assert isinstance(info.value.__cause__, DRIVER_ERRORS[scheme])
    assert db.is_closed()
    with pytest.raises(tinyorm.OperationalError):
        db.connect()


def test_unopenable_sqlite_file_is_operational_error(tmp_path):
    db = tinyorm.connect(f"sqlite:///{tmp_path}/no/such/dir/x.db")
    with pytest.raises(tinyorm.OperationalError) as info:
        db.execute_sql("SELECT 1")
    assert isinstance(info.value.__cause__, sqlite3.Error)


# -- connections ------------------------------------------------------------------------------
def test_connect_is_lazy(db_url, db):
    other = tinyorm.connect(db_url)
    assert other.is_closed()
    other.execute_sql("SELECT 1")
    assert not other.is_closed()
    other.close_all()


def test_connect_close_is_closed(db_url, db):
    other = tinyorm.connect(db_url)
    assert other.connect() is True
    assert not other.is_closed()
    assert other.connect() is False  # reuses the open connection
    assert other.close() is True
    assert other.is_closed()
    assert other.close() is False
    # reconnects on next use
    assert other.execute_sql("SELECT 1").fetchone()[0] == 1
    assert not other.is_closed()
    other.close()


def test_execute_sql_returns_a_cursor(db):
    cursor = db.execute_sql("SELECT 1")
    assert cursor.fetchone()[0] == 1
    p = db.dialect.param
    cursor = db.execute_sql(f"SELECT {p} + {p}", (2, 3))
    assert cursor.fetchone()[0] == 5
    assert cursor.description is not None


def test_execute_sql_params_are_not_interpolated(db):
    Account, _ = make_models(db)
    Account.create(name="a")
    p = db.dialect.param
    table = db.dialect.quote("account")
    rows = db.execute_sql(f"SELECT COUNT(*) FROM {table} WHERE name = {p}", ("x' OR '1'='1",)).fetchone()
    assert rows[0] == 0


def test_one_connection_per_thread(db):
    main = db.connection()
    assert db.connection() is main
    seen = {}
    barrier = threading.Barrier(2)

    def run(index):
        closed_before = db.is_closed()
        conn = db.connection()
        same_again = db.connection() is conn
        barrier.wait(10)  # both threads hold their connection at the same time
        seen[index] = (closed_before, conn, same_again)
        db.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    (closed1, first, same1), (closed2, second, same2) = seen[0], seen[1]
    assert closed1 and closed2  # a new thread starts without a connection
    assert same1 and same2
    assert first is not main and second is not main and first is not second
    assert db.connection() is main
    assert not db.is_closed()


# -- transactions -----------------------------------------------------------------------------
def test_atomic_commits_on_success(db):
    Account, _ = make_models(db)
    with db.atomic():
        Account.create(name="a")
        assert db.in_transaction()
        # not visible to another connection before commit
        assert count_from_other_thread(db, Account) == 0
    assert not db.in_transaction()
    assert count_from_other_thread(db, Account) == 1


def test_atomic_rolls_back_on_exception(db):
    Account, _ = make_models(db)
    Account.create(name="before")
    with pytest.raises(ZeroDivisionError):
        with db.atomic():
            Account.create(name="a")
            Account.update(balance=5).execute()
            1 / 0
    assert [a.name for a in Account.select()] == ["before"]
    assert Account.get(Account.name == "before").balance == 0
    assert count_from_other_thread(db, Account) == 1


def test_atomic_as_decorator(db):
    Account, _ = make_models(db)

    @db.atomic()
    def transfer(name, fail):
        Account.create(name=name)
        if fail:
            raise RuntimeError("boom")
        return name

    assert transfer("ok", False) == "ok"
    with pytest.raises(RuntimeError):
        transfer("bad", True)
    assert [a.name for a in Account.select()] == ["ok"]
    assert transfer.__name__ == "transfer"


def test_nested_atomic_is_a_savepoint(db):
    Account, _ = make_models(db)
    with db.atomic():
        Account.create(name="outer1")
        with pytest.raises(ValueError):
            with db.atomic():
                Account.create(name="inner")
                raise ValueError
        with db.atomic():
            Account.create(name="inner-ok")
        Account.create(name="outer2")
    names = sorted(a.name for a in Account.select())
    assert names == ["inner-ok", "outer1", "outer2"]


def test_nested_atomic_recovers_from_database_error(db):
    """An IntegrityError inside a savepoint leaves the outer transaction usable (PostgreSQL
    would otherwise abort the whole transaction)."""
    Account, _ = make_models(db)
    with db.atomic():
        Account.create(name="a")
        with pytest.raises(tinyorm.IntegrityError):
            with db.atomic():
                Account.create(name="a")
        Account.create(name="b")
    assert sorted(a.name for a in Account.select()) == ["a", "b"]


def test_outer_rollback_discards_released_savepoints(db):
    Account, _ = make_models(db)
    with pytest.raises(KeyError):
        with db.atomic():
            with db.atomic():
                Account.create(name="inner")
            raise KeyError
    assert Account.select().count() == 0


def test_database_error_outside_transaction_leaves_connection_usable(db):
    with pytest.raises(tinyorm.DatabaseError):
        db.execute_sql("SELECT * FROM no_such_table_here")
    assert db.execute_sql("SELECT 1").fetchone()[0] == 1


# -- errors -----------------------------------------------------------------------------------
def test_error_hierarchy():
    assert issubclass(tinyorm.DatabaseError, tinyorm.TinyORMError)
    assert issubclass(tinyorm.InterfaceError, tinyorm.TinyORMError)
    for name in (
        "IntegrityError",
        "OperationalError",
        "ProgrammingError",
        "DataError",
        "InternalError",
        "NotSupportedError",
    ):
        klass = getattr(tinyorm, name)
        assert issubclass(klass, tinyorm.DatabaseError), name
        assert issubclass(klass, tinyorm.TinyORMError), name
    assert not issubclass(tinyorm.InterfaceError, tinyorm.DatabaseError)
    for name in (
        "DoesNotExist",
        "ConcurrencyError",
        "RoutingError",
        "MigrationError",
        "ImproperlyConfigured",
        "FieldError",
    ):
        assert issubclass(getattr(tinyorm, name), tinyorm.TinyORMError), name
        assert not issubclass(getattr(tinyorm, name), tinyorm.DatabaseError), name
    assert issubclass(tinyorm.StaleDataError, tinyorm.ConcurrencyError)
    assert issubclass(tinyorm.FieldError, ValueError)
    # tinyorm's classes are its own, not the drivers'
    assert not issubclass(tinyorm.IntegrityError, (sqlite3.Error, psycopg2.Error, pymysql.err.MySQLError))


def test_unique_violation_is_integrity_error(db):
    Account, _ = make_models(db)
    Account.create(name="a")
    with pytest.raises(tinyorm.IntegrityError) as info:
        Account.create(name="a")
    assert isinstance(info.value.__cause__, DRIVER_ERRORS[db.dialect.name])
    assert Account.select().count() == 1


def test_foreign_key_violation_is_integrity_error(db):
    _, Entry = make_models(db)
    with pytest.raises(tinyorm.IntegrityError) as info:
        Entry.create(account=123456)
    assert isinstance(info.value.__cause__, DRIVER_ERRORS[db.dialect.name])
    assert Entry.select().count() == 0


def test_not_null_violation_is_integrity_error(db):
    make_models(db)
    q = db.dialect.quote
    with pytest.raises(tinyorm.IntegrityError) as info:
        db.execute_sql(f"INSERT INTO {q('account')} ({q('name')}, {q('balance')}) VALUES (NULL, 0)")
    assert isinstance(info.value.__cause__, DRIVER_ERRORS[db.dialect.name])


@pytest.mark.parametrize(
    "sql",
    ["SELECT * FROM no_such_table", "SELEC 1", "SELECT no_such_column FROM account"],
    ids=["missing-table", "syntax", "missing-column"],
)
def test_bad_sql_is_programming_error(db, sql):
    make_models(db)
    with pytest.raises(tinyorm.ProgrammingError) as info:
        db.execute_sql(sql)
    assert isinstance(info.value.__cause__, DRIVER_ERRORS[db.dialect.name])
    assert str(info.value)


# -- engine settings tinyorm owns -------------------------------------------------------------
@pytest.mark.backends("mysql")
def test_mysql_session_settings(db):
    sql_mode = db.execute_sql("SELECT @@sql_mode").fetchone()[0]
    assert "STRICT" in sql_mode
    assert db.execute_sql("SELECT @@character_set_connection").fetchone()[0] == "utf8mb4"
    assert db.execute_sql("SELECT @@character_set_client").fetchone()[0] == "utf8mb4"
    assert db.execute_sql("SELECT @@character_set_results").fetchone()[0] == "utf8mb4"


@pytest.mark.backends("mysql")
def test_mysql_rowcount_is_rows_matched(db):
    db.execute_sql("CREATE TABLE rc (id INTEGER PRIMARY KEY, v INTEGER)")
    db.execute_sql("INSERT INTO rc VALUES (1, 5), (2, 5)")
    cursor = db.execute_sql("UPDATE rc SET v = 5 WHERE id = 1")
    assert cursor.rowcount == 1
    assert db.execute_sql("UPDATE rc SET v = 5").rowcount == 2


@pytest.mark.backends("mysql")
def test_mysql_strict_mode_refuses_bad_raw_values(db):
    """Even SQL that bypasses tinyorm's checks is refused by the server, never truncated."""
    db.execute_sql("CREATE TABLE strict_t (id INTEGER PRIMARY KEY, s VARCHAR(3), n TINYINT)")
    with pytest.raises(tinyorm.DataError) as info:
        db.execute_sql("INSERT INTO strict_t VALUES (1, 'toolong', 1)")
    assert isinstance(info.value.__cause__, pymysql.err.MySQLError)
    with pytest.raises(tinyorm.DataError):
        db.execute_sql("INSERT INTO strict_t VALUES (2, 'ok', 1000)")
    assert db.execute_sql("SELECT COUNT(*) FROM strict_t").fetchone()[0] == 0


def test_update_of_identical_values_reports_rows_matched(db):
    Account, _ = make_models(db)
    Account.create(name="a", balance=3)
    Account.create(name="b", balance=3)
    assert Account.update(balance=3).where(Account.name == "a").execute() == 1
    assert Account.update(balance=3).execute() == 2


@pytest.mark.backends("sqlite")
def test_sqlite_pragmas_on_file(db):
    assert db.execute_sql("PRAGMA foreign_keys").fetchone()[0] == 1
    assert db.execute_sql("PRAGMA journal_mode").fetchone()[0].lower() == "wal"
    assert db.execute_sql("PRAGMA busy_timeout").fetchone()[0] > 0


def test_sqlite_pragmas_in_memory():
    db = tinyorm.connect("sqlite:///:memory:")
    assert db.execute_sql("PRAGMA foreign_keys").fetchone()[0] == 1
    assert db.execute_sql("PRAGMA busy_timeout").fetchone()[0] > 0
    db.close_all()


@pytest.mark.backends("sqlite")
def test_sqlite_foreign_keys_enforced_on_every_thread(db):
    _, Entry = make_models(db)
    errors = []

    def run():
        try:
            Entry.create(account=999)
        except tinyorm.IntegrityError as exc:
            errors.append(exc)
        finally:
            db.close()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(30)
    assert len(errors) == 1


# -- identifiers ------------------------------------------------------------------------------
def test_quote_doubles_quote_characters(db):
    quote = db.dialect.quote
    q = db.dialect.quote_char
    other = "`" if q == '"' else '"'
    assert quote(f"a{q}b") == f"{q}a{q}{q}b{q}"
    assert quote(f"a{other}b") == f"{q}a{other}b{q}"
    assert quote("plain") in ('"plain"', "`plain`")


def test_nul_in_identifier_is_value_error(db):
    with pytest.raises(ValueError):
        db.dialect.quote("bad\x00name")


def test_nul_in_model_names_refused_before_sql(db, count_queries):
    class Bad(Model):
        name = CharField(column_name="na\x00me")

        class Meta:
            database = db
            table_name = "bad_nul"

    with count_queries(db) as counter:
        with pytest.raises(ValueError):
            db.create_tables([Bad])
    assert not any("CREATE" in sql for sql, _ in counter.statements)
    assert "bad_nul" not in db.get_tables()


def _force_drop(db, prefix):
    # params=() makes %s-placeholder drivers read %% as %, so the name dropped is exactly
    # the stored one, whatever tinyorm's own DDL did with it
    params = () if db.dialect.param == "%s" else None
    for name in db.get_tables():
        if name.startswith(prefix):
            db.execute_sql(f"DROP TABLE IF EXISTS {db.dialect.quote(name)}", params)


def test_quote_characters_in_identifiers_round_trip(db):
    table = 'we"ird`tab'

    class Odd(Model):
        label = CharField(column_name='la"b`el', max_length=20)
        num = IntegerField(column_name="n'um")

        class Meta:
            database = db
            table_name = table

    db.create_tables([Odd])
    assert table in db.get_tables()
    assert [c.name for c in db.get_columns(table)] == ["id", 'la"b`el', "n'um"]
    obj = Odd.create(label="x'y", num=5)
    fetched = Odd.get_by_id(obj.id)
    assert (fetched.label, fetched.num) == ("x'y", 5)
    assert Odd.select().where(Odd.num == 5).count() == 1
    Odd.update(num=6).where(Odd.label == "x'y").execute()
    assert Odd.get(Odd.label == "x'y").num == 6
    db.drop_tables([Odd])
    assert table not in db.get_tables()


def test_percent_in_identifiers_round_trip(db):
    """``%`` is escaped for %s-placeholder drivers; the name stored is exactly the one given."""
    table = "pct%s_tab"

    class Pct(Model):
        pct = IntegerField(column_name="100%")
        other = IntegerField(column_name="%(x)s", null=True)

        class Meta:
            database = db
            table_name = table

    try:
        db.create_tables([Pct])
        assert table in db.get_tables()
        assert [c.name for c in db.get_columns(table)] == ["id", "100%", "%(x)s"]
        obj = Pct.create(pct=5, other=7)
        fetched = Pct.get_by_id(obj.id)
        assert (fetched.pct, fetched.other) == (5, 7)
        assert Pct.select().where(Pct.pct == 5).count() == 1
        db.drop_tables([Pct])
        assert table not in db.get_tables()
    finally:
        _force_drop(db, "pct")


# -- observing SQL ----------------------------------------------------------------------------
def test_sql_logged_at_debug(db, caplog):
    Account, _ = make_models(db)
    caplog.set_level(logging.DEBUG, logger="tinyorm")
    caplog.clear()
    db.execute_sql("SELECT 42")
    Account.create(name="logged")
    # statements go to tinyorm.sql, a child of "tinyorm": a handler on "tinyorm" sees them
    messages = [r.getMessage() for r in caplog.records if r.name == "tinyorm.sql"]
    assert any("SELECT 42" in m for m in messages)
    assert any("INSERT" in m and "account" in m for m in messages)
    assert all(r.levelno == logging.DEBUG for r in caplog.records if r.name == "tinyorm.sql")


def test_not_logged_above_debug(db, caplog):
    caplog.set_level(logging.INFO, logger="tinyorm")
    db.execute_sql("SELECT 43")
    assert not any("SELECT 43" in r.getMessage() for r in caplog.records)


def test_wrapping_execute_sql_sees_every_statement(db, count_queries):
    with count_queries(db) as counter:
        Account, Entry = make_models(db)
        with db.atomic():
            a = Account.create(name="a")
            with db.atomic():
                e = Entry.create(account=a, note="n")
        Account.get_by_id(a.id)
        Account.get(Account.name == "a")
        list(a.entries)
        a.balance = 10
        a.save()
        Account.update(balance=1).where(Account.id == a.id).execute()
        e.delete_instance()
        Entry.delete().execute()
        db.get_tables()
        db.drop_tables([Entry, Account])
    texts = [sql.strip().upper() for sql, _ in counter.statements]
    for prefix in (
        "CREATE TABLE",
        "CREATE INDEX",
        "BEGIN",
        "SAVEPOINT",
        "RELEASE",
        "COMMIT",
        "INSERT",
        "SELECT",
        "UPDATE",
        "DELETE",
        "DROP TABLE",
    ):
        assert any(t.startswith(prefix) for t in texts), prefix
    assert sum(t.startswith("INSERT") for t in texts) == 2
    assert sum(t.startswith("UPDATE") for t in texts) == 2
    assert sum(t.startswith("DELETE") for t in texts) == 2


def test_overriding_execute_sql_in_subclass_sees_every_statement(db):
    seen = []

    class Traced(type(db)):
        def execute_sql(self, sql, params=None):
            seen.append(sql)
            return super().execute_sql(sql, params)

    traced = Traced(db.database, **db.connect_params)
    try:
        Account, _ = make_models(traced)
        with traced.atomic():
            Account.create(name="t")
        Account.get(Account.name == "t")
        assert any(s.startswith("CREATE TABLE") for s in seen)
        assert any(s.startswith("INSERT") for s in seen)
        assert any(s.startswith("SELECT") for s in seen)
        assert "COMMIT" in seen
    finally:
        traced.close_all()


def test_each_database_has_its_own_dialect_equal_to_the_engine_name(db, db_url):
    other = tinyorm.connect(db_url)
    try:
        assert other.dialect is not db.dialect and other.dialect != db.dialect
        assert other.dialect == db.dialect.name and db.dialect == other.dialect.name
        assert str(other.dialect) == db.dialect.name in ("sqlite", "postgresql", "mysql")

        # Statements cached for one database's dialect are compiled afresh for the other's,
        # and both run.
        class Probe(tinyorm.Model):
            label = tinyorm.CharField(max_length=10)

            class Meta:
                database = db

        db.create_tables([Probe])
        probe = Probe.create(label="one")
        assert Probe.get_by_id(probe.id).label == "one"
        Probe.bind(other)
        assert Probe.get_by_id(probe.id).label == "one"
        cached = [key[1] for key in Probe._meta._query_cache if key[0] == "get_by_id"]
        assert len(cached) == 1 and cached[0] is other.dialect
    finally:
        other.close_all()
