"""Named things a statement reads from: identifiers (``Entity``), ``*``, a table known
by name only (``Table("events").c.id``) and its columns, and the join kinds."""

from __future__ import annotations

from typing import Any, Protocol

from ..exceptions import UnsafeSQLError
from .nodes import Context, Node, Operand

__all__ = ["Entity", "Star", "Column", "Table", "JOIN", "join_kind"]


class Source(Protocol):
    """What a column belongs to: a table, a subquery or a CTE (models and their aliases too)."""

    def _source_alias(self, ctx: Context) -> str: ...


class Entity(Operand):
    """A quoted identifier path: ``Entity("schema", "table")`` → ``"schema"."table"``."""

    __slots__ = ("path",)

    def __init__(self, *path: str) -> None:
        self.path = path

    def __sql__(self, ctx: Context) -> None:
        ctx.literal(".".join(ctx.quoted(part) for part in self.path))


class Star(Node):
    """``*`` or ``source.*`` in a select list."""

    __slots__ = ("source",)

    def __init__(self, source: Any = None) -> None:
        self.source = source

    def __sql__(self, ctx: Context) -> None:
        if self.source is None:
            ctx.literal("*")
        else:
            ctx.literal(ctx.quoted(self.source._source_alias(ctx))).literal(".*")


class Column(Operand):
    """A column of a plain ``Table`` (or of a subquery / CTE)."""

    __slots__ = ("source", "name")

    def __init__(self, source: Source, name: str) -> None:
        self.source = source
        self.name = name

    def __sql__(self, ctx: Context) -> None:
        if ctx.qualify:
            ctx.literal(ctx.quoted(self.source._source_alias(ctx))).literal(".")
        ctx.literal(ctx.quoted(self.name))


class _ColumnFactory:
    __slots__ = ("_source",)

    def __init__(self, source: Source) -> None:
        self._source = source

    def __getattr__(self, name: str) -> Column:
        if name.startswith("__"):
            raise AttributeError(name)
        return Column(self._source, name)

    __getitem__ = __getattr__


class Table(Node):
    """A table known by name only (no model): ``Table("events").c.id``."""

    __slots__ = ("name", "_alias", "c")

    def __init__(self, name: str, alias: str | None = None) -> None:
        self.name = name
        self._alias = alias
        self.c = _ColumnFactory(self)

    def alias(self, name: str) -> Table:
        """This table under another name, for self-joins: ``Table("user").alias("u2")``."""
        return Table(self.name, name)

    def _source_alias(self, ctx: Context) -> str:
        return self._alias or self.name

    def __sql__(self, ctx: Context) -> None:
        ctx.literal(ctx.quoted(self.name))
        if self._alias:
            ctx.literal(" AS ").literal(ctx.quoted(self._alias))

    _from_sql = __sql__


class JOIN:
    """The join kinds ``join()`` accepts: ``JOIN.INNER``, ``LEFT_OUTER``, ``RIGHT_OUTER``, ``FULL_OUTER``, ``CROSS``."""

    INNER = "INNER JOIN"
    LEFT_OUTER = "LEFT OUTER JOIN"
    LEFT = "LEFT OUTER JOIN"
    RIGHT_OUTER = "RIGHT OUTER JOIN"
    RIGHT = "RIGHT OUTER JOIN"
    FULL_OUTER = "FULL OUTER JOIN"
    FULL = "FULL OUTER JOIN"
    CROSS = "CROSS JOIN"


# Every spelling ``join()`` accepts (in any case), by the SQL it writes.
_JOIN_KINDS = {
    **dict.fromkeys(("INNER JOIN", "INNER", "JOIN"), JOIN.INNER),
    **dict.fromkeys(("LEFT OUTER JOIN", "LEFT JOIN", "LEFT OUTER", "LEFT"), JOIN.LEFT_OUTER),
    **dict.fromkeys(("RIGHT OUTER JOIN", "RIGHT JOIN", "RIGHT OUTER", "RIGHT"), JOIN.RIGHT_OUTER),
    **dict.fromkeys(("FULL OUTER JOIN", "FULL JOIN", "FULL OUTER", "FULL"), JOIN.FULL_OUTER),
    **dict.fromkeys(("CROSS JOIN", "CROSS"), JOIN.CROSS),
}


def join_kind(join_type: str) -> str:
    """The SQL of a join kind (a ``JOIN`` constant or its words in any case); anything
    else is refused, since it is written into the statement."""
    if join_type.__class__ is str:
        kind = _JOIN_KINDS.get(join_type)  # a JOIN constant, as written (the common case)
        if kind is not None:
            return kind
    # ASCII only: str.upper() turns a dotless "ı" into "I".
    kind = _JOIN_KINDS.get(join_type.upper()) if isinstance(join_type, str) and join_type.isascii() else None
    if kind is None:
        raise UnsafeSQLError(
            f"not a join kind: {join_type!r}; use JOIN.INNER, LEFT_OUTER, RIGHT_OUTER, FULL_OUTER or CROSS"
        )
    return kind
