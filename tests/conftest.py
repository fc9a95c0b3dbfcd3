"""The backend matrix: one fixture, ``db``, parametrized over every backend under test.

``TINYORM_TEST_BACKENDS`` names the backends (comma separated). A backend named there that
cannot be reached fails the whole run. Left unset, the matrix is SQLite plus every local
server that answers, and the ones left out are printed.

A test that needs an engine capability says so with ``@requires("flag")`` (or
``@requires(flag=value)``): it is skipped on a ``db`` whose dialect lacks it, judged by the
same dialect flags the code branches on, read after connecting (version-gated flags are set
at connect). Tests never skip by engine name.
"""

import os
import threading
import urllib.parse

import pytest

import tinyorm

# playhouse's N+1 detector as a fixture (``n_plus_one``), as users enable it.
pytest_plugins = ["playhouse.test_utils"]

SERVER_URLS = {
    "postgresql": os.environ.get("TINYORM_TEST_POSTGRESQL_URL", "postgresql://postgres@127.0.0.1:5432/test"),
    "mysql": os.environ.get("TINYORM_TEST_MYSQL_URL", "mysql://root@127.0.0.1:3306/test"),
}
# A real PostgreSQL primary and two streaming replicas (scripts/pgreplica.sh, `make
# pgreplica`); the router tests stop a replica's WAL receiver and kill the second replica.
PGREPLICA_URLS = (
    os.environ.get("TINYORM_TEST_PGREPLICA_PRIMARY_URL", "postgresql://postgres@127.0.0.1:5433/test"),
    os.environ.get("TINYORM_TEST_PGREPLICA_REPLICA_URL", "postgresql://postgres@127.0.0.1:5434/test"),
)


def _on_port(url, port):
    parts = urllib.parse.urlsplit(url)
    host = parts.netloc.rsplit(":", 1)[0] if parts.port else parts.netloc
    return urllib.parse.urlunsplit(parts._replace(netloc=f"{host}:{port}"))


# The second replica: by default the first one's URL (same database) on port 5435.
PGREPLICA_REPLICA2_URL = os.environ.get("TINYORM_TEST_PGREPLICA_REPLICA2_URL") or _on_port(PGREPLICA_URLS[1], 5435)

# A private MariaDB primary and GTID replica (scripts/myreplica.sh, `make myreplica`); the
# router tests stop its replication threads and kill its replica.
MYREPLICA_URLS = (
    os.environ.get("TINYORM_TEST_MYREPLICA_PRIMARY_URL", "mysql://root@127.0.0.1:3316/test"),
    os.environ.get("TINYORM_TEST_MYREPLICA_REPLICA_URL", "mysql://root@127.0.0.1:3317/test"),
)
# Private PostgreSQL and MariaDB servers that the fault tests kill -9 and restart
# (scripts/faultdb.sh, `make faultdb`); never the shared ones.
FAULT_URLS = {
    "postgresql": os.environ.get("TINYORM_TEST_FAULTS_POSTGRESQL_URL", "postgresql://postgres@127.0.0.1:55432/faults"),
    "mysql": os.environ.get("TINYORM_TEST_FAULTS_MYSQL_URL", "mysql://root@127.0.0.1:53306/faults"),
}
# A private 3-node MariaDB Galera cluster (scripts/galera.sh, `make galera`); its tests kill,
# isolate and restart nodes.
GALERA_URLS = tuple(
    url.strip()
    for url in os.environ.get(
        "TINYORM_TEST_GALERA_URLS",
        "mysql://root@127.0.0.1:3326/test,mysql://root@127.0.0.1:3327/test,mysql://root@127.0.0.1:3328/test",
    ).split(",")
    if url.strip()
)
KNOWN_BACKENDS = ("sqlite", "postgresql", "mysql", "pgreplica", "myreplica", "faults", "galera")
# Replicated pairs the ``replicated`` fixture runs the router tests on: backend name ->
# (primary URL, replica URL). Another topology adds itself here (and to KNOWN_BACKENDS).
REPLICATED_URLS = {"pgreplica": PGREPLICA_URLS, "myreplica": MYREPLICA_URLS, "galera": GALERA_URLS[:2]}
# Replicated backends with a second replica of the same primary (failover between replicas).
SECOND_REPLICA_URLS = {"pgreplica": PGREPLICA_REPLICA2_URL}
# Backends the ``db`` fixture runs on (the replicated pairs serve the router tests only).
ENGINE_BACKENDS = ("sqlite", "postgresql", "mysql")


def _reachable(url):
    try:
        database = tinyorm.connect(url)
        database.execute_sql("SELECT 1").fetchall()
        database.close()
        return True, ""
    except tinyorm.TinyORMError as exc:
        return False, str(exc)


def _select_backends():
    named = os.environ.get("TINYORM_TEST_BACKENDS", "").strip()
    if named:
        backends = [name.strip() for name in named.split(",") if name.strip()]
        unknown = [name for name in backends if name not in KNOWN_BACKENDS]
        if unknown:
            pytest.exit(f"unknown backend(s) in TINYORM_TEST_BACKENDS: {unknown}", returncode=4)
        for name in backends:
            urls = {**REPLICATED_URLS, "faults": tuple(FAULT_URLS.values()), "galera": GALERA_URLS}.get(
                name, (SERVER_URLS[name],) if name in SERVER_URLS else ()
            )
            urls = (*urls, SECOND_REPLICA_URLS[name]) if name in SECOND_REPLICA_URLS else urls
            for url in urls:
                ok, why = _reachable(url)
                if not ok:
                    pytest.exit(
                        f"backend {name!r} is required by TINYORM_TEST_BACKENDS but cannot be reached: {why}",
                        returncode=3,
                    )
        return backends
    backends = ["sqlite"]
    for name, url in SERVER_URLS.items():
        ok, why = _reachable(url)
        if ok:
            backends.append(name)
        else:
            print(f"\n[tinyorm tests] leaving out {name}: {why}")
    for name, urls in REPLICATED_URLS.items():
        second = (SECOND_REPLICA_URLS[name],) if name in SECOND_REPLICA_URLS else ()
        reachable = [_reachable(url) for url in (*urls, *second)]
        if all(ok for ok, _why in reachable):
            backends.append(name)
        else:
            why = next(why for ok, why in reachable if not ok)
            print(f"\n[tinyorm tests] leaving out {name} (run `make {name}`): {why}")
    reachable = [_reachable(url) for url in FAULT_URLS.values()]
    if all(ok for ok, _why in reachable):
        backends.append("faults")
    else:
        why = next(why for ok, why in reachable if not ok)
        print(f"\n[tinyorm tests] leaving out faults (run `make faultdb`): {why}")
    reachable = [_reachable(url) for url in GALERA_URLS]
    if all(ok for ok, _why in reachable):
        backends.append("galera")
    else:
        why = next(why for ok, why in reachable if not ok)
        print(f"\n[tinyorm tests] leaving out galera (run `make galera`): {why}")
    return backends


BACKENDS = []


def pytest_configure(config):
    config.addinivalue_line("markers", "backends(*names): run only on these backends")
    config.addinivalue_line("markers", "requires(*flags, **values): run only where the dialect has these flags")
    BACKENDS[:] = _select_backends()


def pytest_report_header(config):
    return f"tinyorm backends: {', '.join(BACKENDS)}"


def pytest_generate_tests(metafunc):
    if "replicated" in metafunc.fixturenames:
        kinds = [name for name in ("sqlite", *REPLICATED_URLS) if name in BACKENDS]
        marker = metafunc.definition.get_closest_marker("backends")
        if marker is not None:
            kinds = [name for name in kinds if name in marker.args]
        metafunc.parametrize("replicated", kinds, indirect=True)
    if "db" in metafunc.fixturenames:
        wanted = [name for name in BACKENDS if name in ENGINE_BACKENDS]
        marker = metafunc.definition.get_closest_marker("backends")
        if marker is not None:
            wanted = [name for name in BACKENDS if name in marker.args]
        metafunc.parametrize("db", wanted, indirect=True)


def requires(*flags, **values):
    """Mark a ``db`` test to run only where the dialect has every capability named:
    ``@requires("transactional_ddl")``, ``@requires(transactional_ddl=False)``."""
    return pytest.mark.requires(*flags, **values)


def unmet_requirements(dialect, *flags, **values):
    """The requirements ``dialect`` does not meet, as ``flag=actual`` strings (empty if none).

    Flags named positionally must be true; keyword flags must equal the value given. A flag
    the dialect does not have raises AttributeError: a typo must not turn into a skip.
    """
    wanted = dict.fromkeys(flags, True)
    wanted.update(values)
    unmet = []
    for flag, value in wanted.items():
        actual = getattr(dialect, flag)
        if (bool(actual) if value is True or value is False else actual) != value:
            unmet.append(f"{flag}={actual!r}")
    return unmet


def skip_unless(database, *flags, **values):
    """Skip the running test unless ``database``'s dialect meets the requirements."""
    unmet = unmet_requirements(database.dialect, *flags, **values)
    if unmet:
        pytest.skip(f"{database.dialect.name} has {', '.join(unmet)}")


def drop_all_tables(database):
    """Remove every table so each test starts from an empty database."""
    tables = database.get_tables()
    if not tables:
        return
    quote = database.dialect.quote
    # Engine-specific test setup: how to drop tables that foreign keys tie together.
    engine = database.dialect.name
    if engine == "postgresql":
        names = ", ".join(quote(name) for name in tables)
        database.execute_sql(f"DROP TABLE IF EXISTS {names} CASCADE", ())
    elif engine == "mysql":
        database.execute_sql("SET FOREIGN_KEY_CHECKS = 0")
        try:
            for name in tables:
                database.execute_sql(f"DROP TABLE IF EXISTS {quote(name)}", ())
        finally:
            database.execute_sql("SET FOREIGN_KEY_CHECKS = 1")
    else:
        database.execute_sql("PRAGMA foreign_keys = OFF")
        for name in tables:
            database.execute_sql(f"DROP TABLE IF EXISTS {quote(name)}")
        database.execute_sql("PRAGMA foreign_keys = ON")


def make_url(backend, tmp_path):
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'test.db'}"
    return SERVER_URLS[backend]


@pytest.fixture
def db(request, tmp_path):
    """A connected Database for one backend, starting with no tables."""
    backend = request.param
    database = tinyorm.connect(make_url(backend, tmp_path))
    drop_all_tables(database)
    marker = request.node.get_closest_marker("requires")
    if marker is not None:
        unmet = unmet_requirements(database.dialect, *marker.args, **marker.kwargs)
        if unmet:
            database.close_all()
            pytest.skip(f"{database.dialect.name} has {', '.join(unmet)}")
    yield database
    database.close_all()
    if backend != "sqlite":
        cleanup = tinyorm.connect(make_url(backend, tmp_path))
        drop_all_tables(cleanup)
        cleanup.close()


@pytest.fixture
def db_url(db, tmp_path):
    """The URL the ``db`` fixture connected to (for subprocesses and second connections)."""
    return make_url(db.dialect.name, tmp_path)


class Replicated:
    """A primary and a replica: real replication (a REPLICATED_URLS backend) or SQLite files.

    SQLite files do not replicate: ``sync()`` copies the primary's file over the replica's
    so tests can stand the pair in for a caught-up replica.
    """

    def __init__(self, kind, primary_url, replica_url, tmp_path):
        self.kind = kind
        self.primary_url = primary_url
        self.replica_url = replica_url
        self.tmp_path = tmp_path
        self.real = kind in REPLICATED_URLS
        # A second replica of the same primary, where the topology has one (else None).
        self.replica2_url = SECOND_REPLICA_URLS.get(kind)

    def router(self, **options):
        return tinyorm.Router(primary=self.primary_url, replicas=[self.replica_url], **options)

    def wait_for_replica(self, timeout=10.0, url=None):
        """Block until the replica (or the one at ``url``) has replayed everything the
        primary has committed."""
        if not self.real:
            return
        primary = tinyorm.connect(self.primary_url)
        replica = tinyorm.connect(url or self.replica_url)
        try:
            position = primary.replication_position()
            if not replica.position_reached(position, timeout=timeout):
                raise AssertionError("replica did not catch up in time")
        finally:
            primary.close()
            replica.close()


@pytest.fixture
def replicated(request, tmp_path):
    """A primary/replica pair for router tests, starting with no tables."""
    kind = request.param
    if kind in REPLICATED_URLS:
        pair = Replicated(kind, *REPLICATED_URLS[kind], tmp_path)
    else:
        pair = Replicated(
            kind, f"sqlite:///{tmp_path / 'primary.db'}", f"sqlite:///{tmp_path / 'replica.db'}", tmp_path
        )
    primary = tinyorm.connect(pair.primary_url)
    drop_all_tables(primary)
    primary.close()
    pair.wait_for_replica()
    yield pair
    if pair.real:
        primary = tinyorm.connect(pair.primary_url)
        drop_all_tables(primary)
        primary.close()


class QueryCounter:
    """Records every statement a Database sends, through its one choke point."""

    def __init__(self, database):
        self.database = database
        self.statements = []
        self._lock = threading.Lock()

    def __enter__(self):
        original = self.database.execute_sql

        def counting_execute(sql, params=None, *args, **kwargs):
            with self._lock:
                self.statements.append((sql, params))
            return original(sql, params, *args, **kwargs)

        self.database.execute_sql = counting_execute
        return self

    def __exit__(self, *exc):
        del self.database.execute_sql

    @property
    def count(self):
        return len(self.statements)


@pytest.fixture
def count_queries():
    """``with count_queries(db) as counter: ...`` then ``counter.count``."""
    return QueryCounter
