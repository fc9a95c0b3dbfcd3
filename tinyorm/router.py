"""The Router: primary, replicas and vertical partitions behind one ``Meta.database``.

Default rules (each overridable in a subclass through ``db_for_read``, ``db_for_write`` and
``allow_migrate``):

* writes (INSERT/UPDATE/DELETE, bulk or not, upserts, DDL) go to the primary of the model's
  partition;
* reads go to a replica, round-robin, except inside a transaction on that primary, for
  ``SELECT ... FOR UPDATE``, inside ``with router.use_primary():`` and when read-your-writes
  needs it;
* read-your-writes follows the replication position: after this thread writes, a read goes
  to a replica only once it has replayed that write (PostgreSQL WAL LSN, MySQL/MariaDB
  GTID); it waits up to ``replica_wait`` seconds for one, else reads the primary. Engines
  with no position (SQLite files as stand-ins) pin reads to the primary for ``pin_window``
  seconds after a write;
* a replica that cannot be reached is marked down for ``down_backoff`` seconds and the read
  runs on another replica, then on the primary; a replica lagging more than
  ``max_replica_lag`` seconds leaves the rotation until it catches up.

The router decides with a few attribute reads per statement; replica positions and lag are
learned lazily and cached, so a read costs no extra round trip in the common case.
"""

from __future__ import annotations

import collections
import contextlib
import itertools
import threading
import time

from .backends.base import Database
from .backends.proxy import _BoundModel
from .exceptions import ImproperlyConfigured, RoutingError
from .log import router_logger

__all__ = ["Router", "ReplicaSet"]

DEFAULT = "default"


class ReplicaSet:
    """One primary and its replicas; the main set is named "default"."""

    def __init__(self, name, primary_name, primary, replicas):
        self.name = name
        self.primary_name = primary_name
        self.primary = primary
        self.replicas = replicas  # [(name, Database)]
        self._turn = itertools.count()

    def __repr__(self):
        return f"<ReplicaSet {self.name}: {self.primary_name} + {[name for name, _ in self.replicas]}>"


class _ThreadState(threading.local):
    def __init__(self):
        self.use_primary = 0
        self.using = []
        self.required = {}  # replica set name -> ("position", p) or ("time", deadline) to read past
        # replica set name -> when its latest unconfirmed write committed (None: inside a
        # transaction, so the commit is later; the first read after it stands in)
        self.unconfirmed = {}
        self.probing = False  # a router's own check of a replica: failures surface, no failover


def _as_database(value, options):
    if isinstance(value, Database):
        return value
    if isinstance(value, str):
        from .backends.url import connect

        return connect(value, **options)
    raise ImproperlyConfigured(f"expected a database URL or a Database, got {value!r}")


class Router:
    """Routes each model's SQL to the right database. See the module docstring for rules."""

    # ``class Base(router.Model): ...``: a Model base class routed by this router.
    Model = _BoundModel()

    def __init__(
        self,
        primary,
        replicas=(),
        partitions=None,
        *,
        max_replica_lag=None,
        replica_wait=0.05,
        pin_window=2.0,
        down_backoff=5.0,
        lag_check_interval=1.0,
        **database_options,
    ):
        self.max_replica_lag = max_replica_lag
        self.replica_wait = replica_wait
        self.pin_window = pin_window
        self.down_backoff = down_backoff
        self.lag_check_interval = lag_check_interval
        self.databases = {}
        self.sets = {}
        self._state = _ThreadState()
        self._lock = threading.Lock()
        self._down_until = {}
        self._lag = {}  # replica name -> (lag seconds, checked at)
        self._replayed = {}  # replica name -> (position sort key, checked at)
        self._stats = collections.Counter()
        self._add_set(DEFAULT, "primary", primary, replicas, database_options)
        for name, spec in (partitions or {}).items():
            if isinstance(spec, dict):
                if "primary" not in spec:
                    raise ImproperlyConfigured(f"partition {name!r} needs a 'primary'")
                self._add_set(name, name, spec["primary"], spec.get("replicas", ()), database_options)
            else:
                self._add_set(name, name, spec, (), database_options)
        self._names = {id(database): name for name, database in self.databases.items()}

    def _add_set(self, set_name, primary_name, primary, replicas, options):
        if set_name in self.sets or primary_name in self.databases:
            raise ImproperlyConfigured(f"database name {primary_name!r} is used twice")
        primary_db = _as_database(primary, options)
        self.databases[primary_name] = primary_db
        replica_entries = []
        for index, replica in enumerate(replicas, start=1):
            replica_name = f"replica{index}" if set_name == DEFAULT else f"{set_name}.replica{index}"
            replica_db = _as_database(replica, options)
            if isinstance(replica, str):
                replica_db.prepare_replica()  # e.g. SQLite replicas refuse writes
            replica_db.failover = self._failover
            self.databases[replica_name] = replica_db
            replica_entries.append((replica_name, replica_db))
        self.sets[set_name] = ReplicaSet(set_name, primary_name, primary_db, replica_entries)

    def __repr__(self):
        return f"<Router {list(self.databases)}>"

    # -- lookups ---------------------------------------------------------------------------
    def replica_set(self, model):
        partition = model._meta.partition
        if partition is None:
            return self.sets[DEFAULT]
        try:
            return self.sets[partition]
        except KeyError:
            raise RoutingError(
                f"model {model.__name__} names partition {partition!r}, which this router does not have "
                f"(known: {', '.join(name for name in self.sets if name != DEFAULT)})"
            ) from None

    def name_of(self, database):
        name = self._names.get(id(database))
        if name is not None and self.databases[name] is database:
            return name
        return repr(database)

    def database(self, name):
        try:
            return self.databases[name]
        except KeyError:
            raise RoutingError(f"no database named {name!r}; known: {', '.join(self.databases)}") from None

    @property
    def primary(self):
        return self.sets[DEFAULT].primary

    # -- routing: tinyorm calls route_read/route_write, which ask the overridable rules ------
    def route_write(self, model):
        database = self.db_for_write(model)
        name = self.name_of(database)
        self._stats[("writes", name)] += 1
        replica_set = self._set_of_primary(database)
        if replica_set is not None:
            self._note_write(replica_set)
        return database

    def _note_write(self, replica_set):
        committed_at = None if replica_set.primary.in_transaction() else time.monotonic()
        unconfirmed = self._state.unconfirmed
        if unconfirmed.get(replica_set.name, 0) is not None:
            unconfirmed[replica_set.name] = committed_at

    def route_read(self, model):
        database = self.db_for_read(model)
        self._stats[("reads", self.name_of(database))] += 1
        return database

    def _set_of_primary(self, database):
        for replica_set in self.sets.values():
            if replica_set.primary is database:
                return replica_set
        return None

    # -- routing rules ---------------------------------------------------------------------
    def db_for_write(self, model):
        """The primary of the model's partition (or the database picked by ``using``)."""
        state = self._state
        if state.using:
            return self.databases[state.using[-1]]
        return self.replica_set(model).primary

    def db_for_read(self, model):
        """A replica of the model's partition, unless the rules send the read to its primary."""
        state = self._state
        if state.using:
            return self.databases[state.using[-1]]
        replica_set = self.replica_set(model)
        primary = replica_set.primary
        if not replica_set.replicas or state.use_primary or primary.in_transaction():
            return self._read_primary(replica_set, pinned=bool(replica_set.replicas))
        required = self._required_position(replica_set)
        if required is not None and required[0] == "time":
            if time.monotonic() < required[1]:
                return self._read_primary(replica_set, pinned=True)
            state.required.pop(replica_set.name, None)
            required = None
        database = self._pick_replica(replica_set, required)
        if database is None:
            return self._read_primary(replica_set, pinned=True)
        return database

    def allow_migrate(self, db_name, model):
        """Create the model's table on ``db_name``? By default only on its set's primary."""
        return db_name == self.replica_set(model).primary_name

    def _read_primary(self, replica_set, pinned):
        if pinned:
            self._stats["pinned_reads"] += 1
        return replica_set.primary

    # -- read-your-writes ------------------------------------------------------------------
    def _required_position(self, replica_set):
        """The position a replica must have replayed for this thread, learned lazily."""
        state = self._state
        name = replica_set.name
        # Inside a transaction the position would predate the COMMIT: reads go to the
        # primary meanwhile, and the position is learned after the commit.
        if name in state.unconfirmed and not replica_set.primary.in_transaction():
            committed_at = state.unconfirmed.pop(name)
            position = replica_set.primary.replication_position()
            if position is None:
                # No position to wait for: pin reads to the primary for a window after the commit.
                start = committed_at if committed_at is not None else time.monotonic()
                state.required[name] = ("time", start + self.pin_window)
            else:
                self._merge_required(replica_set, position)
        return state.required.get(name)

    def _merge_required(self, replica_set, position):
        required = self._state.required
        current = required.get(replica_set.name)
        if current is not None and current[0] == "position":
            key = replica_set.primary.position_sort_key
            if key(current[1]) >= key(position):
                return
        required[replica_set.name] = ("position", position)

    def _pick_replica(self, replica_set, required):
        replicas = replica_set.replicas
        count = len(replicas)
        start = next(replica_set._turn)
        if required is None and not self._down_until and self.max_replica_lag is None:
            # The common case costs no clock read: nothing is down, lagging or awaited.
            return replicas[start % count][1]
        now = time.monotonic()
        if self._down_until:
            with self._lock:
                for name, until in list(self._down_until.items()):
                    if until <= now:  # back-off over: the replica may serve again
                        del self._down_until[name]
        waited = False
        for _attempt in range(2):
            for offset in range(count):
                name, database = replicas[(start + offset) % count]
                if self._down_until.get(name, 0) > now:
                    continue
                if self.max_replica_lag is not None and self._lagging(name, database, now):
                    continue
                if required is not None and not self._has_replayed(name, database, required[1], now, waited):
                    continue
                if self._down_until.get(name, 0) > now:  # a probe above found it dead
                    continue
                return database
            if required is None or waited or not self.replica_wait:
                return None
            # Every replica was behind: give the first live one up to replica_wait to catch up.
            waited = True
            for name, database in replicas:
                if self._down_until.get(name, 0) > now:
                    continue
                try:
                    with self._probing():
                        reached = database.position_reached(required[1], timeout=self.replica_wait)
                    if reached:
                        self._replayed[name] = (database.position_sort_key(required[1]), time.monotonic())
                        return database
                except Exception as exc:  # noqa: BLE001 - a failing replica is marked down
                    self._mark_down(name, exc)
                break
        return None

    def _has_replayed(self, name, database, position, now, fresh):
        wanted = database.position_sort_key(position)
        cached = self._replayed.get(name)
        if cached is not None and cached[0] >= wanted:
            return True
        if fresh or cached is None or now - cached[1] > 0.0:
            try:
                with self._probing():
                    replayed = database.replayed_position() if hasattr(database, "replayed_position") else None
            except Exception as exc:  # noqa: BLE001 - a failing replica is marked down
                self._mark_down(name, exc)
                return False
            if replayed is None:
                return False
            key = database.position_sort_key(replayed)
            self._replayed[name] = (key, now)
            return key >= wanted
        return False

    def _lagging(self, name, database, now):
        cached = self._lag.get(name)
        if cached is None or now - cached[1] > self.lag_check_interval:
            try:
                with self._probing():
                    lag = database.replica_lag()
            except Exception as exc:  # noqa: BLE001 - a failing replica is marked down
                self._mark_down(name, exc)
                return True
            self._lag[name] = cached = (lag, now)
            if lag is not None and lag > self.max_replica_lag:  # logged once per measurement
                router_logger.warning(
                    "replica %s lags %.3gs behind its primary (max_replica_lag=%gs): left out of reads",
                    name,
                    lag,
                    self.max_replica_lag,
                )
        lag = cached[0]
        if lag is not None and lag > self.max_replica_lag:
            self._stats["lagging_skips"] += 1
            return True
        return False

    # -- failure handling --------------------------------------------------------------------
    @contextlib.contextmanager
    def _probing(self):
        state = self._state
        state.probing = True
        try:
            yield
        finally:
            state.probing = False

    def _mark_down(self, name, error=None):
        with self._lock:
            now = time.monotonic()
            self._down_until[name] = now + self.down_backoff
            # forget back-offs that have run out, so the fast path in _pick_replica returns
            for other, until in list(self._down_until.items()):
                if until <= now:
                    del self._down_until[other]
        self._stats[("down", name)] += 1
        reason = " ".join(str(error).split()) if error is not None else "unreachable"
        router_logger.warning("replica %s marked down for %gs: %s", name, self.down_backoff, reason)

    def _failover(self, database, error, sql, params, many):
        """A replica failed to connect: mark it down, run the read elsewhere."""
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
        self._stats["fallbacks"] += 1
        self._stats[("reads", name)] -= 1  # counted when routed; it never ran there
        now = time.monotonic()
        for other_name, other in replica_set.replicas:
            if other is database or self._down_until.get(other_name, 0) > now:
                continue
            self._stats[("reads", other_name)] += 1
            router_logger.info("read failed over from %s to %s", name, other_name)
            return other.execute_sql(sql, params, many)
        self._stats[("reads", replica_set.primary_name)] += 1
        router_logger.info("read failed over from %s to the primary %s", name, replica_set.primary_name)
        return replica_set.primary.execute_sql(sql, params, many)

    # -- blocks ----------------------------------------------------------------------------
    @contextlib.contextmanager
    def use_primary(self):
        """Inside this block every read goes to a primary."""
        state = self._state
        state.use_primary += 1
        try:
            yield self
        finally:
            state.use_primary -= 1

    @contextlib.contextmanager
    def using(self, name):
        """Inside this block every statement goes to the database called ``name``."""
        self.database(name)
        state = self._state
        state.using.append(name)
        try:
            yield self.databases[name]
        finally:
            state.using.pop()

    def position(self):
        """A short token for the latest writes this thread has seen (cookie-safe text).

        Inside a transaction the commit's position is not known yet; the token then keeps
        reads on the primary for ``pin_window`` seconds instead.
        """
        parts = []
        for replica_set in self.sets.values():
            if replica_set.name in self._state.unconfirmed and replica_set.primary.in_transaction():
                required = ("time", time.monotonic() + self.pin_window)
            else:
                required = self._required_position(replica_set)
            if required is None:
                continue
            kind, value = required
            if kind == "time":
                remaining = max(0.0, value - time.monotonic())
                parts.append(f"{replica_set.name}@t{time.time() + remaining:.3f}")
            else:
                parts.append(f"{replica_set.name}@{value}")
        return "|".join(parts)

    def _parse_token(self, token):
        """{set name: ("position", p) | ("time", deadline)} from a token; RoutingError if bad."""
        parsed = {}
        if not isinstance(token, str):
            raise RoutingError(f"a position token is text, not {type(token).__name__}")
        for part in filter(None, token.replace(",", "|").split("|")):
            set_name, _, value = part.partition("@")
            replica_set = self.sets.get(set_name)
            if replica_set is None or not value:
                raise RoutingError(f"malformed or foreign position token {token!r}")
            if value.startswith("t"):
                try:
                    deadline = float(value[1:]) - time.time() + time.monotonic()
                except ValueError:
                    raise RoutingError(f"malformed position token {token!r}") from None
                # A token cannot pin reads for longer than this router would itself.
                parsed[set_name] = ("time", min(deadline, time.monotonic() + self.pin_window))
                continue
            if not replica_set.primary.has_replication_positions:
                raise RoutingError(f"position token {token!r} names a position {set_name!r} has no use for")
            try:
                replica_set.primary.position_sort_key(value)
            except (ValueError, TypeError):
                raise RoutingError(f"malformed position in token {token!r}") from None
            parsed[set_name] = ("position", value)
        return parsed

    @contextlib.contextmanager
    def after(self, token):
        """Reads in this block see at least the writes named by ``token``.

        Writes made inside the block keep their own read-your-writes after it ends.
        """
        state = self._state
        added = {}
        for set_name, required in self._parse_token(token).items():
            previous = state.required.get(set_name)
            if required[0] == "position":
                self._merge_required(self.sets[set_name], required[1])
            else:
                state.required[set_name] = required
            if state.required.get(set_name) is not previous:
                added[set_name] = (previous, state.required.get(set_name))
        try:
            yield self
        finally:
            for set_name, (previous, installed) in added.items():
                # Only undo what the token put there; a write in the block replaced it.
                if state.required.get(set_name) is installed:
                    if previous is None:
                        state.required.pop(set_name, None)
                    else:
                        state.required[set_name] = previous

    def stats(self):
        """Counters: reads and writes per database, fallbacks, pinned reads, ..."""
        result = {"reads": {}, "writes": {}, "fallbacks": 0, "pinned_reads": 0, "down": {}, "lagging_skips": 0}
        for key, count in self._stats.items():
            if not count:
                continue
            if isinstance(key, tuple):
                result[key[0]][key[1]] = count
            else:
                result[key] = count
        return result

    def reset_stats(self):
        self._stats.clear()

    # -- the Database protocol a model's Meta.database needs ---------------------------------
    def dialect_for(self, model):
        return self.replica_set(model).primary.dialect

    @property
    def dialect(self):
        return self.primary.dialect

    def identity_name(self, model):
        return self.replica_set(model).name

    def check_query(self, query):
        """Refuse, before any SQL, a query touching models on different databases."""
        if len(self.sets) == 1:
            return
        owners = {}
        for model in _models_in(query):
            database = model._meta.database
            if database is not self:
                continue
            owners.setdefault(self.replica_set(model).name, model)
        if len(owners) > 1:
            described = " and ".join(f"{model.__name__} (on {name!r})" for name, model in owners.items())
            raise RoutingError(f"one query cannot touch models on different databases: {described}")

    def atomic(self, partition=None):
        """A transaction on the primary (of ``partition``)."""
        return self.sets[partition or DEFAULT].primary.atomic()

    def retry(self, fn=None, attempts=5, *, model=None, partition=None, **options):
        """``db.retry`` on a primary: the one ``model`` writes to, else the primary of
        ``partition`` (default: the main one). Same arguments and decorator form."""
        database = self.db_for_write(model) if model is not None else self.sets[partition or DEFAULT].primary
        return database.retry(fn, attempts, **options)

    def execute_sql(self, sql, params=None, many=False):
        return self.primary.execute_sql(sql, params, many)

    def in_transaction(self):
        return any(replica_set.primary.in_transaction() for replica_set in self.sets.values())

    def create_tables(self, models, safe=True):
        """Create each table on every database whose ``allow_migrate`` says yes."""
        for name, database in self.databases.items():
            chosen = [model for model in models if self.allow_migrate(name, model)]
            if chosen:
                database.create_tables(chosen, safe=safe)
                self._note_ddl(name, database)

    def drop_tables(self, models, safe=True, cascade=False):
        for name, database in self.databases.items():
            chosen = [model for model in models if self.allow_migrate(name, model)]
            if chosen:
                database.drop_tables(chosen, safe=safe, cascade=cascade)
                self._note_ddl(name, database)

    def _note_ddl(self, name, database):
        # DDL is a write: count it, and let the next read wait for replicas to have it.
        self._stats[("writes", name)] += 1
        replica_set = self._set_of_primary(database)
        if replica_set is not None:
            self._note_write(replica_set)

    def bind(self, models):
        for model in models:
            model._meta.set_database(self)
        return self

    def close(self):
        for database in self.databases.values():
            database.close()

    def close_all(self):
        for database in self.databases.values():
            database.close_all()

    def connect(self):
        self.primary.connect()


def _models_in(node, seen=None):
    """Every model a query (with its joins and subqueries) reads or writes."""
    from .models import ModelAlias, ModelBase

    if seen is None:
        seen = set()
    if id(node) in seen:
        return
    seen.add(id(node))
    if isinstance(node, ModelBase):
        yield node
        return
    if isinstance(node, ModelAlias):
        yield node._alias_model
        return
    model = getattr(node, "model", None)
    if isinstance(model, ModelBase) and not hasattr(node, "field_type"):
        yield model
    if isinstance(node, (list, tuple)):
        for item in node:
            yield from _models_in(item, seen)
        return
    values = getattr(node, "__dict__", None)
    if values is None:
        slots = [name for klass in type(node).__mro__ for name in getattr(klass, "__slots__", ())]
        values = {name: getattr(node, name, None) for name in slots}
    for key, value in values.items():
        if key in ("database", "_session", "_result", "_parent_link", "_join_rels", "_lookup_joins", "c"):
            continue
        if isinstance(value, (list, tuple)) or hasattr(value, "__sql__") or hasattr(value, "_render"):
            if hasattr(value, "field_type"):
                if getattr(value, "model", None) is not None:
                    yield value.model
                continue
            yield from _models_in(value, seen)
