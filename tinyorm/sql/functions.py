"""Function calls (``fn.COUNT(...)``, any SQL function) and window functions (``OVER``)."""

from __future__ import annotations

from .nodes import SQL, Node, Operand, as_node

__all__ = ["Function", "Window", "fn"]


class Function(Operand):
    """``NAME(arg, ...)``; made by ``fn.NAME(...)`` for any SQL function."""

    __slots__ = ("name", "args", "_filter")

    def __init__(self, name, args):
        self.name = name
        self.args = tuple(as_node(arg) for arg in args)
        self._filter = None

    def __sql__(self, ctx):
        ctx.literal(self.name).literal("(")
        for index, arg in enumerate(self.args):
            if index:
                ctx.literal(", ")
            if hasattr(arg, "_render"):
                # EXISTS(SELECT ...): the function's own parentheses enclose the subquery
                arg._render(ctx)
            else:
                arg.__sql__(ctx)
        ctx.literal(")")
        if self._filter is not None:
            ctx.literal(" FILTER (WHERE ").sql(self._filter).literal(")")

    def over(self, partition_by=None, order_by=None, frame=None):
        """A window function: ``fn.ROW_NUMBER().over(partition_by=[...], order_by=[...])``."""
        return Window(self, partition_by, order_by, frame)

    def filter(self, condition):
        """``FN(...) FILTER (WHERE condition)``: an aggregate over the rows matching ``condition`` only."""
        clone = Function(self.name, ())
        clone.args = self.args
        clone._filter = condition
        return clone


class _FunctionFactory:
    """``fn.COUNT(x)``, ``fn.LOWER(x)``, ``fn.ANY_NAME(...)``."""

    __slots__ = ()

    def __getattr__(self, name):
        if not name.replace("_", "").isalnum() or name.startswith("__"):
            raise AttributeError(name)

        def make(*args):
            return Function(name, args)

        return make


fn = _FunctionFactory()


class Window(Operand):
    """``function OVER (PARTITION BY ... ORDER BY ... frame)``: built by ``fn.X().over(...)``."""

    __slots__ = ("function", "partition_by", "order_by", "frame")

    def __init__(self, function, partition_by=None, order_by=None, frame=None):
        self.function = function
        self.partition_by = tuple(partition_by or ())
        self.order_by = tuple(order_by or ())
        self.frame = frame

    def __sql__(self, ctx):
        ctx.sql(self.function).literal(" OVER (")
        parts = []
        if self.partition_by:
            parts.append(("PARTITION BY ", self.partition_by))
        if self.order_by:
            parts.append(("ORDER BY ", self.order_by))
        for index, (keyword, nodes) in enumerate(parts):
            if index:
                ctx.literal(" ")
            ctx.literal(keyword).comma_separated(nodes)
        if self.frame:
            if parts:
                ctx.literal(" ")
            ctx.sql(self.frame if isinstance(self.frame, Node) else SQL(self.frame))
        ctx.literal(")")
