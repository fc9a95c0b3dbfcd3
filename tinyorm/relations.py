"""Relation fields: ``ForeignKeyField`` (a reference to another model's key, with lazy
loading and back-references) and ``CompositeKey`` (a primary key over several columns).

Importable from ``tinyorm.fields`` as before; they live here to keep each module one idea.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Literal, TypeVar, overload

from .exceptions import DataError, ImproperlyConfigured
from .fields.base import _T, _UNBOUND, FK_ACTIONS, Adapter, Field

if TYPE_CHECKING:
    from typing_extensions import Self, Unpack

    from .dialects.base import Dialect
    from .fields.base import _KeyOptions
    from .models.model import Model

_M = TypeVar("_M", bound="Model")

__all__ = ["ForeignKeyField", "CompositeKey"]


class ForeignKeyField(Field[_T]):
    """A reference to another model's primary key (or to ``field``).

    ``tweet.user`` loads the related object lazily; ``tweet.user_id`` is the raw key.
    ``backref`` names the reverse query on the other model (``user.tweets``); the default
    is ``<model>_set`` and ``"+"`` adds none. ``on_delete``/``on_update`` take CASCADE, SET
    NULL, SET DEFAULT, RESTRICT or NO ACTION. ``"self"`` refers to the model being defined.
    """

    if TYPE_CHECKING:
        # Set by models/metadata.py: the reverse accessor's name once the reference resolves
        # (none with ``backref="+"``), and the error to raise while the named model is missing.
        backref_name: str
        explain_unresolved: Callable[[], ImproperlyConfigured]

    # ``ForeignKeyField(User)`` holds a ``User`` (``User | None`` with ``null=True``); a model
    # named by a string (``"self"``, ``"User"``) is unknown to type checkers: ``Any``.
    @overload
    def __init__(
        self: ForeignKeyField[_M],
        model: type[_M],
        backref: str | None = None,
        on_delete: str | None = None,
        on_update: str | None = None,
        column_name: str | None = None,
        field: str | Field[Any] | None = None,
        lazy_load: bool = True,
        *,
        null: Literal[False] = False,
        default: Any = None,
        **options: Unpack[_KeyOptions],
    ) -> None: ...
    @overload
    def __init__(
        self: ForeignKeyField[_M | None],
        model: type[_M],
        backref: str | None = None,
        on_delete: str | None = None,
        on_update: str | None = None,
        column_name: str | None = None,
        field: str | Field[Any] | None = None,
        lazy_load: bool = True,
        *,
        null: bool,
        default: Any = None,
        **options: Unpack[_KeyOptions],
    ) -> None: ...
    @overload
    def __init__(
        self: ForeignKeyField[Any],
        model: str,
        backref: str | None = None,
        on_delete: str | None = None,
        on_update: str | None = None,
        column_name: str | None = None,
        field: str | Field[Any] | None = None,
        lazy_load: bool = True,
        *,
        null: bool = False,
        default: Any = None,
        **options: Unpack[_KeyOptions],
    ) -> None: ...
    def __init__(
        self,
        model: Any,
        backref: str | None = None,
        on_delete: str | None = None,
        on_update: str | None = None,
        column_name: str | None = None,
        field: str | Field[Any] | None = None,
        lazy_load: bool = True,
        *args: Any,
        **kwargs: Any,
    ) -> None:
        for action in (on_delete, on_update):
            if action is not None and action.upper() not in FK_ACTIONS:
                raise ImproperlyConfigured(f"ForeignKeyField: unknown action {action!r}; use one of {FK_ACTIONS}")
        # *args continue after lazy_load (null, default, ...), never as far as column_name.
        super().__init__(*args, column_name=column_name, **kwargs)  # type: ignore[misc]
        # The model class once resolved (a name given as a string is looked up later).
        self.rel_model: Any = model
        self.backref = backref
        self.on_delete = on_delete.upper() if on_delete else None
        self.on_update = on_update.upper() if on_update else None
        self.rel_field_name = field
        # None until resolve(); declared as the field it then is, since every use comes
        # after require_resolved() (no check in the per-value paths).
        unresolved: Any = None
        self.rel_field: Field[Any] = unresolved
        self.lazy_load = lazy_load

    def require_resolved(self) -> None:
        """Raise ImproperlyConfigured if the model named by a string never appeared."""
        if self.rel_field is None:
            explain = self.__dict__.get("explain_unresolved")
            if explain is not None:
                raise explain()
            raise ImproperlyConfigured(f"{self.qualified_name}: ForeignKeyField({self.rel_model!r}) refers to no model")

    # Derived from the referenced key, never assigned on a foreign key.
    @property
    def field_type(self) -> str:  # type: ignore[override]  # pyright: ignore[reportIncompatibleVariableOverride]
        """The column type of the key it points at (an auto-increment key is referenced as a plain integer)."""
        target = self.rel_field.field_type if self.rel_field is not None else "INT"
        return {"AUTO": "INT", "BIGAUTO": "BIGINT"}.get(target, target)

    def bind(self, model: type[Model], name: str) -> None:
        """Attach to ``model``: the column is ``<name>_id`` unless ``column_name`` says otherwise, and the raw key is readable as ``<name>_id``."""
        if self.column_name is None:
            self.column_name = name if name.endswith("_id") else f"{name}_id"
        Field.bind(self, model, name)

    def attr_key_for(self, name: str) -> str:
        return name + "_id" if not name.endswith("_id") else name + "_raw"

    def clone_for(self, model: type[Model] | None) -> Self:
        field = super().clone_for(model)
        if self.column_name == (self.name if self.name.endswith("_id") else f"{self.name}_id"):
            field.column_name = _UNBOUND  # named again when bound to the subclass
        return field

    def resolve(self, rel_model: type[Model]) -> None:
        """Point the key at ``rel_model`` (its primary key, or the field named by ``field=``) once that model exists."""
        self.__dict__.pop("explain_unresolved", None)
        self.rel_model = rel_model
        if self.rel_field_name is None:
            self.rel_field = rel_model._meta.primary_key
        elif isinstance(self.rel_field_name, Field):
            self.rel_field = self.rel_field_name
        else:
            self.rel_field = rel_model._meta.fields[self.rel_field_name]
        if not isinstance(self.rel_field, Field):
            raise ImproperlyConfigured(f"{self.qualified_name}: cannot reference a composite key")

    def coerce(self, value: Any) -> Any:
        if self.rel_model is not None and isinstance(value, self.rel_model):
            value = _loaded_value(value, self.rel_field.attr_key)
            if value is None:
                raise DataError(f"{self.qualified_name}: the related {type(value).__name__} has not been saved")
        return self.rel_field.coerce(value)

    def _build_adapter(self, dialect: Dialect) -> Adapter:
        self.require_resolved()
        target_adapter = self.rel_field.adapter(dialect)
        rel_model = self.rel_model
        attr_key = self.rel_field.attr_key
        qualified_name = self.qualified_name

        def adapt(value: Any) -> Any:
            if value is None:
                return None
            if isinstance(value, rel_model):
                key = _loaded_value(value, attr_key)
                if key is None:
                    raise DataError(f"{qualified_name}: the related object has not been saved")
                value = key
            return target_adapter(value)

        return adapt

    def python_converter(self, dialect: Dialect) -> Adapter | None:
        self.require_resolved()
        return self.rel_field.python_converter(dialect)

    def ddl_type(self, dialect: Dialect) -> str:
        """The referenced column's type, so the two always match."""
        self.require_resolved()
        target = self.rel_field
        if target.field_type in ("AUTO", "BIGAUTO"):
            return dialect.column_type(self.field_type)
        return target.ddl_type(dialect)

    # The attribute named like the field holds the related object; ``<name>_id`` the key.
    @overload
    def __get__(self, instance: None, owner: Any) -> Self: ...
    @overload
    def __get__(self, instance: object, owner: Any) -> _T: ...
    def __get__(self, instance: Any, owner: Any) -> Any:
        if instance is None:
            return self
        return instance._related_object(self)

    def __set__(self, instance: Any, value: Any) -> None:  # the object, or its key
        instance._set_related_object(self, value)


def _loaded_value(obj: object, attr_key: str, default: Any = None) -> Any:
    """A model instance's value for ``attr_key`` as loaded (``default`` if its slot is
    empty): ``object.__getattribute__`` skips ``Model.__getattr__``'s lazy load."""
    try:
        return object.__getattribute__(obj, attr_key)
    except AttributeError:
        return default


class CompositeKey:
    """``Meta.primary_key = CompositeKey("a", "b")``: a primary key over several columns."""

    def __init__(self, *field_names: str) -> None:
        if len(field_names) < 2:
            raise ImproperlyConfigured("CompositeKey needs at least two fields")
        self.field_names = field_names
        self.model: type[Model] | None = None
        self.fields: tuple[Field[Any], ...] = ()

    def bind(self, model: type[Model]) -> None:
        """Look up the named fields on ``model`` (called by the metaclass)."""
        self.model = model
        self.fields = tuple(model._meta.fields[name] for name in self.field_names)

    def __repr__(self) -> str:
        return f"CompositeKey{self.field_names!r}"
