"""Read-your-writes on every replicated topology: probe counts, stopped replication, a
replica killed mid-run, tokens (signed, forged, foreign, multi-domain), request scopes,
writes refused on a replica, probe errors, writer candidates.

Runs on every ``replicated`` kind (SQLite stand-ins where the behaviour applies to them).
The MariaDB replica (scripts/myreplica.sh) and the PostgreSQL replicas (scripts/pgreplica.sh)
are private to the tests: they stop their replication threads or WAL receiver and kill -9
them, always restarting them.
"""

import logging
import threading
import time

import pytest

import tinyorm
from tinyorm import CharField, IntegerField, Model, RoutingError
from tinyorm.backends.positions import MariaDBPosition, MySQLPosition

from ..conftest import REPLICATED_URLS
from .conftest import (
    RECEIVE_CONTROL,
    counting,
    dead_url,
    in_thread,
    myreplica_script,
    reads,
    receiving_stopped,
    replay_paused,
)

real_only = pytest.mark.backends(*REPLICATED_URLS)


class Entry(Model):
    text = CharField(max_length=100)
    revision = IntegerField(default=0)

    class Meta:
        table_name = "rt_entry"


def _probes(router):
    return router.stats()["probes"]


# -- probe storms ------------------------------------------------------------------------------------
@real_only
def test_a_write_then_ten_reads_sends_at_most_ten_probes(routed):
    router = routed([Entry], replica_wait=0.5)
    Entry.create(text="first")
    with counting(router) as counters:
        for _ in range(10):
            assert Entry.select().count() == 1
    probes = _probes(router)
    assert probes <= 10, router.stats()
    replica_statements = counters["replica1"].count
    assert replica_statements <= 10 + probes
    assert reads(router).get("replica1", 0) >= 9, router.stats()  # the replica serves them
    # Well after replica_wait: the position is known to be reached, no probe at all.
    time.sleep(0.6)
    with counting(router) as counters:
        assert Entry.select().count() == 1
    assert _probes(router) == probes
    assert counters["replica1"].count == 1


@real_only
def test_reads_with_nothing_written_send_no_probe(routed):
    router = routed([Entry])
    with router.request(), counting(router) as counters:  # (a scope without the tables' DDL)
        for _ in range(5):
            Entry.select().count()
    assert _probes(router) == 0 and counters["replica1"].count == 5


# -- replication stopped ---------------------------------------------------------------------------
@real_only
@pytest.mark.parametrize("stopped", ["replay", "receiving"])
def test_no_stale_read_with_replication_stopped(routed, replicated, stopped):
    router = routed([Entry])
    if stopped == "receiving":
        control = receiving_stopped(replicated)
    else:
        control = replay_paused(replicated)
    stale = 0
    with control:
        for number in range(20):
            entry = Entry.create(text=f"stopped {number}")
            if Entry.get_or_none(Entry.id == entry.id) is None:
                stale += 1
        # A thread that wrote nothing, with max_replica_lag: the stopped replica is "behind".
    assert stale == 0
    assert router.stats()["down"] == {}


@pytest.mark.backends(*RECEIVE_CONTROL)
def test_a_replica_that_stopped_receiving_is_never_read_as_caught_up(routed, replicated):
    """With nothing arriving, what the replica received equals what it replayed: that must
    read as "infinitely behind", never as "lag 0", for fresh reads and for read-your-writes."""
    plain = routed([Entry], replica_wait=0.05)
    router = routed([Entry], max_replica_lag=5, lag_check_interval=0, replica_wait=0.05)
    outside = routed.primary_database()
    replica = routed.replica_database()
    with receiving_stopped(replicated):
        outside.execute_sql("INSERT INTO rt_entry (text, revision) VALUES ('elsewhere', 0)")
        time.sleep(0.2)
        assert replica.replica_lag() == float("inf")
        # Another thread, no write of its own, under max_replica_lag: the primary serves it.
        assert in_thread(router, lambda: Entry.select().count()) == 1
        assert router.stats()["lagging_skips"] >= 1
        # This scope's own writes, with and without max_replica_lag, and through a token.
        for number in range(10):
            for each in (router, plain):
                Entry.bind(each)
                entry = Entry.create(text=f"unreceived {number}")
                assert Entry.get_or_none(Entry.id == entry.id) is not None
        token = plain.position()
        assert in_thread(plain, lambda: _count_after(plain, token)) == 21
        assert reads(router).get("replica1", 0) == 0 and reads(plain).get("replica1", 0) == 0
        assert router.stats()["down"] == {} and plain.stats()["down"] == {}
    # Receiving again: the replica catches up and serves reads again.
    replicated.wait_for_replica()
    assert replica.replica_lag() < 5
    Entry.bind(router)
    router.reset_stats()
    assert in_thread(router, lambda: Entry.select().count()) == 21
    assert reads(router) == {"replica1": 1}


@real_only
def test_an_idle_primary_is_not_lag(routed, replicated):
    """A replica that has replayed everything is not behind, however long ago the last write
    was (the time since the last replayed transaction would say otherwise)."""
    router = routed([Entry], max_replica_lag=0.5, lag_check_interval=0)
    Entry.create(text="then silence")
    replicated.wait_for_replica()
    time.sleep(1.0)
    assert routed.replica_database().replica_lag() < 0.5
    assert in_thread(router, lambda: Entry.select().count()) == 1
    assert router.stats()["lagging_skips"] == 0 and reads(router) == {"replica1": 1}


@pytest.mark.backends("myreplica")
@pytest.mark.parametrize("thread", ["SQL_THREAD", "IO_THREAD"])
def test_stopped_thread_counts_as_lagging_for_fresh_reads(routed, replicated, thread):
    router = routed([Entry], max_replica_lag=5, lag_check_interval=0)
    outside = routed.primary_database()
    control = tinyorm.connect(replicated.replica_url)
    control.execute_sql(f"STOP SLAVE {thread}")
    try:
        time.sleep(0.2)
        assert routed.replica_database().replica_lag() == float("inf")
        outside.execute_sql("INSERT INTO rt_entry (text, revision) VALUES ('elsewhere', 0)")
        # Another thread, no write of its own: the replica without a running thread is left out.
        assert in_thread(router, lambda: Entry.select().count()) == 1
        assert router.stats()["lagging_skips"] >= 1
    finally:
        control.execute_sql(f"START SLAVE {thread}")
        control.close_all()


# -- a replica killed mid-run ----------------------------------------------------------------------
@pytest.mark.backends("myreplica")
def test_replica_killed_mid_run_reads_keep_working(routed, replicated):
    servers = myreplica_script(replicated)
    router = routed([Entry], down_backoff=30)
    stale = 0
    try:
        for number in range(40):
            if number == 10:
                servers("kill", "replica")
            entry = Entry.create(text=f"kill {number}")
            if Entry.get_or_none(Entry.id == entry.id) is None:
                stale += 1
            assert in_thread(router, lambda: Entry.select().count()) == number + 1 or number < 10
    finally:
        servers("start", "replica")
    assert stale == 0
    assert router.stats()["down"].get("replica1") == 1


# -- tokens ----------------------------------------------------------------------------------------
def test_mariadb_and_mysql_positions_compare_as_sets():
    assert MariaDBPosition("0-1-229,1-1-1").covers(MariaDBPosition("0-1-200"))
    assert not MariaDBPosition("0-1-229").covers(MariaDBPosition("0-1-200,1-1-1"))
    assert MariaDBPosition("0-1-5").union(MariaDBPosition("1-1-2,0-1-3")) == "0-1-5,1-1-2"
    uuid_a = "3e11fa47-71ca-11e1-9e33-c80aa9429562"
    uuid_b = "4e11fa47-71ca-11e1-9e33-c80aa9429562"
    executed = MySQLPosition(f"{uuid_a}:1-5,\n{uuid_b}:1-3")
    assert executed.covers(MySQLPosition(f"{uuid_a}:2-4"))
    assert not executed.covers(MySQLPosition(f"{uuid_b}:1-4"))
    for garbage in ("x", "0-1-x", "1-1-1,1-1-2", f"{uuid_a}", "'; DROP TABLE x; --"):
        for kind in (MariaDBPosition, MySQLPosition):
            with pytest.raises(ValueError):
                kind(garbage)


@real_only
def test_garbage_and_foreign_tokens_are_the_callers_error_not_a_replica_problem(routed):
    router = routed([Entry])
    Entry.create(text="one")
    for token in (
        "default@x",
        "default@0-1-x",
        "default@1/2/3",
        "nowhere@0-1-1",
        "default@1-1-1,1-1-2",
        "default@1-1-1+1-1-2",
    ):
        with pytest.raises(RoutingError):
            with router.after(token):
                pass
    assert router.stats()["down"] == {}
    assert in_thread(router, lambda: Entry.select().count()) == 1
    assert reads(router).get("replica1") == 1


@real_only
def test_forged_far_future_position_never_marks_the_replica_down(routed, replicated):
    router = routed([Entry], replica_wait=0.05)
    Entry.create(text="one")
    far = "FFFF/0" if replicated.kind == "pgreplica" else "0-1-999999999"
    assert in_thread(router, lambda: _count_after(router, f"default@{far}")) == 1
    assert router.stats()["down"] == {}
    # Other scopes still read the replica.
    assert in_thread(router, lambda: Entry.select().count()) == 1
    assert reads(router).get("replica1", 0) >= 1


def _count_after(router, token):
    with router.after(token):
        return Entry.select().count()


def test_signed_tokens_and_forged_ones(routed):
    router = routed([Entry], token_secret="s3cret")
    Entry.create(text="one")
    token = router.position()
    assert "~" in token
    assert in_thread(router, lambda: _count_after(router, token)) == 1
    text = token.rpartition("~")[0]
    for forged in (text, text + "~AAAAAAAAAAAAAAAAAAAAAA", token[:-1] + ("A" if token[-1] != "A" else "B")):
        with pytest.raises(RoutingError):
            with router.after(forged):
                pass
    other = routed([Entry], token_secret="another")
    with pytest.raises(RoutingError):
        with other.after(token):
            pass


@pytest.mark.backends("myreplica")
def test_multi_domain_position_token(routed):
    router = routed([Entry])
    outside = routed.primary_database()
    outside.execute_sql("SET SESSION gtid_domain_id = 7")
    outside.execute_sql("INSERT INTO rt_entry (text, revision) VALUES ('domain 7', 0)")
    outside.execute_sql("SET SESSION gtid_domain_id = 0")
    entry = Entry.create(text="domain 0")
    token = router.position()
    assert "+7-" in token, token  # two domains, "+" for the "," of a GTID list
    found = in_thread(router, lambda: _count_after(router, token))
    assert found == 2 and entry.id


# -- scopes and blocks -----------------------------------------------------------------------------
def test_request_scope_starts_clean_and_forgets_its_writes(routed):
    router = routed([Entry])

    def thread():  # a thread of its own: this one created the tables (a write)
        with router.request():
            Entry.create(text="in a request")
            assert router.position() != ""
            with router.request():
                assert router.position() == ""
        return router.position()

    assert in_thread(router, thread) == ""


def test_scopes_of_concurrent_threads_do_not_mix(routed):
    router = routed([Entry])
    seen = {}
    barrier = threading.Barrier(2)

    def worker(name, write):
        with router.request():
            if write:
                Entry.create(text=name)
            barrier.wait(10)
            seen[name] = router.position()
        router.close()

    threads = [threading.Thread(target=worker, args=(n, n == "writer")) for n in ("writer", "reader")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert seen["writer"] and seen["reader"] == ""


def test_using_a_replica_refuses_writes_before_any_sql(routed):
    router = routed([Entry])
    with counting(router) as counters:
        with router.using("replica1"):
            with pytest.raises(RoutingError, match="replica"):
                Entry.create(text="nope")
    assert counters["replica1"].count == 0 and counters["primary"].count == 0
    with router.using("primary"):
        Entry.create(text="fine")


def test_raw_writes_through_the_router_count_for_read_your_writes(routed, replicated):
    router = routed([Entry], pin_window=5)
    paused = replay_paused(replicated) if routed.real else _Nothing()
    with paused:
        router.execute_sql("INSERT INTO rt_entry (text, revision) VALUES ('raw', 0)")
        assert router.stats()["writes"] == {"primary": 1}
        assert router.position() != ""
        assert Entry.select().count() == 1


class _Nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_writer_candidates_move_on_when_one_is_unreachable(routed, replicated):
    router = tinyorm.Router(primary=[dead_url(replicated, "primary"), replicated.primary_url], replicas=[])
    routed.routers.append(router)
    router.bind([Entry])
    router.databases["primary2"].create_tables([Entry])
    Entry.create(text="written")
    assert router.stats()["writer_failovers"] == 1
    assert router.sets["default"].primary is router.databases["primary2"]
    assert Entry.select().count() == 1


@pytest.mark.backends("myreplica")
def test_probe_error_from_a_missing_privilege_is_reported_not_down(routed, replicated, caplog):
    admin = routed.primary_database()
    admin.execute_sql("CREATE USER IF NOT EXISTS 'tinyorm_noprobe'@'%%' IDENTIFIED BY 'x'")
    database = replicated.replica_url.rsplit("/", 1)[1]
    admin.execute_sql(f"GRANT SELECT ON `{database}`.* TO 'tinyorm_noprobe'@'%%'")
    replicated.wait_for_replica()
    weak = replicated.replica_url.replace("root@", "tinyorm_noprobe:x@")
    router = routed([Entry], replicas=[weak], max_replica_lag=5)
    caplog.set_level(logging.WARNING, logger="tinyorm.router")
    assert in_thread(router, lambda: Entry.select().count()) == 0
    stats = router.stats()
    assert stats["probe_errors"] == {"replica1": 1} and stats["down"] == {}, stats
    assert any("probe of replica replica1 failed" in record.getMessage() for record in caplog.records)


@pytest.mark.backends("myreplica")
def test_with_the_primary_down_an_unconfirmed_write_reads_from_the_replica(routed, replicated):
    servers = myreplica_script(replicated)
    router = routed([Entry], replica_wait=0.05)

    def scenario():
        entry = Entry.create(text="before the crash")
        replicated.wait_for_replica()  # it reached the replica; this scope has not confirmed it
        servers("kill", "primary")
        try:
            return Entry.get_or_none(Entry.id == entry.id)
        finally:
            servers("start", "primary")

    found = in_thread(router, scenario)
    assert found is not None and found.text == "before the crash"
    assert reads(router).get("replica1") == 1


@real_only
def test_replicas_get_a_health_connect_timeout_of_their_own(routed, replicated):
    router = routed([Entry], health_timeout=2)
    assert router.databases["replica1"].connect_params["connect_timeout"] == 2
    assert "connect_timeout" not in router.databases["primary"].connect_params
    separator = "&" if "?" in replicated.replica_url else "?"
    own = routed([Entry], replicas=[f"{replicated.replica_url}{separator}connect_timeout=7"], health_timeout=2)
    assert own.databases["replica1"].connect_params["connect_timeout"] == 7
