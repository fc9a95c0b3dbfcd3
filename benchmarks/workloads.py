"""The registry of workloads: what each one calls, how its result is checked, its target."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from .engines import ENTRIES, TWEETS


@dataclasses.dataclass(frozen=True)
class Check:
    """A query run (untimed) before and after each timed run; it must change by ``delta``."""

    sql: str
    delta: Callable  # Dataset -> the expected change


@dataclasses.dataclass(frozen=True)
class Workload:
    key: str  # the Implementation method and the key in the JSON
    title: str
    expected_size: Callable | None = None  # Dataset -> len() of the returned collection
    check: Check | None = None
    empties_entries: bool = False  # empty the entries table before each timed run
    writes: bool = False  # let the engine settle after each timed run (Engine.settle_sql)
    per_call: Callable | None = None  # Dataset -> calls per run; report µs per call
    # The targets for tinyorm's median ratio to the raw driver (per call for compile:
    # microseconds): (SQLite, PostgreSQL, MySQL/MariaDB).
    targets: tuple | None = None
    floor: str = "raw"  # the implementation the ratios are taken against

    def target(self, engine_name):
        if self.targets is None:
            return None
        return self.targets[("sqlite", "postgresql", "mysql").index(engine_name)]


# Display and execution order. load_modify_save comes last: it rewrites every tweet, and the
# reads should not run over the dead rows it leaves behind.
WORKLOADS = (
    Workload(
        "insert_single",
        "single-row inserts, 1 txn",
        check=Check(f"SELECT COUNT(*) FROM {ENTRIES}", lambda data: data.n),
        empties_entries=True,
        writes=True,
        targets=(2.0, 1.1, 1.2),
    ),
    Workload(
        "insert_bulk",
        "bulk insert",
        check=Check(f"SELECT COUNT(*) FROM {ENTRIES}", lambda data: data.n),
        empties_entries=True,
        writes=True,
        targets=(1.5, 1.1, 1.15),
    ),
    Workload(
        "select_objects",
        "select N objects",
        expected_size=lambda data: data.n,
        targets=(1.25, 1.15, 1.0),
    ),
    Workload(
        "select_tuples",
        "select N tuples",
        expected_size=lambda data: data.n,
        targets=(1.1, 1.05, 1.0),
    ),
    Workload(
        "join_objects",
        "join + filter, both hydrated",
        expected_size=lambda data: data.join_rows,
        targets=(1.4, 1.2, 1.1),
    ),
    Workload(
        "get_by_pk",
        "get by primary key",
        expected_size=lambda data: len(data.pk_sample),
        targets=(1.5, 1.2, 1.15),
    ),
    Workload(
        "compile_join",
        "build + compile join query",
        per_call=lambda data: len(data.compile_args),
        targets=(15.0, 15.0, 15.0),
    ),
    Workload(
        "identity_get",
        "repeated get of a mapped object",
        per_call=lambda data: len(data.pk_sample) * IDENTITY_GET_REPEATS,
        targets=(2.0, 2.0, 2.0),
    ),
    Workload(
        "load_modify_save",
        "load, modify, save N",
        check=Check(f"SELECT SUM(likes) FROM {TWEETS}", lambda data: data.n),
        writes=True,
    ),
    # The unit of work: tinyorm's Session and SQLAlchemy's flush the changes of N loaded
    # objects at commit; peewee (no session) saves each one; raw is one batched UPDATE.
    # Issue #12's "load-modify-save" targets (below the raw driver on MariaDB) are this
    # workload's: only a batched flush can reach them.
    Workload(
        "load_modify_flush",
        "load, modify, flush N (unit of work)",
        check=Check(f"SELECT SUM(likes) FROM {TWEETS}", lambda data: data.n),
        writes=True,
        targets=(2.0, 1.0, 0.6),
    ),
    # playhouse.cache's ModelCache (memory and Redis) against a plain dict of rows (the
    # ratios' floor) and uncached get_by_id. Last: no write runs while a cache listens.
    Workload(
        "cached_get",
        "cached get by primary key",
        expected_size=lambda data: len(data.pk_sample),
        per_call=lambda data: len(data.pk_sample) * CACHED_GET_REPEATS,
        floor="dict_cache",
    ),
)

# identity_get: gets of each sampled key per timed run, from a session that already holds them.
IDENTITY_GET_REPEATS = 10
# cached_get: gets of each sampled key per timed run (the warm-up round fills the caches).
CACHED_GET_REPEATS = 5

# Memory: tracemalloc's peak while loading and holding N objects, against the raw rows.
MEMORY_WORKLOAD = "select_objects"
MEMORY_TARGET = 1.3
