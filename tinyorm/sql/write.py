"""Write queries: INSERT (with ``ON CONFLICT`` upserts and ``EXCLUDED``), UPDATE and DELETE.

Importable from ``tinyorm.sql.query`` and ``tinyorm.sql`` as before; they live here to keep
each module one idea (``query.py`` holds SELECT).
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any, Callable, Iterable, Sequence

from ..exceptions import NotSupportedError
from .nodes import AND, SQL, Context, Converter, Expression, Node, Operand
from .query import Query, _nodes
from .sources import Table

if TYPE_CHECKING:
    from typing_extensions import Self


class _Excluded:
    """``EXCLUDED.column`` in an upsert's update: the value that was proposed for insertion."""

    def __getattr__(self, name: str) -> ExcludedColumn:
        if name.startswith("__"):
            raise AttributeError(name)
        return ExcludedColumn(name)


class ExcludedColumn(Operand):
    def __init__(self, name: Any) -> None:
        self.name: str = getattr(name, "column_name", name)  # a column name, or a field

    def __sql__(self, ctx: Context) -> None:
        ctx.dialect.render_excluded(ctx, self.name)


EXCLUDED = _Excluded()


class OnConflict:
    """What an INSERT does when a row conflicts with a unique key."""

    def __init__(
        self,
        action: str,
        conflict_target: Iterable[Any] | None = (),
        update: dict[Any, Any] | None = None,
        preserve: Iterable[Any] | None = (),
        where: Node | None = None,
    ) -> None:
        self.action = action
        self.conflict_target = tuple(conflict_target or ())
        self.update = update or {}
        self.preserve = tuple(preserve or ())
        self.where = where


class Insert(Query):
    """``INSERT INTO table (columns) VALUES (...), ...`` or ``INSERT ... SELECT``.

    ``rows`` is a sequence of tuples aligned with ``columns``; ``converters`` (one per column,
    or None) turn Python values into driver values.
    """

    # The table is a model class or a ``Table`` (what ``_from_sql`` renders).
    _on_conflict: OnConflict | None
    _returning: tuple[Node, ...]
    _returns_keys: bool
    _replace: bool

    def __init__(
        self,
        table: Any,
        columns: Iterable[Any] = (),
        rows: Sequence[Sequence[Any]] = (),
        converters: Sequence[Converter | None] | None = None,
        from_query: Query | None = None,
        database: Any = None,
    ) -> None:
        self._database = database
        self.table = table
        self.columns = tuple(columns)
        self.rows = rows
        self.converters = converters
        self.from_query = from_query
        self._on_conflict = None
        self._returning = ()
        self._returns_keys = False
        self._replace = False

    def on_conflict(
        self,
        action: str = "update",
        conflict_target: Iterable[Any] = (),
        update: dict[Any, Any] | None = None,
        preserve: Iterable[Any] = (),
        where: Node | None = None,
    ) -> Self:
        """A copy that upserts: on a conflict over ``conflict_target``, ``update`` the given columns (or ``preserve`` the new values), optionally only ``where`` a condition holds."""
        clone = self._clone()
        clone._on_conflict = OnConflict(action, conflict_target, update, preserve, where)
        return clone

    def on_conflict_ignore(self) -> Self:
        """A copy that skips rows conflicting with an existing key instead of failing."""
        clone = self._clone()
        clone._on_conflict = OnConflict("ignore")
        return clone

    def replace(self, replace: bool = True) -> Self:
        """``REPLACE INTO``: a row conflicting with a unique key is replaced (where the engine
        has the statement; ``ModelInsert`` turns it into an upsert elsewhere)."""
        clone = self._clone()
        clone._replace = replace
        return clone

    def returning(self, *columns: Any) -> Self:
        """A copy returning ``columns`` of the inserted rows (engines with ``RETURNING``)."""
        clone = self._clone()
        clone._returning = _nodes(columns)
        return clone

    def _returning_keys(self, *fields: Any) -> Self:
        """A copy returning the new rows' keys for the ORM (a flush, ``save()``): also on
        engines that return only from INSERT (``returning_insert``: MariaDB 10.5)."""
        clone = self.returning(*fields)
        clone._returns_keys = True
        return clone

    def _column_names(self) -> list[str]:
        return [getattr(column, "column_name", None) or getattr(column, "name", column) for column in self.columns]

    def _render(self, ctx: Context) -> None:
        dialect = ctx.dialect
        parts = ctx.parts
        if self._replace:
            if not dialect.replace_sql:
                raise NotSupportedError(f"{dialect.name} has no REPLACE statement; use on_conflict()")
            parts.append(dialect.replace_sql)
        else:
            parts.append("INSERT INTO ")
        self.table._from_sql(ctx)
        names = self._column_names()
        if self.from_query is not None:
            parts.append(" (" + ", ".join(ctx.quoted(name) for name in names) + ") ")
            self.from_query._render(ctx)
        elif not names:
            parts.append(" " + dialect.default_values_sql)
        else:
            quote = ctx.quoted
            parts.append(" (" + ", ".join(quote(name) for name in names) + ") VALUES ")
            self._render_rows(ctx)
        if self._on_conflict is not None:
            dialect.render_upsert(ctx, self, self._on_conflict)
        if self._returning:
            dialect.render_returning(ctx, self._returning, insert=self._returns_keys)

    def _render_rows(self, ctx: Context) -> None:
        param = ctx.param
        params = ctx.params
        converters = self.converters
        dialect = ctx.dialect
        adapters = [None if field is None else field.adapter(dialect) for field in converters] if converters else None
        width = len(self.columns)
        plain_row = "(" + ", ".join([param] * width) + ")"
        rows = self.rows
        # One C-level pass tells whether any value is a SQL expression; usually none is,
        # and every row then takes the fast path below.
        has_nodes = any(map(isinstance, itertools.chain.from_iterable(rows), itertools.repeat(Node)))
        if not has_nodes and set(map(len, rows)) <= {width}:
            if adapters and len(rows) > 1:
                # Column by column: one map() per column instead of a comprehension per row,
                # then the rows zipped back together, all C-level but the adapters themselves.
                columns = [
                    column if conv is None else list(map(conv, column)) for conv, column in zip(adapters, zip(*rows))
                ]
                params.extend(itertools.chain.from_iterable(zip(*columns)))
            elif adapters:
                for row in rows:
                    params.extend([value if conv is None else conv(value) for conv, value in zip(adapters, row)])
            else:
                for row in rows:
                    params.extend(row)
            ctx.parts.append(", ".join([plain_row] * len(rows)))
            return
        chunks: list[str] = []
        for row in rows:
            if len(row) != width:
                raise ValueError(f"an INSERT row has {len(row)} values for {width} columns")
            if any(isinstance(value, Node) for value in row):
                # a row holding SQL expressions renders value by value
                sub = Context(ctx.dialect)
                sub.aliases = ctx.aliases
                sub.literal("(")
                for index, value in enumerate(row):
                    if index:
                        sub.literal(", ")
                    if isinstance(value, Node):
                        sub.sql(value)
                    else:
                        converter = converters[index] if converters else None
                        sub.value(value, converter)
                sub.literal(")")
                chunks.append("".join(sub.parts))
                params.extend(sub.params)
                continue
            if adapters:
                params.extend([value if conv is None else conv(value) for conv, value in zip(adapters, row)])
            else:
                params.extend(row)
            chunks.append(plain_row)
        ctx.parts.append(", ".join(chunks))


class _WhereReturning:
    """``where()`` and ``returning()``, shared by UPDATE and DELETE."""

    if TYPE_CHECKING:
        _where: Any
        _returning: tuple[Node, ...]

        def _clone(self) -> Self: ...

    def where(self, *conditions: Any) -> Self:
        clone = self._clone()
        clone._where = AND(self._where, *conditions)
        return clone

    def returning(self, *columns: Any) -> Self:
        clone = self._clone()
        clone._returning = _nodes(columns)
        return clone

    def _render_where_returning(self, ctx: Context) -> None:
        if self._where is not None:
            ctx.literal(" WHERE ").sql(self._where)
        if self._returning:
            ctx.dialect.render_returning(ctx, self._returning)


class Update(_WhereReturning, Query):
    """``UPDATE table SET column = value, ... WHERE ...``."""

    _where: Node | None

    def __init__(self, table: Any, assignments: Iterable[tuple[Node, Node]], database: Any = None) -> None:
        self._database = database
        self.table = table
        self.assignments = tuple(assignments)  # (column node, value node)
        self._where = None
        self._returning = ()

    def _render(self, ctx: Context) -> None:
        if not self.assignments:
            raise ValueError("an UPDATE needs at least one column to set")
        ctx.literal("UPDATE ")
        self.table._from_sql(ctx)
        ctx.literal(" SET ")
        for index, (column, value) in enumerate(self.assignments):
            if index:
                ctx.literal(", ")
            with ctx.scope(qualify=False):
                ctx.sql(column)
            ctx.literal(" = ")
            ctx.sql(value)
        self._render_where_returning(ctx)


class Delete(_WhereReturning, Query):
    """``DELETE FROM table WHERE ...``."""

    _where: Node | None

    def __init__(self, table: Any, database: Any = None) -> None:
        self._database = database
        self.table = table
        self._where = None
        self._returning = ()

    def _render(self, ctx: Context) -> None:
        ctx.literal("DELETE FROM ")
        self.table._from_sql(ctx)
        self._render_where_returning(ctx)


class BulkUpdate(Query):
    """``UPDATE`` of many rows, each found by its key and set to values of its own, in one
    statement: the table joined to the rows given under the name ``v``. Engines with
    ``Dialect.bulk_update_joins_rows`` render the join through ``render_bulk_update``
    (``UPDATE ... FROM (VALUES ...)`` on PostgreSQL, a derived table on MySQL).

    ``keys`` and ``columns`` are column nodes (fields); each of ``rows`` holds the key
    values, then the new values of ``columns``, then, with a ``version`` column, the
    version expected, which the statement increments.
    """

    ROWS = "v"  # the joined rows' name

    def __init__(
        self,
        table: Any,
        keys: Sequence[Any],
        columns: Sequence[Any],
        rows: Sequence[Sequence[Any]],
        version: Any = None,
        database: Any = None,
    ) -> None:
        self._database = database
        self.table = table
        self.keys = tuple(keys)
        self.columns = tuple(columns)
        self.rows = rows
        self.version = version

    def row_names(self) -> list[str]:
        """The joined rows' column names: ``k0...`` for keys, ``s0...`` for new values, then
        ``expected_version`` (names of our own, so a table's columns cannot collide)."""
        names = [f"k{index}" for index in range(len(self.keys))]
        names += [f"s{index}" for index in range(len(self.columns))]
        if self.version is not None:
            names.append("expected_version")
        return names

    def row_columns(self) -> list[tuple[Any, Node]]:
        """(table column, joined-rows column) pairs: the keys, then the new values, then the version."""
        rows = Table(self.ROWS)
        columns = self.keys + self.columns + ((self.version,) if self.version is not None else ())
        return [(column, rows.c[name]) for column, name in zip(columns, self.row_names())]

    def assignments(self) -> list[tuple[Any, Node]]:
        """SET pairs: each column to its joined value; the version column incremented."""
        pairs = self.row_columns()[len(self.keys) : len(self.keys) + len(self.columns)]
        if self.version is not None:
            increment: Node = Expression(self.version, "+", SQL("1"))
            pairs.append((self.version, increment))
        return pairs

    def render_assignments(self, ctx: Context, qualified: bool) -> None:
        """``column = value, ...`` of the SET clause, the columns ``qualified`` with their table or bare."""
        for index, (column, value) in enumerate(self.assignments()):
            if index:
                ctx.literal(", ")
            with ctx.scope(qualify=qualified):
                ctx.sql(column)
            ctx.literal(" = ").sql(value)

    def condition(self) -> Node:
        """The join condition: the key columns and the expected version equal the row's."""
        pairs = self.row_columns()
        pairs = pairs[: len(self.keys)] + (pairs[-1:] if self.version is not None else [])
        condition = AND(*[Expression(column, "=", value) for column, value in pairs])
        if condition is None:
            raise ValueError("a bulk UPDATE needs key columns to find its rows")
        return condition

    def render_rows(self, ctx: Context, first: Callable[[Context], object], other: Callable[[Context], object]) -> None:
        """Append each row's parameters, rendering the first row with ``first(ctx)`` and the
        rest with ``other(ctx)`` (the engine's row syntax)."""
        params = ctx.params
        for index, row in enumerate(self.rows):
            (other if index else first)(ctx)
            params.extend(row)

    def _render(self, ctx: Context) -> None:
        if not self.columns:
            raise ValueError("an UPDATE needs at least one column to set")
        ctx.dialect.render_bulk_update(ctx, self)  # BulkUpdate
