"""Django-style lookups: ``filter(name__startswith="a", user__email="x", tweets__likes__gt=2)``.

A key is split on ``__``: the last part may name an operator (``LOOKUPS``), the parts before
it walk foreign keys (each adds a join, made once per path) or a backref (which becomes an
``IN`` subquery over the related model, so rows are not multiplied).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Iterable, TypeVar

from ..exceptions import FieldError
from ..fields import ForeignKeyField
from ..sql.nodes import Node, fn
from .aliases import FieldAlias, ModelAlias, _model_of

if TYPE_CHECKING:
    from ..fields import Field
    from ..sql.nodes import Operand
    from .aliases import Source
    from .model import Model
    from .select import ModelSelect

    _Q = TypeVar("_Q", bound=ModelSelect[Any])


def apply_lookups(query: _Q, conditions: Iterable[Any], lookups: dict[str, Any]) -> _Q:
    """``filter(name__startswith="a", fk__field=1, backref__field__gt=2)``."""
    expressions = list(conditions)
    # (source, backref key) -> {lookup on the related model: value}
    backref_groups: dict[tuple[Source, ForeignKeyField[Any]], dict[str, Any]] = {}
    for key, value in lookups.items():
        parts = key.split("__")
        lookup = "exact"
        if len(parts) > 1 and parts[-1] in LOOKUPS:
            lookup = parts.pop()
        model = _model_of(query.model)
        source: Source = query.model
        path: list[str] = []
        while len(parts) > 1 or (parts and parts[0] not in model._meta.fields and _backref(model, parts[0])):
            name = parts.pop(0)
            fields = model._meta.fields
            fk = fields.get(name)
            if isinstance(fk, ForeignKeyField):
                path.append(name)
                query, source = query._join_for_lookup(tuple(path), source, fk)
                model = fk.rel_model
                continue
            backref_fk = _backref(model, name)
            if backref_fk is not None:
                rest = "__".join(parts + [lookup]) if parts else None
                group = backref_groups.setdefault((source, backref_fk), {})
                group[rest or f"{backref_fk.model._meta.primary_key.name}__isnull"] = value if rest else False
                parts = []  # the rest is the backref group's
                break
            if name in fields:
                raise FieldError(
                    f"unknown lookup {parts[0]!r} for {model.__name__}.{name} in {key!r}; "
                    f"known: {', '.join(sorted(LOOKUPS))}"
                )
            raise FieldError(f"{model.__name__} has no field or relation named {name!r} (in lookup {key!r})")
        if not parts:
            continue
        name = parts[0]
        field = model._meta.fields.get(name)
        if field is None:
            if name.endswith("_id") and name[:-3] in model._meta.fields:
                field = model._meta.fields[name[:-3]]
            else:
                raise FieldError(f"{model.__name__} has no field named {name!r} (in lookup {key!r})")
        column: Field[Any] | FieldAlias = FieldAlias(source, field) if isinstance(source, ModelAlias) else field
        expressions.append(_apply_lookup(column, lookup, value, key))
    for (source, fk), group in backref_groups.items():
        target: Field[Any] | FieldAlias = (
            fk.rel_field if not isinstance(source, ModelAlias) else FieldAlias(source, fk.rel_field)
        )
        subquery = fk.model.select(fk).filter(
            **{k: v for k, v in group.items() if not k.endswith("__isnull") or v is not False}
        )
        expressions.append(target.in_(subquery))
    if not expressions:
        return query
    return query.where(*expressions)


def _backref(model: type[Model], name: str) -> ForeignKeyField[Any] | None:
    for fk in model._meta.backrefs:
        if getattr(fk, "backref_name", None) == name:
            return fk
    return None


def _lookup_exact(column: Operand, value: object) -> Operand:
    return column == value


# lookup name -> (column, value) -> condition
LOOKUPS: dict[str, Callable[[Any, Any], Operand]] = {
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


# Lookups comparing with one value: a list there would become a row value ``(1, 2)``.
_SINGLE_VALUE = frozenset(
    {"exact", "eq", "ne", "lt", "lte", "gt", "gte", "iexact", "contains", "icontains", "startswith"}
    | {"istartswith", "endswith", "iendswith", "regex"}
)
_COLLECTIONS = (list, tuple, set, frozenset, dict)


def _apply_lookup(column: Operand, lookup: str, value: Any, key: str) -> Operand:
    builder = LOOKUPS.get(lookup)
    if builder is None:
        raise FieldError(f"unknown lookup {lookup!r} in {key!r}; known: {', '.join(sorted(LOOKUPS))}")
    _check_argument(column, lookup, value, key)
    return builder(column, value)


def _check_argument(column: Operand, lookup: str, value: Any, key: str) -> None:
    """Refuse an argument of the wrong shape before any SQL (``isnull="false"`` is not False)."""
    if lookup == "isnull":
        if value is not True and value is not False:
            raise FieldError(f"{key}: isnull takes True or False, not {value!r}")
    elif lookup == "between":
        if not isinstance(value, (list, tuple)) or len(value) != 2:
            raise FieldError(f"{key}: between takes a (low, high) pair")
    elif lookup == "in":
        if not isinstance(value, Node) and (isinstance(value, (str, bytes, dict)) or not hasattr(value, "__iter__")):
            raise FieldError(f"{key}: in takes a list, tuple or set of values or a subquery, not {value!r}")
    elif lookup in _SINGLE_VALUE and isinstance(value, _COLLECTIONS):
        field = getattr(column, "field", column)
        if not getattr(field, "whole_values", False):
            raise FieldError(
                f"{key}: takes one value, not {value!r} (to match any of several, use {key.split('__')[0]}__in)"
            )
