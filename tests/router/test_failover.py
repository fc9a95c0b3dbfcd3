"""Failure handling: dead replicas, a dead primary, lagging replicas.

A dead replica is a real address nothing listens on (PostgreSQL: 127.0.0.1 port 1; SQLite:
a file in a folder that does not exist), so every connection attempt really fails; the
attempts are counted on the replica's Database. Lag is real: WAL replay is paused on the
streaming replica (and always resumed). Where the topology has a second replica
(pgreplica), one replica stops receiving and the other is killed -9 (and restarted).
"""

import time

import pytest

import tinyorm
from tinyorm import CharField, Model, OperationalError

from ..conftest import REPLICATED_URLS, SECOND_REPLICA_URLS
from .conftest import (
    ConnectCounter,
    dead_url,
    in_thread,
    myreplica_script,
    pgreplica_script,
    reads,
    receiving_stopped,
    replay_paused,
)

real_only = pytest.mark.backends(*REPLICATED_URLS)


class Ticket(Model):
    title = CharField(max_length=100)

    class Meta:
        table_name = "rt_ticket"


def seed(routed, router, count=3):
    for number in range(count):
        Ticket.create(title=f"t{number}")
    if routed.real:
        routed.pair.wait_for_replica()
    else:
        replica = routed.replica_database()
        for number in range(count):
            replica.execute_sql("INSERT INTO rt_ticket (title) VALUES (?)", (f"t{number}",))
        replica.close()
    router.reset_stats()


def test_dead_replica_reads_fall_back_to_the_primary(routed):
    router = routed([Ticket], replicas=[dead_url(routed.pair)], down_backoff=30)
    seed(routed, router)
    dead = ConnectCounter(router.databases["replica1"])
    counts = in_thread(router, lambda: [Ticket.select().count() for _ in range(5)])
    assert counts == [3] * 5, "the caller never sees the dead replica's error"
    stats = router.stats()
    assert stats["fallbacks"] >= 1
    assert stats["down"] == {"replica1": 1}, "the replica is marked down once"
    assert stats["reads"]["primary"] == 5, "every read was served by the primary"
    assert dead.attempts == 1, "no second connection attempt within the back-off"


def test_dead_replica_reads_fall_back_to_another_replica(routed):
    router = routed([Ticket], replicas=[dead_url(routed.pair), routed.pair.replica_url], down_backoff=30)
    seed(routed, router)
    dead = ConnectCounter(router.databases["replica1"])
    counts = in_thread(router, lambda: [Ticket.select().count() for _ in range(6)])
    assert counts == [3] * 6
    stats = router.stats()
    assert "primary" not in stats["reads"], "a live replica was left: the primary is not needed"
    assert stats["reads"]["replica2"] == 6
    assert stats["fallbacks"] >= 1 and stats["down"] == {"replica1": 1}
    assert dead.attempts == 1


def test_down_replica_is_tried_again_after_the_backoff(routed):
    router = routed([Ticket], replicas=[dead_url(routed.pair)], down_backoff=0.3)
    seed(routed, router)
    dead = ConnectCounter(router.databases["replica1"])

    def reads_across_the_backoff():
        Ticket.select().count()
        Ticket.select().count()
        attempts_within = dead.attempts
        time.sleep(0.35)
        Ticket.select().count()
        return attempts_within

    assert in_thread(router, reads_across_the_backoff) == 1
    assert dead.attempts == 2
    assert router.stats()["down"] == {"replica1": 2}


def test_error_reaches_the_caller_only_when_the_primary_is_dead_too(routed):
    pair = routed.pair
    dead_primary = dead_url(pair, "primary")
    router = tinyorm.Router(primary=dead_primary, replicas=[dead_url(pair)])
    routed.routers.append(router)
    router.bind([Ticket])
    with pytest.raises(OperationalError) as error:
        in_thread(router, lambda: Ticket.select().count())
    assert "cannot connect" in str(error.value)
    assert router.stats()["fallbacks"] >= 1
    # writes never fall back: the primary is the only place for them
    with pytest.raises(OperationalError):
        Ticket.create(title="lost")


def test_live_replica_serves_reads_while_the_primary_is_dead(routed):
    pair = routed.pair
    router = routed([Ticket])
    seed(routed, router)
    dead_primary = dead_url(pair, "primary")
    broken = tinyorm.Router(primary=dead_primary, replicas=[pair.replica_url])
    routed.routers.append(broken)
    broken.bind([Ticket])
    assert in_thread(broken, lambda: Ticket.select().count()) == 3
    assert reads(broken) == {"replica1": 1}
    with pytest.raises(OperationalError):
        Ticket.create(title="needs the primary")


# -- the back-off must hold for the router's own probes too (known bugs on PostgreSQL) -----------
def test_dead_replica_is_not_reconnected_by_the_lag_check(routed):
    """With ``max_replica_lag`` the router first asks the replica for its lag: that probe
    must not make a second connection attempt to a replica it has just marked down."""
    router = routed([Ticket], replicas=[dead_url(routed.pair)], max_replica_lag=30, down_backoff=30)
    seed(routed, router)
    dead = ConnectCounter(router.databases["replica1"])
    counts = in_thread(router, lambda: [Ticket.select().count() for _ in range(3)])
    assert counts == [3] * 3
    assert dead.attempts == 1, f"{dead.attempts} connection attempts to a replica marked down"
    assert router.stats()["down"] == {"replica1": 1}


def test_dead_replica_is_not_reconnected_by_the_position_check(routed):
    """After a write the router asks replicas how far they have replayed: that probe must
    not make a second connection attempt to a replica it has just marked down."""
    router = routed([Ticket], replicas=[dead_url(routed.pair), routed.pair.replica_url], down_backoff=30, pin_window=0)
    seed(routed, router)
    dead = ConnectCounter(router.databases["replica1"])
    for number in range(4):
        ticket = Ticket.create(title=f"new {number}")
        found = Ticket.get_or_none(Ticket.id == ticket.id)
        if routed.real:  # (SQLite, with pin_window=0, reads its stand-in replica, which lacks it)
            assert found is not None
    assert dead.attempts == 1, f"{dead.attempts} connection attempts to a replica marked down"
    assert router.stats()["down"] == {"replica1": 1}


# -- lag -------------------------------------------------------------------------------------------
def _wait_for_lag(replica, seconds):
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if replica.replica_lag() > seconds:
            return
        time.sleep(0.05)
    raise AssertionError("the paused replica never reported lag")


@real_only
def test_lagging_replica_is_taken_out_of_rotation(routed, replicated):
    router = routed([Ticket], max_replica_lag=0.3, lag_check_interval=0.05)
    seed(routed, router)
    outside = routed.primary_database()  # another client writes: this router's threads have not
    with replay_paused(replicated):
        outside.execute_sql("INSERT INTO rt_ticket (title) VALUES ('while lagging')")
        _wait_for_lag(routed.replica_database(), 0.3)
        count = in_thread(router, lambda: Ticket.select().count())
        assert count == 4, "served by the primary, which has the new row"
        stats = router.stats()
        assert stats["reads"] == {"primary": 1}
        assert stats["lagging_skips"] >= 1
    replicated.wait_for_replica()
    time.sleep(0.1)  # past lag_check_interval: the router looks again
    router.reset_stats()
    assert in_thread(router, lambda: Ticket.select().count()) == 4
    assert reads(router) == {"replica1": 1}, "back in rotation once caught up"


@real_only
def test_replica_within_max_lag_stays_in_rotation(routed, replicated):
    router = routed([Ticket], max_replica_lag=60)
    seed(routed, router)
    outside = routed.primary_database()
    with replay_paused(replicated):
        outside.execute_sql("INSERT INTO rt_ticket (title) VALUES ('while lagging')")
        _wait_for_lag(routed.replica_database(), 0.1)
        if routed.replica_database().replica_lag() == float("inf"):
            # MariaDB: pausing replay stops the SQL thread, which counts as infinitely behind
            # (test_stopped_thread_counts_as_lagging_for_fresh_reads).
            pytest.skip("pausing replay stops replication here: no finite lag to stay within")
        # a thread with no write of its own accepts the replica's slightly stale view
        assert in_thread(router, lambda: Ticket.select().count()) == 3
    assert reads(router) == {"replica1": 1}
    assert router.stats()["lagging_skips"] == 0


# -- failover between two real replicas ------------------------------------------------------------
@pytest.mark.backends(*SECOND_REPLICA_URLS)
def test_failover_never_picks_a_stale_replica_for_a_read_that_needs_the_write(routed, replicated):
    """replica1 stops receiving (stale), replica2 has the write and serves it; then replica2
    dies: the read that needs the write goes to the primary, never to replica1."""
    servers = pgreplica_script(replicated)
    router = routed(
        [Ticket], replicas=[replicated.replica_url, replicated.replica2_url], down_backoff=30, replica_wait=0.05
    )
    replicated.wait_for_replica(url=replicated.replica2_url)
    seed(routed, router)
    replicated.wait_for_replica(url=replicated.replica2_url)
    stale = fresh = None
    try:
        with receiving_stopped(replicated):
            ticket = Ticket.create(title="after replica1 stopped")
            replicated.wait_for_replica(url=replicated.replica2_url)
            for _ in range(4):  # replica2 is found to have it within a few reads
                assert Ticket.get_or_none(Ticket.id == ticket.id) is not None
                if reads(router).get("replica2"):
                    break
            assert reads(router).get("replica2", 0) >= 1, router.stats()
            servers("kill", "replica2")
            router.reset_stats()
            found = [Ticket.get_or_none(Ticket.id == ticket.id) for _ in range(6)]
            stale = sum(row is None for row in found)
            stats = router.stats()
            fresh = in_thread(router, lambda: Ticket.select().count())  # a scope with no write
    finally:
        servers("start", "replica2")
    assert stale == 0, "a read that needed the write was served by the stale replica"
    assert "replica1" not in stats["reads"] and stats["reads"]["primary"] == 6, stats
    assert stats["down"] == {"replica2": 1} and stats["fallbacks"] >= 1, stats
    assert fresh in (3, 4), "a scope that wrote nothing may read the stale replica"


@pytest.mark.backends(*SECOND_REPLICA_URLS)
def test_a_replica_back_from_down_must_still_show_it_has_the_write(routed, replicated):
    """A scope's write is confirmed on replica1 while replica2 is down; replica2 comes back
    behind (restarted without its WAL receiver). The scope's reads must not take it for
    caught up: a down replica never counts as having a position it was not seen to have."""
    servers = pgreplica_script(replicated)
    urls = [replicated.replica_url, replicated.replica2_url]
    router = routed([Ticket], replicas=urls, down_backoff=0.5, replica_wait=0.05)
    seed(routed, router)
    replicated.wait_for_replica(url=replicated.replica2_url)
    with receiving_stopped(replicated, url=replicated.replica2_url):
        servers("kill", "replica2")
        try:
            in_thread(router, lambda: [Ticket.select().count() for _ in range(4)])  # finds it down
            assert router.stats()["down"] == {"replica2": 1}, router.stats()
            ticket = Ticket.create(title="while replica2 was down")
            replicated.wait_for_replica()
            for _ in range(4):  # replica1 is found to have it within a few reads
                assert Ticket.get_or_none(Ticket.id == ticket.id) is not None
        finally:
            servers("start", "replica2")
        time.sleep(0.6)  # the back-off is over: replica2 is back in rotation
        router.reset_stats()
        found = [Ticket.get_or_none(Ticket.id == ticket.id) for _ in range(6)]
        stats = router.stats()
        fresh = in_thread(router, lambda: Ticket.select().count())
    assert all(row is not None for row in found), f"stale reads: {found}, {stats}"
    assert "replica2" not in stats["reads"], stats
    assert fresh in (3, 4), "a scope that wrote nothing may read the replica that is behind"


# -- streamed reads (Query.iterator) -----------------------------------------------------------------
def _streamed_titles():
    return [ticket.title for ticket in Ticket.select().order_by(Ticket.id).iterator(chunk_size=2)]


def test_streamed_read_moves_off_a_dead_replica_before_its_first_row(routed):
    router = routed([Ticket], replicas=[dead_url(routed.pair), routed.pair.replica_url], down_backoff=30)
    seed(routed, router)
    titles = in_thread(router, lambda: [_streamed_titles() for _ in range(2)])
    assert titles == [["t0", "t1", "t2"]] * 2
    stats = router.stats()
    assert stats["down"] == {"replica1": 1} and stats["fallbacks"] == 1, stats
    assert stats["reads"] == {"replica2": 2}, "the other replica serves; replica1 never ran it"
    only_dead = routed([Ticket], replicas=[dead_url(routed.pair)], down_backoff=30)
    assert in_thread(only_dead, _streamed_titles) == ["t0", "t1", "t2"]
    assert reads(only_dead) == {"primary": 1}


@pytest.mark.backends("myreplica")
def test_streamed_read_on_a_killed_replica_runs_on_the_primary(routed, replicated):
    servers = myreplica_script(replicated)
    router = routed([Ticket], down_backoff=30)
    seed(routed, router)
    servers("kill", "replica")
    try:
        titles = in_thread(router, _streamed_titles)
    finally:
        servers("start", "replica")
    assert titles == ["t0", "t1", "t2"]
    assert reads(router) == {"primary": 1} and router.stats()["down"] == {"replica1": 1}


@pytest.mark.backends(*SECOND_REPLICA_URLS)
def test_streamed_read_that_loses_its_replica_after_rows_raises(routed, replicated):
    """Rows were handed out: starting again elsewhere would repeat them, so the error
    reaches the loop."""
    servers = pgreplica_script(replicated)
    router = routed([Ticket], replicas=[replicated.replica2_url], down_backoff=30)
    seed(routed, router, count=10)
    replicated.wait_for_replica(url=replicated.replica2_url)

    def scenario():
        seen = []
        try:
            for title in (ticket.title for ticket in Ticket.select().order_by(Ticket.id).iterator(chunk_size=2)):
                seen.append(title)
                if len(seen) == 2:
                    servers("kill", "replica2")
        except OperationalError as exc:
            return seen, exc
        return seen, None

    try:
        seen, error = in_thread(router, scenario)
    finally:
        servers("start", "replica2")
    assert error is not None, f"no error after the replica died mid-stream: {seen}"
    assert seen == ["t0", "t1"]
    assert "primary" not in reads(router), router.stats()
