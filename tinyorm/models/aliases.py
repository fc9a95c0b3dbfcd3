"""A model under another name (``Category.alias("parent")``) and its fields seen through it.

Also the small helpers every query module uses to look through an alias: the model behind
a source, its fields, and which (source, field) a selected column belongs to.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NoReturn, Union

from ..fields import Field
from ..sql.json import JsonPath, _JsonOperand, check_key
from ..sql.nodes import Node, Operand

if TYPE_CHECKING:
    from ..dialects.base import Dialect
    from ..fields.base import Adapter
    from ..sql.json import JsonContains, JsonHasKey
    from ..sql.nodes import Context, Match
    from .metadata import Metadata, ModelBase
    from .model import Model
    from .select import ModelSelect

# Where a query's rows come from: a model, or a model under an alias (self-joins).
Source = Union["type[Model]", "ModelAlias"]


class ModelAlias(Node):
    """A model under another name, for self-joins: ``Parent = Category.alias("parent")``.

    Attribute access gives the model's fields seen through the alias; the alias keeps its
    own state under ``_alias_model``/``_alias_name`` so fields called ``name`` or ``model``
    stay reachable.
    """

    if TYPE_CHECKING:
        _alias_model: type[Model]
        _alias_name: str | None

    def __init__(self, model: type[Model], name: str | None = None) -> None:
        self.__dict__["_alias_model"] = model
        self.__dict__["_alias_name"] = name

    def __getattr__(self, attr: str) -> Any:
        model = self.__dict__["_alias_model"]
        field = model._meta.fields.get(attr)
        if field is not None:
            return FieldAlias(self, field)
        return getattr(model, attr)

    def __setattr__(self, attr: str, value: object) -> NoReturn:
        raise AttributeError("a model alias is read-only")

    def select(self, *columns: Any) -> ModelSelect[Any]:
        """A select over the alias (all its fields when no columns are given), for self-joins and subqueries."""
        from .select import ModelSelect  # select.py builds on this module

        return ModelSelect(self, columns or tuple(FieldAlias(self, f) for f in self._alias_model._meta.fields.values()))

    @property
    def _meta(self) -> Metadata:
        return self._alias_model._meta

    def _source_alias(self, ctx: Context) -> str:
        return ctx.alias_for(self, self._alias_name)

    def _sql_columns(self, key_only: bool = False) -> tuple[FieldAlias, ...]:
        """The aliased model's columns (see ``ModelBase._sql_columns``), seen through the alias."""
        return tuple(FieldAlias(self, field) for field in self._alias_model._sql_columns(key_only))

    def _from_sql(self, ctx: Context) -> None:
        ctx.literal(ctx.quoted(self._alias_model._meta.table_name)).literal(" AS ")
        ctx.literal(ctx.quoted(self._source_alias(ctx)))

    def __sql__(self, ctx: Context) -> None:
        ctx.literal(ctx.quoted(self._source_alias(ctx)))

    def __repr__(self) -> str:
        return f"<ModelAlias {self._alias_model.__name__} {self._alias_name or ''}>"


class FieldAlias(Operand):
    """A field seen through a ModelAlias: renders with the alias's table name."""

    __slots__ = ("source", "field")

    def __init__(self, source: ModelAlias, field: Field[Any]) -> None:
        self.source = source
        self.field = field

    def __getattr__(self, attr: str) -> Any:
        return getattr(self.field, attr)

    def _converter(self) -> Field[Any]:
        return self.field

    # A JSON field seen through an alias keeps its JSON operators (sql/json.py).
    def _json_root_keys(self) -> tuple[FieldAlias, tuple[()]]:
        return self, ()

    def __getitem__(self, key: str | int) -> JsonPath:
        return JsonPath(self, (check_key(key),))

    # JSON containment for a JSON field, else Operand's substring match (sql/json.py)
    def contains(self, needle: Any) -> Match | JsonContains:  # type: ignore[override]  # pyright: ignore[reportIncompatibleMethodOverride]
        if isinstance(self.field, _JsonOperand):
            # (an alias of a JSON field quacks like one: it has _json_root_keys)
            return _JsonOperand.contains(self, needle)  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
        return Operand.contains(self, needle)

    def has_key(self, key: str | int) -> JsonHasKey:
        return _JsonOperand.has_key(self, key)  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]

    def adapter(self, dialect: Dialect) -> Adapter:
        return self.field.adapter(dialect)

    def __sql__(self, ctx: Context) -> None:
        if ctx.qualify:
            ctx.literal(ctx.quoted(self.source._source_alias(ctx))).literal(".")
        ctx.literal(ctx.quoted(self.field.column_name))

    def __hash__(self) -> int:
        return hash((id(self.source), self.field))


def _model_of(source: Source) -> type[Model]:
    return source._alias_model if isinstance(source, ModelAlias) else source


def _fields_of(source: ModelBase | ModelAlias) -> tuple[Field[Any], ...] | tuple[FieldAlias, ...]:
    if isinstance(source, ModelAlias):
        return tuple(FieldAlias(source, field) for field in source._alias_model._meta.fields.values())
    return tuple(source._meta.fields.values())


def _column_owner(column: object) -> tuple[Source, Field[Any]] | tuple[None, None]:
    """(source, field) for a column node, or (None, None) for an expression."""
    if isinstance(column, FieldAlias):
        return column.source, column.field
    if isinstance(column, Field):
        return column.model, column
    return None, None
