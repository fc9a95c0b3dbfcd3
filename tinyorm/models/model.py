"""The active-record ``Model``: instances, change tracking, and the class-level API.

Instances keep their column values in ``__dict__`` under each field's ``attr_key`` (the field
name; ``<name>_id`` for a foreign key), so reading an attribute is a plain dict lookup. ORM
bookkeeping is created lazily in the same dict: ``_persisted`` (the row exists), ``_changes``
(attr_key -> value before the first write since the last save) and ``_rel`` (loaded related
objects).

``save()`` on a new object and ``create()`` run a precompiled single-row INSERT
(``writes._InsertPlan``); ``save()`` on a loaded one a precompiled UPDATE of the changed
columns (``writes._UpdatePlan``), both cached on the model's metadata per engine.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from .. import exceptions
from ..events import lazy_load_listeners, notify_lazy_load, notify_write, write_listeners
from ..exceptions import DataError, DoesNotExist, ImproperlyConfigured, StaleDataError
from ..fields import Field, ForeignKeyField
from ..sql.nodes import SQL, Node, Value
from ..sql.query import Delete
from ..sql.search import SearchMatch, SearchRank
from .metadata import _MISSING, ModelBase

if TYPE_CHECKING:
    from typing_extensions import Self

    from .metadata import Metadata


class Model(metaclass=ModelBase):
    """Base class of every model. See the docs for fields, Meta options and queries."""

    if TYPE_CHECKING:
        # Set on each model class by the metaclass.
        _meta: ClassVar[Metadata]
        DoesNotExist: ClassVar[type[exceptions.DoesNotExist]]
        id: Any  # the AutoField a model without a declared primary key gets

    def __init__(self, **values: Any) -> None:
        meta = self._meta
        data = self.__dict__
        data.update(meta.static_defaults)
        for field in meta.callable_defaults:
            data[field.attr_key] = field.get_default()
        fields = meta.fields
        attr_keys = meta.attr_keys
        for name, value in values.items():
            if name in attr_keys:
                data[name] = value
            elif name in fields:
                field = fields[name]
                if isinstance(field, ForeignKeyField):
                    self._set_related_object(field, value, track=False)
                else:
                    data[field.attr_key] = value
            else:
                raise TypeError(f"{type(self).__name__}() got an unexpected field {name!r}")

    # -- change tracking -------------------------------------------------------------------
    def __setattr__(self, name: str, value: Any) -> None:
        meta = type(self)._meta
        if name in meta.tracked:
            data = self.__dict__
            changes = data.get("_changes")
            if changes is None:
                changes = data["_changes"] = {name: data.get(name, _MISSING)}
                # The first change since the last flush puts the object in the session's
                # dirty set; later writes need no bookkeeping beyond _changes.
                session = data.get("_session")
                if session is not None:
                    session_ref = session()
                    if session_ref is not None:
                        session_ref._mark_dirty(self)
            elif name not in changes:
                changes[name] = data.get(name, _MISSING)
            data[name] = value
            return
        object.__setattr__(self, name, value)

    def _dirty_fields(self):
        """Fields whose value differs from the one last loaded or saved."""
        data = self.__dict__
        changes = data.get("_changes")
        if not changes:
            return []
        attr_keys = self._meta.attr_keys
        dirty = []
        for key, original in changes.items():
            current = data.get(key, _MISSING)
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

    def _clear_changes(self):
        self.__dict__.pop("_changes", None)

    # -- attribute hooks -------------------------------------------------------------------
    def _load_missing(self, field: Field[Any]) -> Any:
        data = self.__dict__
        if data.get("_expired"):
            self.refresh()
            return self.__dict__.get(field.attr_key)
        return None

    def _related_object(self, fk):
        data = self.__dict__
        rel = data.get("_rel")
        if rel is not None and fk.name in rel:
            obj = rel[fk.name]
            key = data.get(fk.attr_key)
            if obj is None or key is None or obj.__dict__.get(fk.rel_field.attr_key) in (key, None):
                if obj is None and key is not None:
                    pass  # the key changed after a None was cached: load below
                else:
                    return obj
        key = data.get(fk.attr_key, _MISSING)
        if key is _MISSING and data.get("_expired"):
            self.refresh()
            data = self.__dict__  # refresh installs a new dict
            rel = data.get("_rel")
            key = data.get(fk.attr_key)
        if key is None or key is _MISSING:
            return None
        if not fk.lazy_load:
            return key
        rel_model = fk.rel_model
        session = data.get("_session")
        session = session() if session is not None else None
        by_key = session is not None and fk.rel_field is rel_model._meta.primary_key
        if lazy_load_listeners and not (by_key and session._holds(rel_model, key)):  # events: N+1 detector
            notify_lazy_load(self, fk, "foreign_key")
        if by_key:
            obj = session.get(rel_model, key)
            if obj is None:
                raise rel_model.DoesNotExist(f"{rel_model.__name__} with {fk.rel_field.name}={key!r} does not exist")
        else:
            obj = rel_model.get(fk.rel_field == key)
        if rel is None:
            rel = data["_rel"] = {}
        rel[fk.name] = obj
        return obj

    def _set_related_object(self, fk, value, track=True):
        data = self.__dict__
        if isinstance(value, Model):
            if not isinstance(value, fk.rel_model):
                raise DataError(f"{fk.qualified_name}: expected a {fk.rel_model.__name__}, got {type(value).__name__}")
            key = value.__dict__.get(fk.rel_field.attr_key)
            rel = data.get("_rel")
            if rel is None:
                rel = data["_rel"] = {}
            rel[fk.name] = value
        else:
            key = value
            rel = data.get("_rel")
            if rel is not None:
                rel.pop(fk.name, None)
        if track:
            self.__setattr__(fk.attr_key, key)
        else:
            data[fk.attr_key] = key

    def _sync_related_keys(self):
        """Copy keys of related objects saved since they were assigned (``tweet.user = u``)."""
        rel = self.__dict__.get("_rel")
        if not rel:
            return
        data = self.__dict__
        fields = self._meta.fields
        for name, obj in rel.items():
            if obj is None:
                continue
            fk = fields[name]
            key = obj.__dict__.get(fk.rel_field.attr_key)
            if key is not None and data.get(fk.attr_key) != key:
                self.__setattr__(fk.attr_key, key)

    # -- identity --------------------------------------------------------------------------
    @property
    def pk(self) -> Any:
        """The primary key's value (a tuple for a ``CompositeKey``); None before the first save of an auto key."""
        meta = self._meta
        if meta.composite_key:
            return tuple(self.__dict__.get(field.attr_key) for field in meta.primary_key.fields)
        if meta.primary_key is None:
            return None
        return self.__dict__.get(meta.primary_key.attr_key)

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
        return pk == other.pk

    def __hash__(self) -> int:
        pk = self.pk
        if pk is None:
            return id(self)
        return hash((type(self), pk))

    def __repr__(self) -> str:
        return f"<{type(self).__name__}: {self.pk!r}>"

    def __getstate__(self):
        state = {key: value for key, value in self.__dict__.items() if key not in ("_session", "_rel")}
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)

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
    def alias(cls, name: str | None = None) -> ModelAlias:
        """An aliased copy of the table for self-joins: ``Parent = Category.alias()``."""
        return ModelAlias(cls, name)

    @classmethod
    def insert(cls, values: dict[Any, Any] | None = None, **kwargs: Any) -> ModelInsert:
        """``Model.insert(field=value, ...).execute()`` returns the new primary key."""
        row = dict(values or {})
        row.update(kwargs)
        return ModelInsert(cls, [row], single=True)

    @classmethod
    def insert_many(cls, rows: Any, fields: Any = None) -> ModelInsert:
        """Insert many rows: dicts, tuples (aligned with ``fields``) or model instances."""
        return ModelInsert(cls, rows, fields=fields)

    @classmethod
    def copy_from(cls, rows: Any, fields: Any = None, batch_size: int = 10_000) -> int:
        """Bulk-load ``rows`` (an iterable of dicts, or of tuples aligned with ``fields``),
        streamed ``batch_size`` rows at a time in one transaction; returns the number of
        rows loaded. Values are validated and converted as ``insert_many`` does (the same
        ``DataError``). PostgreSQL loads through ``COPY ... FROM STDIN``, the other engines
        through multi-row INSERTs; nothing is returned per row (no keys, no instances)."""
        return copy_from(cls, rows, fields, batch_size)

    @classmethod
    def replace(cls, values: dict[Any, Any] | None = None, **kwargs: Any) -> ModelInsert:
        """Like ``insert()``, but a row with the same primary or unique key is replaced:
        ``REPLACE`` on SQLite and MySQL, an upsert overwriting the row on PostgreSQL."""
        row = dict(values or {})
        row.update(kwargs)
        return ModelInsert(cls, [row], single=True).replace()

    @classmethod
    def replace_many(cls, rows: Any, fields: Any = None) -> ModelInsert:
        """``insert_many()`` with ``replace()``'s handling of rows whose key exists."""
        return ModelInsert(cls, rows, fields=fields).replace()

    @classmethod
    def insert_from(cls, query: Any, fields: Any) -> ModelInsert:
        """``INSERT INTO table (fields) SELECT ...``: copy the rows ``query`` selects into ``fields``."""
        return ModelInsert(cls, (), fields=fields, from_query=query)

    @classmethod
    def update(cls, values: dict[Any, Any] | None = None, **kwargs: Any) -> ModelUpdate:
        """``Model.update(field=value).where(...).execute()`` returns the rows matched."""
        assignments = dict(values or {})
        assignments.update(kwargs)
        return ModelUpdate(cls, assignments)

    @classmethod
    def delete(cls) -> ModelDelete:
        """``Model.delete().where(...).execute()`` returns the rows deleted."""
        return ModelDelete(cls)

    @classmethod
    def create(cls, **values: Any) -> Self:
        """Insert a new row and return it as an instance."""
        instance = cls(**values)
        if cls.save is not Model.save:  # an override (signals, hooks) sees every insert
            instance.save(force_insert=True)
            return instance
        if "_rel" in instance.__dict__:
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
        return hydrate(rows)[0]

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

    # -- full-text search (Meta.search) and indexes -------------------------------------------
    @classmethod
    def _search(cls):
        search = cls._meta.search
        if search is None:
            raise ImproperlyConfigured(f"{cls.__name__} is not searchable: set Meta.search = Search(...)")
        return search

    @classmethod
    def match(cls, text):
        """A condition: the row contains every word of ``text`` (``where(Entry.match(q))``).

        What users type is safe: only its words are used (see ``tinyorm.sql.search``).
        """
        return SearchMatch(cls._search(), text)

    @classmethod
    def search_rank(cls, text):
        """A relevance score for ``text``, higher for a better match: ``order_by(...desc())``."""
        return SearchRank(cls._search(), text)

    @classmethod
    def search(cls, text, *columns):
        """The rows matching ``text``, best match first (its score as ``.rank``)."""
        rank = cls.search_rank(text)
        return cls.select(*(columns or (cls,)), rank.alias("rank")).where(cls.match(text)).order_by(rank.desc())

    @classmethod
    def add_index(cls, index):
        """Add an index after the class is defined (``Index`` over expressions of its fields)."""
        cls._meta.add_index(index)
        return index

    @classmethod
    def table_exists(cls) -> bool:
        """True if the model's table exists on the database its writes are routed to."""
        database = cls._meta.get_database().route_write(cls)
        return database.table_exists(cls._meta.table_name)

    @classmethod
    def create_table(cls, safe: bool = True) -> None:
        """Create the model's table and indexes (``safe``: leave an existing one alone)."""
        cls._meta.get_database().create_tables([cls], safe=safe)

    @classmethod
    def drop_table(cls, safe: bool = True, cascade: bool = False) -> None:
        """Drop the model's table (``safe``: no error if absent; ``cascade``: PostgreSQL's CASCADE)."""
        cls._meta.get_database().drop_tables([cls], safe=safe, cascade=cascade)

    @classmethod
    def bind(cls, database: Any) -> type[Self]:
        """Attach the model to ``database`` (a Database, Router or DatabaseProxy); returns the class."""
        cls._meta.set_database(database)
        return cls

    # -- instance API ----------------------------------------------------------------------
    def save(self, force_insert: bool = False, only: Any = None) -> int:
        """Insert the row if it is new, else update the columns that changed.

        Returns the number of rows written (0 when nothing changed: no SQL is sent). With a
        VersionField the update checks and bumps the version, raising StaleDataError if the
        row was changed or deleted by someone else.
        """
        self._sync_related_keys()
        data = self.__dict__
        if force_insert or not data.get("_persisted"):
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

    def _insert(self):
        cls = type(self)
        meta = cls._meta
        data = self.__dict__
        version = meta.version_field
        if version is not None and data.get(version.attr_key) is None:
            data[version.attr_key] = 1
        database = (meta.database or meta.get_database()).route_write(cls)
        dialect = database.dialect
        # The common shape (every field present, auto key unset) has one precompiled plan,
        # kept on the metadata next to the engine it was compiled for.
        plan = meta._insert_plan
        if plan is None or plan.dialect is not dialect:
            plan = meta._insert_plan = _InsertPlan(cls, None, dialect)
        try:
            if plan.auto_pk is not None and data[plan.auto_pk.attr_key] is not None:
                raise KeyError
            params = [adapt(data[key]) for key, adapt in plan.getters]
        except KeyError:
            present = tuple(
                field
                for field in meta.fields.values()
                if field.attr_key in data and not (field.auto_increment and data[field.attr_key] is None)
            )
            cache_key = ("insert", dialect, present)
            plan = meta._query_cache.get(cache_key)
            if plan is None:
                plan = meta._query_cache[cache_key] = _InsertPlan(cls, present, dialect)
            params = [adapt(data[key]) for key, adapt in plan.getters]
        cursor = database.execute_sql(plan.sql, params)
        auto_pk = plan.auto_pk
        if auto_pk is not None:
            if plan.returning:
                data[auto_pk.attr_key] = cursor.fetchone()[0]
            else:
                data[auto_pk.attr_key] = database.last_insert_id(cursor)
        data["_persisted"] = True
        if "_changes" in data:
            del data["_changes"]
        if "_expired" in data:
            del data["_expired"]
        if write_listeners:  # events: caches, signals
            notify_write(cls, "insert", database, (self,), "save")

    def _update(self, fields):
        cls = type(self)
        meta = cls._meta
        data = self.__dict__
        database = meta.get_database().route_write(cls)
        dialect = database.dialect
        version = meta.version_field
        fields = tuple(field for field in fields if field is not version)
        if not fields:
            return 0
        plan = update_plan(cls, fields, dialect)
        params = [adapt(data.get(attr_key)) for attr_key, adapt in plan.getters]
        if version is not None:
            current = data.get(version.attr_key)
            params.append(current)
        rows = database.execute_sql(plan.sql, params).rowcount
        if version is not None:
            if rows == 0:
                raise stale_data_error(cls, self.pk, current, database) or StaleDataError(
                    f"{cls.__name__} with primary key {self.pk!r} was not written: it changed while being written"
                )
            data[version.attr_key] = current + 1
        data.pop("_changes", None)
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
            current = self.__dict__.get(version.attr_key)
            condition = condition & (version == current)
        rows = database.execute(Delete(cls, database).where(condition)).rowcount
        if rows == 0 and version is not None:
            raise stale_data_error(cls, self.pk, current, database) or StaleDataError(
                f"{cls.__name__} with primary key {self.pk!r} was not written: it changed while being written"
            )
        self.__dict__["_persisted"] = False
        if write_listeners:  # events: caches, signals
            notify_write(cls, "delete", database, (self,), "delete_instance")
        return rows

    def refresh(self) -> Self:
        """Reload every column from the database (discarding unsaved changes)."""
        session = self.__dict__.get("_session")
        session = session() if session is not None else None
        if session is not None:
            return session.refresh(self)
        cls = type(self)
        fresh = cls.select().where(cls._meta.pk_expression(self.pk)).get()
        data = self.__dict__
        for key in cls._meta.attr_keys:
            if key in fresh.__dict__:
                data[key] = fresh.__dict__[key]
        data.pop("_changes", None)
        data.pop("_expired", None)
        data.pop("_rel", None)
        data["_persisted"] = True
        return self


# Model.__setattr__ tracks changes; hydration installs a fresh __dict__ through the
# descriptor directly, which skips that hook (and is the fastest way to fill an object).
_SET_DICT = Model.__dict__["__dict__"].__set__


def _value_node(field, value):
    if isinstance(value, Node):
        return value
    return Value(value, field)


def stale_data_error(model, pk, expected_version, database):
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


# Model's class methods build the queries below, and those modules refer back to Model (and
# hydration to _SET_DICT): importing them once both exist keeps the cycle harmless.
from .aliases import ModelAlias  # noqa: E402
from .hydration import _hydrator_for  # noqa: E402
from .select import ModelSelect  # noqa: E402
from .writes import ModelDelete, ModelInsert, ModelUpdate, _InsertPlan, copy_from, update_plan  # noqa: E402

if TYPE_CHECKING:
    from typing import Callable, TypeVar

    from typing_extensions import ParamSpec, dataclass_transform

    _P = ParamSpec("_P")
    _S = TypeVar("_S")

    @dataclass_transform(kw_only_default=True, eq_default=False)
    class TypedModel(Model):
        """``Model`` whose annotated fields also type ``Model(...)`` and ``create(...)``."""

        @classmethod
        def create(cls: Callable[_P, _S], *args: _P.args, **kwargs: _P.kwargs) -> _S: ...

else:
    # At run time a TypedModel is a Model: the difference is for type checkers only.
    TypedModel = Model
