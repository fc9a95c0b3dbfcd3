"""Compiled SQL by query shape: a query built again with other values skips rendering.

Two SELECTs that differ only in their parameter values compile to the same text. A walk over
the query (much cheaper than rendering: no quoting, no string building) computes its *shape*
-- node kinds, operators, columns, models, identifiers, inlined LIMIT/OFFSET -- and collects
the parameter values in the order rendering would send them. The text is cached by
``(dialect, shape)``: the dialect object (two MySQL databases with different version flags
never share an entry) and nothing that identifies a query or expression object, so a web
app rebuilding the same query per request reuses one entry, and the cache is bounded.

Only nodes with a key function here (or a ``_sql_shape`` method: fields, model classes) take
part; anything else -- subqueries, aliased models, dialect hooks that place parameters
themselves -- makes the query render as before. On a miss the rendered parameters are
checked against the collected ones, and a shape whose parameters disagree is never cached:
no shape can ever return SQL for a different query.
"""

from __future__ import annotations

from typing import Any, Callable

from ..bounded import BoundedCache
from .functions import Function
from .nodes import SQL, Alias, Context, Expression, InList, Negated, NodeList, Ordering, Value
from .sources import Entity, Star, Table

__all__ = ["COMPILED_CACHE_SIZE", "compile_select", "NoShape"]

# Statement texts kept, across every dialect: a few hundred query shapes cover an
# application; beyond that the oldest shapes are compiled again on their next use.
COMPILED_CACHE_SIZE = 512
_COMPILED: BoundedCache[Any, str] = BoundedCache(COMPILED_CACHE_SIZE)

# A parameter as collected by the walk: its value and the field-like converter whose
# ``adapter(dialect)`` turns it into what the driver gets (None: sent as it is).
_Param = tuple[Any, Any]
_Keyer = Callable[[Any, list[_Param]], Any]


class NoShape(Exception):
    """Raised by the walk for a node it cannot key: the query is rendered, not cached."""


def node_key(node: Any, params: list[_Param]) -> Any:
    """The shape of ``node`` (hashable, equal only for nodes rendering the same text);
    appends its parameters to ``params`` in rendering order."""
    keyer = _KEYERS.get(node.__class__) or _keyer_for(node.__class__)
    return keyer(node, params)


def _keyer_for(cls: type) -> _Keyer:
    # Classes above sql/ (fields, model classes) key themselves with a ``_sql_shape``
    # method, which counts only where it sits beside the ``__sql__`` it describes: a
    # subclass rendering itself differently renders uncached until it keys itself too.
    keyer: _Keyer = _no_shape
    for klass in cls.__mro__:
        if "__sql__" in vars(klass):
            keyer = vars(klass).get("_sql_shape", _no_shape)
            break
    _KEYERS[cls] = keyer
    return keyer


def _no_shape(node: Any, params: list[_Param]) -> Any:
    raise NoShape


def _keys(nodes: tuple[Any, ...], params: list[_Param]) -> tuple[Any, ...]:
    return tuple([node_key(node, params) for node in nodes])


def _value_key(node: Value, params: list[_Param]) -> Any:
    value = node.value
    converter = node.converter
    if isinstance(value, (list, tuple)) and not getattr(converter, "whole_values", False):
        # rendered as "(?, ?, ...)", one parameter per item (nested lists nest parentheses)
        for item in value:
            if isinstance(item, (list, tuple)) or hasattr(item, "__sql__"):
                raise NoShape
            params.append((item, converter))
        return ("values", len(value))
    params.append((value, converter))
    return "?"


def _expression_key(node: Expression, params: list[_Param]) -> Any:
    op = node.op
    if op == "%" or op == "||" or op == "/":
        raise NoShape  # rendered by a dialect hook, which places the operands itself
    # node_key inlined: conditions are most of a query's nodes
    lhs = node.lhs
    keyer = _KEYERS.get(lhs.__class__) or _keyer_for(lhs.__class__)
    lhs_key = keyer(lhs, params)
    rhs = node.rhs
    keyer = _KEYERS.get(rhs.__class__) or _keyer_for(rhs.__class__)
    return (op, lhs_key, keyer(rhs, params))


def _negated_key(node: Negated, params: list[_Param]) -> Any:
    return ("NOT", node_key(node.node, params))


def _in_list_key(node: InList, params: list[_Param]) -> Any:
    values = node.values
    if not isinstance(values, tuple):
        raise NoShape  # a subquery
    if not values:
        return ("IN", node.negated)  # a constant test; the column is not rendered
    lhs = node_key(node.lhs, params)
    converter_of = getattr(node.lhs, "_converter", None)
    converter = converter_of() if converter_of is not None else None
    for item in values:
        if hasattr(item, "__sql__"):
            raise NoShape
        params.append((item, converter))
    return ("IN", node.negated, lhs, len(values))


def _alias_key(node: Alias, params: list[_Param]) -> Any:
    return ("AS", node.name, node_key(node.node, params))


def _ordering_key(node: Ordering, params: list[_Param]) -> Any:
    before = len(params)
    key = node_key(node.node, params)
    if node.nulls is not None and len(params) != before:
        # Emulated NULLS FIRST/LAST renders the node twice on some engines.
        raise NoShape
    return ("ORDER", node.direction, node.nulls, key)


def _sql_key(node: SQL, params: list[_Param]) -> Any:
    for value in node.params:
        if hasattr(value, "__sql__"):
            raise NoShape
        params.append((value, None))
    return ("SQL", node.text, len(node.params))


def _node_list_key(node: NodeList, params: list[_Param]) -> Any:
    return ("LIST", node.glue, node.parens, _keys(node.nodes, params))


def _function_key(node: Function, params: list[_Param]) -> Any:
    args = _keys(node.args, params)
    condition = None if node._filter is None else node_key(node._filter, params)
    return ("FN", node.name, args, condition)


def _entity_key(node: Entity, params: list[_Param]) -> Any:
    return ("ENTITY", node.path)


def _star_key(node: Star, params: list[_Param]) -> Any:
    if node.source is not None:
        raise NoShape
    return "*"


def _table_key(node: Table, params: list[_Param]) -> Any:
    return ("TABLE", node.name, node._alias)


_KEYERS: dict[type, _Keyer] = {
    Value: _value_key,
    Expression: _expression_key,
    Negated: _negated_key,
    InList: _in_list_key,
    Alias: _alias_key,
    Ordering: _ordering_key,
    SQL: _sql_key,
    NodeList: _node_list_key,
    Function: _function_key,
    Entity: _entity_key,
    Star: _star_key,
    Table: _table_key,
}


def _select_key(query: Any, params: list[_Param]) -> Any:
    """The shape of a plain SELECT, walked in ``Select._render``'s order."""
    if query._ctes:
        raise NoShape
    distinct = query._distinct
    if distinct.__class__ is tuple:
        distinct = _keys(distinct, params)
        if params:  # DISTINCT ON is a dialect hook's to render: plain columns only
            raise NoShape
    known = query._columns_shape  # (the columns, their shape) when set by a model query
    columns = known[1] if known is not None and known[0] is query._columns else _keys(query._columns, params)
    sources = _keys(query._from, params)
    joins: Any = ()
    for kind, dest, on in query._joins:
        joins += ((kind, node_key(dest, params), None if on is None else node_key(on, params)),)
    where = None if query._where is None else node_key(query._where, params)
    group_by = _keys(query._group_by, params) if query._group_by else ()
    having = None if query._having is None else node_key(query._having, params)
    order_by = _keys(query._order_by, params) if query._order_by else ()
    for_update = query._for_update
    if for_update is not None and for_update[2]:
        raise NoShape  # FOR UPDATE OF names sources by their aliases
    return (
        distinct,
        columns,
        sources,
        joins,
        where,
        group_by,
        having,
        order_by,
        query._limit,
        query._offset,
        for_update,
    )


def compile_select(query: Any, dialect: Any, render: Callable[[Context], None]) -> tuple[str, list[Any]]:
    """``(sql, params)`` for a SELECT rendered by ``render``, from the cache when its shape
    was compiled before for ``dialect``."""
    collected: list[_Param] = []
    try:
        key: Any = (dialect, _select_key(query, collected))
    except NoShape:
        key = None
    if key is not None:
        try:
            sql = _COMPILED.get(key)
        except TypeError:  # an unhashable part (a user's value in SQL text, say)
            key = sql = None
        if sql is not None:
            return sql, _adapted(collected, dialect)
    ctx = Context(dialect)
    render(ctx)
    sql = "".join(ctx.parts)
    if key is not None and _same_params(_adapted(collected, dialect), ctx.params):
        _COMPILED[key] = sql
    return sql, ctx.params


def _adapted(collected: list[_Param], dialect: Any) -> list[Any]:
    return [value if converter is None else converter.adapter(dialect)(value) for value, converter in collected]


def _same_params(expected: list[Any], rendered: list[Any]) -> bool:
    """Whether the walk collected exactly the parameters rendering sent, in its order."""
    if len(expected) != len(rendered):
        return False
    try:
        return all(a is b or bool(a == b) for a, b in zip(expected, rendered))
    except Exception:  # a value whose == raises or has no truth value: do not cache
        return False
