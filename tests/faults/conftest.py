"""Fault injection on real servers: connections killed from another connection, deadlocks,
lock timeouts, interrupts, and (backend ``faults``) private servers killed with ``kill -9``
and restarted by ``scripts/faultdb.sh``.

Each test records the faults it injected, how many tinyorm survived (transparently, or
with one typed error that ``db.retry`` recovered) and how many committed rows went missing;
the totals per engine are printed at the end of the run.
"""

import collections
import pathlib
import subprocess
import threading

import pytest

import tinyorm

from ..conftest import BACKENDS, FAULT_URLS, drop_all_tables

ROOT = pathlib.Path(__file__).resolve().parents[2]
TALLY = collections.defaultdict(collections.Counter)  # engine -> injected/survived/lost


def record(engine, injected=0, survived=0, lost=0):
    TALLY[engine].update(injected=injected, survived=survived, lost=lost)


def pytest_terminal_summary(terminalreporter):
    if not TALLY:
        return
    terminalreporter.section("tinyorm faults: injected / survived / rows lost")
    for engine, counts in sorted(TALLY.items()):
        terminalreporter.write_line(
            f"{engine:12} {counts['injected']:5} injected  {counts['survived']:5} survived  {counts['lost']:3} rows lost"
        )


class Injector:
    """How to hurt one engine's connections from the outside (servers only)."""

    def __init__(self, database, session_id_sql, kill_sql, sleep_sql, lock_timeout_sql):
        self.database = database
        self.session_id_sql = session_id_sql
        self.kill_sql = kill_sql
        self.sleep_sql = sleep_sql
        self.lock_timeout_sql = lock_timeout_sql

    def session_id(self, database=None):
        """The server's id of this thread's connection to ``database``."""
        return (database or self.database).execute_sql(self.session_id_sql).fetchone()[0]

    def kill(self, session_id):
        """Kill a connection from a separate, short-lived connection."""
        killer = tinyorm.connect(self.database_url)
        try:
            killer.execute_sql(self.kill_sql % int(session_id))
        finally:
            killer.close_all()

    def short_lock_timeout(self, database=None):
        (database or self.database).execute_sql(self.lock_timeout_sql)


INJECTORS = {
    "postgresql": dict(
        session_id_sql="SELECT pg_backend_pid()",
        kill_sql="SELECT pg_terminate_backend(%d)",
        sleep_sql="SELECT pg_sleep(5)",
        lock_timeout_sql="SET lock_timeout = '300ms'",
    ),
    "mysql": dict(
        session_id_sql="SELECT CONNECTION_ID()",
        kill_sql="KILL %d",
        sleep_sql="SELECT SLEEP(5)",
        lock_timeout_sql="SET SESSION innodb_lock_wait_timeout = 1",
    ),
}


@pytest.fixture
def injector(db, db_url):
    """The db fixture's fault injector; skips on embedded engines (no connection to kill)."""
    spec = INJECTORS.get(db.dialect.name)
    if spec is None:
        pytest.skip(f"{db.dialect.name} is embedded: there is no server connection to kill")
    injector = Injector(db, **spec)
    injector.database_url = db_url
    return injector


def faultdb(*args):
    """Run scripts/faultdb.sh (kill, start, restart) and fail the test if it fails."""
    done = subprocess.run(["bash", "scripts/faultdb.sh", *args], cwd=ROOT, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        pytest.fail(f"faultdb.sh {' '.join(args)} failed: {done.stdout}{done.stderr}")


class PrivateServer:
    """A private server of the ``faults`` backend, which tests may kill and restart."""

    def __init__(self, engine, url):
        self.engine = engine
        self.url = url
        self.script_name = "pg" if engine == "postgresql" else "mariadb"

    def connect(self, **options):
        return tinyorm.connect(self.url, **options)

    def kill(self):
        faultdb("kill", self.script_name)

    def start(self):
        faultdb("start", self.script_name)

    def restart(self):
        faultdb("restart", self.script_name)


@pytest.fixture(params=sorted(FAULT_URLS))
def private_server(request):
    """A private PostgreSQL or MariaDB server (backend ``faults``), up and with no tables."""
    if "faults" not in BACKENDS:
        pytest.skip("backend 'faults' is not in this run (make faultdb)")
    server = PrivateServer(request.param, FAULT_URLS[request.param])
    server.start()  # a test that failed half-way may have left it down
    database = server.connect()
    drop_all_tables(database)
    database.close_all()
    yield server
    server.start()


def run_threads(count, target, timeout=120):
    """Run ``target(index)`` in ``count`` threads started together; their results, in order."""
    barrier = threading.Barrier(count)
    results, errors = [None] * count, []

    def run(index):
        try:
            barrier.wait(30)
            results[index] = target(index)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    assert not any(thread.is_alive() for thread in threads), "a worker thread hung"
    if errors:
        raise errors[0]
    return results
