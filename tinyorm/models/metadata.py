"""Model metadata and the metaclass: what a class body and its ``Meta`` turn into.

``ModelBase`` reads the fields and ``Meta`` options of a class body into a ``Metadata``
(``Model._meta``): fields by name, column and attribute key, the primary key (single,
composite or none), the version field, indexes, the database, and the per-model caches of
compiled statements and generated row constructors. It also resolves foreign keys that name
a model not defined yet (``ForeignKeyField("User")``) once that model appears, and installs
the accessors a foreign key brings (``tweet.user_id``, ``user.tweet_set``).
"""

from __future__ import annotations

import collections
import difflib
import functools
import re
import types
import weakref
from typing import TYPE_CHECKING, Any, Callable, Iterable, Union, cast

from ..bounded import BoundedCache
from ..events import lazy_load_listeners, notify_lazy_load
from ..exceptions import DataError, DoesNotExist, ImproperlyConfigured
from ..fields import AutoField, CompositeKey, Field, ForeignKeyField, VersionField
from ..indexes import Index
from ..relations import _loaded_value
from ..sql.search import Search

if TYPE_CHECKING:
    from ..backends.base import Database
    from ..indexes import BoundIndex
    from ..router.core import Router
    from ..sql.nodes import Context, Expression, Node
    from .model import Model
    from .writes import _InsertPlan

    # What ``Meta.database`` and ``db.bind()`` give a model: a database or a router.
    DatabaseLike = Union[Database, Router]

_MISSING = object()
# (module, class name) -> model, to resolve ForeignKeyField("Name") and ("module.Name").
# Weak: models made in a function (tests, app factories) go away with their last user.
_MODEL_REGISTRY: weakref.WeakValueDictionary[tuple[str, str], type[Model]] = weakref.WeakValueDictionary()
_PENDING_REFERENCES: collections.defaultdict[tuple[str, str], list[ForeignKeyField[Any]]] = collections.defaultdict(
    list
)  # (module, class name) -> [ForeignKeyField]

# Per model and engine: compiled statements (get by key, save, flush batches of each size)
# and generated row constructors, one entry per shape. The flush alone may hold a batch
# size per column set, so the statement cache is the larger.
QUERY_CACHE_SIZE = 256
HYDRATOR_CACHE_SIZE = 128


# Every option a model's ``class Meta`` may set (docs/models.md). Anything else is refused:
# a typo such as ``tablename`` would otherwise be ignored without a word.
META_OPTIONS = ("database", "table_name", "indexes", "primary_key", "partition", "constraints", "search")


def _check_meta_options(model_name: str, options: Iterable[str]) -> None:
    for option in options:
        if option not in META_OPTIONS:
            close = difflib.get_close_matches(option, META_OPTIONS, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ImproperlyConfigured(
                f"{model_name}.Meta has an unknown option {option!r}{hint}; "
                f"the options are: {', '.join(sorted(META_OPTIONS))}"
            )


def _table_name_for(class_name: str) -> str:
    # "TweetLike" -> "tweet_like"
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", class_name).lower()


class Metadata:
    """Everything tinyorm knows about a model: ``Model._meta``."""

    def __init__(
        self,
        model: type[Model],
        table_name: str,
        database: DatabaseLike | None,
        indexes: Iterable[Any],
        partition: Any,
        constraints: Iterable[Any],
    ) -> None:
        self.model = model
        self.name = model.__name__
        self.table_name = table_name
        self.database = database
        self.indexes: list[Any] = list(indexes or ())  # Index objects or ((columns), unique) tuples
        self.search: Search | None = None  # a bound sql.search.Search (Meta.search), set by the metaclass
        self.partition = partition
        self.constraints = list(constraints or ())
        self.fields: dict[str, Field[Any]] = {}
        self.columns: dict[str, Field[Any]] = {}
        self.attr_keys: dict[str, Field[Any]] = {}
        self.refs: list[ForeignKeyField[Any]] = []
        self.backrefs: list[ForeignKeyField[Any]] = []
        # A Field, a CompositeKey (``composite_key`` is then True) or None (``Meta.primary_key
        # = False``). Any: code branches on ``composite_key``, which a checker cannot follow.
        self.primary_key: Any = None
        self.version_field: VersionField | None = None
        self.composite_key = False
        # Compiled statements and plans, keyed by shape and dialect; row constructors.
        self._query_cache: BoundedCache[Any, Any] = BoundedCache(QUERY_CACHE_SIZE)
        self._hydrators: BoundedCache[Any, Any] = BoundedCache(HYDRATOR_CACHE_SIZE)
        self._insert_plan: _InsertPlan | None = None
        self.loader: Any = None  # the class instances are built as (see _loader_class)
        self.initializer: Any = None  # Model.__init__'s generated body (hydration.initializer_for)
        self.slots: frozenset[str] = frozenset()  # the instance slots: field attr_keys and ORM state

    @property
    def sorted_fields(self) -> list[Field[Any]]:
        return list(self.fields.values())

    def add_field(self, name: str, field: Field[Any]) -> None:
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

    def finalize(self) -> None:
        # What Model.__setattr__ tracks, each with the C-level read and store of its slot (a
        # member descriptor's __get__ and __set__: cheaper than object.__getattribute__ and
        # object.__setattr__, which look the name up again and check the type's hooks).
        self.tracked: dict[str, tuple[Callable[[Any], Any], Callable[[Any, Any], None]]] = {
            key: _slot_access(self.model, key) for key in self.attr_keys
        }
        self.static_defaults: dict[str, Any] = {}
        self.callable_defaults: list[Field[Any]] = []
        for field in self.fields.values():
            default = field.default
            if default is None and field.server_default is not None:
                continue  # left unset, so INSERTs omit the column and the server fills it
            if callable(default) or isinstance(default, (dict, list, set, bytearray)):
                self.callable_defaults.append(field)
            else:
                self.static_defaults[field.attr_key] = default
        self._query_cache = BoundedCache(QUERY_CACHE_SIZE)
        self._hydrators = BoundedCache(HYDRATOR_CACHE_SIZE)
        self._insert_plan = None
        self.initializer = None  # Model.__init__'s generated body (hydration.initializer_for)

    def set_database(self, database: DatabaseLike | None) -> None:
        self.database = database
        self._query_cache = BoundedCache(QUERY_CACHE_SIZE)
        self._insert_plan = None

    def get_database(self) -> DatabaseLike:
        database = self.database
        if database is None:
            raise ImproperlyConfigured(f"model {self.name} has no database: set Meta.database or call db.bind([...])")
        return database

    @property
    def primary_key_fields(self) -> tuple[Field[Any], ...]:
        if self.composite_key:
            fields: tuple[Field[Any], ...] = self.primary_key.fields
            return fields
        if self.primary_key is None:
            return ()
        return (self.primary_key,)

    def pk_expression(self, values: object) -> Node:
        """``pk = value`` (or the AND of each part of a composite key)."""
        fields = self.primary_key_fields
        if not fields:
            raise DataError(f"{self.name} has no primary key (Meta.primary_key = False)")
        if len(fields) == 1:
            return fields[0] == values
        if not isinstance(values, (tuple, list)) or len(values) != len(fields):
            raise DataError(f"{self.name} has a composite key of {len(fields)} fields; pass a tuple")
        expression: Expression = fields[0] == values[0]
        for field, value in zip(fields[1:], values[1:]):
            expression = expression & (field == value)
        return expression

    def unique_keys(self) -> list[tuple[str, ...]]:
        """Every set of columns that is unique: the primary key, unique fields, unique indexes."""
        keys = [tuple(field.column_name for field in self.primary_key_fields)] if self.primary_key_fields else []
        keys += [(field.column_name,) for field in self.fields.values() if field.unique]
        for index in self.bound_indexes():
            if index.unique and index.plain:
                keys.append(tuple(index.columns))  # type: ignore[arg-type]  # plain: no expression parts  # pyright: ignore[reportArgumentType]
        return keys

    def bound_indexes(self) -> list[BoundIndex]:
        """``Meta.indexes`` (and ``Model.add_index``) as ``indexes.BoundIndex`` objects; the
        ``((columns), unique)`` tuple form is an Index of those columns."""
        bound = self.__dict__.get("_bound_indexes")
        if bound is None:
            bound = []
            for spec in self.indexes:
                if not isinstance(spec, Index):
                    names, unique = spec[0], spec[1]
                    spec = Index(*((names,) if isinstance(names, str) else names), unique=unique)
                bound.append(spec.bind(self.model))
            self._bound_indexes = bound
        return bound

    def add_index(self, index: Any) -> None:
        self.indexes.append(index)
        self.__dict__.pop("_bound_indexes", None)


class FieldOnClass:
    """``User.username`` on the class: the field (an expression), while instances keep the
    value in a slot of the same name.

    The slot's descriptor sits in the class, so this one sits in the class's own metaclass
    (made per model by ``ModelBase``), where Python looks first for a class attribute.
    """

    __slots__ = ("field",)

    def __init__(self, field: Field[Any]) -> None:
        self.field = field

    def __get__(self, cls: type | None, metaclass: type) -> Any:
        if cls is None:
            return self
        return self.field

    def __set__(self, cls: type, value: Any) -> None:
        raise AttributeError(f"{self.field.qualified_name} is a field; it cannot be replaced on the class")


class BackrefAccessor:
    """``user.tweets``: a query for the rows whose foreign key points at this object."""

    def __init__(self, fk: ForeignKeyField[Any]) -> None:
        self.fk = fk

    def __get__(self, instance: Model | None, owner: Any) -> Any:
        if instance is None:
            return self
        fk = self.fk
        extra = instance._extra
        if extra and fk.backref_name in extra:  # a list prefetch() put there
            return extra[fk.backref_name]
        if lazy_load_listeners:  # events: the N+1 detector
            notify_lazy_load(instance, fk, "backref")
        key = _loaded_value(instance, fk.rel_field.attr_key)
        query = fk.model.select().where(fk == key)
        query._parent_link = (fk, instance)
        session = instance._session
        if session is not None:
            query._session = session()  # rows of a session's object go through its map
        return query


class ModelBase(type):
    """Builds ``_meta`` from the class body and its ``Meta``; models are SQL sources too."""

    if TYPE_CHECKING:
        # What every class built here (a model) has; declared for code that holds a model
        # as an instance of its metaclass.
        _meta: Metadata

        def select(cls, *columns: Any) -> Any: ...

    def __new__(mcs, name: str, bases: tuple[type, ...], attrs: dict[str, Any]) -> ModelBase:
        if not any(isinstance(base, ModelBase) for base in bases):
            return super().__new__(mcs, name, bases, attrs)  # Model itself
        meta_options = {}
        meta_class = attrs.pop("Meta", None)
        if meta_class is not None:
            meta_options = {key: value for key, value in vars(meta_class).items() if not key.startswith("_")}
            _check_meta_options(name, meta_options)
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
        fields = dict(inherited_fields)
        fields.update(sorted(own_fields.items(), key=lambda item: item[1]._order))
        primary_key = meta_options.get("primary_key")
        declared_pk = [field_name for field_name, field in fields.items() if field.primary_key]
        if len(declared_pk) > 1:
            raise ImproperlyConfigured(f"{name} declares several primary keys: {declared_pk}; use CompositeKey")
        if primary_key is None and not declared_pk:
            fields = {"id": AutoField(), **fields}
        model_type = _instance_layout(mcs, name, bases, attrs, fields)
        # A model class: the checkers cannot tell that an instance of this metaclass is one.
        cls = cast("type[Model]", super().__new__(model_type, name, bases, attrs))

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
        for field_name, field in fields.items():
            meta.add_field(field_name, field)
        meta.loader = _loader_class(cls)
        meta.slots = frozenset(
            slot
            for klass in cls.__mro__
            for slot, value in vars(klass).items()
            if isinstance(value, types.MemberDescriptorType)
        )
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

        search = meta_options.get("search", parent_meta.search if parent_meta else None)
        if search is not None:
            if not isinstance(search, Search):
                search = Search(*((search,) if isinstance(search, str) else search))
            meta.search = search.bind(cls)

        # DoesNotExist per model, inheriting the parent model's.
        parent_dne = getattr(cls, "DoesNotExist", DoesNotExist)
        cls.DoesNotExist = cast(
            "type[DoesNotExist]", type(f"{name}DoesNotExist", (parent_dne,), {"__module__": cls.__module__})
        )

        for field in meta.refs:
            target = field.rel_model
            if target == "self" or target is cls or target == name:
                _resolve_reference(field, cls)
            elif isinstance(target, str):
                reference = _reference_key(target, cls.__module__)
                found = _MODEL_REGISTRY.get(reference) or _by_module_suffix(target)
                if found is not None:
                    _resolve_reference(field, found)
                else:
                    field.explain_unresolved = functools.partial(unresolved_reference_error, field)
                    _PENDING_REFERENCES[reference].append(field)
            else:
                _resolve_reference(field, target)
        _MODEL_REGISTRY[(cls.__module__, name)] = cls
        for field in _PENDING_REFERENCES.pop((cls.__module__, name), ()):
            _resolve_reference(field, cls)
        return cls

    # -- a model class is a SQL source -----------------------------------------------------
    def __sql__(cls, ctx: Context) -> None:
        ctx.literal(ctx.quoted(cls._meta.table_name))

    def _sql_shape(cls, params: list[Any]) -> Any:
        """The shape ``__sql__`` and ``_from_sql`` render (see ``sql/shapes.py``): this table."""
        return cls

    def _from_sql(cls, ctx: Context) -> None:
        ctx.literal(ctx.quoted(cls._meta.table_name))

    def _source_alias(cls, ctx: Context) -> str:
        return cls._meta.table_name

    def _sql_columns(cls, key_only: bool = False) -> tuple[Field[Any], ...]:
        """What the model stands for in ``group_by``/``order_by``/``distinct``: its columns
        (its primary key with ``key_only``, when it has one)."""
        meta = cls._meta
        if key_only and meta.primary_key_fields:
            return meta.primary_key_fields
        return tuple(meta.fields.values())

    def __repr__(cls) -> str:
        return f"<Model: {cls.__name__}>"


def _instance_layout(
    mcs: type[ModelBase], name: str, bases: tuple[type, ...], attrs: dict[str, Any], fields: dict[str, Field[Any]]
) -> type[ModelBase]:
    """Lay out the instances of a new model; returns the metaclass to build it with.

    Each field's value lives in a slot named by its ``attr_key`` (a slot costs 8 bytes, an
    instance dict about 200), so ``obj.username`` reads it straight from the object. The
    ORM's own per-object state has slots on ``Model``; other attributes (query annotations,
    prefetched lists, a user's own) go to a dict created on first use (``Model.__dict__``).
    A field's slot descriptor takes the class attribute of its name, so the field itself
    is reached as ``User.username`` through a ``FieldOnClass`` on a metaclass of the
    model's own. A foreign key's name (``tweet.user``) stays a descriptor in the class.
    Two models with fields cannot both be bases of one class (their slots collide).
    """
    inherited_slots = {
        slot
        for base in bases
        for klass in base.__mro__
        for slot, value in vars(klass).items()
        if isinstance(value, types.MemberDescriptorType)
    }
    slots: list[str] = []
    on_class: dict[str, FieldOnClass] = {}
    for field_name, field in fields.items():
        attr_key = field.attr_key_for(field_name)
        on_class[field_name] = on_class[attr_key] = FieldOnClass(field)
        if attr_key not in inherited_slots and attr_key not in attrs:
            slots.append(attr_key)
        if field_name != attr_key:
            attrs[field_name] = field
    attrs["__slots__"] = tuple(attrs.get("__slots__", ())) + tuple(slots)
    model_type = cast("type[ModelBase]", type(f"ModelBase[{name}]", (mcs,), on_class))
    model_type.__module__ = mcs.__module__
    return model_type


def _loader_class(cls: type[Model]) -> type[Model]:
    """The model's twin for building instances: the same layout, and attribute assignment
    that skips ``Model.__setattr__``'s change tracking (it is ``object.__setattr__`` in C).

    Hydration and ``__init__`` fill a new instance as a loader, then set ``__class__`` to
    the model: cheaper than a call per attribute, and no value is recorded as a change.
    """
    # Both hooks: they share one type slot, which stays C only if neither is Python.
    namespace: dict[str, Any] = {
        "__slots__": (),
        "__setattr__": object.__setattr__,
        "__delattr__": object.__delattr__,
        "__module__": cls.__module__,
    }
    return type.__new__(type(cls), f"{cls.__name__}Loader", (cls,), namespace)


def _slot_access(model: type[Any], attr_key: str) -> tuple[Callable[[Any], Any], Callable[[Any, Any], None]]:
    """``(read, store)`` of ``attr_key`` past ``Model``'s hooks: its slot's own, or (no slot
    of that name: a property the model defines) ``object``'s attribute access. ``read``
    raises AttributeError for an empty slot."""
    for klass in model.__mro__:
        member = vars(klass).get(attr_key)
        if isinstance(member, types.MemberDescriptorType):
            read: Callable[[Any], Any] = member.__get__
            store: Callable[[Any, Any], None] = member.__set__
            return read, store
        if member is not None:
            break
    return functools.partial(_get_named, attr_key), functools.partial(_set_named, attr_key)


def _get_named(attr_key: str, obj: Any) -> Any:
    return object.__getattribute__(obj, attr_key)


def _set_named(attr_key: str, obj: Any, value: Any) -> None:
    object.__setattr__(obj, attr_key, value)


def _reference_key(target: str, declaring_module: str) -> tuple[str, str]:
    """``"User"`` names a model of the declaring module; ``"app.models.User"`` one of
    module ``app.models``."""
    module, _, name = target.rpartition(".")
    return (module or declaring_module, name)


def _by_module_suffix(target: str) -> type[Model] | None:
    """A dotted name may leave out the start of the module path (``"models.User"`` for
    ``app.models.User``) when exactly one model fits; several fitting is an error."""
    module, _, name = target.rpartition(".")
    if not module:
        return None
    found = [
        model
        for (model_module, model_name), model in list(_MODEL_REGISTRY.items())
        if model_name == name and model_module.endswith("." + module)
    ]
    if len(found) > 1:
        candidates = ", ".join(sorted(f"{model.__module__}.{model.__name__}" for model in found))
        raise ImproperlyConfigured(f"ForeignKeyField({target!r}) is ambiguous: it could be {candidates}")
    return found[0] if found else None


def unresolved_reference_error(field: ForeignKeyField[Any]) -> ImproperlyConfigured:
    """The ImproperlyConfigured error for a foreign key whose model never appeared, naming
    the models of that class name that do exist (in other modules)."""
    target = field.rel_model
    module, name = _reference_key(target, field.model.__module__ if field.model else "?")
    candidates = sorted(
        f"{model_module}.{model_name}"
        for (model_module, model_name) in list(_MODEL_REGISTRY.keys())
        if model_name == name
    )
    hint = (
        f"; models of that name live in other modules: {', '.join(repr(c) for c in candidates)} "
        "(name one with its module)"
        if candidates
        else ""
    )
    return ImproperlyConfigured(
        f"{field.qualified_name}: ForeignKeyField({target!r}) refers to no model: "
        f"there is no model {name!r} in module {module!r}{hint}"
    )


def _resolve_reference(field: ForeignKeyField[Any], target: type[Model]) -> None:
    field.resolve(target)
    if field.backref == "+":
        return
    backref = field.backref or f"{field.model._meta.table_name}_set"
    field.backref_name = backref
    if field not in target._meta.backrefs:
        target._meta.backrefs.append(field)
    setattr(target, backref, BackrefAccessor(field))
