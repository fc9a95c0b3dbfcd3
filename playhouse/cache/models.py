"""``ModelCache``: model rows cached by primary key and unique lookups, kept fresh by writes.

Invalidation follows every write tinyorm sends for a model (``tinyorm.events``) through two
counters per table kept in the backend next to the rows: a *generation* that bulk writes
bump (row keys embed it, so every cached row of the table is dropped at once) and a
*sequence* that every write bumps (a cache fill that read the database while a write ran
is refused, so a slow reader cannot plant the old row after the write). With Redis both
live on the server, so a write in one process is seen by the next read in any other, with
no message to miss.
"""

from __future__ import annotations

import copy
import threading
import weakref
import zlib

import tinyorm
from tinyorm import events
from tinyorm.fields import CharField, JSONField, _IntegerBase

from .backends import NO_VALUE
from .region import CacheRegion, _regenerate_once

_FK_ACTIONS_THAT_WRITE = ("CASCADE", "SET NULL", "SET DEFAULT")
# An instance's value as loaded (its field slot), without a lazy load.
_loaded = object.__getattribute__


class _ModelPlan:
    """What the model cache knows of one model: its keys, its row builder, its dependants."""

    def __init__(self, cache, model):
        meta = model._meta
        if meta.composite_key or meta.primary_key is None:
            self.pk_fields = tuple(meta.primary_key_fields)
        else:
            self.pk_fields = (meta.primary_key,)
        fields = tuple(meta.fields.values())
        self.model = model
        self.attr_keys = tuple(field.attr_key for field in fields)
        shape = ";".join(f"{field.attr_key}:{field.column_name}:{type(field).__name__}" for field in fields)
        # The fields' shape is part of the key: a deploy that changes the model never
        # reads rows cached by the old code.
        self.table = f"{cache.namespace}:{meta.table_name}:{zlib.crc32(shape.encode()):08x}"
        self.fields_by_name = dict(meta.fields)
        self.unique_keys = self._unique_keys(meta)
        # JSON values are dicts and lists; every other field gives immutable values.
        self.mutable = tuple(field.attr_key for field in fields if isinstance(field, JSONField))
        # A row is kept as the tuple of its values (it pickles smaller than a dict), and a
        # hit builds the instance with one generated function. In memory the stored values
        # are shared by every hit, so JSON values (dicts, lists) are copied on the way out.
        self.build = self._tuple_builder(model, self.attr_keys, self.mutable if cache.backend.shares_values else ())
        if len(self.pk_fields) == 1:
            field = self.pk_fields[0]
            # A key of this exact type is already what the field's coerce() would give.
            key_type = int if isinstance(field, _IntegerBase) else str if type(field) is CharField else None
            self.hit = cache.backend.model_reader(self.table, self.build, key_type, field.coerce)
            self.inline = (self.table, key_type, field.coerce, self.build) if cache.backend.shares_values else None
        else:
            self.hit = cache.backend.model_reader(self.table, self.build, None, self.row_key)
            self.inline = None

    @staticmethod
    def _unique_keys(meta):
        by_column = {field.column_name: name for name, field in meta.fields.items()}
        keys = set()
        for columns in meta.unique_keys():
            names = [by_column.get(column, column) for column in columns]
            keys.add(frozenset(names))
        return keys

    def pack(self, obj):
        return tuple(_loaded(obj, key) for key in self.attr_keys)

    @staticmethod
    def _tuple_builder(model, attr_keys, mutable):
        """``build(values) -> instance``, generated once per model like tinyorm's hydrators
        (filled as the model's loader class, so no value counts as a change); a value of a
        ``mutable`` attribute that is not a plain scalar is deep-copied."""
        namespace = {"new": object.__new__, "cls": model, "loader": model._meta.loader}
        namespace.update(deepcopy=copy.deepcopy, plain=(str, int, float, bool, type(None)))
        names = [f"v{index}" for index in range(len(attr_keys))]
        stores = [
            f"o.{key} = "
            + (
                f"v{index}"
                if key not in mutable
                else f"(v{index} if v{index}.__class__ in plain else deepcopy(v{index}))"
            )
            for index, key in enumerate(attr_keys)
        ]
        unpack = ", ".join(names) + ("," if len(names) == 1 else "")
        source = (
            "def build(row):\n"
            f"    {unpack} = row\n"
            "    o = new(loader)\n" + "".join(f"    {line}\n" for line in stores) + "    o._persisted = True\n"
            "    o._changes = None\n"
            "    o._session = None\n"
            "    o._rel = None\n"
            "    o.__class__ = cls\n"
            "    return o\n"
        )
        exec(source, namespace)  # noqa: S102 - generated from field names the model owns
        return namespace["build"]

    def row_key(self, pk):
        """The row's key in its table: the primary key as its field makes it (so 1 and "1"
        share an entry, and a bad key raises DataError here, as get_by_id would)."""
        if len(self.pk_fields) == 1:
            return self.pk_fields[0].coerce(pk)
        if not isinstance(pk, (tuple, list)) or len(pk) != len(self.pk_fields):
            raise tinyorm.DataError(f"{self.model.__name__} has a composite key of {len(self.pk_fields)} fields")
        return tuple(field.coerce(part) for field, part in zip(self.pk_fields, pk))


def _dependants(model, action):
    """Models whose rows the database itself changes when ``model``'s rows are deleted
    (or their keys updated): ON DELETE/UPDATE CASCADE, SET NULL, SET DEFAULT, transitively."""
    found = []
    queue = [model]
    seen = {model}
    while queue:
        current = queue.pop()
        for fk in current._meta.backrefs:
            rule = fk.on_delete if action == "delete" else fk.on_update
            if rule in _FK_ACTIONS_THAT_WRITE and fk.model not in seen:
                seen.add(fk.model)
                found.append(fk.model)
                queue.append(fk.model)
    return found


class _Pending(threading.local):
    def __init__(self):
        self.writes = {}  # id(database) -> (database, {table: set of row keys, or None for all})


class ModelCache:
    """Caches model rows by primary key (and by unique lookups) in a region's backend.

    ``get_by_id(Model, pk)`` and ``get(Model, **unique_lookup)`` return a new instance per
    call, with exactly the types a SELECT would give, or raise ``Model.DoesNotExist``.
    Every write tinyorm sends for a cached model invalidates what it touched (rows written
    by ``save()``, ``delete_instance()`` and session flushes; the whole table for
    ``Model.update()``/``delete()`` queries, ``insert_many`` and upserts; tables whose rows
    the database changes through ON DELETE/UPDATE actions), at once and again when the
    transaction commits. Inside a transaction that wrote a model, reads of it bypass the
    cache; a miss inside any transaction is not stored (its snapshot may be older than the
    latest commit). A miss reads the primary when the model lives behind a Router.

    ``expiration_time`` defaults to the region's. ``namespace`` starts every key.
    """

    def __init__(self, region, namespace="model", expiration_time=None):
        if not isinstance(region, CacheRegion):
            raise TypeError(f"ModelCache takes a CacheRegion, not {type(region).__name__}")
        self.region = region
        self.backend = region.backend
        self.namespace = region.key_prefix + namespace
        self.expiration_time = region.expiration_time if expiration_time is None else expiration_time
        self.misses = 0  # loads from the database (hits are not counted: they stay lean)
        self._plans = {}
        self._hits = {}  # model -> its plan's hit function
        self._pending = _Pending()
        # threads with writes in an open transaction (a list: the fast path reads the cell)
        self._pending_threads = [0]
        self._lock = threading.Lock()
        self._inline = {}  # model -> what the backend's own fast path needs, if it has one
        make_fast_path = getattr(self.backend, "model_fast_path", None)
        if make_fast_path is not None:
            # The backend builds get_by_id's hit path as one function (no inner call).
            self.get_by_id = make_fast_path(self._inline, self._pending_threads, self._get_by_id)
        _LISTENING.add(self)
        _listen()

    def close(self):
        """Stop following writes (the cache stays readable)."""
        _LISTENING.discard(self)

    def _plan(self, model):
        plan = self._plans.get(model)
        if plan is None:
            if not (isinstance(model, type) and issubclass(model, tinyorm.Model)):
                raise TypeError(f"expected a model class, got {model!r}")
            plan = self._plans[model] = _ModelPlan(self, model)
            self._hits[model] = plan.hit
            if plan.inline is not None:
                self._inline[model] = plan.inline
        return plan

    # -- reads -----------------------------------------------------------------------------
    def get_by_id(self, model, pk, session=None):
        """The row with this primary key, from the cache or (once per miss) the database.

        With ``session``, an object already in its identity map is returned as it is, and
        one built from the cache joins the map.
        """
        if session is None and not self._pending_threads[0]:
            hit = self._hits.get(model)  # the hit path: a few dict operations
            if hit is not None:
                obj = hit(pk)
                if obj is not None:
                    return obj
        return self._get_by_id(model, pk, session)

    def _get_by_id(self, model, pk, session):
        plan = self._plan(model)
        if session is not None and session._holds(model, pk):
            return self._from_session(session, model, pk)
        suffix = plan.row_key(pk)
        if self._pending_threads[0] and self._wrote(plan):
            return self._merge(session, model.get_by_id(pk))
        value, _token = self.backend.model_get(plan.table, suffix)
        if value is NO_VALUE:
            self.misses += 1
            value = self._fill(plan, suffix, lambda: _load(model, lambda: model.get_by_id(pk)), index=False)
            # The caller that loaded gets its own fresh instance; the others build one.
            obj = value if isinstance(value, tinyorm.Model) else plan.build(value)
        else:
            obj = plan.build(value)
        return obj if session is None else session._merge_loaded([obj])[0]

    def get(self, model, session=None, **lookup):
        """The row matching a unique lookup (``get(User, username="ann")``); its fields
        must form the primary key, a unique field or a unique index."""
        plan = self._plan(model)
        names = frozenset(lookup)
        if not lookup or names not in plan.unique_keys:
            raise tinyorm.FieldError(
                f"ModelCache.get({model.__name__}, ...) takes the fields of one unique key, got "
                f"{sorted(names)}; unique keys: {sorted(sorted(key) for key in plan.unique_keys)}"
            )
        try:
            wanted = {name: plan.fields_by_name[name].coerce(value) for name, value in sorted(lookup.items())}
        except KeyError as exc:
            raise tinyorm.FieldError(f"{model.__name__} has no field {exc.args[0]!r}") from None
        if len(names) == 1 and next(iter(names)) == plan.pk_fields[0].name and len(plan.pk_fields) == 1:
            return self.get_by_id(model, next(iter(wanted.values())), session)
        if self._pending_threads[0] and self._wrote(plan):
            return self._merge(session, model.get(**lookup))
        suffix = ("unique",) + tuple(wanted.items())
        pk, _token = self.backend.model_get(plan.table, suffix)
        if pk is not NO_VALUE:
            # The entry names a primary key: the row (always invalidated by writes) is the
            # truth, and must still match the lookup.
            try:
                obj = self.get_by_id(model, pk, session)
            except tinyorm.DoesNotExist:
                obj = None
            if obj is not None and all(
                _loaded(obj, plan.fields_by_name[name].attr_key) == value for name, value in wanted.items()
            ):
                return obj
            self.backend.model_invalidate({plan.table: [suffix]}, [])  # it points at the wrong row
        self.misses += 1
        loaded = self._fill(plan, suffix, lambda: _load(model, lambda: model.get(**lookup)), index=True)
        if not isinstance(loaded, tinyorm.Model):  # another caller loaded it: follow its key
            return self.get_by_id(model, loaded, session)
        return self._merge(session, loaded)

    def _from_session(self, session, model, pk):
        obj = session.get(model, pk)
        if obj is None:  # deleted in the session
            raise model.DoesNotExist(f"{model.__name__} with primary key {pk!r} is deleted in this session")
        return obj

    @staticmethod
    def _merge(session, obj):
        return obj if session is None else session._merge_loaded([obj])[0]

    def _fill(self, plan, suffix, load, index):
        """Load once per key however many callers miss together, and store the result
        unless a write to the table ran meanwhile.

        ``load()`` returns the instance. The caller that ran it gets that instance; the
        ones that waited get the stored value (the row's values, or for a unique-lookup
        ``index`` entry the primary key, the row being stored beside it).
        """
        backend = self.backend
        database = plan.model._meta.get_database()

        def fetch():
            value, token = backend.model_get(plan.table, suffix)
            return value, NO_VALUE, token

        def create(token):
            # The token (the table's counters) was read before the query: if any write to
            # the table runs in between, the stores below are refused.
            obj = load()
            if not database.in_transaction():
                row = plan.pack(obj)
                if index:
                    backend.model_set(plan.table, token, plan.row_key(obj.pk), row, self.expiration_time)
                    backend.model_set(plan.table, token, suffix, obj.pk, self.expiration_time)
                else:
                    backend.model_set(plan.table, token, suffix, row, self.expiration_time)
            return obj

        lock_key = f"{plan.table}:{suffix}"
        return _regenerate_once(backend.get_mutex(lock_key, self.region.lock_timeout), fetch, create, False)

    # -- invalidation ----------------------------------------------------------------------
    def invalidate(self, model_or_instance, pk=None):
        """Drop one row (an instance, or a model and ``pk``) or, given a model alone, every
        cached row of it: for writes tinyorm does not see (raw SQL, other programs)."""
        if isinstance(model_or_instance, tinyorm.Model):
            model, pk = type(model_or_instance), model_or_instance.pk
        else:
            model = model_or_instance
        plan = self._plan(model)
        if pk is None:
            self.backend.model_invalidate({}, [plan.table])
        else:
            self.backend.model_invalidate({plan.table: [plan.row_key(pk)]}, [])

    def _changes(self, event):
        """({table: [row keys]}, [tables]) that a write event makes stale."""
        plan = self._plan(event.model)
        rows, tables = {}, []
        if event.objects is not None and event.action != "insert":
            rows[plan.table] = [plan.row_key(obj.pk) for obj in event.objects if obj.pk is not None]
        elif event.objects is None:
            tables.append(plan.table)
        # A new row (save, create, a flush's INSERT) was never cached; rows the database
        # deletes or rewrites through foreign key actions were, under their own tables.
        if event.action != "insert" or event.objects is None:
            for dependant in _dependants(event.model, "update" if event.action == "update" else "delete"):
                tables.append(self._plan(dependant).table)
        return rows, tables

    def _on_write(self, event):
        rows, tables = self._changes(event)
        if not rows and not tables:
            return
        self.backend.model_invalidate(rows, tables)
        database = event.database
        if database.in_transaction():
            # Others can still read (and cache) the committed rows until the COMMIT: the
            # same keys are invalidated again then. Meanwhile this thread bypasses them.
            writes = self._pending.writes
            entry = writes.get(id(database))
            if entry is None:
                entry = writes[id(database)] = (database, {})
                with self._lock:
                    self._pending_threads[0] += 1
            recorded = entry[1]
            for table, suffixes in rows.items():
                current = recorded.setdefault(table, set())
                if current is not None:
                    current.update(suffixes)
            for table in tables:
                recorded[table] = None

    def _on_transaction_end(self, database, committed):
        entry = self._pending.writes.pop(id(database), None)
        if entry is None:
            return
        with self._lock:
            self._pending_threads[0] -= 1
        if committed:
            recorded = entry[1]
            rows = {table: sorted(suffixes) for table, suffixes in recorded.items() if suffixes is not None}
            tables = [table for table, suffixes in recorded.items() if suffixes is None]
            self.backend.model_invalidate(rows, tables)

    def _wrote(self, plan):
        """Has this thread written ``plan``'s table in a transaction still open?"""
        writes = self._pending.writes
        if not writes:
            return False
        for key, (database, recorded) in list(writes.items()):
            if not database.in_transaction():
                # The transaction ended without telling (a lost connection): forget it.
                del writes[key]
                with self._lock:
                    self._pending_threads[0] -= 1
                continue
            if plan.table in recorded:
                return True
        return False


def _load(model, load):
    """Run a cache fill's query on the primary when the model lives behind a Router: a
    lagging replica must not plant an old row in the cache."""
    use_primary = getattr(model._meta.get_database(), "use_primary", None)
    if use_primary is None:
        return load()
    with use_primary():
        return load()


# -- following writes ------------------------------------------------------------------------
_LISTENING = weakref.WeakSet()


def _on_write(event):
    caches = list(_LISTENING)
    if not caches:
        _stop_listening()
        return
    for cache in caches:
        cache._on_write(event)


def _on_transaction_end(database, committed):
    for cache in list(_LISTENING):
        cache._on_transaction_end(database, committed)


def _listen():
    if _on_write not in events.write_listeners:
        events.write_listeners.append(_on_write)
        events.transaction_listeners.append(_on_transaction_end)


def _stop_listening():
    # Once every ModelCache is gone, writes go back to costing nothing extra.
    if _on_write in events.write_listeners:
        events.write_listeners.remove(_on_write)
    if _on_transaction_end in events.transaction_listeners:
        events.transaction_listeners.remove(_on_transaction_end)
