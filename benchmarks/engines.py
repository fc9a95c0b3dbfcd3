"""The database engines the benchmark runs on, and the schema every implementation shares.

The tables are created here with plain DDL (not by any of the ORMs under test) so that every
implementation reads and writes exactly the same columns, types and indexes. Engine
differences are data on :class:`Engine`; the raw driver's connection is opened here because
the schema setup and the per-run resets use it too.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import sqlite3
import sys
import tempfile
import urllib.parse

USERS = "bench_users"
TWEETS = "bench_tweets"
ENTRIES = "bench_entries"  # the insert workloads' target; emptied before every timed run

DEFAULT_URLS = {
    "postgresql": "postgresql://postgres@127.0.0.1:5432/test",
    "mysql": "mysql://root@127.0.0.1:3306/test",
}
ENGINE_NAMES = ("sqlite", "postgresql", "mysql")
BENCH_DATABASE = "tinyorm_bench"  # created on each server unless TINYORM_BENCH_*_URL names one


@dataclasses.dataclass
class Engine:
    """One database to benchmark against: how to reach it and the SQL that differs on it."""

    name: str  # "sqlite" | "postgresql" | "mysql"
    url: str  # the tinyorm URL; the other libraries derive their settings from it
    placeholder: str  # the driver's paramstyle marker
    auto_pk: str  # DDL for an auto-incrementing integer primary key
    table_suffix: str = ""
    truncate_sql: str = "TRUNCATE TABLE {table}"
    setup_sql: tuple = ()  # run once before the tables are created
    # Run (untimed) after each timed write, so that no implementation's run pays for the
    # previous one's leftovers (dead rows, a WAL to checkpoint) at a random moment.
    settle_sql: tuple = ()
    database_exists_sql: str = ""
    create_database_sql: str = ""
    own_database: bool = False  # move to BENCH_DATABASE on the server (see discover)
    label: str = ""  # filled in at connect with the server's version

    @property
    def parts(self):
        return urllib.parse.urlsplit(self.url)

    @property
    def path(self):
        """SQLite's database file."""
        return self.url[len("sqlite:///") :]

    def connect_params(self):
        """Host, port, user, password and database name from the URL, driver-neutral."""
        parts = self.parts
        return {
            "host": parts.hostname or "127.0.0.1",
            "port": parts.port,
            "user": urllib.parse.unquote(parts.username or ""),
            "password": urllib.parse.unquote(parts.password or ""),
            "database": parts.path.lstrip("/"),
        }

    def connect_raw(self, autocommit=False):
        """A plain DB-API connection: the raw implementation's, and the setup connection."""
        if self.name == "sqlite":
            # isolation_level=None is sqlite3's autocommit; "" is its default (implicit BEGIN
            # before each data-changing statement, COMMIT on conn.commit()).
            return sqlite3.connect(self.path, isolation_level=None if autocommit else "")
        params = self.connect_params()
        if self.name == "postgresql":
            import psycopg2

            conn = psycopg2.connect(
                host=params["host"],
                port=params["port"] or 5432,
                user=params["user"] or None,
                password=params["password"] or None,
                dbname=params["database"],
                connect_timeout=3,
            )
            conn.autocommit = autocommit
            return conn
        import pymysql

        return pymysql.connect(
            host=params["host"],
            port=params["port"] or 3306,
            user=params["user"] or None,
            password=params["password"],
            database=params["database"],
            charset="utf8mb4",
            connect_timeout=3,
            autocommit=autocommit,
        )

    def sqlalchemy_url(self):
        driver = {"sqlite": "sqlite", "postgresql": "postgresql+psycopg2", "mysql": "mysql+pymysql"}
        rest = self.url.split("://", 1)[1]
        suffix = "?charset=utf8mb4" if self.name == "mysql" else ""
        return f"{driver[self.name]}://{rest}{suffix}"

    def schema_ddl(self):
        """CREATE statements for the three benchmark tables."""
        person = "name VARCHAR(50) NOT NULL, email VARCHAR(100) NOT NULL, age INTEGER NOT NULL"
        return [
            f"CREATE TABLE {USERS} (id {self.auto_pk}, {person}){self.table_suffix}",
            (
                f"CREATE TABLE {TWEETS} (id {self.auto_pk}, "
                f"user_id INTEGER NOT NULL REFERENCES {USERS} (id), "
                f"content VARCHAR(200) NOT NULL, likes INTEGER NOT NULL){self.table_suffix}"
            ),
            f"CREATE INDEX {TWEETS}_user_id ON {TWEETS} (user_id)",
            f"CREATE TABLE {ENTRIES} (id {self.auto_pk}, {person}){self.table_suffix}",
        ]


def _sqlite_engine():
    directory = tempfile.mkdtemp(prefix="tinyorm-bench-")
    return Engine(
        name="sqlite",
        url=f"sqlite:///{os.path.join(directory, 'bench.db')}",
        placeholder="?",
        auto_pk="INTEGER PRIMARY KEY",  # the rowid alias; no AUTOINCREMENT, like the ORMs' default
        # SQLite has no TRUNCATE; an unqualified DELETE is its truncate optimisation, and without
        # AUTOINCREMENT the rowids start again at 1 once the table is empty.
        truncate_sql="DELETE FROM {table}",
        # WAL is a property of the file, so every connection (and every library) shares it.
        setup_sql=("PRAGMA journal_mode = wal",),
        settle_sql=("PRAGMA wal_checkpoint(TRUNCATE)",),
    )


def _server_engine(name):
    explicit = os.environ.get(f"TINYORM_BENCH_{name.upper()}_URL")
    url = explicit or os.environ.get(f"TINYORM_TEST_{name.upper()}_URL") or DEFAULT_URLS[name]
    if name == "postgresql":
        engine = Engine(
            name=name,
            url=url,
            placeholder="%s",
            auto_pk="SERIAL PRIMARY KEY",
            truncate_sql="TRUNCATE TABLE {table} RESTART IDENTITY",
            settle_sql=tuple(f"VACUUM ANALYZE {table}" for table in (USERS, TWEETS, ENTRIES)),
            database_exists_sql="SELECT 1 FROM pg_database WHERE datname = %s",
            create_database_sql="CREATE DATABASE {name}",
        )
    else:
        engine = Engine(
            name=name,
            url=url.replace("mariadb://", "mysql://", 1),
            placeholder="%s",
            auto_pk="INTEGER NOT NULL AUTO_INCREMENT PRIMARY KEY",
            table_suffix=" ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
            database_exists_sql="SELECT 1 FROM information_schema.schemata WHERE schema_name = %s",
            create_database_sql="CREATE DATABASE {name} CHARACTER SET utf8mb4",
        )
    engine.own_database = not explicit
    return engine


def _move_to_own_database(engine, conn):
    """Switch ``engine`` to the benchmark's own database on the same server, creating it.

    The test suite drops every table in its database (``test``), so a benchmark sharing it
    would lose its tables mid-run whenever the tests run. If the database cannot be created,
    stay where the URL points and say so.
    """
    cursor = conn.cursor()
    try:
        cursor.execute(engine.database_exists_sql, (BENCH_DATABASE,))
        if cursor.fetchone() is None:
            cursor.execute(engine.create_database_sql.format(name=BENCH_DATABASE))
    except conn.Error as exc:  # PEP 249 exposes the driver's exceptions on the connection
        print(
            f"{engine.name}: cannot create database {BENCH_DATABASE} ({exc}); using "
            f"{engine.url} (do not run the test suite on it meanwhile)",
            file=sys.stderr,
        )
        return
    engine.url = urllib.parse.urlunsplit(engine.parts._replace(path="/" + BENCH_DATABASE))


def _server_label(engine, conn):
    cursor = conn.cursor()
    if engine.name == "sqlite":
        return f"SQLite {sqlite3.sqlite_version}"
    cursor.execute("SELECT VERSION()")
    version = cursor.fetchone()[0]
    if engine.name == "postgresql":
        return "PostgreSQL " + version.split()[1]
    flavour = "MariaDB" if "mariadb" in version.lower() else "MySQL"
    return f"{flavour} {version.split('-')[0]}"


def discover(names=None):
    """The engines to run on, each checked by connecting once.

    With ``names`` every named engine must answer (an error says which did not); without,
    SQLite plus whichever servers answer.
    """
    wanted = list(names or ENGINE_NAMES)
    unknown = [name for name in wanted if name not in ENGINE_NAMES]
    if unknown:
        raise SystemExit(f"unknown engine(s): {', '.join(unknown)}; choose from {ENGINE_NAMES}")
    engines = []
    for name in wanted:
        engine = _sqlite_engine() if name == "sqlite" else _server_engine(name)
        try:
            conn = engine.connect_raw(autocommit=True)
        except Exception as exc:
            if names:
                raise SystemExit(f"{name} at {engine.url} is not reachable: {exc}") from exc
            print(f"skipping {name}: not reachable at {engine.url} ({exc.__class__.__name__})", file=sys.stderr)
            continue
        engine.label = _server_label(engine, conn)
        if engine.own_database:
            _move_to_own_database(engine, conn)
        conn.close()
        engines.append(engine)
    return engines


def create_schema(engine, data):
    """Drop and recreate the benchmark tables and load the users and tweets the reads use.

    Returns the setup connection (autocommit), which the runner keeps for resets and checks.
    """
    conn = engine.connect_raw(autocommit=True)
    cursor = conn.cursor()
    for statement in engine.setup_sql:
        cursor.execute(statement)
    for table in (ENTRIES, TWEETS, USERS):
        cursor.execute(f"DROP TABLE IF EXISTS {table}")
    for statement in engine.schema_ddl():
        cursor.execute(statement)
    marks = ", ".join([engine.placeholder] * 4)
    for table, columns, rows in (
        (USERS, "id, name, email, age", data.users),
        (TWEETS, "id, user_id, content, likes", data.tweets),
    ):
        cursor.execute("BEGIN")
        cursor.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})", rows)
        cursor.execute("COMMIT")
    for statement in engine.settle_sql:
        cursor.execute(statement)
    return conn


def drop_schema(engine, conn):
    cursor = conn.cursor()
    for table in (ENTRIES, TWEETS, USERS):
        cursor.execute(f"DROP TABLE IF EXISTS {table}")
    conn.close()
    if engine.name == "sqlite":
        shutil.rmtree(os.path.dirname(engine.path))  # the temporary directory of its file
