"""Function calls (``fn.COUNT(...)``, any SQL function) and window functions (``OVER``)."""

from __future__ import annotations

from typing import Any, Callable, Iterable

from .nodes import SQL, Context, Node, Operand, as_node

__all__ = ["Function", "Window", "fn"]


class Function(Operand):
    """``NAME(arg, ...)``; made by ``fn.NAME(...)`` for any SQL function."""

    __slots__ = ("name", "args", "_filter")

    def __init__(self, name: str, args: Iterable[Any]) -> None:
        self.name = name
        self.args = tuple(as_node(arg) for arg in args)
        self._filter: Node | None = None

    def __sql__(self, ctx: Context) -> None:
        ctx.literal(self.name).literal("(")
        for index, arg in enumerate(self.args):
            if index:
                ctx.literal(", ")
            if hasattr(arg, "_render"):
                # EXISTS(SELECT ...): the function's own parentheses enclose the subquery
                arg._render(ctx)  # pyright: ignore[reportAttributeAccessIssue]  # a query (hasattr above)
            else:
                arg.__sql__(ctx)
        ctx.literal(")")
        if self._filter is not None:
            ctx.literal(" FILTER (WHERE ").sql(self._filter).literal(")")

    def over(
        self,
        partition_by: Iterable[Any] | None = None,
        order_by: Iterable[Any] | None = None,
        frame: str | Node | None = None,
    ) -> Window:
        """A window function: ``fn.ROW_NUMBER().over(partition_by=[...], order_by=[...])``."""
        return Window(self, partition_by, order_by, frame)

    def filter(self, condition: Node) -> Function:
        """``FN(...) FILTER (WHERE condition)``: an aggregate over the rows matching ``condition`` only."""
        clone = Function(self.name, ())
        clone.args = self.args
        clone._filter = condition
        return clone


class _FunctionFactory:
    """``fn.COUNT(x)``, ``fn.LOWER(x)``, ``fn.ANY_NAME(...)``."""

    __slots__ = ()

    def __getattr__(self, name: str) -> Callable[..., Function]:
        if not name.replace("_", "").isalnum() or name.startswith("__"):
            raise AttributeError(name)

        def make(*args: Any) -> Function:
            return Function(name, args)

        return make


fn = _FunctionFactory()


class Window(Operand):
    """``function OVER (PARTITION BY ... ORDER BY ... frame)``: built by ``fn.X().over(...)``."""

    __slots__ = ("function", "partition_by", "order_by", "frame")

    def __init__(
        self,
        function: Function,
        partition_by: Iterable[Any] | None = None,
        order_by: Iterable[Any] | None = None,
        frame: str | Node | None = None,
    ) -> None:
        self.function = function
        self.partition_by = tuple(partition_by or ())
        self.order_by = tuple(order_by or ())
        self.frame = frame

    def __sql__(self, ctx: Context) -> None:
        ctx.sql(self.function).literal(" OVER (")
        parts: list[tuple[str, tuple[Any, ...]]] = []
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
