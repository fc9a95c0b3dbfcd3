"""Choosing a replica: rotation, read-your-writes probes, lag, down marks and failover.

What the router knows about each replica is shared by every scope: the last position it was
seen to have replayed (one probe answers the reads of every thread until a write asks for
more), its lag (refreshed every ``lag_check_interval``), and whether it is down. A read
sends at most one probe: either a wait of up to what is left of ``replica_wait`` since the
write (one statement on every engine), or, once that wait has failed, a plain position
probe no more than once per ``lag_check_interval`` per replica.

Probe errors that are not connection failures (a missing privilege, a statement the server
refuses) are logged on ``tinyorm.router`` and counted in ``stats()["probe_errors"]``; they
keep the replica out of the read at hand but never mark it down.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Generator, Iterator
from typing import TYPE_CHECKING, Any, TypeVar, Union

from ..backends.base import Database
from ..exceptions import RoutingError
from ..log import router_logger

# A stats() counter: "probes", or ("reads", database name) and the like.
StatKey = Union[str, tuple[str, str]]
_T = TypeVar("_T")

if TYPE_CHECKING:
    from .core import ReplicaSet
    from .scope import Required, RoutingState


class SelectionMixin:
    # What the Router sets up and defines, declared for the type checkers.
    max_replica_lag: float | None
    replica_wait: float
    down_backoff: float
    lag_check_interval: float
    sets: dict[str, ReplicaSet]
    _lock: threading.Lock
    _stats: dict[StatKey, int]
    _down_until: dict[str, float]
    _lag: dict[str, tuple[float | None, float]]
    _replayed: dict[str, tuple[Any, float]]

    if TYPE_CHECKING:

        @property
        def _state(self) -> RoutingState: ...

        def _count(self, key: StatKey, amount: int = 1) -> None: ...

        def name_of(self, database: Database) -> str: ...

    # -- the replica for one read ------------------------------------------------------------
    def _pick_replica(self, replica_set: ReplicaSet, required: Required | None) -> Database | None:
        replicas = replica_set.replicas
        count = len(replicas)
        start = next(replica_set._turn)
        if required is None and not self._down_until and self.max_replica_lag is None:
            # The common case costs no clock read: nothing is down, lagging or awaited.
            return replicas[start % count][1]
        now = time.monotonic()
        if self._down_until:
            self._forget_expired_downs(now)
        candidates: list[tuple[str, Database]] = []
        for offset in range(count):
            name, database = replicas[(start + offset) % count]
            if self._down_until.get(name, 0) > now:
                continue
            if self.max_replica_lag is not None and self._lagging(name, database, now):
                continue
            if self._down_until.get(name, 0) > now:  # the lag probe found it dead
                continue
            candidates.append((name, database))
        if not candidates:
            return None
        if required is None:
            return candidates[0][1]
        for name, database in candidates:
            if self._known_to_have(name, required):
                self._covered(replica_set, required, name, now)
                return database
        return self._probe_for(replica_set, required, candidates[0], now)

    def _known_to_have(self, name: str, required: Required) -> bool:
        if name in required.covered:
            return True
        cached = self._replayed.get(name)
        return cached is not None and _covers(cached[0], required.key)

    def _covered(self, replica_set: ReplicaSet, required: Required, name: str, now: float) -> None:
        """``name`` has the position: once every replica has it, the scope stops asking.

        A replica that is down counts as not having it: it may come back behind (restarted
        without its replication, or still catching up), and then only a probe may say."""
        required.covered.add(name)
        for other, _database in replica_set.replicas:
            if other not in required.covered and not self._known_to_have(other, required):
                return
        state = self._state
        if state.required.get(replica_set.name) is required:
            del state.required[replica_set.name]

    def _probe_for(
        self, replica_set: ReplicaSet, required: Required, candidate: tuple[str, Database], now: float
    ) -> Database | None:
        """One probe of ``candidate`` for ``required``: the replica if it has it, else None."""
        name, database = candidate
        left = self.replica_wait - (now - required.since)
        if not required.waited and left > 0:
            required.waited = True
            ok, reached = self._probe(name, database, database.position_reached, required.value, left)
            if ok and reached:
                self._remember(name, required.key, time.monotonic())
                self._covered(replica_set, required, name, now)
                return database
            return None
        cached = self._replayed.get(name)
        if cached is not None and now - cached[1] < self.lag_check_interval:
            return None  # seen behind moments ago: the primary serves, no new probe
        ok, replayed = self._probe(name, database, database.replayed_position)
        if not ok or replayed is None:
            return None
        try:
            key = database.position_sort_key(replayed) if replayed else None
        except ValueError:
            return None
        self._remember(name, key, now)
        if key is not None and _covers(key, required.key):
            self._covered(replica_set, required, name, now)
            return database
        return None

    def _remember(self, name: str, key: Any, now: float) -> None:
        with self._lock:
            cached = self._replayed.get(name)
            if key is None or cached is None or cached[0] is None or not _covers(cached[0], key):
                self._replayed[name] = (key, now)
            else:
                self._replayed[name] = (cached[0], now)

    def _freshest_replica_position(self, replica_set: ReplicaSet) -> tuple[Any, Any] | None:
        """With the primary unreachable: the position of the replica that has the most.

        Nothing new reaches the replicas while their primary is down, so the one furthest
        along holds every write the primary managed to send, this scope's included if it
        was sent at all."""
        best: tuple[Any, Any] | None = None
        now = time.monotonic()
        for name, database in replica_set.replicas:
            if self._down_until.get(name, 0) > now:
                continue
            ok, replayed = self._probe(name, database, database.replayed_position)
            if not ok or not replayed:
                continue
            key = database.position_sort_key(replayed)
            self._remember(name, key, now)
            if best is None or (_covers(key, best[1]) and not _covers(best[1], key)):
                best = (replayed, key)
        return best

    def _lagging(self, name: str, database: Database, now: float) -> bool:
        limit = self.max_replica_lag
        if limit is None:
            return False
        cached = self._lag.get(name)
        if cached is None or now - cached[1] > self.lag_check_interval:
            ok, lag = self._probe(name, database, database.replica_lag)
            if not ok:
                return True
            with self._lock:
                self._lag[name] = cached = (lag, now)
            if lag is not None and lag > limit:  # logged once per measurement
                router_logger.warning(
                    "replica %s lags %.3gs behind its primary (max_replica_lag=%gs): left out of reads",
                    name,
                    lag,
                    limit,
                )
        lag = cached[0]
        if lag is not None and lag > limit:
            self._count("lagging_skips")
            return True
        return False

    # -- probes and failures ---------------------------------------------------------------
    def _probe(self, name: str, database: Database, call: Callable[..., _T], *args: Any) -> tuple[bool, _T | None]:
        """(True, result) or (False, None) after reporting the failure; never raises."""
        self._count("probes")
        state = self._state
        state.probing = True
        try:
            return True, call(*args)
        except RoutingError:
            raise
        except Exception as exc:  # noqa: BLE001 - reported below, the read goes elsewhere
            if database.is_connection_failure(exc):
                self._mark_down(name, exc)
            else:
                self._count(("probe_errors", name))
                reason = " ".join(str(exc).split())
                router_logger.warning("probe of replica %s failed (%s): left out of this read, not down", name, reason)
            return False, None
        finally:
            state.probing = False

    @contextlib.contextmanager
    def _probing(self) -> Iterator[None]:
        state = self._state
        state.probing = True
        try:
            yield
        finally:
            state.probing = False

    def _forget_expired_downs(self, now: float) -> None:
        with self._lock:
            for name, until in list(self._down_until.items()):
                if until <= now:  # back-off over: the replica may serve again
                    del self._down_until[name]

    def _mark_down(self, name: str, error: BaseException | None = None, role: str = "replica") -> None:
        with self._lock:
            now = time.monotonic()
            self._down_until[name] = now + self.down_backoff
            # forget back-offs that have run out, so the fast path in _pick_replica returns
            for other, until in list(self._down_until.items()):
                if until <= now:
                    del self._down_until[other]
            self._stats[("down", name)] = self._stats.get(("down", name), 0) + 1
        reason = " ".join(str(error).split()) if error is not None else "unreachable"
        router_logger.warning("%s %s marked down for %gs: %s", role, name, self.down_backoff, reason)

    def _failover(self, database: Database, error: BaseException, sql: str, params: Any, many: bool) -> Any:
        """A replica failed to connect: mark it down, run the read where it may run."""
        return self._reroute(database, error).execute_sql(sql, params, many)

    def _stream_failover(
        self, database: Database, sql: str, params: Any, chunk_size: int
    ) -> Generator[Any, None, None]:
        """``Query.iterator()`` on a replica: until the first rows have come, a replica that
        cannot be reached hands the stream to another database, as any read would be; once
        rows have been handed out, a failure raises (starting again would repeat them)."""
        while True:
            stream = database.stream_rows(sql, params, chunk_size)
            try:
                with self._probing():  # the stream's own statements must not move one by one
                    first = next(stream, None)
            except Exception as exc:
                stream.close()
                if not database.is_connection_failure(exc):
                    raise
                database = self._reroute(database, exc)
                continue
            return self._rest_of_stream(stream, first)

    def _rest_of_stream(self, stream: Generator[Any, None, None], first: Any) -> Generator[Any, None, None]:
        try:
            if first is None:
                return
            yield first
            while True:
                with self._probing():
                    chunk = next(stream, None)
                if chunk is None:
                    return
                yield chunk
        finally:
            stream.close()

    def _reroute(self, database: Database, error: BaseException) -> Database:
        """A replica failed to connect: mark it down; the database the read moves to."""
        name = self.name_of(database)
        database._discard_connection()
        state = self._state
        if state.probing:
            database._raise_translated(error)  # the probe's caller marks the replica down
        self._mark_down(name, error)
        if state.using:
            database._raise_translated(error)  # a block that asked for this database by name
        replica_set = next(
            (candidate for candidate in self.sets.values() if any(db is database for _, db in candidate.replicas)),
            None,
        )
        if replica_set is None:
            database._raise_translated(error)
        self._count("fallbacks")
        self._count(("reads", name), -1)  # counted when routed; it never ran there
        # The next replica must satisfy what the read needed (position, lag) like any other.
        other = self._pick_replica(replica_set, state.required.get(replica_set.name))
        if other is None or other is database:
            other = replica_set.primary
        other_name = self.name_of(other)
        self._count(("reads", other_name))
        where = f"the primary {other_name}" if other is replica_set.primary else other_name
        router_logger.info("read failed over from %s to %s", name, where)
        return other

    def _writer_failover(self, database: Database, error: BaseException, sql: str, params: Any, many: bool) -> Any:
        """A writer failed to connect outside a transaction: move to the next candidate."""
        database._discard_connection()
        replica_set = next(
            (candidate for candidate in self.sets.values() if any(db is database for db in candidate.writers)),
            None,
        )
        if replica_set is None or self._state.probing or database.in_transaction() or self._state.using:
            database._raise_translated(error)
        name = self.name_of(database)
        self._mark_down(name, error, role="writer")
        now = time.monotonic()
        writers = replica_set.writers
        index = next(i for i, db in enumerate(writers) if db is database)
        for step in range(1, len(writers)):
            candidate = writers[(index + step) % len(writers)]
            candidate_name = self.name_of(candidate)
            if self._down_until.get(candidate_name, 0) > now:
                continue
            with self._lock:
                if replica_set.primary is database:
                    replica_set.primary = candidate
            self._count("writer_failovers")
            router_logger.warning("writer %s unreachable: %s takes the writes", name, candidate_name)
            return candidate.execute_sql(sql, params, many)
        database._raise_translated(error)


def _covers(have: Any, wanted: Any) -> bool:
    """Does a replica at ``have`` hold ``wanted`` (positions in comparable form)?"""
    if have is None:
        return False
    try:
        return bool(have >= wanted)
    except TypeError:
        return False
