"""Query nodes: SELECT (and compound selects, CTEs); INSERT, UPDATE, DELETE are in ``write.py``.

Builders are generative: every chained call returns a shallow clone, so ``q2 = q.where(...)``
leaves ``q`` as it was. A query renders bare with ``_render(ctx)`` and, nested inside another
statement, in parentheses with ``__sql__(ctx)``.
"""

from __future__ import annotations

import operator
from typing import TYPE_CHECKING, Any, Iterable

from ..exceptions import FieldError, NotSupportedError
from .nodes import (
    AND,
    OR,
    SQL,
    Alias,
    Column,
    Context,
    Entity,
    Expression,
    Node,
    Operand,
    Ordering,
    Star,
    as_node,
)
from .shapes import compile_select
from .sources import _ColumnFactory, join_kind

if TYPE_CHECKING:
    from typing_extensions import Self

    from ..dialects.base import Dialect

__all__ = [
    "Query",
    "SelectBase",
    "Select",
    "CompoundSelect",
    "CTE",
    "Insert",
    "Update",
    "Delete",
    "OnConflict",
    "EXCLUDED",
]


class Query(Node):
    """Base of every statement: cloning and compilation.

    Query state lives in the instance ``__dict__`` so a chained call clones with one
    C-level dict copy (no per-attribute Python work).
    """

    _database = None

    @property
    def database(self) -> Any:
        """The database given when the statement was built (model queries: their model's)."""
        return self._database

    def _clone(self) -> Self:
        clone = object.__new__(type(self))
        clone.__dict__ = self.__dict__.copy()
        return clone

    def _dialect(self) -> Dialect:
        database = self.database
        if database is None:
            raise NotSupportedError("this query is not bound to a database; pass a dialect")
        dialect: Dialect = database.dialect
        return dialect

    def sql(self, dialect: Dialect | None = None) -> tuple[str, list[Any]]:
        """Compile for the query's database (or the given dialect): ``(sql, params)``."""
        ctx = Context(dialect if dialect is not None else self._dialect())
        self._render(ctx)
        return "".join(ctx.parts), ctx.params

    def __sql__(self, ctx: Context) -> None:
        in_select_list = ctx.select_list
        ctx.literal("(")
        with ctx.scope(select_list=False):  # the subquery's clauses are not our select list
            self._render(ctx)
        ctx.literal(")")
        alias = getattr(self, "_alias", None)
        if in_select_list and alias:
            # a scalar subquery named with .alias("n") in a select list
            ctx.literal(" AS ").literal(ctx.quoted(alias))

    def _render(self, ctx: Context) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def __str__(self) -> str:
        sql, params = self.sql()
        return f"{sql} -- params: {params!r} (for reading only; values are sent as parameters)"


def _nodes(values: Iterable[Any]) -> tuple[Node, ...]:
    return tuple([value if isinstance(value, Node) else as_node(value) for value in values])


def _column_nodes(values: Iterable[Any], key_only: bool = False) -> tuple[Node, ...]:
    """Like ``_nodes``, but a model (or model alias) stands for its columns: ``group_by(User)``
    groups by every column of User. With ``key_only`` it stands for its primary key (ordering
    by the key orders as by all columns, and costs less)."""
    nodes = []
    for value in values:
        # (sort keys and expressions first: asking them for _sql_columns costs an AttributeError)
        columns = None if isinstance(value, (Operand, Ordering)) else getattr(value, "_sql_columns", None)
        if columns is not None:
            nodes.extend(columns(key_only))
        else:
            nodes.append(as_node(value))
    return tuple(nodes)


class SelectBase(Query, Operand):
    """What SELECT and compound selects share: ordering, limits, use as a subquery."""

    _order_by: tuple[Node, ...]
    _limit: int | None
    _offset: int | None
    _alias: str | None
    _ctes: tuple[CTE, ...]

    def __init__(self, database: Any = None) -> None:
        self._database = database
        self._order_by = ()
        self._limit = None
        self._offset = None
        self._alias = None
        self._ctes = ()

    @property
    def c(self) -> _ColumnFactory:
        """Columns of this query used as a subquery: ``sub.c.name``."""
        return _ColumnFactory(self)

    # -- chaining --------------------------------------------------------------------------
    def order_by(self, *nodes: Any) -> Self:
        """A copy sorted by ``nodes`` (replacing any earlier ``order_by``).

        A string names a field of the query's models or a selected alias, ``"-name"`` for
        descending order; any other string raises ``FieldError`` before SQL is sent.
        """
        clone = self._clone()
        clone._order_by = _column_nodes(self._named_nodes(nodes, "order_by"), key_only=True)
        return clone

    def order_by_extend(self, *nodes: Any) -> Self:
        """A copy with ``nodes`` added after the current sort keys."""
        clone = self._clone()
        clone._order_by = self._order_by + _column_nodes(self._named_nodes(nodes, "order_by"), key_only=True)
        return clone

    def _named_nodes(self, nodes: tuple[Any, ...], clause: str) -> tuple[Any, ...]:
        """``nodes`` with each string resolved by ``_resolve_name`` (never bound as a value)."""
        for node in nodes:
            if isinstance(node, str):
                break
        else:
            return nodes
        resolved: list[Any] = []
        for node in nodes:
            if isinstance(node, str):
                descending = clause == "order_by" and node.startswith("-")
                name = node[1:] if descending else node
                found = self._resolve_name(name) if name else None
                if found is None:
                    raise FieldError(
                        f"{clause}({node!r}): {name!r} is neither a field of the query's models nor "
                        "a selected alias" + (" (write '-name' for descending order)" if clause == "order_by" else "")
                    )
                node = found.desc() if descending else found
            resolved.append(node)
        return tuple(resolved)

    def _resolve_name(self, name: str) -> Operand | None:
        """The node a name in ``order_by``/``group_by`` stands for, or None: a selected alias."""
        for column in getattr(self, "_columns", ()):
            if isinstance(column, Alias) and column.name == name:
                return Entity(name)
            if isinstance(column, SelectBase) and column._alias == name:
                return Entity(name)
        return None

    def limit(self, value: int | None) -> Self:
        """A copy returning at most ``value`` rows (None: no limit); a negative or non-integer value is refused."""
        clone = self._clone()
        clone._limit = None if value is None else _non_negative_int(value, "limit")
        return clone

    def offset(self, value: int | None) -> Self:
        """A copy skipping the first ``value`` rows."""
        clone = self._clone()
        clone._offset = None if value is None else _non_negative_int(value, "offset")
        return clone

    def paginate(self, page: int, per_page: int = 20) -> Self:
        """Page ``page`` (1-based) of ``per_page`` rows."""
        page = _non_negative_int(page, "page")
        per_page = _non_negative_int(per_page, "per_page")
        if page < 1:
            raise ValueError("paginate() pages are numbered from 1")
        return self.limit(per_page).offset((page - 1) * per_page)

    # a named subquery, not x AS name
    def alias(self, name: str) -> Self:  # type: ignore[override]  # pyright: ignore[reportIncompatibleMethodOverride]
        """Name this query for use as a subquery in FROM or a join: ``sub.c.column``."""
        clone = self._clone()
        clone._alias = name
        return clone

    def with_cte(self, *ctes: CTE) -> Self:
        """A copy with ``WITH`` the given common table expressions."""
        clone = self._clone()
        clone._ctes = self._ctes + ctes
        return clone

    def cte(self, name: str, recursive: bool = False, columns: Any = None) -> CTE:
        """This query as a common table expression called ``name`` (``recursive=True`` for ``WITH RECURSIVE``)."""
        return CTE(name, self, recursive=recursive, columns=columns)

    # -- compound --------------------------------------------------------------------------
    def union(self, other: SelectBase) -> CompoundSelect:
        """``self UNION other`` (duplicates removed)."""
        return CompoundSelect(self, "UNION", other)

    def union_all(self, other: SelectBase) -> CompoundSelect:
        """``self UNION ALL other``."""
        return CompoundSelect(self, "UNION ALL", other)

    def intersect(self, other: SelectBase) -> CompoundSelect:
        """``self INTERSECT other``."""
        return CompoundSelect(self, "INTERSECT", other)

    def except_(self, other: SelectBase) -> CompoundSelect:
        """``self EXCEPT other``."""
        return CompoundSelect(self, "EXCEPT", other)

    __add__ = union_all  # type: ignore[assignment]  # q1 + q2 is UNION ALL

    # -- rendering -------------------------------------------------------------------------
    def _source_alias(self, ctx: Context) -> str:
        return self._alias or ctx.alias_for(self)

    def _from_sql(self, ctx: Context) -> None:
        ctx.literal("(")
        self._render(ctx)
        ctx.literal(") AS ").literal(ctx.quoted(self._source_alias(ctx)))

    def _render_ctes(self, ctx: Context) -> None:
        if not self._ctes:
            return
        recursive = any(cte.recursive for cte in self._ctes)
        ctx.literal("WITH RECURSIVE " if recursive else "WITH ")
        for index, cte in enumerate(self._ctes):
            if index:
                ctx.literal(", ")
            cte._definition_sql(ctx)
        ctx.literal(" ")

    def _render_tail(self, ctx: Context, qualify: bool = True) -> None:
        if self._order_by:
            # A compound query's ORDER BY names its result columns, which have no table.
            with ctx.scope(qualify=qualify):
                ctx.literal(" ORDER BY ").comma_separated(self._order_by)
        if self._limit is not None or self._offset is not None:
            ctx.dialect.render_limit(ctx, self._limit, self._offset)


def _non_negative_int(value: int, what: str) -> int:
    # Only integers (``__index__``): 1.9 or "3" would be truncated or parsed, which hides a bug.
    if value.__class__ is not int:
        try:
            if isinstance(value, bool):
                raise TypeError
            value = operator.index(value)
        except TypeError:
            raise ValueError(f"{what} must be an integer, not {value!r}") from None
    if value < 0:
        raise ValueError(f"{what} must not be negative, got {value}")
    return value


class Select(SelectBase):
    """``SELECT columns FROM sources [JOIN ...] WHERE ... GROUP BY ... HAVING ...``."""

    # (columns, shape): the shape of the select list, set by whoever knows it without a walk
    # (a model query selecting whole models); it counts only while ``_columns`` is still
    # that very tuple, so replacing the columns needs no bookkeeping.
    _columns_shape: tuple[tuple[Any, ...], Any] | None = None

    # Sources are tables, models, model aliases, subqueries and CTEs (``_source_alias`` and
    # ``_from_sql`` are what they share).
    _columns: tuple[Node, ...]
    _from: tuple[Any, ...]
    _joins: tuple[tuple[str, Any, Any], ...]  # (join kind, source, on)
    _where: Node | None
    _group_by: tuple[Node, ...]
    _having: Node | None
    _distinct: bool | tuple[Node, ...]  # a tuple: DISTINCT ON those
    _for_update: tuple[bool, bool, tuple[Any, ...], bool] | None  # (nowait, skip_locked, of, share)
    _join_source: Any

    def __init__(self, columns: Iterable[Any] = (), sources: Iterable[Any] = (), database: Any = None) -> None:
        SelectBase.__init__(self, database)
        self._columns = _nodes(columns)
        self._from = tuple(sources)
        self._joins = ()
        self._where = None
        self._group_by = ()
        self._having = None
        self._distinct = False
        self._for_update = None
        self._join_source = self._from[0] if self._from else None

    def columns(self, *columns: Any) -> Self:
        """A copy selecting ``columns`` instead (``select`` is the same method)."""
        clone = self._clone()
        clone._columns = _nodes(columns)
        return clone

    select = columns

    def select_extend(self, *columns: Any) -> Self:
        """A copy selecting ``columns`` as well."""
        clone = self._clone()
        clone._columns = self._columns + _nodes(columns)
        return clone

    def select_from(self, *sources: Any) -> Self:
        """A copy reading from ``sources`` (tables, subqueries, CTEs)."""
        clone = self._clone()
        clone._from = tuple(sources)
        clone._join_source = sources[0] if sources else None
        return clone

    def from_(self, *sources: Any) -> Self:
        """Same as ``select_from``."""
        return self.select_from(*sources)

    def where(self, *conditions: Any) -> Self:
        """A copy with ``conditions`` added to the WHERE clause with AND."""
        clone = self._clone()
        if self._where is None and len(conditions) == 1 and conditions[0] is not None:
            clone._where = conditions[0]  # the common case, without AND()'s list
        else:
            clone._where = AND(self._where, *conditions)
        return clone

    def orwhere(self, *conditions: Any) -> Self:
        """A copy with ``conditions`` (ANDed together) added to the WHERE clause with OR."""
        clone = self._clone()
        clone._where = OR(self._where, AND(*conditions)) if self._where is not None else AND(*conditions)
        return clone

    def join(self, dest: Any, join_type: str = "INNER JOIN", on: Any = None) -> Self:
        """A copy joining ``dest`` (``join_type`` one of ``JOIN``'s kinds) ``on`` a condition."""
        join_type = join_kind(join_type)
        clone = self._clone()
        clone._joins = self._joins + ((join_type, dest, on),)
        clone._join_source = dest
        return clone

    def switch(self, source: Any = None) -> Self:
        """A copy whose next ``join`` starts from ``source`` (default: the first FROM source)."""
        clone = self._clone()
        clone._join_source = source if source is not None else (self._from[0] if self._from else None)
        return clone

    def group_by(self, *nodes: Any) -> Self:
        """Group by columns or expressions; a model stands for all its columns."""
        clone = self._clone()
        clone._group_by = _column_nodes(self._named_nodes(nodes, "group_by"))
        return clone

    def having(self, *conditions: Any) -> Self:
        """A copy with ``conditions`` added to HAVING with AND."""
        clone = self._clone()
        clone._having = AND(self._having, *conditions)
        return clone

    # Operand.distinct is DISTINCT x
    def distinct(self, *on: Any) -> Self:  # type: ignore[override]  # pyright: ignore[reportIncompatibleMethodOverride]
        """``distinct()`` / ``distinct(False)``; ``distinct(User.email, ...)`` (or a model,
        standing for its columns) is ``DISTINCT ON (...)`` where the engine has it."""
        clone = self._clone()
        if not on or (len(on) == 1 and isinstance(on[0], bool)):
            clone._distinct = on[0] if on else True
        else:
            clone._distinct = _column_nodes(on)
        return clone

    def for_update(
        self,
        for_update: bool = True,
        nowait: bool = False,
        skip_locked: bool = False,
        of: Any = (),
        share: bool = False,
    ) -> Self:
        """A copy locking the rows it reads until the transaction ends (``FOR UPDATE``), with
        ``nowait`` or ``skip_locked`` where the engine has them; ``of`` limits the lock to some
        tables; ``share=True`` takes shared locks (``FOR SHARE``), which readers racing for the
        same row can all hold at once."""
        if nowait and skip_locked:
            raise ValueError("for_update() takes nowait or skip_locked, not both")
        clone = self._clone()
        clone._for_update = (nowait, skip_locked, tuple(of), share) if for_update else None
        return clone

    # -- rendering -------------------------------------------------------------------------
    def sql(self, dialect: Dialect | None = None) -> tuple[str, list[Any]]:
        """Compile for the query's database (or the given dialect): ``(sql, params)``.

        The text comes from the cache of compiled shapes (``shapes.py``) when a query of the
        same shape was compiled before for the dialect; only the values are collected.
        """
        if dialect is None:
            dialect = self._dialect()
        if self.__class__._render is not Select._render:
            return Query.sql(self, dialect)
        return compile_select(self, dialect, self._render)

    def _render(self, ctx: Context) -> None:
        self._render_ctes(ctx)
        parts = ctx.parts
        distinct: Any = self._distinct  # a bool, or the tuple DISTINCT ON renders
        if distinct.__class__ is tuple:
            parts.append("SELECT ")
            ctx.dialect.render_distinct_on(ctx, distinct)
        else:
            parts.append("SELECT DISTINCT " if distinct else "SELECT ")
        if self._columns:
            with ctx.scope(select_list=True):
                ctx.comma_separated(self._columns)
        else:
            parts.append("*")
        if self._from:
            parts.append(" FROM ")
            for index, source in enumerate(self._from):
                if index:
                    parts.append(", ")
                source._from_sql(ctx)
        for join_type, dest, on in self._joins:
            ctx.dialect.check_join(join_type)
            parts.append(f" {join_type} ")
            dest._from_sql(ctx)
            if on is not None:
                parts.append(" ON ")
                ctx.sql(on)
        if self._where is not None:
            parts.append(" WHERE ")
            ctx.sql(self._where)
        if self._group_by:
            parts.append(" GROUP BY ")
            ctx.comma_separated(self._group_by)
        if self._having is not None:
            parts.append(" HAVING ")
            ctx.sql(self._having)
        self._render_tail(ctx)
        if self._for_update is not None:
            ctx.dialect.render_for_update(ctx, *self._for_update)


class CompoundSelect(SelectBase):
    """``lhs UNION|UNION ALL|INTERSECT|EXCEPT rhs``, itself orderable and limitable."""

    def __init__(self, lhs: SelectBase, op: str, rhs: SelectBase) -> None:
        SelectBase.__init__(self, lhs.database)
        self.lhs = lhs
        self.op = op
        self.rhs = rhs

    def _resolve_name(self, name: str) -> Operand | None:
        # A compound's ORDER BY names the result columns, which the first part names.
        found = self.lhs._resolve_name(name) if isinstance(self.lhs, SelectBase) else None
        if found is not None and not isinstance(found, Entity):
            found = Entity(getattr(found, "column_name", name))
        return found

    def _render_part(self, ctx: Context, part: SelectBase) -> None:
        needs_parens = isinstance(part, SelectBase) and (
            part._order_by or part._limit is not None or part._offset is not None
        )
        if needs_parens and not ctx.dialect.compound_select_parens:
            raise NotSupportedError(
                f"{ctx.dialect.name} cannot ORDER BY or LIMIT one side of a {self.op}; "
                "order or limit the whole compound query instead"
            )
        if needs_parens:
            ctx.literal("(")
            part._render(ctx)
            ctx.literal(")")
        elif isinstance(part, CompoundSelect):
            part._render_body(ctx)
        else:
            part._render(ctx)

    def _render_body(self, ctx: Context) -> None:
        ctx.dialect.check_compound(self.op)
        self._render_part(ctx, self.lhs)
        ctx.literal(f" {self.op} ")
        self._render_part(ctx, self.rhs)

    def _render(self, ctx: Context) -> None:
        self._render_ctes(ctx)
        self._render_body(ctx)
        self._render_tail(ctx, qualify=False)


class CTE(Node):
    """A common table expression: ``WITH name (columns) AS (query)``; columns as ``cte.c.x``."""

    def __init__(
        self, name: str, query: SelectBase, recursive: bool = False, columns: Iterable[str] | None = None
    ) -> None:
        self.name = name
        self.query = query
        self.recursive = recursive
        self.columns = tuple(columns) if columns else None
        self.c = _ColumnFactory(self)

    def union_all(self, other: SelectBase) -> CTE:
        """This CTE's query ``UNION ALL other``: the recursive step of a ``WITH RECURSIVE``."""
        return CTE(self.name, self.query.union_all(other), self.recursive, self.columns)

    def union(self, other: SelectBase) -> CTE:
        """This CTE's query ``UNION other``."""
        return CTE(self.name, self.query.union(other), self.recursive, self.columns)

    def _source_alias(self, ctx: Context) -> str:
        return self.name

    def _from_sql(self, ctx: Context) -> None:
        ctx.literal(ctx.quoted(self.name))

    def __sql__(self, ctx: Context) -> None:
        ctx.literal(ctx.quoted(self.name))

    def _definition_sql(self, ctx: Context) -> None:
        ctx.literal(ctx.quoted(self.name))
        if self.columns:
            ctx.literal(" (").literal(", ".join(ctx.quoted(name) for name in self.columns))
            ctx.literal(")")
        ctx.literal(" AS (")
        self.query._render(ctx)
        ctx.literal(")")


# The write queries live in write.py; re-exported here so ``from tinyorm.sql.query import
# Insert`` keeps working (write.py imports Query from this module, hence the import last).
from .write import EXCLUDED, Delete, Insert, OnConflict, Update  # noqa: E402
from .write import ExcludedColumn as ExcludedColumn  # noqa: E402

# Re-exported for callers building raw statements.
__all__ += ["Column", "Entity", "Expression", "SQL", "Star"]
