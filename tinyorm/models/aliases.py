"""A model under another name (``Category.alias("parent")``) and its fields seen through it.

Also the small helpers every query module uses to look through an alias: the model behind
a source, its fields, and which (source, field) a selected column belongs to.
"""

from __future__ import annotations

from ..fields import Field
from ..sql.json import JsonPath, _JsonOperand, check_key
from ..sql.nodes import Node, Operand


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
        """A select over the alias (all its fields when no columns are given), for self-joins and subqueries."""
        from .select import ModelSelect  # select.py builds on this module

        return ModelSelect(self, columns or tuple(FieldAlias(self, f) for f in self._alias_model._meta.fields.values()))

    @property
    def _meta(self):
        return self._alias_model._meta

    def _source_alias(self, ctx):
        return ctx.alias_for(self, self._alias_name)

    def _sql_columns(self, key_only=False):
        """The aliased model's columns (see ``ModelBase._sql_columns``), seen through the alias."""
        return tuple(FieldAlias(self, field) for field in self._alias_model._sql_columns(key_only))

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

    # A JSON field seen through an alias keeps its JSON operators (sql/json.py).
    def _json_root_keys(self):
        return self, ()

    def __getitem__(self, key):
        return JsonPath(self, (check_key(key),))

    def contains(self, needle):
        if isinstance(self.field, _JsonOperand):
            return _JsonOperand.contains(self, needle)
        return Operand.contains(self, needle)

    def has_key(self, key):
        return _JsonOperand.has_key(self, key)

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
