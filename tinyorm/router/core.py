"""The Router itself: databases, routing rules, blocks, and the Database protocol."""

from __future__ import annotations

import contextlib
import inspect
import itertools
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, Union

from ..backends.base import Database
from ..backends.proxy import _BoundModel
from ..backends.url import is_file_url
from ..exceptions import ImproperlyConfigured, RoutingError
from ..log import router_logger
from . import tokens
from .counters import ReadCounts
from .scope import Required, RoutingState, Scope
from .selection import SelectionMixin, StatKey

if TYPE_CHECKING:
    from ..backends.transactions import Atomic
    from ..dialects.base import Dialect
    from ..models import Model as _Model

__all__ = ["Router", "ReplicaSet"]

DEFAULT = "default"

# A writer, or candidate writers in order of preference: URLs or Databases.
Writers = Union[str, Database, list[Union[str, Database]], tuple[Union[str, Database], ...]]


class ReplicaSet:
    """One primary and its replicas; the main set is named "default"."""

    def __init__(
        self,
        name: str,
        primary_name: str,
        primary: Database,
        replicas: list[tuple[str, Database]],
        writers: list[Database] | None = None,
    ) -> None:
        self.name = name
        self.primary_name = primary_name
        self.primary = primary  # the writer in use
        self.writers = writers or [primary]  # candidate writers, in order of preference
        self.replicas = replicas  # [(name, Database)]
        # What the common read needs, worked out once: each replica with its slot in the
        # router's read counts (set by the Router).
        self.read_targets: list[tuple[Database, int]] = []
        self._turn = itertools.count()

    def __repr__(self) -> str:
        return f"<ReplicaSet {self.name}: {self.primary_name} + {[name for name, _ in self.replicas]}>"


def _as_database(value: str | Database, options: dict[str, Any]) -> Database:
    if isinstance(value, Database):
        return value
    if isinstance(value, str):
        from ..backends.url import connect

        return connect(value, **options)
    raise ImproperlyConfigured(f"expected a database URL or a Database, got {value!r}")


class Router(SelectionMixin):
    """Routes each model's SQL to the right database. See the package docstring for rules.

    ``primary`` is a URL or Database, or a list of them: candidate writers tried in order,
    the next taking over when one cannot be reached outside a transaction.
    ``health_timeout`` is the connect timeout (seconds) of the replicas the router opens
    from URLs that set none, so a dead host costs seconds, not the driver's minutes.
    ``token_secret`` signs the tokens of :meth:`position` (HMAC-SHA256); :meth:`after`
    then refuses tokens it did not sign.
    """

    # ``class Base(router.Model): ...``: a Model base class routed by this router.
    Model = _BoundModel()

    def __init__(
        self,
        primary: Writers,
        replicas: Iterable[str | Database] = (),
        partitions: dict[str, Any] | None = None,
        *,
        max_replica_lag: float | None = None,
        replica_wait: float = 0.05,
        pin_window: float = 2.0,
        down_backoff: float = 5.0,
        lag_check_interval: float = 1.0,
        health_timeout: float | None = 3,
        token_secret: str | bytes | None = None,
        **database_options: Any,
    ) -> None:
        self.max_replica_lag = max_replica_lag
        self.replica_wait = replica_wait
        self.pin_window = pin_window
        self.down_backoff = down_backoff
        self.lag_check_interval = lag_check_interval
        self.health_timeout = health_timeout
        self._secret = tokens.as_secret(token_secret)
        self.databases: dict[str, Database] = {}
        self.sets: dict[str, ReplicaSet] = {}
        self._scope = Scope()
        self._state_var = self._scope._var  # read directly on every statement (speed)
        self._lock = threading.Lock()
        self._down_until: dict[str, float] = {}
        self._lag: dict[str, tuple[float | None, float]] = {}  # replica name -> (lag seconds, checked at)
        # replica name -> (position sort key, checked at): shared memory
        self._replayed: dict[str, tuple[Any, float]] = {}
        self._stats: dict[StatKey, int] = {}  # the counters of stats(), changed under _lock
        self._slot_names: list[str] = []  # replica name per slot of the read fast path's counts
        self._add_set(DEFAULT, "primary", primary, replicas, database_options)
        for name, spec in (partitions or {}).items():
            if isinstance(spec, dict):
                if "primary" not in spec:
                    raise ImproperlyConfigured(f"partition {name!r} needs a 'primary'")
                self._add_set(name, name, spec["primary"], spec.get("replicas", ()), database_options)
            else:
                self._add_set(name, name, spec, (), database_options)
        self._names = {id(database): name for name, database in self.databases.items()}
        # model._meta.partition -> its ReplicaSet, for the read fast path (None: the main set)
        self._sets_by_partition: dict[str | None, ReplicaSet] = dict(self.sets.items())
        self._sets_by_partition[None] = self.sets[DEFAULT]
        # A subclass with its own read rule is asked every time: no fast path around it.
        cls = type(self)
        self._default_read_rule = cls.db_for_read is Router.db_for_read and cls.replica_set is Router.replica_set
        self._read_keys: dict[int, tuple[str, str]] = {
            id(database): ("reads", name) for name, database in self.databases.items()
        }
        self._reads = ReadCounts(len(self._slot_names), self._lock)
        self._reads_local = self._reads.local  # read on every fast-path read (speed)

    @property
    def _state(self) -> RoutingState:
        return self._state_var.get() or self._scope.get()

    def _add_set(
        self,
        set_name: str,
        primary_name: str,
        primary: Writers,
        replicas: Iterable[str | Database],
        options: dict[str, Any],
    ) -> None:
        if set_name in self.sets or primary_name in self.databases:
            raise ImproperlyConfigured(f"database name {primary_name!r} is used twice")
        candidates: list[str | Database] = list(primary) if isinstance(primary, (list, tuple)) else [primary]
        if not candidates:
            raise ImproperlyConfigured(f"{primary_name!r} needs at least one writer")
        writers = []
        for index, candidate in enumerate(candidates, start=1):
            name = primary_name if index == 1 else f"{primary_name}{index}"
            if name in self.databases:
                raise ImproperlyConfigured(f"database name {name!r} is used twice")
            writer = _as_database(candidate, options)
            if len(candidates) > 1:
                writer.failover = self._writer_failover
            self.databases[name] = writer
            writers.append(writer)
        primary_db = writers[0]
        replica_options = dict(options)
        if self.health_timeout is not None:
            replica_options.setdefault("connect_timeout", self.health_timeout)
        replica_entries = []
        for index, replica in enumerate(replicas, start=1):
            replica_name = f"replica{index}" if set_name == DEFAULT else f"{set_name}.replica{index}"
            replica_db = _as_database(replica, _options_for(replica, replica_options))
            if isinstance(replica, str):
                replica_db.prepare_replica()  # e.g. SQLite replicas refuse writes
            replica_db.failover = self._failover
            replica_db.stream_failover = self._stream_failover
            self.databases[replica_name] = replica_db
            replica_entries.append((replica_name, replica_db))
        replica_set = self.sets[set_name] = ReplicaSet(set_name, primary_name, primary_db, replica_entries, writers)
        for replica_name, replica_db in replica_entries:
            replica_set.read_targets.append((replica_db, len(self._slot_names)))
            self._slot_names.append(replica_name)

    def __repr__(self) -> str:
        return f"<Router {list(self.databases)}>"

    # -- lookups ---------------------------------------------------------------------------
    def replica_set(self, model: type[_Model]) -> ReplicaSet:
        """The ReplicaSet ``model`` lives on (its partition's, else the main one)."""
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

    def name_of(self, database: Database) -> str:
        """The router's name for ``database`` ("primary", "replica1", ...), else its repr."""
        name = self._names.get(id(database))
        if name is not None and self.databases[name] is database:
            return name
        return repr(database)

    def database(self, name: str) -> Database:
        """The database called ``name``; RoutingError listing the known names if none."""
        try:
            return self.databases[name]
        except KeyError:
            raise RoutingError(f"no database named {name!r}; known: {', '.join(self.databases)}") from None

    def is_replica(self, name: str) -> bool:
        """Is the database called ``name`` a replica (not a primary or candidate writer)?"""
        return self._set_of_primary(self.database(name)) is None

    @property
    def primary(self) -> Database:
        """The main set's writer in use."""
        return self.sets[DEFAULT].primary

    # -- routing: tinyorm calls route_read/route_write, which ask the overridable rules ------
    def route_write(self, model: type[_Model]) -> Database:
        """The database a write of ``model`` goes to (tinyorm calls it; counts the write)."""
        database = self.db_for_write(model)
        name = self.name_of(database)
        self._count(("writes", name))
        replica_set = self._set_of_primary(database)
        if replica_set is not None:
            self._note_write(replica_set)
        return database

    def _count(self, key: StatKey, amount: int = 1) -> None:
        with self._lock:
            self._stats[key] = self._stats.get(key, 0) + amount

    def _note_write(self, replica_set: ReplicaSet) -> None:
        self._state.wrote = True
        committed_at = None if replica_set.primary.in_transaction() else time.monotonic()
        unconfirmed = self._state.unconfirmed
        if unconfirmed.get(replica_set.name, 0) is not None:
            unconfirmed[replica_set.name] = committed_at

    def route_read(self, model: type[_Model]) -> Database:
        """The database a read of ``model`` goes to (tinyorm calls it; counts the read)."""
        # The common case decided in a few attribute reads: a scope with nothing to honour
        # (no block, pin or position to read past), nothing down, no lag limit, no
        # transaction on the primary: the next replica in turn.
        state = self._state_var.get()
        if self._default_read_rule and (
            state is None or not (state.using or state.use_primary or state.required or state.unconfirmed)
        ):
            replica_set = self._sets_by_partition.get(model._meta.partition)
            if (
                replica_set is not None
                and replica_set.read_targets
                and not self._down_until
                and self.max_replica_lag is None
                and not replica_set.primary.in_transaction()
            ):
                targets = replica_set.read_targets
                database, slot = targets[next(replica_set._turn) % len(targets)]
                # This thread's own counts: no lock to take, no update lost (see counters).
                counts = self._reads_local.counts
                if counts is None:
                    counts = self._reads.register()
                counts[slot] += 1
                return database
        database = self.db_for_read(model)
        read_key = self._read_keys.get(id(database))
        if read_key is None or self.databases[read_key[1]] is not database:
            read_key = ("reads", self.name_of(database))
        self._count(read_key)
        return database

    def _set_of_primary(self, database: Database) -> ReplicaSet | None:
        for replica_set in self.sets.values():
            if replica_set.primary is database or any(writer is database for writer in replica_set.writers):
                return replica_set
        return None

    # -- routing rules ---------------------------------------------------------------------
    def db_for_write(self, model: type[_Model]) -> Database:
        """The primary of the model's partition (or the database picked by ``using``)."""
        state = self._state
        if state.using:
            name, allow_writes = state.using[-1]
            database = self.databases[name]
            if not allow_writes and self._set_of_primary(database) is None:
                raise RoutingError(
                    f"a write inside router.using({name!r}): {name} is a replica; "
                    f"use router.using({name!r}, allow_writes=True) if this is meant"
                )
            return database
        return self.replica_set(model).primary

    def db_for_read(self, model: type[_Model]) -> Database:
        """A replica of the model's partition, unless the rules send the read to its primary."""
        state = self._state
        if state.using:
            return self.databases[state.using[-1][0]]
        replica_set = self.replica_set(model)
        primary = replica_set.primary
        if not replica_set.replicas or state.use_primary or primary.in_transaction():
            return self._read_primary(replica_set, pinned=bool(replica_set.replicas))
        # (no write and no token in this scope: nothing to look up)
        required = self._required_position(replica_set) if state.unconfirmed or state.required else None
        if required is not None and required.kind == "time":
            if time.monotonic() < required.value:
                return self._read_primary(replica_set, pinned=True)
            state.required.pop(replica_set.name, None)
            required = None
        database = self._pick_replica(replica_set, required)
        if database is None:
            return self._read_primary(replica_set, pinned=True)
        return database

    def allow_migrate(self, db_name: str, model: type[_Model]) -> bool:
        """Create the model's table on ``db_name``? By default only on its set's primary."""
        return db_name == self.replica_set(model).primary_name

    def _read_primary(self, replica_set: ReplicaSet, pinned: bool) -> Database:
        if pinned:
            self._count("pinned_reads")
        return replica_set.primary

    # -- read-your-writes ------------------------------------------------------------------
    def _required_position(self, replica_set: ReplicaSet) -> Required | None:
        """What a replica must have replayed for this scope (a Required), learned lazily."""
        state = self._state
        name = replica_set.name
        # Inside a transaction the position would predate the COMMIT: reads go to the
        # primary meanwhile, and the position is learned after the commit.
        if name in state.unconfirmed and not replica_set.primary.in_transaction():
            committed_at = state.unconfirmed.pop(name)
            since = committed_at if committed_at is not None else time.monotonic()
            try:
                position = replica_set.primary.replication_position()
            except Exception as exc:  # noqa: BLE001 - only a dead primary is handled here
                if not replica_set.primary.is_connection_failure(exc) or not replica_set.replicas:
                    raise
                best = self._freshest_replica_position(replica_set)
                if best is None:
                    raise
                router_logger.warning(
                    "primary %s unreachable to confirm a write: reads need the freshest replica's position",
                    replica_set.primary_name,
                )
                position = best[0]
            if position is None:
                # No position to wait for: pin reads to the primary for a window after the commit.
                state.required[name] = Required("time", since + self.pin_window)
            else:
                self._merge_required(replica_set, position, since)
        return state.required.get(name)

    def _merge_required(self, replica_set: ReplicaSet, position: Any, since: float) -> Required:
        required = self._state.required
        current = required.get(replica_set.name)
        primary = replica_set.primary
        if current is not None and current.kind == "position":
            if current.key >= primary.position_sort_key(position):
                return current
            position = primary.merge_positions(current.value, position)
        installed = required[replica_set.name] = Required(
            "position", position, primary.position_sort_key(position), since
        )
        return installed

    # -- blocks ----------------------------------------------------------------------------
    @contextlib.contextmanager
    def use_primary(self) -> Iterator[Router]:
        """Inside this block every read goes to a primary."""
        state = self._state
        state.use_primary += 1
        try:
            yield self
        finally:
            state.use_primary -= 1

    @contextlib.contextmanager
    def using(self, name: str, allow_writes: bool = False) -> Iterator[Database]:
        """Inside this block every statement goes to the database called ``name``.

        A write to a replica is refused with RoutingError before any SQL is sent, unless
        ``allow_writes=True`` says it is meant."""
        self.database(name)
        state = self._state
        state.using.append((name, allow_writes))
        try:
            yield self.databases[name]
        finally:
            state.using.pop()

    @contextlib.contextmanager
    def request(self) -> Iterator[Router]:
        """A routing scope that starts clean: no pins, no positions to read past.

        Web requests served by pooled threads or asyncio tasks each get their own (the
        middleware in tinyorm.middleware opens one per request); what the block writes is
        forgotten when it ends."""
        token = self._scope.enter()
        try:
            yield self
        finally:
            self._scope.leave(token)

    def wrote(self) -> bool:
        """Has this scope (thread, task or ``request()`` block) sent a write?"""
        return self._state.wrote

    def position(self) -> str:
        """A short token for the latest writes this scope has seen (cookie-safe text; signed
        when the router has a ``token_secret``).

        Inside a transaction the commit's position is not known yet; the token then keeps
        reads on the primary for ``pin_window`` seconds instead.
        """
        parts = []
        for replica_set in self.sets.values():
            required: Required | None
            if replica_set.name in self._state.unconfirmed and replica_set.primary.in_transaction():
                required = Required("time", time.monotonic() + self.pin_window)
            else:
                required = self._required_position(replica_set)
            if required is None:
                continue
            if required.kind == "time":
                remaining = max(0.0, required.value - time.monotonic())
                parts.append(f"{replica_set.name}@t{time.time() + remaining:.3f}")
            else:
                # GTID sets list domains or servers with "," (and "\n"): "+" keeps the
                # token cookie-safe.
                value = required.value.replace("\n", "").replace(",", "+")
                parts.append(f"{replica_set.name}@{value}")
        return tokens.sign(self._secret, "|".join(parts))

    def _parse_token(self, token: object) -> dict[str, Required]:
        """{set name: Required} from a token; RoutingError if bad, forged or foreign."""
        text = tokens.verify(self._secret, token)
        parsed: dict[str, Required] = {}
        for part in filter(None, text.split("|")):
            set_name, _, value = part.partition("@")
            value = value.replace("+", ",")
            replica_set = self.sets.get(set_name)
            if replica_set is None or not value:
                raise RoutingError(f"malformed or foreign position token {token!r}")
            if value.startswith("t"):
                try:
                    deadline = float(value[1:]) - time.time() + time.monotonic()
                except ValueError:
                    raise RoutingError(f"malformed position token {token!r}") from None
                if deadline != deadline:  # NaN
                    raise RoutingError(f"malformed position token {token!r}")
                # A token cannot pin reads for longer than this router would itself.
                parsed[set_name] = Required("time", min(deadline, time.monotonic() + self.pin_window))
                continue
            if not replica_set.primary.has_replication_positions:
                raise RoutingError(f"position token {token!r} names a position {set_name!r} has no use for")
            try:
                key = replica_set.primary.position_sort_key(value)
            except (ValueError, TypeError):
                raise RoutingError(f"malformed position in token {token!r}") from None
            # Its reads get one bounded wait (replica_wait), as a write of this scope would.
            parsed[set_name] = Required("position", value, key, time.monotonic())
        return parsed

    @contextlib.contextmanager
    def after(self, token: str) -> Iterator[Router]:
        """Reads in this block see at least the writes named by ``token``.

        Writes made inside the block keep their own read-your-writes after it ends.
        """
        state = self._state
        added: dict[str, tuple[Required | None, Required | None]] = {}
        for set_name, required in self._parse_token(token).items():
            previous = state.required.get(set_name)
            if required.kind == "position":
                self._merge_required(self.sets[set_name], required.value, required.since)
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

    def stats(self) -> dict[str, Any]:
        """Counters: reads and writes per database, fallbacks, pinned reads, probes sent to
        replicas, probe errors per replica, lagging skips, writer failovers."""
        result: dict[str, Any] = {
            "reads": {},
            "writes": {},
            "fallbacks": 0,
            "pinned_reads": 0,
            "down": {},
            "lagging_skips": 0,
            "probes": 0,
            "probe_errors": {},
            "writer_failovers": 0,
        }
        with self._lock:
            items = list(self._stats.items())
            fast_reads = self._reads.totals()
        counters: dict[StatKey, int] = {("reads", name): count for name, count in zip(self._slot_names, fast_reads)}
        for key, count in items:
            counters[key] = counters.get(key, 0) + count
        for key, count in counters.items():
            if not count:
                continue
            if isinstance(key, tuple):
                result[key[0]][key[1]] = count
            else:
                result[key] = count
        return result

    def reset_stats(self) -> None:
        """Set every counter of :meth:`stats` back to zero."""
        with self._lock:
            self._stats.clear()
            self._reads.reset()

    # -- the Database protocol a model's Meta.database needs ---------------------------------
    def dialect_for(self, model: type[_Model]) -> Dialect:
        """The dialect ``model``'s statements compile for: its primary's."""
        return self.replica_set(model).primary.dialect

    @property
    def dialect(self) -> Dialect:
        """The main primary's dialect."""
        return self.primary.dialect

    def identity_name(self, model: type[_Model]) -> str:
        """What a session's identity map keys ``model``'s rows by: its replica set's name."""
        return self.replica_set(model).name

    def check_query(self, query: object) -> None:
        """Refuse, before any SQL, a query touching models on different databases."""
        if len(self.sets) == 1:
            return
        owners: dict[str, Any] = {}
        for model in _models_in(query):
            database = model._meta.database
            if database is not self:
                continue
            owners.setdefault(self.replica_set(model).name, model)
        if len(owners) > 1:
            described = " and ".join(f"{model.__name__} (on {name!r})" for name, model in owners.items())
            raise RoutingError(f"one query cannot touch models on different databases: {described}")

    def atomic(self, partition: str | None = None) -> Atomic:
        """A transaction on the primary (of ``partition``)."""
        return self.sets[partition or DEFAULT].primary.atomic()

    def retry(
        self,
        fn: Callable[..., Any] | None = None,
        attempts: int = 5,
        *,
        model: type[_Model] | None = None,
        partition: str | None = None,
        **options: Any,
    ) -> Any:
        """``db.retry`` on a primary: the one ``model`` writes to, else the primary of
        ``partition`` (default: the main one). Same arguments and decorator form."""
        database = self.db_for_write(model) if model is not None else self.sets[partition or DEFAULT].primary
        return database.retry(fn, attempts, **options)

    def execute_sql(self, sql: str, params: Any = None, many: bool = False) -> Any:
        """Run raw SQL on the main primary; anything but a plain read counts as a write
        (read-your-writes follows it)."""
        if not _is_plain_read(sql):
            self._count(("writes", "primary"))
            self._note_write(self.sets[DEFAULT])
        return self.primary.execute_sql(sql, params, many)

    def in_transaction(self) -> bool:
        """True inside a transaction on any primary."""
        return any(replica_set.primary.in_transaction() for replica_set in self.sets.values())

    def create_tables(self, models: Iterable[type[_Model]], safe: bool = True) -> None:
        """Create each table on every database whose ``allow_migrate`` says yes."""
        for name, database in self.databases.items():
            chosen = [model for model in models if self.allow_migrate(name, model)]
            if chosen:
                database.create_tables(chosen, safe=safe)
                self._note_ddl(name, database)

    def drop_tables(self, models: Iterable[type[_Model]], safe: bool = True, cascade: bool = False) -> None:
        """Drop each table on every database whose ``allow_migrate`` says yes."""
        for name, database in self.databases.items():
            chosen = [model for model in models if self.allow_migrate(name, model)]
            if chosen:
                database.drop_tables(chosen, safe=safe, cascade=cascade)
                self._note_ddl(name, database)

    def _note_ddl(self, name: str, database: Database) -> None:
        # DDL is a write: count it, and let the next read wait for replicas to have it.
        self._count(("writes", name))
        replica_set = self._set_of_primary(database)
        if replica_set is not None:
            self._note_write(replica_set)

    def bind(self, models: Iterable[type[_Model]]) -> Router:
        """Make this router the database of ``models``; returns the router."""
        for model in models:
            model._meta.set_database(self)
        return self

    def close(self) -> None:
        """Close this thread's connection to every database."""
        for database in self.databases.values():
            database.close()

    def close_all(self) -> None:
        """Close every connection of every database (all threads)."""
        for database in self.databases.values():
            database.close_all()

    def connect(self) -> None:
        """Open this thread's connection to the main primary."""
        self.primary.connect()


def _options_for(value: object, options: dict[str, Any]) -> dict[str, Any]:
    """Connect options for a server URL the router opens; a URL's own connect_timeout
    wins, and files (SQLite) have no connect timeout."""
    if isinstance(value, str) and ("connect_timeout=" in value or is_file_url(value)):
        return {key: item for key, item in options.items() if key != "connect_timeout"}
    return options


def _is_plain_read(sql: str) -> bool:
    head = sql.lstrip(" \t\r\n(").split(None, 1)
    return bool(head) and head[0].upper() in ("SELECT", "SHOW", "EXPLAIN", "VALUES")


def _models_in(node: Any, seen: set[int] | None = None) -> Iterator[Any]:
    """Every model a query (with its joins and subqueries) reads or writes (node trees are
    walked by attribute, so what comes out is typed loosely)."""
    from ..models import ModelAlias
    from ..models.metadata import ModelBase

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
        slots = [name for klass in inspect.getmro(type(node)) for name in getattr(klass, "__slots__", ())]
        values = {name: getattr(node, name, None) for name in slots}
    for key, value in values.items():
        if key in ("database", "_session", "_result", "_parent_link", "_join_rels", "_lookup_joins", "c"):
            continue
        if isinstance(value, (list, tuple)) or hasattr(value, "__sql__") or hasattr(value, "_render"):
            if hasattr(value, "field_type"):
                field_model = getattr(value, "model", None)
                if field_model is not None:
                    yield field_model
                continue
            yield from _models_in(value, seen)
