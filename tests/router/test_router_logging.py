"""The ``tinyorm.router`` log: a replica marked down (with the reason), a read failed over,
a lagging replica left out of reads (with its lag) — what an operator reads in production."""

import logging

import pytest

from tinyorm import CharField, Model

from ..conftest import REPLICATED_URLS
from .conftest import dead_url, in_thread, replay_paused
from .test_failover import _wait_for_lag


class Signal(Model):
    name = CharField(max_length=50)

    class Meta:
        table_name = "rt_signal"


def router_messages(caplog, level):
    return [
        record.getMessage() for record in caplog.records if record.name == "tinyorm.router" and record.levelno == level
    ]


def test_dead_replica_is_logged_with_the_reason_and_the_failover(routed, caplog):
    router = routed([Signal], replicas=[dead_url(routed.pair)], down_backoff=30)
    caplog.set_level(logging.INFO, logger="tinyorm")
    assert in_thread(router, lambda: Signal.select().count()) == 0
    (down,) = router_messages(caplog, logging.WARNING)
    assert down.startswith("replica replica1 marked down for 30s: cannot connect"), down
    assert router_messages(caplog, logging.INFO) == ["read failed over from replica1 to the primary primary"]


@pytest.mark.backends(*REPLICATED_URLS)
def test_lagging_replica_is_logged_with_its_lag(routed, replicated, caplog):
    router = routed([Signal], max_replica_lag=0.3, lag_check_interval=0.05)
    outside = routed.primary_database()
    caplog.set_level(logging.INFO, logger="tinyorm")
    with replay_paused(replicated):
        outside.execute_sql("INSERT INTO rt_signal (name) VALUES ('while lagging')")
        _wait_for_lag(routed.replica_database(), 0.3)
        assert in_thread(router, lambda: Signal.select().count()) == 1
    lagging = [message for message in router_messages(caplog, logging.WARNING) if "lags" in message]
    assert lagging, caplog.records
    assert "max_replica_lag=0.3s" in lagging[0] and "left out of reads" in lagging[0]
