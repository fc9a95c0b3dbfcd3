"""The active-record ``Model``: instances, change tracking, and the class-level API.

Instances keep their column values in slots named by each field's ``attr_key`` (the field
name; ``<name>_id`` for a foreign key; laid out by ``metadata._instance_layout``), so reading
an attribute is one C-level slot read and an object costs its slots, not a dict. ORM
bookkeeping has slots of its own on ``Model``: ``_persisted`` (the row exists), ``_changes``
(attr_key -> value before the first write since the last save, None until a write),
``_session`` (a weak reference to the owning session) and ``_rel`` (loaded related objects);
``_persisted`` is ``EXPIRED`` once a session dropped the loaded values. Instances have no real ``__dict__``: on CPython
3.11 one costs a values array per object and is materialised by the ``__class__`` switch
hydration relies on. Any other attribute (query annotations, prefetched lists, a user's own)
goes to the ``_extra`` dict, created on first use and shown as ``obj.__dict__``; reading one
goes through ``__getattr__``. A field that was never loaded has an empty slot: reading it
goes through ``__getattr__`` too (None, or a reload of an expired object). Internal code
reads what is loaded with ``_loaded_value`` (never a reload) and writes past change tracking
with ``_set_raw``.

``save()`` on a new object and ``create()`` run a precompiled single-row INSERT
(``writes._InsertPlan``); ``save()`` on a loaded one a precompiled UPDATE of the changed
columns (``writes._UpdatePlan``), both cached on the model's metadata per engine.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, ClassVar, Sequence

from .. import exceptions
from ..events import lazy_load_listeners, notify_lazy_load, notify_write, write_listeners
from ..exceptions import DataError, DoesNotExist, StaleDataError
from ..fields import Field
from ..relations import _loaded_value
from ..sql.nodes import SQL, Node, Value
from ..sql.query import Delete
from .metadata import _MISSING, ModelBase

if TYPE_CHECKING:
    from typing_extensions import Self

    from ..backends.base import Database
    from ..relations import ForeignKeyField
    from .metadata import Metadata


# Writes a slot or attribute without Model.__setattr__'s change tracking.
_set_raw = object.__setattr__
# Reads a slot as loaded: AttributeError when empty, without __getattr__'s lazy load.
_get_raw = object.__getattribute__
_new = object.__new__
# What the ORM state slots read as when a path that builds instances did not fill them.
_STATE_DEFAULTS = {
    "_persisted": False,
    "_changes": None,
    "_session": None,
    "_rel": None,
    "_extra": None,
}


class _Expired:
    """``_persisted`` of an object whose row exists but whose loaded values a session
    dropped (``Session.expire``): true like True; the next read of a field reloads them."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "EXPIRED"

    def __reduce__(self) -> str:
        return "EXPIRED"  # pickles as this module's one instance


EXPIRED = _Expired()

# Imported here, not at the top: statements.py refers back to this module (see there).
from .statements import TableStatements  # noqa: E402


class Model(TableStatements, metaclass=ModelBase):
    """Base class of every model. See the docs for fields, Meta options and queries."""

    __slots__ = ("_persisted", "_changes", "_session", "_rel", "_extra", "__weakref__")
    if TYPE_CHECKING:
        _persisted: bool | _Expired
        _changes: dict[str, Any] | None
        _session: Callable[[], Any] | None
        _rel: dict[str, Any] | None
        _extra: dict[str, Any] | None

    if not TYPE_CHECKING:
        # Run-time only: type checkers keep object's __dict__, and would read __getattr__
        # (below) as "any attribute exists", hiding every misspelt field name.

        @property
        def __dict__(self):
            """The attributes set on the instance besides its fields (query annotations,
            prefetched lists, a user's own): a dict created on first use."""
            return _dict_in_slot(self, "_extra")

        def __getattr__(self, name):
            # Reached only when normal lookup fails: an attribute kept in _extra, a field
            # that was not selected or that a session expired, ORM state not filled in yet.
            if name in _STATE_DEFAULTS:
                return _STATE_DEFAULTS[name]
            extra = self._extra
            if extra is not None and name in extra:
                return extra[name]
            field = type(self)._meta.attr_keys.get(name)
            if field is not None:
                return self._load_missing(field)
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    if TYPE_CHECKING:
        # Set on each model class by the metaclass.
        _meta: ClassVar[Metadata]
        DoesNotExist: ClassVar[type[exceptions.DoesNotExist]]
        id: Any  # the AutoField a model without a declared primary key gets

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # ``User(...)`` is the model's metaclass (one per model) calling _construct: one
        # Python call builds the instance. A model with its own __init__ or __new__ goes
        # through type.__call__, so that those run.
        plain = cls.__init__ is Model.__init__ and cls.__new__ is Model.__new__
        type(cls).__call__ = _construct if plain else type.__call__  # type: ignore[method-assign,assignment]

    def __new__(cls, *args: Any, **values: Any) -> Self:
        # Only for models with their own __init__ or __new__ (and pickle, copy): the
        # instance exists, and takes attributes of the user's own, before __init__ runs.
        obj = object.__new__(cls)
        _set_extra(obj, None)
        return obj

    def __init__(self, **values: Any) -> None:
        # Filled as the model's loader class (metadata._loader_class), whose C-level
        # assignments skip change tracking; then handed back the model's class.
        meta = type(self)._meta
        _set_raw(self, "__class__", meta.loader)
        try:
            (meta.initializer or initializer_for(meta.model))(self, values)
        finally:
            # The class it was built as: pyright reads the assignment as narrowing Self.
            self.__class__ = meta.model  # pyright: ignore[reportAttributeAccessIssue]

    def __delattr__(self, name: str) -> None:
        extra = self._extra
        if extra is not None and name in extra:
            del extra[name]
        else:
            object.__delattr__(self, name)

    # -- change tracking -------------------------------------------------------------------
    def __setattr__(self, name: str, value: Any) -> None:
        slot = type(self)._meta.tracked.get(name)
        if slot is None:
            try:
                _set_raw(self, name, value)  # ORM state, or a slot a subclass declared
            except AttributeError:
                _set_attribute(self, name, value)  # the instance dict, or the reason why not
            return
        read, store = slot
        changes = self._changes
        if changes is None:
            try:
                original = read(self)
            except AttributeError:
                original = _MISSING
            _set_changes(self, {name: original})
            # The first change since the last flush puts the object in the session's
            # dirty set; later writes need no bookkeeping beyond _changes.
            session = self._session
            if session is not None:
                session_ref = session()
                if session_ref is not None:
                    session_ref._mark_dirty(self)
        elif name not in changes:
            try:
                changes[name] = read(self)
            except AttributeError:
                changes[name] = _MISSING
        store(self, value)

    def _dirty_fields(self) -> list[Field[Any]]:
        """Fields whose value differs from the one last loaded or saved."""
        changes = self._changes
        if not changes:
            return []
        meta = type(self)._meta
        tracked = meta.tracked
        attr_keys = meta.attr_keys
        dirty = []
        for key, original in changes.items():
            try:
                current = tracked[key][0](self)
            except AttributeError:
                current = _MISSING
            # A value of another type counts as a change even when == says equal (1 vs True).
            if current.__class__ is not original.__class__ or current != original or original is _MISSING:
                dirty.append(attr_keys[key])
        return dirty

    @property
    def dirty_fields(self) -> list[Any]:
        """The fields assigned since the object was loaded or last saved (what ``save()`` would write)."""
        return self._dirty_fields()

    def is_dirty(self) -> bool:
        """True if any field was assigned since the object was loaded or last saved."""
        return bool(self._dirty_fields())

    def _clear_changes(self) -> None:
        _set_raw(self, "_changes", None)

    # -- attribute hooks -------------------------------------------------------------------
    def _load_missing(self, field: Field[Any]) -> Any:
        if self._persisted is EXPIRED:
            self.refresh()
            return _loaded_value(self, field.attr_key)
        return None

    def _related_object(self, fk: ForeignKeyField[Any]) -> Any:
        rel = self._rel
        if rel is not None and fk.name in rel:
            obj = rel[fk.name]
            key = _loaded_value(self, fk.attr_key)
            if obj is None or key is None or _loaded_value(obj, fk.rel_field.attr_key) in (key, None):
                if obj is None and key is not None:
                    pass  # the key changed after a None was cached: load below
                else:
                    return obj
        key = _loaded_value(self, fk.attr_key, _MISSING)
        if key is _MISSING and self._persisted is EXPIRED:
            self.refresh()
            rel = self._rel
            key = _loaded_value(self, fk.attr_key)
        if key is None or key is _MISSING:
            return None
        if not fk.lazy_load:
            return key
        rel_model = fk.rel_model
        session_ref = self._session
        session: Any = session_ref() if session_ref is not None else None
        by_key = session is not None and fk.rel_field is rel_model._meta.primary_key
        # by_key implies a session, which pyright cannot follow through the flag.
        if lazy_load_listeners and not (by_key and session._holds(rel_model, key)):  # pyright: ignore[reportOptionalMemberAccess]  # events: N+1 detector
            notify_lazy_load(self, fk, "foreign_key")
        if by_key:
            obj = session.get(rel_model, key)  # pyright: ignore[reportOptionalMemberAccess]
            if obj is None:
                raise rel_model.DoesNotExist(f"{rel_model.__name__} with {fk.rel_field.name}={key!r} does not exist")
        else:
            obj = rel_model.get(fk.rel_field == key)
        if rel is None:
            rel = {}
            _set_raw(self, "_rel", rel)
        rel[fk.name] = obj
        return obj

    def _set_related_object(self, fk: ForeignKeyField[Any], value: Any, track: bool = True) -> None:
        if isinstance(value, Model):
            if not isinstance(value, fk.rel_model):
                raise DataError(f"{fk.qualified_name}: expected a {fk.rel_model.__name__}, got {type(value).__name__}")
            key = _loaded_value(value, fk.rel_field.attr_key)
            rel = self._rel
            if rel is None:
                rel = {}
                _set_raw(self, "_rel", rel)
            rel[fk.name] = value
        else:
            key = value
            rel = self._rel
            if rel is not None:
                rel.pop(fk.name, None)
        if track:
            Model.__setattr__(self, fk.attr_key, key)
        else:
            _set_raw(self, fk.attr_key, key)

    def _sync_related_keys(self) -> None:
        """Copy keys of related objects saved since they were assigned (``tweet.user = u``)."""
        rel = self._rel
        if not rel:
            return
        fields = self._meta.fields
        for name, obj in rel.items():
            if obj is None:
                continue
            fk: ForeignKeyField[Any] = fields[name]  # type: ignore[assignment]  # pyright: ignore[reportAssignmentType]  # _rel is keyed by foreign keys only
            key = _loaded_value(obj, fk.rel_field.attr_key)
            if key is not None and _loaded_value(self, fk.attr_key) != key:
                Model.__setattr__(self, fk.attr_key, key)

    # -- identity --------------------------------------------------------------------------
    @property
    def pk(self) -> Any:
        """The primary key's value (a tuple for a ``CompositeKey``); None before the first save of an auto key."""
        meta = self._meta
        if meta.composite_key:
            return tuple(_loaded_value(self, field.attr_key) for field in meta.primary_key.fields)
        if meta.primary_key is None:
            return None
        return _loaded_value(self, meta.primary_key.attr_key)

    @pk.setter
    def pk(self, value: Any) -> None:
        meta = self._meta
        if meta.composite_key:
            for field, part in zip(meta.primary_key.fields, value):
                setattr(self, field.attr_key, part)
        else:
            setattr(self, meta.primary_key.attr_key, value)

    get_id = pk.fget  # type: ignore[attr-defined]  # mypy sees the setter, not the property

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        pk = self.pk
        if pk is None or (isinstance(pk, tuple) and None in pk):
            return self is other
        equal: bool = pk == other.pk
        return equal

    def __hash__(self) -> int:
        pk = self.pk
        if pk is None:
            return id(self)
        return hash((type(self), pk))

    def __repr__(self) -> str:
        return f"<{type(self).__name__}: {self.pk!r}>"

    def __getstate__(self) -> dict[str, Any]:
        # The loaded values, the state a copy keeps, and the instance dict; not the session
        # nor the related objects (a copy or an unpickled object belongs to no session).
        state = {}
        for key in type(self)._meta.attr_keys:
            try:
                state[key] = _get_raw(self, key)
            except AttributeError:
                pass
        state["_persisted"] = self._persisted
        if self._changes:
            state["_changes"] = dict(self._changes)
        if self._extra:
            state.update(self._extra)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        _replace_state(self, state)
        model = type(self)._meta.model
        if type(self) is not model:  # made by Model.__new__ (pickle, copy): a loader
            _set_raw(self, "__class__", model)

    # -- class-level API -------------------------------------------------------------------
    @classmethod
    def select(cls, *columns: Any) -> ModelSelect[Self]:
        """``Model.select(*fields_or_models_or_expressions)``; all fields when none given."""
        return ModelSelect(cls, columns)

    @classmethod
    def filter(cls, *conditions: Any, **lookups: Any) -> ModelSelect[Self]:
        """``Model.select().filter(...)``: expressions and Django-style ``field__op=value`` lookups."""
        return cls.select().filter(*conditions, **lookups)

    @classmethod
    def create(cls, **values: Any) -> Self:
        """Insert a new row and return it as an instance."""
        instance = cls(**values)
        if cls.save is not Model.save:  # an override (signals, hooks) sees every insert
            instance.save(force_insert=True)
            return instance
        if instance._rel:
            instance._sync_related_keys()
        instance._insert()
        return instance

    @classmethod
    def get(cls, *conditions: Any, **lookups: Any) -> Self:
        """The one row matching; ``Model.DoesNotExist`` if none."""
        query = cls.select()
        if conditions or lookups:
            query = query.filter(*conditions, **lookups)
        return query.get()

    @classmethod
    def get_or_none(cls, *conditions: Any, **lookups: Any) -> Self | None:
        """Like ``get()``, but None when no row matches (more than one is still an error)."""
        try:
            return cls.get(*conditions, **lookups)
        except DoesNotExist:
            return None

    @classmethod
    def get_by_id(cls, pk: Any) -> Self:
        """The row with this primary key; ``Model.DoesNotExist`` if none."""
        meta = cls._meta
        if meta.composite_key or meta.primary_key is None:
            return cls.select().where(meta.pk_expression(pk)).get()
        database = meta.get_database().route_read(cls)
        dialect = database.dialect
        # One lookup finds everything a get needs on this engine: the statement, the key's
        # adapter and the row constructor.
        plan = meta._query_cache.get(("get_by_id", dialect))
        if plan is None:
            query = cls.select().where(meta.primary_key == SQL("?", [None])).limit(1)
            plan = meta._query_cache[("get_by_id", dialect)] = (
                query.sql(dialect)[0],
                meta.primary_key.adapter(dialect),
                _hydrator_for(cls, tuple(meta.fields.values()), dialect),
            )
        sql, adapt, hydrate = plan
        rows = database.execute_sql(sql, (adapt(pk),)).fetchall()
        if not rows:
            raise cls.DoesNotExist(f"{cls.__name__} with {meta.primary_key.name}={pk!r} does not exist")
        found: Self = hydrate(rows)[0]
        return found

    @classmethod
    def get_or_create(cls, defaults: dict[str, Any] | None = None, **lookups: Any) -> tuple[Self, bool]:
        """``(obj, created)``: the matching row, or a new one from lookups plus ``defaults``."""
        try:
            return cls.get(**lookups), False
        except DoesNotExist:
            pass
        values = {key: value for key, value in lookups.items() if "__" not in key}
        values.update(defaults or {})
        database = cls._meta.get_database().route_write(cls)
        try:
            with database.atomic():
                return cls.create(**values), True
        except exceptions.IntegrityError:
            # Another writer created it between our SELECT and INSERT. Inside a transaction
            # a plain read may not see it (MySQL/MariaDB REPEATABLE READ reads the snapshot
            # taken at the first read); a locking read sees the latest committed row. Shared,
            # so that the other losers of the race, holding shared locks too, do not deadlock.
            query = cls.select().filter(**lookups)
            if database.in_transaction() and database.dialect.supports_for_update:
                query = query.for_update(share=True)
            found = query.first()
            if found is None:
                raise
            return found, False

    # -- instance API ----------------------------------------------------------------------
    def save(self, force_insert: bool = False, only: Any = None) -> int:
        """Insert the row if it is new, else update the columns that changed.

        Returns the number of rows written (0 when nothing changed: no SQL is sent). With a
        VersionField the update checks and bumps the version, raising StaleDataError if the
        row was changed or deleted by someone else.
        """
        if self._rel:
            self._sync_related_keys()
        if force_insert or not self._persisted:
            self._insert()
            return 1
        if self._meta.primary_key is None:
            raise DataError(f"{type(self).__name__} has no primary key: a saved row cannot be updated by save()")
        fields = self._dirty_fields()
        if only is not None:
            only_names = {getattr(item, "name", item) for item in only}
            fields = [field for field in fields if field.name in only_names]
        if not fields:
            return 0
        return self._update(fields)

    def _insert(self) -> None:
        cls = type(self)
        meta = cls._meta
        version = meta.version_field
        if version is not None and _loaded_value(self, version.attr_key) is None:
            _set_raw(self, version.attr_key, 1)
        database = (meta.database or meta.get_database()).route_write(cls)
        dialect = database.dialect
        # The common shape (every field present, auto key unset) has one precompiled plan,
        # kept on the metadata next to the engine it was compiled for.
        plan = meta._insert_plan
        if plan is None or plan.dialect is not dialect:
            plan = meta._insert_plan = _InsertPlan(cls, None, dialect)
        tracked = meta.tracked
        try:
            # An auto key not yet assigned has an empty slot (or None): the common plan.
            if plan.auto_pk is not None and _loaded_value(self, plan.auto_pk.attr_key) is not None:
                raise AttributeError
            params = [adapt(tracked[key][0](self)) for key, adapt in plan.getters]
        except AttributeError:
            present = tuple(
                field
                for field in meta.fields.values()
                if _loaded_value(self, field.attr_key, _MISSING) is not _MISSING
                and not (field.auto_increment and _loaded_value(self, field.attr_key) is None)
            )
            cache_key = ("insert", dialect, present)
            plan = meta._query_cache.get(cache_key)
            if plan is None:
                plan = meta._query_cache[cache_key] = _InsertPlan(cls, present, dialect)
            params = [adapt(_get_raw(self, key)) for key, adapt in plan.getters]
        cursor = database.execute_sql(plan.sql, params)
        auto_pk = plan.auto_pk
        if auto_pk is not None:
            store = tracked[auto_pk.attr_key][1]
            store(self, cursor.fetchone()[0] if plan.returning else database.last_insert_id(cursor))
        _set_persisted(self, True)
        if self._changes is not None:
            _set_changes(self, None)
        if write_listeners:  # events: caches, signals
            notify_write(cls, "insert", database, (self,), "save")

    def _update(self, fields: Sequence[Field[Any]]) -> int:
        cls = type(self)
        meta = cls._meta
        database = (meta.database or meta.get_database()).route_write(cls)
        dialect = database.dialect
        version = meta.version_field
        if version is not None:
            fields = tuple(field for field in fields if field is not version)
            if not fields:
                return 0
        else:
            fields = tuple(fields)
        plan = update_plan(cls, fields, dialect)
        tracked = meta.tracked
        try:
            params = [adapt(tracked[attr_key][0](self)) for attr_key, adapt in plan.getters]
        except AttributeError:  # a column that was not loaded is written as NULL
            params = [adapt(_loaded_value(self, attr_key)) for attr_key, adapt in plan.getters]
        if version is not None:
            current = _loaded_value(self, version.attr_key)
            params.append(current)
        rows: int = database.execute_sql(plan.sql, params).rowcount
        if version is not None:
            # current is set above under the same condition (pyright cannot pair the two).
            if rows == 0:
                raise stale_data_error(cls, self.pk, current, database) or StaleDataError(  # pyright: ignore[reportPossiblyUnboundVariable]
                    f"{cls.__name__} with primary key {self.pk!r} was not written: it changed while being written"
                )
            _set_raw(self, version.attr_key, current + 1)  # pyright: ignore[reportPossiblyUnboundVariable]
        _set_changes(self, None)
        if write_listeners:  # events: caches, signals
            notify_write(cls, "update", database, (self,), "save")
        return rows

    def delete_instance(self) -> int:
        """Delete this row; with a VersionField, only if the version still matches."""
        cls = type(self)
        meta = cls._meta
        database = meta.get_database().route_write(cls)
        condition = meta.pk_expression(self.pk)
        version = meta.version_field
        if version is not None:
            current = _loaded_value(self, version.attr_key)
            condition = condition & (version == current)
        rows: int = database.execute(Delete(cls, database).where(condition)).rowcount
        if rows == 0 and version is not None:
            # current is set above when there is a version field.
            raise stale_data_error(cls, self.pk, current, database) or StaleDataError(  # pyright: ignore[reportPossiblyUnboundVariable]
                f"{cls.__name__} with primary key {self.pk!r} was not written: it changed while being written"
            )
        _set_raw(self, "_persisted", False)
        if write_listeners:  # events: caches, signals
            notify_write(cls, "delete", database, (self,), "delete_instance")
        return rows

    def refresh(self) -> Self:
        """Reload every column from the database (discarding unsaved changes)."""
        session = self._session
        session = session() if session is not None else None
        if session is not None:
            refreshed: Self = session.refresh(self)
            return refreshed
        cls = type(self)
        fresh = cls.select().where(cls._meta.pk_expression(self.pk)).get()
        for key in cls._meta.attr_keys:
            value = _loaded_value(fresh, key, _MISSING)
            if value is not _MISSING:
                _set_raw(self, key, value)
        _set_raw(self, "_changes", None)
        _set_raw(self, "_rel", None)
        _set_raw(self, "_persisted", True)
        return self


# Stores into Model's own state slots: C, past __setattr__ (see Metadata.tracked).
_set_changes = Model.__dict__["_changes"].__set__
_set_extra = Model.__dict__["_extra"].__set__
_set_persisted = Model.__dict__["_persisted"].__set__


def _construct(cls: type[Model], /, **values: Any) -> Model:
    """``Model(**values)`` for a model without an ``__init__`` of its own (see
    ``Model.__init_subclass__``): built as the loader class, filled, handed the model's class."""
    meta = cls._meta
    obj: Model = _new(meta.loader)
    obj._extra = None
    (meta.initializer or initializer_for(cls))(obj, values)
    obj.__class__ = cls
    return obj


def _replace_state(obj: Any, state: dict[str, Any]) -> None:
    """Make ``obj`` hold exactly ``state`` (attribute -> value, as ``__getstate__`` gives):
    every other field slot emptied, the instance dict cleared, the ORM state reset first."""
    for key in type(obj)._meta.attr_keys:
        try:
            object.__delattr__(obj, key)
        except AttributeError:
            pass
    for key, value in _STATE_DEFAULTS.items():
        _set_raw(obj, key, value)
    for key, value in state.items():
        _set_attribute(obj, key, value)


def _dict_in_slot(obj: Any, slot: str) -> dict[str, Any]:
    """The dict an instance keeps in ``slot`` (``_rel``, ``_extra``), created on first use."""
    held: dict[str, Any] | None = _get_raw(obj, slot)
    if held is None:
        held = {}
        _set_raw(obj, slot, held)
    return held


def _set_attribute(obj: Any, name: str, value: Any) -> None:
    """Set ``name`` without change tracking: its slot, or else the instance's ``_extra``."""
    try:
        _set_raw(obj, name, value)
    except AttributeError:
        # No slot of that name. A data descriptor on the class (a property without a
        # setter) refused the value: that error stands. A plain class attribute or method
        # cannot be shadowed per instance without a real __dict__: say so.
        for klass in type(obj).__mro__:
            if name in vars(klass):
                attribute = vars(klass)[name]
                if hasattr(type(attribute), "__set__"):
                    raise
                raise AttributeError(
                    f"{type(obj).__name__}.{name} is defined by the class; model instances "
                    "cannot shadow it with an attribute of their own"
                ) from None
        obj.__dict__[name] = value


def _value_node(field: Field[Any], value: Any) -> Node:
    if isinstance(value, Node):
        return value
    return Value(value, field)


def stale_data_error(model: type[Model], pk: Any, expected_version: Any, database: Database) -> StaleDataError | None:
    """A StaleDataError if the row's version is not ``expected_version`` (None if it is).

    Tells a row another writer deleted from one whose version moved on. Used by save(),
    delete_instance() and, once its savepoint is rolled back, a session's flush.
    """
    version = model._meta.version_field
    rows = model.select(version).where(model._meta.pk_expression(pk)).tuples()._fetch(database)
    if not rows:
        why = "the row was deleted by another writer"
    elif rows[0][0] != expected_version:
        why = f"its version moved on from {expected_version} to {rows[0][0]} (another writer changed it)"
    else:
        return None
    return StaleDataError(f"{model.__name__} with primary key {pk!r} was not written: {why}")


# Model's class methods build the queries below, and those modules refer back to Model:
# importing them once it exists keeps the cycle harmless. The ones exported with ``as``
# are what statements.TableStatements reaches through this module.
from .aliases import ModelAlias as ModelAlias  # noqa: E402
from .hydration import _hydrator_for, initializer_for  # noqa: E402
from .select import ModelSelect  # noqa: E402
from .writes import ModelDelete as ModelDelete  # noqa: E402
from .writes import ModelInsert as ModelInsert  # noqa: E402
from .writes import ModelUpdate as ModelUpdate  # noqa: E402
from .writes import _InsertPlan, update_plan  # noqa: E402
from .writes import copy_from as copy_from  # noqa: E402

if TYPE_CHECKING:
    from typing import TypeVar

    from typing_extensions import ParamSpec, dataclass_transform

    _P = ParamSpec("_P")
    _S = TypeVar("_S")

    @dataclass_transform(kw_only_default=True, eq_default=False)
    class TypedModel(Model):
        """``Model`` whose annotated fields also type ``Model(...)`` and ``create(...)``."""

        # Typed from the annotated fields; pyright wants an override to return a Model.
        @classmethod
        def create(cls: Callable[_P, _S], *args: _P.args, **kwargs: _P.kwargs) -> _S: ...  # pyright: ignore[reportIncompatibleMethodOverride]

else:
    # At run time a TypedModel is a Model: the difference is for type checkers only.
    TypedModel = Model
