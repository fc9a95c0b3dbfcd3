"""A real 3-node MariaDB Galera cluster (scripts/galera.sh, backend ``galera``).

Galera is multi-primary and applies a commit on the other nodes a moment after it returns:
a read on another node right after a write can miss it. These tests prove the router's
read-your-writes there (Galera's own WSREP_LAST_SEEN_GTID / WSREP_SYNC_WAIT_UPTO_GTID),
certification failures as retryable errors, a node without quorum counted as down, and the
cluster-wide migration lock. Nodes are isolated (``gmcast.isolate``) and always rejoined.
"""

import os
import pathlib
import re
import subprocess
import threading
import time

import pytest

import tinyorm
from tinyorm import CharField, ConnectionLostError, IntegerField, Model, VersionField
from tinyorm.backends import galera

from ..conftest import BACKENDS, GALERA_URLS, drop_all_tables
from ..migrations.conftest import Project
from .conftest import in_thread, reads

pytestmark = pytest.mark.skipif("galera" not in BACKENDS, reason="needs the galera backend (make galera)")

SETTLE_S = 60  # a node leaving or rejoining the cluster takes seconds; never this long
ROOT = pathlib.Path(__file__).resolve().parents[2]
NODE_PORTS = (3326, 3327, 3328)  # scripts/galera.sh's nodes 1, 2, 3


class Cluster:
    """The three nodes' URLs, a Database per node for control statements, and helpers to
    take a node out of the cluster and bring it back."""

    def __init__(self, urls):
        assert len(urls) >= 3, f"the galera backend needs three node URLs, got {urls}"
        self.urls = list(urls)
        self.control = [tinyorm.connect(url) for url in self.urls]
        self.routers = []
        self.folder = None  # scripts/galera.sh's folder, read from a node when first needed

    def router(self, models, **options):
        router = tinyorm.Router(primary=self.urls[0], replicas=self.urls[1:], **options)
        self.routers.append(router)
        router.bind(models)
        router.create_tables(models)
        router.reset_stats()
        return router

    def status(self, index, name):
        rows = self.control[index].execute_sql("SHOW GLOBAL STATUS LIKE %s", (name,)).fetchall()
        return rows[0][1] if rows else None

    def synced(self, index):
        try:
            return (
                self.status(index, "wsrep_local_state_comment") == "Synced"
                and self.status(index, "wsrep_ready") == "ON"
            )
        except tinyorm.TinyORMError:
            return False

    def wait(self, condition, what):
        deadline = time.monotonic() + SETTLE_S
        while not condition():
            assert time.monotonic() < deadline, f"the cluster did not settle: {what}"
            time.sleep(0.2)

    def wait_all_synced(self):
        def all_synced():
            return all(self.synced(index) for index in range(3)) and self.status(0, "wsrep_cluster_size") == "3"

        self.wait(all_synced, "three synced nodes")

    def isolate(self, index, isolated):
        """Cut node ``index`` off the group (it loses quorum) or let it rejoin."""
        value = 1 if isolated else 0
        self.control[index].execute_sql(f"SET GLOBAL wsrep_provider_options = 'gmcast.isolate={value}'")

    def script(self, command, index):
        """``scripts/galera.sh kill|start N`` for the node behind ``urls[index]``; skips the
        test when the URLs are not the script's own cluster."""
        port = self.control[index].connect_params.get("port")
        if port not in NODE_PORTS:
            pytest.skip(f"{self.urls[index]} is not a node of scripts/galera.sh (ports {NODE_PORTS})")
        node = str(NODE_PORTS.index(port) + 1)
        if self.folder is None:  # read while the node answers: any checkout drives the cluster
            data_directory = self.control[index].execute_sql("SELECT @@datadir").fetchone()[0]
            self.folder = os.path.dirname(data_directory.rstrip("/"))
        completed = subprocess.run(
            ["bash", str(ROOT / "scripts" / "galera.sh"), command, node],
            cwd=ROOT,
            env={**os.environ, "TINYORM_GALERA_DIR": self.folder},
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert completed.returncode == 0, completed.stdout + completed.stderr

    def close(self):
        for router in self.routers:
            router.close_all()
        for database in self.control:
            database.close_all()


@pytest.fixture
def cluster():
    cluster = Cluster(GALERA_URLS)
    cluster.wait_all_synced()
    drop_all_tables(cluster.control[0])  # DDL replicates to every node
    yield cluster
    try:
        cluster.wait_all_synced()
        drop_all_tables(cluster.control[0])
    finally:
        cluster.close()


class Note(Model):
    text = CharField(max_length=100)

    class Meta:
        table_name = "galera_note"


def test_galera_is_detected_and_positions_compare_across_nodes(cluster):
    first, second = cluster.control[0], cluster.control[1]
    first.execute_sql("CREATE TABLE galera_probe (id INTEGER PRIMARY KEY AUTO_INCREMENT)")
    first.execute_sql("INSERT INTO galera_probe () VALUES ()")
    position = first.replication_position()
    assert first.is_galera and second.is_galera
    assert re.fullmatch(r"\d+-\d+-\d+", position), position
    # the other node reaches the position (at once or within the wait), and reports no lag
    assert second.position_reached(position, timeout=5)
    assert second.replica_lag() == 0.0
    replayed = second.replayed_position()
    assert second.position_sort_key(replayed) >= second.position_sort_key(position)
    # a position the cluster has not reached yet: the wait runs out, it is not an error
    domain, server, sequence = position.split("-")
    ahead = f"{domain}-{server}-{int(sequence) + 1000}"
    assert second.position_reached(ahead, timeout=0) is False
    started = time.monotonic()
    assert second.position_reached(ahead, timeout=0.2) is False  # waits its 0.2 s, not a whole second
    assert 0.15 < time.monotonic() - started < 0.9
    with pytest.raises(ValueError):
        second.position_reached("default@x", timeout=0)


def naive_stale_reads(cluster, iterations):
    """Reads on node 2 right after an INSERT on node 1, on plain connections: how many miss
    the row (often some, may be none), and the time taken."""
    writer, reader = cluster.control[0], cluster.control[1]
    misses = 0
    started = time.perf_counter()
    for number in range(iterations):
        pk = writer.execute_sql("INSERT INTO galera_note (text) VALUES (%s)", (f"naive {number}",)).lastrowid
        if not reader.execute_sql("SELECT 1 FROM galera_note WHERE id = %s", (pk,)).fetchall():
            misses += 1
    return misses, time.perf_counter() - started


def test_read_after_write_on_another_node_is_never_stale(cluster, record_property):
    router = cluster.router([Note])
    iterations = 200
    stale = []
    started = time.perf_counter()
    for number in range(iterations):
        note = Note.create(text=f"note {number}")
        if Note.get_or_none(Note.id == note.id) is None:  # at once, same thread, another node
            stale.append(number)
    elapsed = time.perf_counter() - started
    served = reads(router)
    naive, naive_elapsed = naive_stale_reads(cluster, iterations)
    figures = (
        f"routed: {len(stale)} stale of {iterations}, {elapsed * 1000 / iterations:.2f} ms per loop; "
        f"direct connections: {naive} stale, {naive_elapsed * 1000 / iterations:.2f} ms per loop; reads {served}"
    )
    record_property("galera_read_your_writes", figures)
    print(figures)
    assert stale == [], f"stale reads in iterations {stale}"
    # the other nodes served reads: the router waited for them instead of pinning to the writer
    assert served.get("replica1", 0) + served.get("replica2", 0) > iterations // 2, served
    # and a token carries the position to another thread (another request)
    note = Note.create(text="handed over")
    token = router.position()

    def read_after_token():
        with router.after(token):
            return Note.get_or_none(Note.id == note.id)

    assert in_thread(router, read_after_token) is not None


def _counter_model(database):
    class Counter(Model):
        value = IntegerField(default=0)
        version = VersionField()

        class Meta:
            table_name = "galera_counter"

    Counter._meta.set_database(database)
    return Counter


def test_optimistic_increments_on_three_nodes_end_exact(cluster, record_property):
    workers, increments = 3, 40
    seed = _counter_model(cluster.control[0])
    cluster.control[0].create_tables([seed])
    seed.create(value=0)
    retried = []
    errors = []

    def work(index):
        database = tinyorm.connect(cluster.urls[index])
        counter = _counter_model(database)
        try:
            for _ in range(increments):

                def increment():
                    row = counter.get_by_id(1)
                    row.value += 1
                    row.save()

                database.retry(increment, attempts=100, on_retry=lambda error, attempt: retried.append(error))
        except Exception as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)
        finally:
            database.close_all()

    threads = [threading.Thread(target=work, args=(index,)) for index in range(workers)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(300)
    elapsed = time.perf_counter() - started
    assert errors == []
    cluster.wait_all_synced()
    value, version = cluster.control[1].execute_sql("SELECT value, version FROM galera_counter").fetchone()
    kinds = sorted({type(error).__name__ for error in retried})
    figures = f"increments: {value} of {workers * increments} in {elapsed:.2f}s, {len(retried)} retries ({kinds})"
    record_property("galera_increments", figures)
    print(figures)
    assert value == workers * increments
    assert version == workers * increments + 1
    # concurrent writers on different nodes conflict: certification failures (1213, a
    # DeadlockError) and stale versions surfaced as retryable errors, not as wrong counts
    assert retried, "no conflict at all: the workers did not overlap"
    assert {"DeadlockError", "StaleDataError"} & set(kinds), kinds


def test_node_without_quorum_counts_as_down(cluster):
    router = cluster.router([Note], down_backoff=30)
    Note.create(text="before")
    isolated = cluster.control[2]  # replica2
    cluster.isolate(2, True)
    try:
        cluster.wait(lambda: cluster.status(2, "wsrep_ready") == "OFF", "node 3 without quorum")
        # the node answers, but refuses every statement on a table (1047): an unreachable server
        with pytest.raises(ConnectionLostError):
            isolated.execute_sql("SELECT COUNT(*) FROM galera_note").fetchall()
        assert isolated.replica_lag() == float("inf")
        assert isolated.replica_lag() == float("inf")
        with pytest.raises(ConnectionLostError):
            isolated.replayed_position()
        router.reset_stats()
        # reads from a thread that wrote nothing go round-robin: the first read sent to the
        # node fails over, the node is marked down, and no later read goes there
        results = in_thread(router, lambda: [Note.select().count() for _ in range(20)])
        assert results == [1] * 20  # no read failed
        stats = router.stats()
        assert stats["down"] == {"replica2": 1}, stats
        assert stats["reads"] == {"replica1": 20}, stats
        # reads after a write (read-your-writes probes the node's position) skip it too
        router.reset_stats()
        Note.create(text="during")
        assert [Note.select().count() for _ in range(10)] == [2] * 10
        assert "replica2" not in router.stats()["reads"], router.stats()
    finally:
        cluster.isolate(2, False)
        cluster.wait_all_synced()
    assert isolated.replica_lag() == 0.0
    assert isolated.execute_sql("SELECT COUNT(*) FROM galera_note").fetchone()[0] == 2


SLOW_MIGRATION = """
import time
from tinyorm import *

def upgrade(op):
    op.create_table("galera_counter", [("id", AutoField()), ("n", IntegerField())])

    def slow_insert(database):
        time.sleep(2)
        database.execute_sql("INSERT INTO galera_counter (n) VALUES (1)")

    op.run_python(slow_insert)

def downgrade(op):
    op.drop_table("galera_counter")
"""


def test_two_migrations_on_two_nodes_run_one_at_a_time(cluster, tmp_path):
    path = tmp_path / "project"
    path.mkdir()
    projects = [Project(path, cluster.urls[0]), Project(path, cluster.urls[1])]
    projects[0].write_models("from tinyorm import *  # no models yet\n")
    projects[0].write_migration("0001_slow.py", SLOW_MIGRATION)
    processes = [project.popen("migrate", "up") for project in projects]
    outputs = [process.communicate(timeout=180) for process in processes]
    for process, (out, err) in zip(processes, outputs):
        assert process.returncode == 0, (out, err)
    combined = "".join(out for out, _err in outputs)
    assert len(re.findall(r"applied 0001_slow \(\d+ ms\)", combined)) == 1, outputs
    cluster.wait_all_synced()
    for database in cluster.control:
        assert database.execute_sql("SELECT n FROM galera_counter").fetchall() == ((1,),)
    # the lock row is gone once the migrations are done
    assert cluster.control[2].execute_sql("SELECT COUNT(*) FROM tinyorm_migration_lock").fetchone()[0] == 0


def test_migration_lock_times_out_with_the_holder_named(cluster):
    first, second = cluster.control[0], cluster.control[1]
    with first.migration_lock(timeout=5):
        started = time.monotonic()
        with pytest.raises(tinyorm.MigrationError, match="tinyorm_migration_lock"):
            with second.migration_lock(timeout=1):
                pass
        assert time.monotonic() - started < 5
    with second.migration_lock(timeout=1):  # released: the other node takes it at once
        pass


HELD_MIGRATION = """
import os
import time
from tinyorm import *

HOLD = {hold!r}

def upgrade(op):
    def hold(database):
        while os.path.exists(HOLD):
            time.sleep(0.05)

    op.run_python(hold)
    op.create_table("galera_held", [("id", AutoField()), ("n", IntegerField())])

def downgrade(op):
    op.drop_table("galera_held")
"""


def _lock_holders(database):
    try:
        return database.execute_sql("SELECT owner FROM tinyorm_migration_lock").fetchall()
    except tinyorm.TinyORMError:
        return ()  # no lock table yet


@pytest.mark.parametrize("where", ["same node", "another node"])
def test_a_killed_migrations_lock_is_taken_over(cluster, tmp_path, where):
    """``migrate up`` killed -9 while holding the lock: the next one takes the lock over by
    itself (on the holder's node as soon as its connection is gone and its heartbeat stood
    still for a few seconds; from another node once the lease has run out)."""
    path = tmp_path / "project"
    path.mkdir()
    hold = tmp_path / "hold"
    hold.write_text("")
    first = Project(path, cluster.urls[0])
    first.write_models("from tinyorm import *  # no models yet\n")
    first.write_migration("0001_held.py", HELD_MIGRATION.format(hold=str(hold)))
    process = first.popen("migrate", "up")
    try:
        cluster.wait(lambda: _lock_holders(cluster.control[2]), "the first migration never took the lock")
        time.sleep(1.5)  # its heartbeat is running
    finally:
        process.kill()
        process.communicate(timeout=30)
    assert process.returncode == -9
    hold.unlink()
    assert _lock_holders(cluster.control[0]), "the killed process left its lock row"
    second = Project(path, cluster.urls[0 if where == "same node" else 1])
    started = time.monotonic()
    result = second.run("migrate", "up", timeout=120)
    took = time.monotonic() - started
    assert re.search(r"applied 0001_held", result.out), result
    if where == "same node":
        assert took < galera.LEASE_S, f"{took:.1f}s: the holder's connection was gone, no need for the lease"
    else:
        assert took >= galera.LEASE_S - 2, f"{took:.1f}s: taken over before the lease ran out"
    cluster.wait_all_synced()
    assert _lock_holders(cluster.control[2]) == ()
    for database in cluster.control:
        assert "galera_held" in database.get_tables()


@pytest.mark.parametrize("where", ["same node", "another node"])
def test_a_live_migrations_lock_is_never_taken_over(cluster, where):
    """However long a waiter waits, a holder whose heartbeat goes on keeps the lock."""
    holder = cluster.control[0]
    waiter = tinyorm.connect(cluster.urls[0 if where == "same node" else 1])
    wait = galera.LEASE_S + 3 if where == "another node" else 6
    try:
        with holder.migration_lock(timeout=5):
            with pytest.raises(tinyorm.MigrationError, match="heartbeat is alive"):
                with waiter.migration_lock(timeout=wait):
                    pytest.fail("two holders of the migration lock")
        with waiter.migration_lock(timeout=2):  # released: taken at once
            pass
    finally:
        waiter.close_all()


def test_writes_move_to_the_next_node_when_the_writer_dies(cluster):
    router = tinyorm.Router(primary=cluster.urls, replicas=cluster.urls[1:])
    cluster.routers.append(router)
    router.bind([Note])
    router.create_tables([Note])
    Note.create(text="before")
    cluster.script("kill", 0)  # kill -9 the writing node
    try:
        started = time.perf_counter()
        for number in range(10):
            Note.create(text=f"after {number}")  # no error: the next candidate takes the writes
        failover_s = time.perf_counter() - started
        assert Note.select().count() == 11
        stats = router.stats()
        assert stats["writer_failovers"] == 1, stats
        assert router.sets["default"].primary is router.database("primary2")  # the next candidate
        print(f"writer failover: 10 writes after kill -9 of the writer took {failover_s:.2f}s")
    finally:
        cluster.script("start", 0)  # rejoins the cluster (IST), then everything is synced
        cluster.wait_all_synced()
    # the restarted node has every write made while it was down
    assert cluster.control[0].execute_sql("SELECT COUNT(*) FROM galera_note").fetchone()[0] == 11
