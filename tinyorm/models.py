"""Models: the metaclass and ``_meta``, active-record methods, and model-aware queries.

Instances keep their column values in ``__dict__`` under each field's ``attr_key`` (the field
name; ``<name>_id`` for a foreign key), so reading an attribute is a plain dict lookup. ORM
bookkeeping is created lazily in the same dict: ``_persisted`` (the row exists), ``_changes``
(attr_key -> value before the first write since the last save) and ``_rel`` (loaded related
objects).
"""

from __future__ import annotations

import collections
import operator
import re

from . import exceptions
from .exceptions import DataError, DoesNotExist, FieldError, ImproperlyConfigured, StaleDataError
from .fields import (
    AutoField,
    CompositeKey,
    Field,
    ForeignKeyField,
    VersionField,
)
from .sql.nodes import JOIN, SQL, Alias, Context, Expression, Node, Operand, fn
from .sql.query import CompoundSelect, Delete, Insert, Select, SelectBase, Update

__all__ = ["Model", "ModelSelect", "ModelAlias", "prefetch"]

_MISSING = object()
_MODEL_REGISTRY = {}  # class name -> model, to resolve ForeignKeyField("Name") later
_PENDING_REFERENCES = collections.defaultdict(list)  # class name -> [ForeignKeyField]


def _table_name_for(class_name):
    # "TweetLike" -> "tweet_like"
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", class_name).lower()


class Metadata:
    """Everything tinyorm knows about a model: ``Model._meta``."""

    def __init__(self, model, table_name, database, indexes, partition, constraints):
        self.model = model
        self.name = model.__name__
        self.table_name = table_name
        self.database = database
        self.indexes = list(indexes or ())
        self.partition = partition
        self.constraints = list(constraints or ())
        self.fields = {}
        self.columns = {}
        self.attr_keys = {}
        self.refs = []
        self.backrefs = []
        self.primary_key = None
        self.version_field = None
        self.composite_key = False
        self._query_cache = {}
        self._hydrators = {}
        self._insert_plan = None

    @property
    def sorted_fields(self):
        return list(self.fields.values())

    def add_field(self, name, field):
        field.bind(self.model, name)
        self.fields[name] = field
        self.columns[field.column_name] = field
        self.attr_keys[field.attr_key] = field
        if isinstance(field, ForeignKeyField):
            self.refs.append(field)
        if isinstance(field, VersionField):
            if self.version_field is not None:
                raise ImproperlyConfigured(f"{self.name} has more than one VersionField")
            self.version_field = field
        self.finalize()

    def finalize(self):
        self.tracked = frozenset(self.attr_keys)
        self.static_defaults = {}
        self.callable_defaults = []
        for field in self.fields.values():
            default = field.default
            if default is None and field.server_default is not None:
                continue  # left unset, so INSERTs omit the column and the server fills it
            if callable(default) or isinstance(default, (dict, list, set, bytearray)):
                self.callable_defaults.append(field)
            else:
                self.static_defaults[field.attr_key] = default
        self._query_cache = {}
        self._hydrators = {}
        self._insert_plan = None

    def set_database(self, database):
        self.database = database
        self._query_cache = {}
        self._insert_plan = None

    def get_database(self):
        database = self.database
        if database is None:
            raise ImproperlyConfigured(f"model {self.name} has no database: set Meta.database or call db.bind([...])")
        return database

    @property
    def primary_key_fields(self):
        if self.composite_key:
            return self.primary_key.fields
        if self.primary_key is None:
            return ()
        return (self.primary_key,)

    def pk_expression(self, values):
        """``pk = value`` (or the AND of each part of a composite key)."""
        fields = self.primary_key_fields
        if not fields:
            raise DataError(f"{self.name} has no primary key (Meta.primary_key = False)")
        if len(fields) == 1:
            return fields[0] == values
        if not isinstance(values, (tuple, list)) or len(values) != len(fields):
            raise DataError(f"{self.name} has a composite key of {len(fields)} fields; pass a tuple")
        expression = None
        for field, value in zip(fields, values):
            part = field == value
            expression = part if expression is None else expression & part
        return expression

    def unique_keys(self):
        """Every set of columns that is unique: the primary key, unique fields, unique indexes."""
        keys = [tuple(field.column_name for field in self.primary_key_fields)] if self.primary_key_fields else []
        keys += [(field.column_name,) for field in self.fields.values() if field.unique]
        for columns, unique in self.indexes:
            if unique:
                keys.append(tuple(self.fields[name].column_name if name in self.fields else name for name in columns))
        return keys


class ForeignKeyIdAccessor:
    """``tweet.user_id``: the raw key; reached only when the instance dict lacks it (the
    column was not selected, or a session expired the object)."""

    def __init__(self, fk):
        self.fk = fk

    def __get__(self, instance, owner):
        if instance is None:
            return self.fk
        return instance._load_missing(self.fk)


class BackrefAccessor:
    """``user.tweets``: a query for the rows whose foreign key points at this object."""

    def __init__(self, fk):
        self.fk = fk

    def __get__(self, instance, owner):
        if instance is None:
            return self
        fk = self.fk
        key = instance.__dict__.get(fk.rel_field.attr_key)
        query = fk.model.select().where(fk == key)
        query._parent_link = (fk, instance)
        session = instance.__dict__.get("_session")
        if session is not None:
            query._session = session()  # rows of a session's object go through its map
        return query


class ModelBase(type):
    """Builds ``_meta`` from the class body and its ``Meta``; models are SQL sources too."""

    def __new__(mcs, name, bases, attrs):
        if not any(isinstance(base, ModelBase) for base in bases):
            return super().__new__(mcs, name, bases, attrs)
        meta_options = {}
        meta_class = attrs.pop("Meta", None)
        if meta_class is not None:
            meta_options = {key: value for key, value in vars(meta_class).items() if not key.startswith("_")}
        inherited_fields = {}
        parent_meta = None
        for base in bases:
            base_meta = getattr(base, "_meta", None)
            if base_meta is None:
                continue
            parent_meta = parent_meta or base_meta
            for field_name, field in base_meta.fields.items():
                if field_name not in inherited_fields and not (
                    field.primary_key and isinstance(field, AutoField) and field_name == "id"
                ):
                    inherited_fields[field_name] = field.clone_for(None)
        own_fields = {key: value for key, value in attrs.items() if isinstance(value, Field)}
        for key in own_fields:
            attrs.pop(key)
        cls = super().__new__(mcs, name, bases, attrs)

        database = meta_options.get("database", parent_meta.database if parent_meta else None)
        partition = meta_options.get("partition", parent_meta.partition if parent_meta else None)
        table_name = meta_options.get("table_name") or _table_name_for(name)
        meta = Metadata(
            cls,
            table_name,
            database,
            meta_options.get("indexes", ()),
            partition,
            meta_options.get("constraints", ()),
        )
        cls._meta = meta
        fields = dict(inherited_fields)
        fields.update(sorted(own_fields.items(), key=lambda item: item[1]._order))
        primary_key = meta_options.get("primary_key")
        declared_pk = [field_name for field_name, field in fields.items() if field.primary_key]
        if len(declared_pk) > 1:
            raise ImproperlyConfigured(f"{name} declares several primary keys: {declared_pk}; use CompositeKey")
        if primary_key is None and not declared_pk:
            meta.add_field("id", AutoField())
            cls.id = meta.fields["id"]
        for field_name, field in fields.items():
            meta.add_field(field_name, field)
            setattr(cls, field_name, field)
            if isinstance(field, ForeignKeyField) and field.attr_key not in fields:
                setattr(cls, field.attr_key, ForeignKeyIdAccessor(field))
        if isinstance(primary_key, CompositeKey):
            primary_key.bind(cls)
            meta.primary_key = primary_key
            meta.composite_key = True
        elif primary_key is False:
            # A table with no primary key (legacy or log tables): rows can be inserted and
            # queried; saving changes to one row or get_by_id need a key and are refused.
            meta.primary_key = None
        elif primary_key is not None:
            raise ImproperlyConfigured(f"{name}.Meta.primary_key must be a CompositeKey or False")
        else:
            meta.primary_key = meta.fields[declared_pk[0]] if declared_pk else meta.fields["id"]

        # DoesNotExist per model, inheriting the parent model's.
        parent_dne = getattr(cls, "DoesNotExist", DoesNotExist)
        cls.DoesNotExist = type(f"{name}DoesNotExist", (parent_dne,), {"__module__": cls.__module__})

        for field in meta.refs:
            target = field.rel_model
            if target == "self" or target is cls or target == name:
                _resolve_reference(field, cls)
            elif isinstance(target, str):
                if target in _MODEL_REGISTRY:
                    _resolve_reference(field, _MODEL_REGISTRY[target])
                else:
                    _PENDING_REFERENCES[target].append(field)
            else:
                _resolve_reference(field, target)
        _MODEL_REGISTRY[name] = cls
        for field in _PENDING_REFERENCES.pop(name, ()):
            _resolve_reference(field, cls)
        return cls

    # -- a model class is a SQL source -----------------------------------------------------
    def __sql__(cls, ctx):
        ctx.literal(ctx.quoted(cls._meta.table_name))

    def _from_sql(cls, ctx):
        ctx.literal(ctx.quoted(cls._meta.table_name))

    def _source_alias(cls, ctx):
        return cls._meta.table_name

    def __repr__(cls):
        return f"<Model: {cls.__name__}>"


def _resolve_reference(field, target):
    field.resolve(target)
    if field.backref == "+":
        return
    backref = field.backref or f"{field.model._meta.table_name}_set"
    field.backref_name = backref
    if field not in target._meta.backrefs:
        target._meta.backrefs.append(field)
    setattr(target, backref, BackrefAccessor(field))


class Model(metaclass=ModelBase):
    """Base class of every model. See the docs for fields, Meta options and queries."""

    def __init__(self, **values):
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
    def __setattr__(self, name, value):
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
    def dirty_fields(self):
        return self._dirty_fields()

    def is_dirty(self):
        return bool(self._dirty_fields())

    def _clear_changes(self):
        self.__dict__.pop("_changes", None)

    # -- attribute hooks -------------------------------------------------------------------
    def _load_missing(self, field):
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
        if session is not None and fk.rel_field is rel_model._meta.primary_key:
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
    def pk(self):
        meta = self._meta
        if meta.composite_key:
            return tuple(self.__dict__.get(field.attr_key) for field in meta.primary_key.fields)
        if meta.primary_key is None:
            return None
        return self.__dict__.get(meta.primary_key.attr_key)

    @pk.setter
    def pk(self, value):
        meta = self._meta
        if meta.composite_key:
            for field, part in zip(meta.primary_key.fields, value):
                setattr(self, field.attr_key, part)
        else:
            setattr(self, meta.primary_key.attr_key, value)

    get_id = pk.fget

    def __eq__(self, other):
        if type(other) is not type(self):
            return NotImplemented
        pk = self.pk
        if pk is None or (isinstance(pk, tuple) and None in pk):
            return self is other
        return pk == other.pk

    def __hash__(self):
        pk = self.pk
        if pk is None:
            return id(self)
        return hash((type(self), pk))

    def __repr__(self):
        return f"<{type(self).__name__}: {self.pk!r}>"

    def __getstate__(self):
        state = {key: value for key, value in self.__dict__.items() if key not in ("_session", "_rel")}
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)

    # -- class-level API -------------------------------------------------------------------
    @classmethod
    def select(cls, *columns):
        """``Model.select(*fields_or_models_or_expressions)``; all fields when none given."""
        return ModelSelect(cls, columns)

    @classmethod
    def filter(cls, *conditions, **lookups):
        return cls.select().filter(*conditions, **lookups)

    @classmethod
    def alias(cls, name=None):
        """An aliased copy of the table for self-joins: ``Parent = Category.alias()``."""
        return ModelAlias(cls, name)

    @classmethod
    def insert(cls, values=None, **kwargs):
        """``Model.insert(field=value, ...).execute()`` returns the new primary key."""
        row = dict(values or {})
        row.update(kwargs)
        return ModelInsert(cls, [row], single=True)

    @classmethod
    def insert_many(cls, rows, fields=None):
        """Insert many rows: dicts, tuples (aligned with ``fields``) or model instances."""
        return ModelInsert(cls, rows, fields=fields)

    @classmethod
    def insert_from(cls, query, fields):
        return ModelInsert(cls, (), fields=fields, from_query=query)

    @classmethod
    def update(cls, values=None, **kwargs):
        """``Model.update(field=value).where(...).execute()`` returns the rows matched."""
        assignments = dict(values or {})
        assignments.update(kwargs)
        return ModelUpdate(cls, assignments)

    @classmethod
    def delete(cls):
        """``Model.delete().where(...).execute()`` returns the rows deleted."""
        return ModelDelete(cls)

    @classmethod
    def create(cls, **values):
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
    def get(cls, *conditions, **lookups):
        """The one row matching; ``Model.DoesNotExist`` if none."""
        query = cls.select()
        if conditions or lookups:
            query = query.filter(*conditions, **lookups)
        return query.get()

    @classmethod
    def get_or_none(cls, *conditions, **lookups):
        try:
            return cls.get(*conditions, **lookups)
        except DoesNotExist:
            return None

    @classmethod
    def get_by_id(cls, pk):
        """The row with this primary key; ``Model.DoesNotExist`` if none."""
        meta = cls._meta
        if meta.composite_key or meta.primary_key is None:
            return cls.select().where(meta.pk_expression(pk)).get()
        database = meta.get_database().route_read(cls)
        dialect = database.dialect
        sql = meta._query_cache.get(("get_by_id", dialect))
        if sql is None:
            query = cls.select().where(meta.primary_key == SQL("?", [None])).limit(1)
            sql = query.sql(dialect)[0]
            meta._query_cache[("get_by_id", dialect)] = sql
        param = meta.primary_key.adapter(dialect)(pk)
        rows = database.execute_sql(sql, (param,)).fetchall()
        if not rows:
            raise cls.DoesNotExist(f"{cls.__name__} with {meta.primary_key.name}={pk!r} does not exist")
        return _hydrator_for(cls, tuple(meta.fields.values()), dialect)(rows)[0]

    @classmethod
    def get_or_create(cls, defaults=None, **lookups):
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
            # Another writer created it between our SELECT and INSERT.
            try:
                return cls.get(**lookups), False
            except DoesNotExist:
                raise

    @classmethod
    def table_exists(cls):
        database = cls._meta.get_database().route_write(cls)
        return database.table_exists(cls._meta.table_name)

    @classmethod
    def create_table(cls, safe=True):
        cls._meta.get_database().create_tables([cls], safe=safe)

    @classmethod
    def drop_table(cls, safe=True, cascade=False):
        cls._meta.get_database().drop_tables([cls], safe=safe, cascade=cascade)

    @classmethod
    def bind(cls, database):
        cls._meta.set_database(database)
        return cls

    # -- instance API ----------------------------------------------------------------------
    def save(self, force_insert=False, only=None):
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
        key = ("update", dialect, fields)
        plan = meta._query_cache.get(key)
        if plan is None:
            plan = meta._query_cache[key] = _UpdatePlan(cls, fields, dialect)
        params = [adapt(data.get(attr_key)) for attr_key, adapt in plan.getters]
        if version is not None:
            current = data.get(version.attr_key)
            params.append(current)
        rows = database.execute_sql(plan.sql, params).rowcount
        if version is not None:
            if rows == 0:
                raise (
                    stale_data_error(cls, self.pk, current, database)
                    or StaleDataError(
                        f"{cls.__name__} with primary key {self.pk!r} was not written: it changed while being written"
                    )
                    or StaleDataError(
                        f"{cls.__name__} with primary key {self.pk!r} was not written: it changed while being written"
                    )
                )
            data[version.attr_key] = current + 1
        data.pop("_changes", None)
        return rows

    def delete_instance(self):
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
        return rows

    def refresh(self):
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
    from .sql.nodes import Value

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


class _UpdatePlan:
    """A precompiled ``UPDATE ... SET changed columns WHERE pk = ? [AND version = ?]``.

    Parameters go: the new values, the key, then the expected version.
    """

    __slots__ = ("sql", "getters")

    def __init__(self, model, fields, dialect):
        meta = model._meta
        placeholder = SQL("?", [None])
        assignments = [(field, placeholder) for field in fields]
        condition = None
        for field in meta.primary_key_fields:
            part = Expression(field, "=", placeholder)
            condition = part if condition is None else condition & part
        version = meta.version_field
        if version is not None:
            assignments.append((version, Expression(version, "+", SQL("1"))))
            condition = condition & Expression(version, "=", placeholder)
        self.sql = Update(model, assignments).where(condition).sql(dialect)[0]
        keys = list(fields) + list(meta.primary_key_fields)
        self.getters = tuple((field.attr_key, field.adapter(dialect)) for field in keys)


class _InsertPlan:
    """A precompiled single-row INSERT for one model, set of columns and engine."""

    __slots__ = ("sql", "getters", "auto_pk", "returning", "dialect")

    def __init__(self, model, fields, dialect):
        self.dialect = dialect
        meta = model._meta
        pk = meta.primary_key
        if fields is None:  # every field but an auto-increment key
            fields = tuple(field for field in meta.fields.values() if not field.auto_increment)
        query = Insert(model, fields, [tuple(SQL("?", [None]) for _ in fields)])
        self.sql = query.sql(dialect)[0]
        self.getters = tuple((field.attr_key, field.adapter(dialect)) for field in fields)
        self.auto_pk = (
            pk if (pk is not None and not meta.composite_key and pk.auto_increment and pk not in fields) else None
        )
        # PostgreSQL has no lastrowid: the new key comes back through RETURNING.
        self.returning = self.auto_pk is not None and dialect.insert_returns_pk
        if self.returning:
            self.sql += " RETURNING " + dialect.quote(pk.column_name)


# -- hydration -----------------------------------------------------------------------------
def _hydrator_for(model, fields, dialect):
    """A function turning row tuples into instances of ``model`` (generated once per shape).

    Conversions are inlined only for the columns that need one; plain integers and strings
    are copied straight from the row.
    """
    meta = model._meta
    key = (fields, dialect)
    hydrate = meta._hydrators.get(key)
    if hydrate is not None:
        return hydrate
    namespace = {"new": object.__new__, "cls": model, "set_dict": _SET_DICT}
    names = [f"v{index}" for index in range(len(fields))]
    items = []
    for index, field in enumerate(fields):
        converter = field.python_converter(dialect)
        if converter is None:
            items.append(f"{field.attr_key!r}: v{index}")
        else:
            namespace[f"c{index}"] = converter
            items.append(f"{field.attr_key!r}: (None if v{index} is None else c{index}(v{index}))")
    items.append("'_persisted': True")
    unpack = ", ".join(names) + ("," if len(names) == 1 else "")
    source = (
        "def hydrate(rows):\n"
        "    out = []\n"
        "    append = out.append\n"
        f"    for {unpack} in rows:\n"
        "        o = new(cls)\n"
        f"        set_dict(o, {{{', '.join(items)}}})\n"
        "        append(o)\n"
        "    return out\n"
    )
    exec(source, namespace)  # noqa: S102 - generated from field names we own
    hydrate = namespace["hydrate"]
    meta._hydrators[key] = hydrate
    return hydrate


def _tuple_converter(converters):
    """A function converting rows to tuples, or None when no column needs converting."""
    if not any(converters):
        return None
    namespace = {}
    items = []
    for index, converter in enumerate(converters):
        if converter is None:
            items.append(f"r[{index}]")
        else:
            namespace[f"c{index}"] = converter
            items.append(f"(None if r[{index}] is None else c{index}(r[{index}]))")
    source = f"def convert(rows):\n    return [({', '.join(items)},) for r in rows]\n"
    exec(source, namespace)  # noqa: S102
    return namespace["convert"]


class ModelAlias(Node):
    """A model under another name, for self-joins: ``Parent = Category.alias("parent")``.

    Attribute access gives the model's fields seen through the alias; the alias keeps its
    own state under ``_alias_model``/``_alias_name`` so fields called ``name`` or ``model``
    stay reachable.
    """

    def __init__(self, model, name=None):
        self.__dict__["_alias_model"] = model
        self.__dict__["_alias_name"] = name

    def __getattr__(self, attr):
        model = self.__dict__["_alias_model"]
        field = model._meta.fields.get(attr)
        if field is not None:
            return FieldAlias(self, field)
        return getattr(model, attr)

    def __setattr__(self, attr, value):
        raise AttributeError("a model alias is read-only")

    def select(self, *columns):
        return ModelSelect(self, columns or tuple(FieldAlias(self, f) for f in self._alias_model._meta.fields.values()))

    @property
    def _meta(self):
        return self._alias_model._meta

    def _source_alias(self, ctx):
        return ctx.alias_for(self, self._alias_name)

    def _from_sql(self, ctx):
        ctx.literal(ctx.quoted(self._alias_model._meta.table_name)).literal(" AS ")
        ctx.literal(ctx.quoted(self._source_alias(ctx)))

    def __sql__(self, ctx):
        ctx.literal(ctx.quoted(self._source_alias(ctx)))

    def __repr__(self):
        return f"<ModelAlias {self._alias_model.__name__} {self._alias_name or ''}>"


class FieldAlias(Operand):
    """A field seen through a ModelAlias: renders with the alias's table name."""

    __slots__ = ("source", "field")

    def __init__(self, source, field):
        self.source = source
        self.field = field

    def __getattr__(self, attr):
        return getattr(self.field, attr)

    def _converter(self):
        return self.field

    def adapter(self, dialect):
        return self.field.adapter(dialect)

    def __sql__(self, ctx):
        if ctx.qualify:
            ctx.literal(ctx.quoted(self.source._source_alias(ctx))).literal(".")
        ctx.literal(ctx.quoted(self.field.column_name))

    def __hash__(self):
        return hash((id(self.source), self.field))


def _model_of(source):
    return source._alias_model if isinstance(source, ModelAlias) else source


def _fields_of(source):
    if isinstance(source, ModelAlias):
        return tuple(FieldAlias(source, field) for field in source._alias_model._meta.fields.values())
    return tuple(source._meta.fields.values())


def _column_owner(column):
    """(source, field) for a column node, or (None, None) for an expression."""
    if isinstance(column, FieldAlias):
        return column.source, column.field
    if isinstance(column, Field):
        return column.model, column
    return None, None


def _column_label(column, index, description):
    if isinstance(column, (Field, FieldAlias)):
        return column.name
    if isinstance(column, SelectBase) and column._alias:
        return column._alias
    if isinstance(column, Alias):
        return column.name
    if description is not None:
        return description[index][0]
    return f"column{index}"


class _RowShape:
    """How the selected columns map onto objects: computed once per query shape."""

    __slots__ = ("columns", "owners", "converters", "labels")

    def __init__(self, columns, dialect, description):
        self.columns = columns
        self.owners = [_column_owner(column) for column in columns]
        self.converters = [
            field.python_converter(dialect) if field is not None else None for _source, field in self.owners
        ]
        self.labels = [_column_label(column, index, description) for index, column in enumerate(columns)]


class _ResultShapes:
    """What SELECTs over a model (plain or compound) share: the engine they compile for and
    the shape of their results (model instances, dicts, tuples, namedtuples)."""

    def _dialect(self):
        model = _model_of(self.model)
        return model._meta.get_database().dialect_for(model)

    def _with_row_type(self, row_type):
        clone = self._clone()
        clone._row_type = row_type
        return clone

    def dicts(self, as_dict=True):
        return self._with_row_type("dicts" if as_dict else "models")

    def tuples(self, as_tuple=True):
        return self._with_row_type("tuples" if as_tuple else "models")

    def namedtuples(self, as_namedtuple=True):
        return self._with_row_type("namedtuples" if as_namedtuple else "models")

    def objects(self, constructor=None):
        """Every selected column as an attribute of one instance of the queried model."""
        return self._with_row_type("objects")


class ModelSelect(_ResultShapes, Select):
    """A SELECT over a model, returning model instances (or dicts, tuples, namedtuples)."""

    def __init__(self, model, columns=()):
        expanded = []
        for column in columns or (model,):
            if isinstance(column, ModelBase) or isinstance(column, ModelAlias):
                expanded.extend(_fields_of(column))
            else:
                expanded.append(column)
        Select.__init__(self, expanded, (model,), None)
        self.model = model
        self._row_type = "models"
        self._result = None
        self._join_rels = {}
        self._parent_link = None
        self._lookup_joins = {}
        self._session = None
        self._populate_existing = False

    def populate_existing(self):
        """Overwrite objects already in the session's identity map with the loaded rows."""
        clone = self._clone()
        clone._populate_existing = True
        return clone

    def _clone(self):
        clone = Select._clone(self)
        clone._result = None
        return clone

    @property
    def database(self):
        return _model_of(self.model)._meta.database

    @database.setter
    def database(self, value):
        pass

    def _read_database(self):
        model = _model_of(self.model)
        session = self._session
        if session is not None:
            if self._for_update is not None:
                return session._write_database(model)
            return session._read_database(model)
        database = model._meta.get_database()
        if self._for_update is not None:
            return database.route_write(model)
        return database.route_read(model)

    # -- joins -----------------------------------------------------------------------------
    def join(self, dest, join_type=JOIN.INNER, on=None, attr=None):
        """Join ``dest``; without ``on`` the foreign key between the two is used."""
        src = self._join_source
        rel = None
        if join_type == JOIN.CROSS:
            if on is not None:
                raise ValueError("a CROSS JOIN takes no on= condition")
        elif on is None and isinstance(dest, (ModelBase, ModelAlias)):
            on, rel = _join_condition(src, dest)
        elif isinstance(dest, (ModelBase, ModelAlias)) and isinstance(on, Expression):
            rel = _relation_from_condition(src, dest, on)
        clone = Select.join(self, dest, join_type, on)
        if rel is not None:
            clone._join_rels = dict(self._join_rels)
            clone._join_rels[dest] = rel
        return clone

    def left_outer_join(self, dest, on=None):
        return self.join(dest, JOIN.LEFT_OUTER, on)

    # -- Django-style lookups --------------------------------------------------------------
    def filter(self, *conditions, **lookups):
        """``filter(name__startswith="a", fk__field=1, backref__field__gt=2)``."""
        query = self
        expressions = list(conditions)
        backref_groups = {}
        for key, value in lookups.items():
            parts = key.split("__")
            lookup = "exact"
            if len(parts) > 1 and parts[-1] in LOOKUPS:
                lookup = parts.pop()
            model = _model_of(query.model)
            source = query.model
            path = []
            while len(parts) > 1 or (parts and parts[0] not in model._meta.fields and _backref(model, parts[0])):
                name = parts.pop(0)
                fields = model._meta.fields
                if name in fields and isinstance(fields[name], ForeignKeyField):
                    fk = fields[name]
                    path.append(name)
                    query, source = query._join_for_lookup(tuple(path), source, fk)
                    model = fk.rel_model
                    continue
                backref_fk = _backref(model, name)
                if backref_fk is not None:
                    rest = "__".join(parts + [lookup]) if parts else None
                    group = backref_groups.setdefault((source, backref_fk), {})
                    group[rest or f"{backref_fk.model._meta.primary_key.name}__isnull"] = value if rest else False
                    parts = None
                    break
                if name in fields:
                    raise FieldError(
                        f"unknown lookup {parts[0]!r} for {model.__name__}.{name} in {key!r}; "
                        f"known: {', '.join(sorted(LOOKUPS))}"
                    )
                raise FieldError(f"{model.__name__} has no field or relation named {name!r} (in lookup {key!r})")
            if parts is None:
                continue
            name = parts[0]
            field = model._meta.fields.get(name)
            if field is None:
                if name.endswith("_id") and name[:-3] in model._meta.fields:
                    field = model._meta.fields[name[:-3]]
                else:
                    raise FieldError(f"{model.__name__} has no field named {name!r} (in lookup {key!r})")
            column = FieldAlias(source, field) if isinstance(source, ModelAlias) else field
            expressions.append(_apply_lookup(column, lookup, value, key))
        for (source, fk), group in backref_groups.items():
            target = fk.rel_field if not isinstance(source, ModelAlias) else FieldAlias(source, fk.rel_field)
            subquery = fk.model.select(fk).filter(
                **{k: v for k, v in group.items() if not k.endswith("__isnull") or v is not False}
            )
            expressions.append(target.in_(subquery))
        if not expressions:
            return query
        return query.where(*expressions)

    def _join_for_lookup(self, path, source, fk):
        existing = self._lookup_joins.get(path)
        if existing is not None:
            return self, existing
        dest = fk.rel_model
        already = {src for src in self._from} | {dest_ for _t, dest_, _on in self._joins}
        if dest in already:
            dest = ModelAlias(dest, "_".join(path))
        src_field = FieldAlias(source, fk) if isinstance(source, ModelAlias) else fk
        dest_field = FieldAlias(dest, fk.rel_field) if isinstance(dest, ModelAlias) else fk.rel_field
        join_type = JOIN.LEFT_OUTER if fk.null else JOIN.INNER
        clone = Select.join(self, dest, join_type, src_field == dest_field)
        clone._join_source = self._join_source
        clone._lookup_joins = dict(self._lookup_joins)
        clone._lookup_joins[path] = dest
        return clone, dest

    # -- execution -------------------------------------------------------------------------
    def execute(self, database=None):
        """Run the query; returns the list of results (cached on this query object)."""
        if self._result is None:
            self._result = self._fetch(database)
        return self._result

    def _fetch(self, database=None):
        if self._session is not None:
            self._session._autoflush()
        model = _model_of(self.model)
        model._meta.get_database().check_query(self)
        database = database or self._read_database()
        dialect = database.dialect
        ctx = Context(dialect)
        self._render(ctx)
        cursor = database.execute_sql("".join(ctx.parts), ctx.params)
        rows = cursor.fetchall()
        return self._build_results(rows, dialect, cursor.description)

    def _build_results(self, rows, dialect, description):
        row_type = self._row_type
        columns = self._columns
        model = _model_of(self.model)
        if row_type == "models" and _single_model_columns(columns, self.model):
            results = _hydrator_for(model, columns, dialect)(rows)
            if self._parent_link is not None:
                fk, parent = self._parent_link
                for obj in results:
                    obj.__dict__["_rel"] = {fk.name: parent}
            if self._session is not None:
                results = self._session._merge_loaded(results, populate_existing=self._populate_existing)
            return results
        shape = _RowShape(columns, dialect, description)
        if row_type == "tuples":
            convert = _tuple_converter(shape.converters)
            if convert is None:
                return [tuple(row) for row in rows] if rows and type(rows[0]) is not tuple else list(rows)
            return convert(rows)
        if row_type == "models":
            results = self._graph_hydrator(shape, dialect)(rows)
            if self._session is not None:
                results = self._session._merge_loaded(results, populate_existing=self._populate_existing)
            return results
        converted = _convert_rows(rows, shape.converters)
        if row_type == "dicts":
            labels = shape.labels
            return [dict(zip(labels, row)) for row in converted]
        if row_type == "namedtuples":
            labels = [re.sub(r"\W", "_", label) for label in shape.labels]
            klass = collections.namedtuple("Row", labels, rename=True)
            return [klass(*row) for row in converted]
        return _flat_objects(model, shape, converted)

    def _graph_hydrator(self, shape, dialect):
        """A generated row constructor for a select over several models.

        Each row builds the queried model's instance plus one instance per joined model,
        linked as the joins say: ``tweet.user`` for a foreign key, ``tweet._rel`` back to
        the parent for a backref join, an attribute named after an unrelated model. A
        joined instance whose columns are all NULL (an outer join that matched nothing)
        becomes None. Generated once per query shape, like plain selects' constructors.
        """
        primary = self.model
        join_rels = self._join_rels
        cacheable = not isinstance(primary, ModelAlias) and not any(
            isinstance(source, ModelAlias) for source, _field in shape.owners
        )
        meta = _model_of(primary)._meta
        key = (
            "graph",
            tuple(self._columns),
            tuple(sorted(((id(k), v[1], v[2]) for k, v in join_rels.items()), key=repr)),
            dialect,
        )
        if cacheable:
            hydrate = meta._hydrators.get(key)
            if hydrate is not None:
                return hydrate
        per_source = collections.OrderedDict()
        per_source[primary] = []
        extras = []
        for index, ((source, field), label) in enumerate(zip(shape.owners, shape.labels)):
            if source is None:
                extras.append((index, label))
            else:
                per_source.setdefault(source, []).append((index, field))
        namespace = {"new": object.__new__, "set_dict": _SET_DICT}
        variables = {}
        body = []

        def value(index):
            if shape.converters[index] is None:
                return f"v{index}"
            namespace[f"c{index}"] = shape.converters[index]
            return f"(None if v{index} is None else c{index}(v{index}))"

        for number, (source, entries) in enumerate(per_source.items()):
            variables[source] = number
            namespace[f"C{number}"] = _model_of(source)
            items = [f"{field.attr_key!r}: {value(index)}" for index, field in entries] + ["'_persisted': True"]
            body.append(f"d{number} = {{{', '.join(items)}}}")
            body.append(f"o{number} = new(C{number}); set_dict(o{number}, d{number})")
            if number:
                empty = " and ".join(f"v{index} is None" for index, _field in entries) or "True"
                body.append(f"e{number} = {empty}")
        forward = collections.defaultdict(list)
        for source, number in variables.items():
            if source is primary:
                continue
            rel = join_rels.get(source)
            if rel is None:
                alias_name = source._alias_name if isinstance(source, ModelAlias) else None
                name = alias_name or _model_of(source).__name__.lower()
                body.append(f"d0[{name!r}] = None if e{number} else o{number}")
                continue
            src, fk, is_forward = rel
            if src not in variables:
                continue
            if is_forward:
                forward[variables[src]].append(f"{fk.name!r}: None if e{number} else o{number}")
            else:
                backref = getattr(fk, "backref_name", None) or fk.model.__name__.lower()
                holder = variables[src]
                body.append(f"if not e{number}:")
                body.append(f"    d{number}['_rel'] = {{{fk.name!r}: o{holder}}}")
                body.append(f"    d{holder}.setdefault('_joined', {{}}).setdefault({backref!r}, o{number})")
        for holder, items in forward.items():
            body.append(f"d{holder}['_rel'] = {{{', '.join(items)}}}")
        for index, label in extras:
            body.append(f"d0[{label!r}] = {value(index)}")
        unpack = ", ".join(f"v{index}" for index in range(len(shape.owners))) + ","
        source = (
            "def hydrate(rows):\n"
            "    out = []\n"
            "    append = out.append\n"
            f"    for {unpack} in rows:\n" + "".join(f"        {line}\n" for line in body) + "        append(o0)\n"
            "    return out\n"
        )
        exec(source, namespace)  # noqa: S102 - generated from names we own
        hydrate = namespace["hydrate"]
        if cacheable:
            meta._hydrators[key] = hydrate
        return hydrate

    def __iter__(self):
        return iter(self.execute())

    def __len__(self):
        return len(self.execute())

    def __bool__(self):
        return bool(self.execute())

    def __getitem__(self, index):
        if isinstance(index, slice):
            if index.step not in (None, 1) or (index.start or 0) < 0 or (index.stop is not None and index.stop < 0):
                raise ValueError("query slices take non-negative start/stop and no step")
            start = index.start or 0
            query = self.offset(start or None)
            if index.stop is not None:
                query = query.limit(max(index.stop - start, 0))
            return list(query)
        if isinstance(index, int):
            if index < 0:
                raise ValueError("negative indexing is not supported on queries")
            results = list(self.offset(index or None).limit(1))
            if not results:
                raise IndexError("query index out of range")
            return results[0]
        raise TypeError("query indices must be integers or slices")

    def iterator(self, chunk_size=1000):
        """Stream results without caching them on the query."""
        database = self._read_database()
        dialect = database.dialect
        sql, params = self.sql(dialect)
        cursor = database.execute_sql(sql, params)
        while True:
            rows = cursor.fetchmany(chunk_size)
            if not rows:
                break
            yield from self._build_results(rows, dialect, cursor.description)

    def get(self):
        """The first row; ``Model.DoesNotExist`` if there is none."""
        results = self.limit(1).execute() if self._limit != 1 else self.execute()
        if not results:
            model = _model_of(self.model)
            sql, params = self.sql()
            raise model.DoesNotExist(f"{model.__name__} matching query does not exist: {sql} -- params: {params!r}")
        return results[0]

    def first(self, n=1):
        """The first row (or the first ``n`` rows as a list), None if there are none."""
        if n != 1:
            return list(self.limit(n))
        results = self.limit(1).execute()
        return results[0] if results else None

    def peek(self, n=1):
        return self.first(n)

    def scalar(self, as_tuple=False):
        """The first column of the first row (the whole first row with ``as_tuple``)."""
        rows = self.tuples().limit(1).execute() if self._limit is None else self.tuples().execute()
        if not rows:
            return None
        return rows[0] if as_tuple else rows[0][0]

    def count(self, clear_limit=False):
        """The number of rows this query returns (one COUNT query)."""
        query = self
        if clear_limit:
            query = query.limit(None).offset(None)
        simple = not (query._group_by or query._distinct or query._limit is not None or query._offset or query._having)
        if simple:
            counter = Select.columns(query, fn.COUNT(SQL("*"))).order_by()
            counter = _as_tuples(counter)
        else:
            inner = query.order_by() if query._limit is None and not query._offset else query
            counter = Select([fn.COUNT(SQL("*"))], [Select.alias(inner, "_count_source")], None)
            counter = _wrap_plain(counter, query)
        return counter.scalar() or 0

    def exists(self):
        """True if the query has any row (one ``SELECT 1 ... LIMIT 1``)."""
        probe = _as_tuples(Select.columns(self, SQL("1")).order_by().limit(1))
        return bool(probe.execute())

    def prefetch(self, *related):
        return prefetch(self, *related)

    def __sql__(self, ctx):
        Select.__sql__(self, ctx)

    # -- compound queries run and hydrate like their first SELECT ----------------------------
    def union(self, other):
        return ModelCompoundSelect(self, "UNION", other)

    def union_all(self, other):
        return ModelCompoundSelect(self, "UNION ALL", other)

    def intersect(self, other):
        return ModelCompoundSelect(self, "INTERSECT", other)

    def except_(self, other):
        return ModelCompoundSelect(self, "EXCEPT", other)

    __add__ = union_all


class ModelCompoundSelect(_ResultShapes, CompoundSelect):
    """``q1.union(q2)`` and friends over models: iterable, with the first query's row shape."""

    def __init__(self, lhs, op, rhs):
        CompoundSelect.__init__(self, lhs, op, rhs)
        first = lhs
        while isinstance(first, CompoundSelect):
            first = first.lhs
        self.first = first
        self.model = first.model
        self._row_type = first._row_type
        self._result = None

    def _clone(self):
        clone = CompoundSelect._clone(self)
        clone._result = None
        return clone

    database = property(lambda self: _model_of(self.model)._meta.database, lambda self, value: None)

    union = ModelSelect.union
    union_all = ModelSelect.union_all
    intersect = ModelSelect.intersect
    except_ = ModelSelect.except_
    __add__ = union_all

    def execute(self, database=None):
        if self._result is None:
            model = _model_of(self.model)
            meta_database = model._meta.get_database()
            meta_database.check_query(self)
            database = database or meta_database.route_read(model)
            sql, params = self.sql(database.dialect)
            cursor = database.execute_sql(sql, params)
            shaper = self.first._with_row_type(self._row_type)
            self._result = shaper._build_results(cursor.fetchall(), database.dialect, cursor.description)
        return self._result

    def __iter__(self):
        return iter(self.execute())

    def __len__(self):
        return len(self.execute())

    def first(self):
        results = self.limit(1).execute()
        return results[0] if results else None

    def count(self):
        counter = Select([fn.COUNT(SQL("*"))], [Select.alias(self, "_count_source")], None)
        return _wrap_plain(counter, self).scalar() or 0

    def exists(self):
        return bool(self.limit(1).execute())


def _as_tuples(query):
    query._row_type = "tuples"
    query._result = None
    return query


class _PlainSelect(ModelSelect):
    """A wrapper SELECT (e.g. COUNT over a subquery) executed on its inner model's database."""


def _wrap_plain(select, inner_query):
    wrapped = object.__new__(_PlainSelect)
    wrapped.__dict__ = select.__dict__.copy()
    wrapped.model = inner_query.model
    wrapped._row_type = "tuples"
    wrapped._result = None
    wrapped._join_rels = {}
    wrapped._parent_link = None
    wrapped._lookup_joins = {}
    wrapped._session = None
    return wrapped


def _single_model_columns(columns, source):
    if not columns or isinstance(source, ModelAlias):
        return False
    for column in columns:
        if type(column) is FieldAlias or not isinstance(column, Field) or column.model is not source:
            return False
    return True


def _convert_rows(rows, converters):
    convert = _tuple_converter(converters)
    return convert(rows) if convert is not None else rows


def _flat_objects(model, shape, rows):
    keys = []
    for (source, field), label in zip(shape.owners, shape.labels):
        keys.append(field.attr_key if (field is not None and _model_of(source) is model) else label)
    results = []
    for row in rows:
        obj = object.__new__(model)
        data = dict(zip(keys, row))
        data["_persisted"] = True
        _SET_DICT(obj, data)
        results.append(obj)
    return results


def _backref(model, name):
    for fk in model._meta.backrefs:
        if getattr(fk, "backref_name", None) == name:
            return fk
    return None


def _join_condition(src, dest):
    src_model, dest_model = _model_of(src), _model_of(dest)

    def column(source, field):
        return FieldAlias(source, field) if isinstance(source, ModelAlias) else field

    forward = [fk for fk in src_model._meta.refs if fk.rel_model is dest_model]
    backward = [fk for fk in dest_model._meta.refs if fk.rel_model is src_model]
    if src_model is dest_model:
        backward = []  # a self-join follows the forward key
    candidates = [(fk, True) for fk in forward] + [(fk, False) for fk in backward]
    if not candidates:
        raise FieldError(f"no foreign key between {src_model.__name__} and {dest_model.__name__}; pass on=...")
    if len(candidates) > 1:
        names = ", ".join(fk.qualified_name for fk, _ in candidates)
        raise FieldError(
            f"several foreign keys join {src_model.__name__} and {dest_model.__name__} ({names}); pass on=..."
        )
    fk, is_forward = candidates[0]
    if is_forward:
        return column(src, fk) == column(dest, fk.rel_field), (src, fk, True)
    return column(dest, fk) == column(src, fk.rel_field), (src, fk, False)


def _relation_from_condition(src, dest, on):
    """Recognise ``fk == pk`` in an explicit ``on=`` so joined objects still get linked."""
    if on.op != "=":
        return None
    sides = []
    for node in (on.lhs, on.rhs):
        owner, field = _column_owner(node)
        sides.append((owner, field))
    (lhs_src, lhs_field), (rhs_src, rhs_field) = sides
    for (a_src, a_field), (b_src, b_field) in (
        ((lhs_src, lhs_field), (rhs_src, rhs_field)),
        ((rhs_src, rhs_field), (lhs_src, lhs_field)),
    ):
        if isinstance(a_field, ForeignKeyField) and b_field is a_field.rel_field:
            if a_src is src and b_src is dest:
                return (src, a_field, True)
            if a_src is dest and b_src is src:
                return (src, a_field, False)
    return None


# -- lookups ---------------------------------------------------------------------------------
def _lookup_exact(column, value):
    return column == value


LOOKUPS = {
    "exact": _lookup_exact,
    "eq": _lookup_exact,
    "ne": lambda column, value: column != value,
    "lt": lambda column, value: column < value,
    "lte": lambda column, value: column <= value,
    "gt": lambda column, value: column > value,
    "gte": lambda column, value: column >= value,
    "in": lambda column, value: column.in_(value),
    "isnull": lambda column, value: column.is_null(bool(value)),
    "contains": lambda column, value: column.contains(value),
    "icontains": lambda column, value: column.icontains(value),
    "startswith": lambda column, value: column.startswith(value),
    "istartswith": lambda column, value: column.istartswith(value),
    "endswith": lambda column, value: column.endswith(value),
    "iendswith": lambda column, value: column.iendswith(value),
    "between": lambda column, value: column.between(*value),
    "regex": lambda column, value: column.regexp(value),
    "iexact": lambda column, value: fn.LOWER(column) == fn.LOWER(value),
}


def _apply_lookup(column, lookup, value, key):
    builder = LOOKUPS.get(lookup)
    if builder is None:
        raise FieldError(f"unknown lookup {lookup!r} in {key!r}; known: {', '.join(sorted(LOOKUPS))}")
    if lookup == "between" and (not isinstance(value, (list, tuple)) or len(value) != 2):
        raise FieldError(f"{key}: between takes a (low, high) pair")
    return builder(column, value)


# -- writes ------------------------------------------------------------------------------------
def _resolve_field(model, key):
    if isinstance(key, Field):
        return key
    if isinstance(key, FieldAlias):
        return key.field
    meta = model._meta
    field = meta.fields.get(key) or meta.attr_keys.get(key) or meta.columns.get(key)
    if field is None:
        raise FieldError(f"{model.__name__} has no field named {key!r}")
    return field


class _ModelWrite:
    """What INSERT, UPDATE and DELETE over a model share: they run on its write database."""

    database = property(lambda self: self.model._meta.database, lambda self, value: None)

    def _write_database(self):
        return self.model._meta.get_database().route_write(self.model)

    def _dialect(self):
        return self.model._meta.get_database().dialect_for(self.model)


class ModelInsert(_ModelWrite, Insert):
    """INSERT of one or many rows of a model, split into batches the engine accepts."""

    def __init__(self, model, rows, fields=None, single=False, from_query=None):
        Insert.__init__(self, model, (), (), None, from_query, None)
        self.model = model
        self._raw_rows = rows
        self._fields = fields
        self._single = single
        if from_query is not None:
            self.columns = tuple(_resolve_field(model, field) for field in fields)

    def _normalise(self):
        """(fields, rows of value tuples) with defaults filled in (computed once per query).

        Rows may be dicts (keyed by field, field name or column name), tuples (aligned with
        ``fields``) or model instances. Validation happens per engine, when values meet
        their fields' adapters.
        """
        cached = self.__dict__.get("_normalised")
        if cached is not None:
            return cached
        model = self.model
        meta = model._meta
        raw = self._raw_rows
        if isinstance(raw, (dict, Model)):
            raw = [raw]
        explicit = tuple(_resolve_field(model, field) for field in self._fields) if self._fields else None
        all_fields = list(meta.fields.values())
        # Each row becomes (fields, values); resolving keys to fields happens once per
        # distinct key set, not once per row.
        resolved_keys = {}
        shaped = []
        for row in raw:
            if type(row) is dict or isinstance(row, dict):
                keys = tuple(row)
                fields = resolved_keys.get(keys)
                if fields is None:
                    fields = resolved_keys[keys] = tuple(_resolve_field(model, key) for key in keys)
                values = tuple(row.values())
            elif isinstance(row, (tuple, list)):
                fields = explicit or tuple(field for field in all_fields if not field.auto_increment)
                if len(row) != len(fields):
                    raise DataError(
                        f"insert into {model.__name__}: a row has {len(row)} values for {len(fields)} fields "
                        f"({', '.join(field.name for field in fields)})"
                    )
                values = tuple(row)
            elif isinstance(row, Model):
                if not isinstance(row, model):
                    raise DataError(f"insert_many() into {model.__name__} got a {type(row).__name__}")
                row._sync_related_keys()
                data = row.__dict__
                fields = tuple(
                    field
                    for field in all_fields
                    if field.attr_key in data and not (field.auto_increment and data[field.attr_key] is None)
                )
                values = tuple(data[field.attr_key] for field in fields)
            else:
                raise DataError(f"insert into {model.__name__}: cannot insert a {type(row).__name__}")
            shaped.append((fields, values))
        present = set()
        for fields in {fields for fields, _values in shaped}:
            present.update(fields)
        for field in all_fields:
            if field.default is not None or field is meta.version_field:
                present.add(field)
        columns = [field for field in all_fields if field in present]
        foreign_keys = {field for field in columns if isinstance(field, ForeignKeyField)}
        plans = {}
        rows = []
        for fields, values in shaped:
            plan = plans.get(fields)
            if plan is None:
                # per column: the index of its value in the row, or None for a default
                position = {field: index for index, field in enumerate(fields)}
                steps = [(position.get(field), field) for field in columns]
                simple = all(index is not None for index, _field in steps) and not (foreign_keys & set(fields))
                getter = operator.itemgetter(*[index for index, _field in steps]) if simple and steps else None
                plan = plans[fields] = (steps, getter)
            steps, getter = plan
            if getter is not None:
                picked = getter(values)
                rows.append(picked if isinstance(picked, tuple) else (picked,))
                continue
            row_values = []
            for index, field in steps:
                if index is None:
                    row_values.append(field.get_default() if field.default is not None else None)
                    continue
                value = values[index]
                if field in foreign_keys and isinstance(value, Model):
                    value = value.__dict__.get(field.rel_field.attr_key)
                row_values.append(value)
            rows.append(tuple(row_values))
        result = (columns, rows)
        self.__dict__["_normalised"] = result
        return result

    def _statements(self, dialect):
        """Compile every batch: [(sql, params)]. All values are validated before any SQL."""
        if self.from_query is not None:
            return [self.sql(dialect)]
        columns, rows = self._normalise()
        if not rows:
            return []
        width = max(len(columns), 1)
        per_batch = max(1, dialect.max_params // width)
        if self._single:
            per_batch = 1
        statements = []
        budget = dialect.max_query_bytes
        start = 0
        while start < len(rows):
            batch = rows[start : start + per_batch]
            query = self._batch_query(columns, batch)
            sql, params = query.sql(dialect)
            if budget and len(batch) > 1 and _estimated_bytes(sql, params) > budget * 0.8:
                per_batch = max(1, len(batch) // 2)
                continue
            statements.append((sql, params))
            start += len(batch)
        return statements

    def _batch_query(self, columns, batch):
        query = Insert(self.model, columns, batch, columns, None, None)
        query._on_conflict = self._on_conflict
        query._returning = self._returning
        pk = self.model._meta.primary_key
        if self._single and pk is not None and not self.model._meta.composite_key and pk.auto_increment:
            # MySQL: an upsert that updates reports the existing row's key through
            # LAST_INSERT_ID(pk) (see MySQLDialect.render_upsert).
            query.auto_pk_column = pk.column_name
        return query

    def on_conflict(self, action="update", conflict_target=(), update=None, preserve=(), where=None):
        update = {
            (_resolve_field(self.model, key) if not isinstance(key, Field) else key): value
            for key, value in (update or {}).items()
        }
        preserve = [_resolve_field(self.model, item) if not isinstance(item, Field) else item for item in preserve]
        conflict_target = [
            _resolve_field(self.model, item) if not isinstance(item, Field) else item for item in conflict_target
        ]
        if self.model._meta.version_field is not None and update and self.model._meta.version_field not in update:
            version = self.model._meta.version_field
            update[version] = version + 1
        return Insert.on_conflict(self, action, conflict_target, update, preserve, where)

    def sql(self, dialect=None):
        dialect = dialect if dialect is not None else self._dialect()
        self._check_conflict_target(dialect)
        if self.from_query is not None:
            return Insert.sql(self, dialect)
        columns, rows = self._normalise()
        return self._batch_query(columns, rows).sql(dialect)

    def _check_conflict_target(self, dialect):
        on_conflict = self._on_conflict
        if on_conflict is None or not on_conflict.conflict_target or dialect.upsert_honours_conflict_target:
            return
        target = tuple(sorted(field.column_name for field in on_conflict.conflict_target))
        # Only unique keys whose every column this INSERT supplies can conflict (an
        # auto-increment key left to the server cannot).
        inserted = {field.column_name for field in self._normalise()[0]} if self.from_query is None else None
        keys = [
            tuple(sorted(key))
            for key in self.model._meta.unique_keys()
            if inserted is None or set(key) <= inserted or tuple(sorted(key)) == target
        ]
        if target not in keys:
            raise exceptions.NotSupportedError(
                f"{dialect.name}: conflict_target {list(target)} is not a unique key of "
                f"{self.model.__name__}; ON DUPLICATE KEY UPDATE can only react to unique keys"
            )
        if len(set(keys)) > 1:
            others = [list(key) for key in set(keys) if key != target]
            raise exceptions.NotSupportedError(
                f"{dialect.name} cannot limit an upsert to conflict_target {list(target)}: "
                f"ON DUPLICATE KEY UPDATE also fires on the other unique keys of "
                f"{self.model.__name__} {others}. Drop conflict_target to accept that, or use "
                "a separate SELECT/UPDATE."
            )

    def execute(self, database=None):
        """Run the insert. A single-row insert returns the new primary key; ``insert_many``
        returns the number of rows inserted; with ``returning()`` the returned rows."""
        self.model._meta.get_database().check_query(self)
        database = database or self._write_database()
        dialect = database.dialect
        self._check_conflict_target(dialect)
        if (
            self._on_conflict is not None
            and self._on_conflict.conflict_target == ()
            and self._on_conflict.action != "ignore"
            and dialect.upsert_honours_conflict_target
        ):
            keys = self.model._meta.unique_keys()
            if len(keys) == 1:
                self._on_conflict.conflict_target = tuple(self.model._meta.primary_key_fields)
        statements = self._statements(dialect)
        meta = self.model._meta
        pk = meta.primary_key
        auto_pk = pk is not None and not meta.composite_key and pk.auto_increment
        if not statements:
            return [] if self._returning else 0
        wants_pk = self._single and auto_pk and not self._returning and self.from_query is None
        # An upsert may insert nothing (DO NOTHING) or update an existing row: lastrowid
        # would then be stale on SQLite, so the key comes back through RETURNING.
        if wants_pk and (dialect.insert_returns_pk or (self._on_conflict is not None and dialect.returning)):
            sql, params = statements[0]
            statements = [(sql + " RETURNING " + dialect.quote(pk.column_name), params)]
        if len(statements) == 1:
            return self._run(database, statements[0], wants_pk, dialect)
        total = [] if self._returning else 0
        with database.atomic():
            for statement in statements:
                total += self._run(database, statement, False, dialect)
        return total

    def _run(self, database, statement, wants_pk, dialect):
        sql, params = statement
        cursor = database.execute_sql(sql, params)
        if self._returning:
            return _returned_rows(self._returning, cursor, dialect)
        if wants_pk:
            if " RETURNING " in sql:
                row = cursor.fetchone()
                return row[0] if row else None
            # 0 means no row was inserted (a MySQL upsert that ignored a duplicate).
            return database.last_insert_id(cursor) or None
        if self._single:
            pk = self.model._meta.primary_key
            if pk is not None and not self.model._meta.composite_key:
                for field, value in zip(*self._normalise_first()):
                    if field is pk:
                        return value
            return cursor.rowcount
        return cursor.rowcount

    def _normalise_first(self):
        columns, rows = self._normalise()
        return columns, rows[0]


def _returned_rows(columns, cursor, dialect):
    rows = cursor.fetchall()
    converters = []
    for column in columns:
        _source, field = _column_owner(column)
        converters.append(field.python_converter(dialect) if field is not None else None)
    convert = _tuple_converter(converters)
    rows = convert(rows) if convert is not None else [tuple(row) for row in rows]
    if len(columns) == 1:
        return [row[0] for row in rows]
    return rows


def _estimated_bytes(sql, params):
    size = len(sql)
    for value in params:
        if isinstance(value, (str, bytes)):
            size += 2 * len(value) + 3
        else:
            size += 24
    return size


class _ModelWriteWhere(_ModelWrite):
    """UPDATE and DELETE: ``filter(field__lookup=value)`` and a row count (or rows) back."""

    def filter(self, **lookups):
        conditions = []
        for key, value in lookups.items():
            name, _, lookup = key.partition("__")
            conditions.append(_apply_lookup(_resolve_field(self.model, name), lookup or "exact", value, key))
        return self.where(*conditions)

    def execute(self, database=None):
        """Run it: the number of rows matched, or the rows ``returning()`` asked for."""
        self.model._meta.get_database().check_query(self)
        database = database or self._write_database()
        cursor = database.execute(self)
        if self._returning:
            return _returned_rows(self._returning, cursor, database.dialect)
        return cursor.rowcount


class ModelUpdate(_ModelWriteWhere, Update):
    """UPDATE of a model's rows; a versioned model's version is bumped too."""

    def __init__(self, model, assignments):
        pairs = []
        version = model._meta.version_field
        for key, value in assignments.items():
            field = _resolve_field(model, key)
            if isinstance(value, Model) and isinstance(field, ForeignKeyField):
                value = value.__dict__.get(field.rel_field.attr_key)
            pairs.append((field, _value_node(field, value)))
        if version is not None and all(field is not version for field, _ in pairs):
            pairs.append((version, version + 1))
        Update.__init__(self, model, pairs, None)
        self.model = model


class ModelDelete(_ModelWriteWhere, Delete):
    """DELETE of a model's rows."""

    def __init__(self, model):
        Delete.__init__(self, model, None)
        self.model = model


# -- eager loading -----------------------------------------------------------------------------
def prefetch(query, *related):
    """Run ``query`` and one query per related model, and link the results in memory.

    ``related`` are models (or queries over them) reachable by a foreign key or a backref
    from the query's model or from an earlier entry. Backrefs become lists
    (``user.tweets``) and foreign keys related objects (``tweet.user``): no more SQL.
    """
    if isinstance(query, ModelBase):
        query = query.select()
    parents = list(query)
    loaded = [(_model_of(query.model), parents)]
    for item in related:
        sub = item.select() if isinstance(item, ModelBase) else item
        sub_model = _model_of(sub.model)
        for model, objects in reversed(loaded):  # noqa: B007 - objects is used after the break
            link = _prefetch_link(model, sub_model)
            if link is not None:
                break
        else:
            raise FieldError(f"prefetch: no foreign key links {sub_model.__name__} to the models before it")
        fk, is_backref = link
        if is_backref:
            keys = {obj.__dict__.get(fk.rel_field.attr_key) for obj in objects} - {None}
            children = list(sub.where(fk.in_(list(keys)))) if keys else []
            groups = collections.defaultdict(list)
            for child in children:
                groups[child.__dict__.get(fk.attr_key)].append(child)
            by_key = {obj.__dict__.get(fk.rel_field.attr_key): obj for obj in objects}
            name = getattr(fk, "backref_name", None) or f"{sub_model._meta.table_name}_set"
            for key, obj in by_key.items():
                obj.__dict__[name] = groups.get(key, [])
            for child in children:
                child.__dict__.setdefault("_rel", {})[fk.name] = by_key.get(child.__dict__.get(fk.attr_key))
            loaded.append((sub_model, children))
        else:
            keys = {obj.__dict__.get(fk.attr_key) for obj in objects} - {None}
            targets = list(sub.where(fk.rel_field.in_(list(keys)))) if keys else []
            by_key = {target.__dict__.get(fk.rel_field.attr_key): target for target in targets}
            for obj in objects:
                obj.__dict__.setdefault("_rel", {})[fk.name] = by_key.get(obj.__dict__.get(fk.attr_key))
            loaded.append((sub_model, targets))
    return parents


def _prefetch_link(model, sub_model):
    for fk in sub_model._meta.refs:
        if fk.rel_model is model:
            return fk, True
    for fk in model._meta.refs:
        if fk.rel_model is sub_model:
            return fk, False
    return None
