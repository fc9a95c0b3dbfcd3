"""Fixtures and helpers for the router tests.

``routed`` builds a Router over the ``replicated`` pair (a real PostgreSQL primary and
streaming replica, or two SQLite files), binds models to it and creates their tables; the
SQLite stand-in replica gets the tables too (it does not replicate), so reads sent to it
work and find only what a test put there itself.

``partitioned`` is a router with a partition named "archive", parametrized over
``sqlite`` (files), ``postgresql+mysql`` (models on PostgreSQL, the partition on MariaDB)
and ``pgreplica+mysql`` (the real primary/replica pair, the partition on MariaDB).
"""

import contextlib
import os
import subprocess
import threading
import time
import urllib.parse

import pytest

import tinyorm

from ..conftest import BACKENDS, PGREPLICA_URLS, SERVER_URLS, QueryCounter

# A URL nothing listens on, per engine: connecting fails at once with "connection refused"
# (SQLite: a file in a folder that does not exist).
DEAD_PORTS = {"replica": 1, "primary": 2}


def dead_url(replicated, role="replica"):
    if replicated.real:
        scheme, _, rest = replicated.primary_url.partition("://")
        userinfo, _, path = rest.partition("@")
        database = path.partition("/")[2]
        return f"{scheme}://{userinfo}@127.0.0.1:{DEAD_PORTS[role]}/{database}"
    return f"sqlite:///{replicated.tmp_path / 'no-such-folder' / f'{role}.db'}"


def in_thread(router, function, *args):
    """Run ``function(*args)`` in a new thread, which has made no write through the router,
    and return its result (re-raising its exception). The thread's connections are closed."""
    result = {}

    def run():
        try:
            result["value"] = function(*args)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the calling thread
            result["error"] = exc
        finally:
            router.close()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(60)
    assert not thread.is_alive(), "the worker thread hung"
    if "error" in result:
        raise result["error"]
    return result["value"]


def reads(router):
    return router.stats()["reads"]


def writes(router):
    return router.stats()["writes"]


class ConnectCounter:
    """Counts the connection attempts a Database makes (real ones, to a real address)."""

    def __init__(self, database):
        self.database = database
        self.attempts = 0
        original = database._connect_driver

        def counting_connect():
            self.attempts += 1
            return original()

        database._connect_driver = counting_connect


# How each replicated backend (a REPLICATED_URLS kind) stops and resumes applying what its
# primary sends: (stop statement, resume statement), run on the replica. PostgreSQL pauses
# WAL replay; the MariaDB replica stops its SQL thread. Another topology adds itself here;
# a kind with no entry skips the tests that need it.
REPLAY_CONTROL = {
    "pgreplica": ("SELECT pg_wal_replay_pause()", "SELECT pg_wal_replay_resume()"),
    "myreplica": ("STOP SLAVE SQL_THREAD", "START SLAVE SQL_THREAD"),
    # A Galera node holding a global read lock applies nothing (and leaves flow control).
    "galera": ("FLUSH TABLES WITH READ LOCK", "UNLOCK TABLES"),
}
# Stopping the replica receiving from its primary: MariaDB's IO thread; PostgreSQL's WAL
# receiver, gone while primary_conninfo is empty (reloadable since PostgreSQL 13).
RECEIVE_CONTROL = {
    "myreplica": ("STOP SLAVE IO_THREAD", "START SLAVE IO_THREAD"),
    "pgreplica": ("primary_conninfo", None),
}


@contextlib.contextmanager
def replay_paused(replicated, control=REPLAY_CONTROL):
    """Stop the real replica applying changes (it lags from now on); always resumed on exit."""
    if replicated.kind not in control:
        pytest.skip(f"{replicated.kind} has no way to pause its replication here")
    stop, resume = control[replicated.kind]
    database = tinyorm.connect(replicated.replica_url)
    database.execute_sql(stop)
    try:
        yield
    finally:
        try:
            database.execute_sql(resume)
        finally:
            database.close_all()


def receiving_stopped(replicated, url=None):
    """Stop the replica (or the one at ``url``) receiving from its primary; always resumed,
    and on PostgreSQL streaming again, on exit."""
    if replicated.kind == "pgreplica":
        return _wal_receiver_stopped(url or replicated.replica_url)
    if url is not None:
        pytest.skip(f"{replicated.kind} has no second replica to stop here")
    return replay_paused(replicated, RECEIVE_CONTROL)


def _until(condition, what, timeout=20.0):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(what)
        time.sleep(0.05)


def _wal_receiver_status(database):
    row = database.execute_sql("SELECT status FROM pg_stat_wal_receiver").fetchone()
    return row[0] if row else None


@contextlib.contextmanager
def _wal_receiver_stopped(url):
    database = tinyorm.connect(url)
    saved = database.execute_sql("SHOW primary_conninfo").fetchone()[0]
    assert saved, "the replica has no primary_conninfo to restore"
    literal = "'" + saved.replace("'", "''") + "'"  # ALTER SYSTEM takes no parameters
    try:
        database.execute_sql("ALTER SYSTEM SET primary_conninfo = ''")
        database.execute_sql("SELECT pg_reload_conf()")
        _until(lambda: _wal_receiver_status(database) is None, "the WAL receiver did not stop")
        database.close_all()  # (the test may restart the server: reconnect to restore)
        yield
    finally:
        try:
            database.execute_sql(f"ALTER SYSTEM SET primary_conninfo = {literal}")
            database.execute_sql("SELECT pg_reload_conf()")
            _until(lambda: _wal_receiver_status(database) == "streaming", "the WAL receiver did not come back")
        finally:
            database.close_all()


ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def myreplica_script(replicated):
    """``run(*args)``: scripts/myreplica.sh (``run("kill", "replica")``, ``run("start",
    "replica")``) on the MariaDB pair these tests use, whose folder is read from the replica
    now, while it answers, so any checkout drives the servers another one built."""
    database = tinyorm.connect(replicated.replica_url)
    try:
        data_directory = database.execute_sql("SELECT @@datadir").fetchone()[0]
    finally:
        database.close_all()
    env = {**os.environ, "TINYORM_MYREPLICA_DIR": os.path.dirname(data_directory.rstrip("/"))}
    script = os.path.join(ROOT, "scripts", "myreplica.sh")

    def run(*args):
        subprocess.run(["bash", script, *args], cwd=ROOT, env=env, check=True, timeout=120)

    return run


def pgreplica_script(replicated):
    """``run(*args)``: scripts/pgreplica.sh on the servers these tests use (``run("kill",
    "replica2")``, ``run("start", "replica2")``). Their folder and ports are read from the
    servers now, while they answer, so any checkout drives the servers another one built."""
    database = tinyorm.connect(replicated.replica2_url)
    try:
        data_directory = database.execute_sql("SHOW data_directory").fetchone()[0]
    finally:
        database.close_all()
    urls = (replicated.primary_url, replicated.replica_url, replicated.replica2_url)
    env = {
        **os.environ,
        "TINYORM_PGREPLICA_DIR": os.path.dirname(data_directory),
        "TINYORM_PGREPLICA_PORTS": ",".join(str(urllib.parse.urlsplit(url).port) for url in urls),
    }
    script = os.path.join(ROOT, "scripts", "pgreplica.sh")

    def run(*args):
        subprocess.run(["bash", script, *args], cwd=ROOT, env=env, check=True, timeout=120)

    return run


@contextlib.contextmanager
def counting(router):
    """Count the statements sent to each of the router's databases: {name: QueryCounter}."""
    counters = {name: QueryCounter(database) for name, database in router.databases.items()}
    with contextlib.ExitStack() as stack:
        for counter in counters.values():
            stack.enter_context(counter)
        yield counters


class Routed:
    """Builds routers over the ``replicated`` pair and cleans up after them."""

    def __init__(self, replicated):
        self.pair = replicated
        self.real = replicated.real
        self.routers = []
        self.extra = []

    def __call__(self, models, replicas=None, router_class=tinyorm.Router, **options):
        """A router over the pair (or the given replica URLs), bound to ``models``, with
        their tables created, the replica caught up, and fresh statistics."""
        pair = self.pair
        replicas = [pair.replica_url] if replicas is None else replicas
        router = router_class(primary=pair.primary_url, replicas=replicas, **options)
        self.routers.append(router)
        router.bind(models)
        router.create_tables(models)
        if pair.real:
            pair.wait_for_replica()
        else:
            self.replica_database().create_tables(models)
        router.reset_stats()
        return router

    def replica_database(self):
        """A Database of its own on the replica (outside any router)."""
        database = tinyorm.connect(self.pair.replica_url)
        self.extra.append(database)
        return database

    def primary_database(self):
        database = tinyorm.connect(self.pair.primary_url)
        self.extra.append(database)
        return database

    def close(self):
        for router in self.routers:
            router.close_all()
        for database in self.extra:
            database.close_all()


@pytest.fixture
def routed(replicated):
    helper = Routed(replicated)
    yield helper
    helper.close()


# -- partitions ------------------------------------------------------------------------------
PARTITION_KINDS = ("sqlite", "postgresql+mysql", "pgreplica+mysql")


def _partition_kinds():
    kinds = ["sqlite"]
    if "postgresql" in BACKENDS and "mysql" in BACKENDS:
        kinds.append("postgresql+mysql")
    if "pgreplica" in BACKENDS and "mysql" in BACKENDS:
        kinds.append("pgreplica+mysql")
    return kinds


class Partitioned:
    """Database URLs for a router with a partition "archive" on another database."""

    def __init__(self, kind, tmp_path):
        self.kind = kind
        self.tmp_path = tmp_path
        self.routers = []
        self.models = []
        if kind == "sqlite":
            self.primary_url = f"sqlite:///{tmp_path / 'primary.db'}"
            self.replica_urls = [f"sqlite:///{tmp_path / 'replica.db'}"]
            self.archive_url = f"sqlite:///{tmp_path / 'archive.db'}"
            self.archive_replica_urls = [f"sqlite:///{tmp_path / 'archive-replica.db'}"]
        elif kind == "postgresql+mysql":
            self.primary_url = SERVER_URLS["postgresql"]
            self.replica_urls = []
            self.archive_url = SERVER_URLS["mysql"]
            self.archive_replica_urls = []
        else:
            self.primary_url, replica_url = PGREPLICA_URLS
            self.replica_urls = [replica_url]
            self.archive_url = SERVER_URLS["mysql"]
            self.archive_replica_urls = []
        self.real_replica = kind == "pgreplica+mysql"
        self.primary_engine = "sqlite" if kind == "sqlite" else "postgresql"
        self.archive_engine = "sqlite" if kind == "sqlite" else "mysql"

    def router(self, models, router_class=tinyorm.Router, **options):
        """A router bound to ``models`` with their tables created where allow_migrate says
        (SQLite replica files get copies of their primary's tables: they do not replicate)."""
        archive = self.archive_url
        if self.archive_replica_urls:
            archive = {"primary": self.archive_url, "replicas": self.archive_replica_urls}
        router = router_class(
            primary=self.primary_url, replicas=self.replica_urls, partitions={"archive": archive}, **options
        )
        self.routers.append(router)
        self.models.extend(models)
        router.bind(models)
        router.drop_tables(models)
        router.create_tables(models)
        if self.kind == "sqlite":
            for replica_set in router.sets.values():
                for _name, replica in replica_set.replicas:
                    mine = [model for model in models if router.allow_migrate(replica_set.primary_name, model)]
                    writable = tinyorm.SqliteDatabase(replica.database)  # the router's copy is read-only
                    writable.create_tables(mine)
                    writable.close()
        if self.real_replica:
            self.wait_for_replica(router)
        router.reset_stats()
        return router

    def wait_for_replica(self, router):
        if not self.real_replica:
            return
        position = router.primary.replication_position()
        for _name, replica in router.sets["default"].replicas:
            assert replica.position_reached(position, timeout=10), "the replica did not catch up"

    def close(self):
        for router in self.routers:
            router.close_all()
        if self.kind != "sqlite" and self.routers:
            # Only our own tables: the shared test databases hold other tests' tables too.
            cleanup = self.routers[0]
            try:
                cleanup.drop_tables(self.models)
            finally:
                cleanup.close_all()


@pytest.fixture(params=PARTITION_KINDS)
def partitioned(request, tmp_path):
    if request.param not in _partition_kinds():
        pytest.skip(f"{request.param} needs servers that are not in this run ({', '.join(BACKENDS)})")
    helper = Partitioned(request.param, tmp_path)
    yield helper
    helper.close()
