"""The expression tree and the compile ``Context``. No I/O happens here.

Every node renders itself with ``node.__sql__(ctx)``: it appends SQL text with
``ctx.literal()``, parameters with ``ctx.value()`` and child nodes with ``ctx.sql()``. Values
never enter the SQL text; identifiers pass through the dialect's quoting.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Iterable, Literal, Protocol

if TYPE_CHECKING:
    from ..dialects.base import Dialect

__all__ = [
    "Context",
    "Node",
    "Operand",
    "Value",
    "Expression",
    "Negated",
    "Function",
    "fn",
    "Alias",
    "Ordering",
    "Cast",
    "Case",
    "SQL",
    "NodeList",
    "Entity",
    "Window",
    "Table",
    "Column",
    "Star",
    "JOIN",
    "AND",
    "OR",
    "as_node",
]


class Converter(Protocol):
    """What converts a value compared with (or written to) a column: a field, mostly.

    ``adapter(dialect)`` is a function from a Python value to what the driver sends, raising
    ``DataError`` naming the field for a value that does not fit.
    """

    def adapter(self, dialect: Dialect) -> Callable[[Any], Any]: ...


class Context:
    """Accumulates SQL text and parameters while a tree renders itself.

    ``qualify`` says whether columns render with their table (``"user"."id"``) or bare (inside
    ``INSERT`` column lists and ``SET`` clauses). ``select_list`` is true while the columns of
    a SELECT render, where aliases show as ``expr AS name``. Nodes change these flags only for
    the part they render, through :meth:`scope`.
    """

    __slots__ = ("dialect", "parts", "params", "qualify", "select_list", "aliases", "param", "_scopes")

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect
        self.parts: list[str] = []
        self.params: list[Any] = []
        self.qualify = True
        self.select_list = False
        self.aliases: dict[object, str] = {}
        self.param: str = dialect.param
        self._scopes: list[tuple[bool, bool]] = []  # (qualify, select_list) to restore, innermost scope last

    def literal(self, text: str) -> Context:
        """Append SQL text as it is (never a value); returns the context, so calls chain."""
        self.parts.append(text)
        return self

    def sql(self, node: Any) -> Context:
        """Render ``node`` into the statement; a plain Python value becomes a bound parameter."""
        if isinstance(node, Node) or hasattr(node, "__sql__"):
            node.__sql__(self)
        else:
            self.parts.append(self.param)
            self.params.append(node)
        return self

    def value(self, value: Any, converter: Converter | None = None) -> Context:
        """Append a parameter; ``converter`` is a field-like object with ``adapter(dialect)``."""
        if converter is not None:
            value = converter.adapter(self.dialect)(value)
        self.parts.append(self.param)
        self.params.append(value)
        return self

    def quoted(self, name: str) -> str:
        """``name`` quoted as an identifier by the dialect (quote characters doubled)."""
        return self.dialect.quote(name)

    def scope(self, qualify: bool | None = None, select_list: bool | None = None) -> Context:
        """``with ctx.scope(qualify=False): ...``: the flags given hold for the block, and
        both are put back as they were when it ends, also when rendering raises.

        The context is its own context manager, with a stack of saved flags: no object is
        made per scope, since compiling enters a few scopes per statement.
        """
        self._scopes.append((self.qualify, self.select_list))
        if qualify is not None:
            self.qualify = qualify
        if select_list is not None:
            self.select_list = select_list
        return self

    def __enter__(self) -> Context:
        return self

    def __exit__(self, exc_type: Any, exc: Any, traceback: Any) -> Literal[False]:
        self.qualify, self.select_list = self._scopes.pop()
        return False

    def alias_for(self, source: object, preferred: str | None = None) -> str:
        """A stable alias for a source within this statement (``t1``, ``t2``, ...)."""
        name = self.aliases.get(source)
        if name is None:
            name = preferred or f"t{len(self.aliases) + 1}"
            self.aliases[source] = name
        return name

    def comma_separated(self, nodes: Iterable[Any]) -> Context:
        """Render ``nodes`` separated by ``", "``."""
        first = True
        for node in nodes:
            if not first:
                self.parts.append(", ")
            first = False
            self.sql(node)
        return self

    def result(self) -> tuple[str, list[Any]]:
        """``(sql, params)``: the statement text and its parameter values."""
        return "".join(self.parts), self.params


class Node:
    """Anything that can render itself as SQL."""

    __slots__ = ()

    def __sql__(self, ctx: Context) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def sql(self, dialect: Dialect) -> tuple[str, list[Any]]:
        """Compile this node alone for a dialect: ``(sql, params)``."""
        ctx = Context(dialect)
        ctx.select_list = True
        return ctx.sql(self).result()


def as_node(value: Any, converter: Converter | None = None) -> Node:
    """``value`` as a node: nodes pass through, anything else becomes a bound ``Value`` (converted by ``converter``)."""
    if isinstance(value, Node):
        return value
    return Value(value, converter)


def _subquery_operand(lhs: Node, rhs: Node) -> Node:
    """A query compared with a column becomes a one-column subquery: a model query asked
    for nothing in particular selects the key the column refers to (``_as_operand_of``)."""
    as_operand: Callable[[Node], Node] | None = getattr(rhs, "_as_operand_of", None)
    return rhs if as_operand is None else as_operand(lhs)


def _binary(op: str, converted: bool = True, reverse: bool = False) -> Callable[[Operand, Any], Expression]:
    def method(self: Operand, rhs: Any) -> Expression:
        if isinstance(rhs, Node):
            rhs = _subquery_operand(self, rhs)
        else:  # as_node, inlined: comparisons are built per query
            rhs = Value(rhs, self._converter() if converted else None)
        if reverse:
            return Expression(rhs, op, self)
        return Expression(self, op, rhs)

    method.__name__ = f"op_{op}"
    return method


class Operand(Node):
    """The operators every column-like node supports."""

    __slots__ = ()

    def _converter(self) -> Converter | None:
        """The field whose conversion applies to values compared with this operand, if any."""
        return None

    # Boolean combinators: & and | build AND / OR; ~ negates.
    def __and__(self, rhs: Any) -> Expression:
        return Expression(self, "AND", rhs if isinstance(rhs, Node) else Value(rhs))

    def __rand__(self, lhs: Any) -> Expression:
        return Expression(as_node(lhs), "AND", self)

    def __or__(self, rhs: Any) -> Expression:
        return Expression(self, "OR", as_node(rhs))

    def __ror__(self, lhs: Any) -> Expression:
        return Expression(as_node(lhs), "OR", self)

    def __invert__(self) -> Negated:
        return Negated(self)

    # Comparisons convert the right-hand value through the column's field.
    def __eq__(self, rhs: object) -> Expression:  # type: ignore[override]  # builds SQL, not a bool  # pyright: ignore[reportIncompatibleMethodOverride]
        if rhs is None:
            return Expression(self, "IS", SQL("NULL"))
        if isinstance(rhs, Node):
            return Expression(self, "=", _subquery_operand(self, rhs))
        return Expression(self, "=", Value(rhs, self._converter()))

    def __ne__(self, rhs: object) -> Expression:  # type: ignore[override]  # pyright: ignore[reportIncompatibleMethodOverride]
        if rhs is None:
            return Expression(self, "IS NOT", SQL("NULL"))
        if isinstance(rhs, Node):
            return Expression(self, "!=", _subquery_operand(self, rhs))
        return Expression(self, "!=", Value(rhs, self._converter()))

    __lt__ = _binary("<")
    __le__ = _binary("<=")
    __gt__ = _binary(">")
    __ge__ = _binary(">=")
    __hash__ = object.__hash__

    # Arithmetic: values are passed as they are (a timedelta added to a datetime is no date).
    __add__ = _binary("+", converted=False)
    __sub__ = _binary("-", converted=False)
    __mul__ = _binary("*", converted=False)
    __truediv__ = _binary("/", converted=False)
    __mod__ = _binary("%", converted=False)
    __radd__ = _binary("+", converted=False, reverse=True)
    __rsub__ = _binary("-", converted=False, reverse=True)
    __rmul__ = _binary("*", converted=False, reverse=True)
    __rtruediv__ = _binary("/", converted=False, reverse=True)
    __rmod__ = _binary("%", converted=False, reverse=True)

    def __neg__(self) -> NodeList:
        # Parenthesised: "-" next to another "-" would start a SQL comment ("--").
        return NodeList((SQL("-"), self), glue="", parens=True)

    def concat(self, rhs: Any) -> Expression:
        """String concatenation: ``a || b`` (``CONCAT`` where the engine needs it)."""
        return Expression(self, "||", as_node(rhs))

    def in_(self, values: Any) -> InList:
        """``x IN (...)`` for a list of values or a subquery; ``in_([])`` matches nothing."""
        return InList(self, values, negated=False)

    def not_in(self, values: Any) -> InList:
        """``x NOT IN (...)``; ``not_in([])`` matches every row."""
        return InList(self, values, negated=True)

    def is_null(self, is_null: bool = True) -> Expression:
        """``x IS NULL`` (or ``IS NOT NULL`` with ``is_null=False``)."""
        return Expression(self, "IS" if is_null else "IS NOT", SQL("NULL"))

    def between(self, low: Any, high: Any) -> Between:
        """``x BETWEEN low AND high``, both ends converted by the field."""
        converter = self._converter()
        return Between(self, as_node(low, converter), as_node(high, converter))

    def like(self, pattern: str) -> Like:
        """SQL ``LIKE`` with the caller's pattern (``%`` and ``_`` are wildcards), case-sensitive where the engine's LIKE is."""
        return Like(self, pattern, case_insensitive=False)

    def ilike(self, pattern: str) -> Like:
        """Case-insensitive ``LIKE`` on every engine."""
        return Like(self, pattern, case_insensitive=True)

    def contains(self, needle: Any) -> Match:
        """Case-sensitive substring match; ``%``, ``_`` and ``\\`` in ``needle`` are taken literally."""
        return Match(self, needle, "contains", case_insensitive=False)

    def icontains(self, needle: Any) -> Match:
        """Case-insensitive substring match; the needle is taken literally."""
        return Match(self, needle, "contains", case_insensitive=True)

    def startswith(self, needle: Any) -> Match:
        """Case-sensitive prefix match; the needle is taken literally."""
        return Match(self, needle, "startswith", case_insensitive=False)

    def istartswith(self, needle: Any) -> Match:
        """Case-insensitive prefix match; the needle is taken literally."""
        return Match(self, needle, "startswith", case_insensitive=True)

    def endswith(self, needle: Any) -> Match:
        """Case-sensitive suffix match; the needle is taken literally."""
        return Match(self, needle, "endswith", case_insensitive=False)

    def iendswith(self, needle: Any) -> Match:
        """Case-insensitive suffix match; the needle is taken literally."""
        return Match(self, needle, "endswith", case_insensitive=True)

    def regexp(self, pattern: str) -> Regexp:
        """Regular-expression match (``~`` on PostgreSQL, ``REGEXP`` on MySQL and SQLite)."""
        return Regexp(self, pattern)

    def asc(self, nulls: str | None = None) -> Ordering:
        """Ascending order, for ``order_by``; ``nulls="first"``/``"last"`` places NULLs."""
        return Ordering(self, "ASC", nulls)

    def desc(self, nulls: str | None = None) -> Ordering:
        """Descending order, for ``order_by``; ``nulls="first"``/``"last"`` places NULLs."""
        return Ordering(self, "DESC", nulls)

    def cast(self, type_name: str) -> Cast:
        """``CAST(x AS type_name)``."""
        return Cast(self, type_name)

    def alias(self, name: str) -> Alias:
        """``x AS name`` in a select list (rows then carry ``name``)."""
        return Alias(self, name)

    def distinct(self) -> NodeList:
        """``DISTINCT x``, for aggregates: ``fn.COUNT(User.email.distinct())``."""
        return NodeList((SQL("DISTINCT"), self))


class Value(Operand):
    """A parameter. ``converter`` (usually a field's) turns it into what the driver sends."""

    __slots__ = ("value", "converter")

    def __init__(self, value: Any, converter: Converter | None = None) -> None:
        self.value = value
        self.converter = converter

    def __sql__(self, ctx: Context) -> None:
        value = self.value
        if isinstance(value, (list, tuple)) and not getattr(self.converter, "whole_values", False):
            ctx.literal("(")
            ctx.comma_separated([Value(item, self.converter) for item in value])
            ctx.literal(")")
            return
        converter = self.converter
        if converter is not None:
            value = converter.adapter(ctx.dialect)(value)
        ctx.parts.append(ctx.param)
        ctx.params.append(value)


class Expression(Operand):
    """``lhs op rhs``, always parenthesised so precedence never surprises."""

    __slots__ = ("lhs", "op", "rhs")

    def __init__(self, lhs: Node, op: str, rhs: Node) -> None:
        self.lhs = lhs
        self.op = op
        self.rhs = rhs

    def __sql__(self, ctx: Context) -> None:
        op = self.op
        if op == "%" or op == "||" or op == "/":
            ctx.dialect.render_operator(ctx, self.lhs, op, self.rhs)
            return
        ctx.parts.append("(")
        self.lhs.__sql__(ctx)
        ctx.parts.append(f" {op} ")
        self.rhs.__sql__(ctx)
        ctx.parts.append(")")

    def __bool__(self) -> bool:
        # ``a == b`` on two nodes builds SQL; only identity counts as truth in Python code,
        # so ``node in some_list`` keeps working.
        if self.op == "=":
            return self.lhs is self.rhs
        if self.op == "!=":
            return self.lhs is not self.rhs
        raise TypeError("a SQL expression has no truth value; combine with & and |")


class Negated(Operand):
    """``NOT (node)``: what ``~expression`` builds."""

    __slots__ = ("node",)

    def __init__(self, node: Node) -> None:
        self.node = node

    def __sql__(self, ctx: Context) -> None:
        ctx.literal("NOT ")
        ctx.sql(self.node)


class InList(Operand):
    """``x IN (...)``; an empty list matches nothing (and NOT IN of it matches everything)."""

    __slots__ = ("lhs", "values", "negated")

    values: Node | tuple[Any, ...]

    def __init__(self, lhs: Node, values: Any, negated: bool) -> None:
        self.lhs = lhs
        if isinstance(values, Node):
            values = _subquery_operand(lhs, values)
        else:
            if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
                raise TypeError("in_() takes a list of values or a subquery")
            values = tuple(values)
        self.values = values
        self.negated = negated

    def __sql__(self, ctx: Context) -> None:
        values = self.values
        if isinstance(values, Node):
            ctx.literal("(").sql(self.lhs)
            ctx.literal(" NOT IN " if self.negated else " IN ")
            if hasattr(values, "_render"):
                # a subquery: one set of parentheses (PostgreSQL reads two as a scalar subquery)
                ctx.sql(values)
            else:
                ctx.literal("(").sql(values).literal(")")
            ctx.literal(")")
            return
        if not values:
            # PostgreSQL and MySQL reject ``IN ()``: render the equivalent constant test.
            ctx.literal("(1 = 1)" if self.negated else "(1 = 0)")
            return
        converter: Any = self.lhs._converter() if isinstance(self.lhs, Operand) else None
        if converter is not None:
            converter = converter.adapter(ctx.dialect)
        ctx.literal("(").sql(self.lhs)
        ctx.literal(" NOT IN (" if self.negated else " IN (")
        params = ctx.params
        placeholders: list[str] = []
        for item in values:
            if isinstance(item, Node):
                # a node among plain values (rare): render it in place
                sub = Context(ctx.dialect)
                sub.aliases = ctx.aliases
                item.__sql__(sub)
                placeholders.append("".join(sub.parts))
                params.extend(sub.params)
            else:
                placeholders.append(ctx.param)
                params.append(converter(item) if converter is not None else item)
        ctx.literal(", ".join(placeholders))
        ctx.literal("))")


class Between(Operand):
    __slots__ = ("lhs", "low", "high")

    def __init__(self, lhs: Node, low: Node, high: Node) -> None:
        self.lhs = lhs
        self.low = low
        self.high = high

    def __sql__(self, ctx: Context) -> None:
        ctx.literal("(").sql(self.lhs).literal(" BETWEEN ").sql(self.low)
        ctx.literal(" AND ").sql(self.high).literal(")")


class Like(Operand):
    """SQL LIKE with the caller's own pattern (``%`` and ``_`` are wildcards)."""

    __slots__ = ("lhs", "pattern", "case_insensitive")

    def __init__(self, lhs: Node, pattern: str, case_insensitive: bool) -> None:
        self.lhs = lhs
        self.pattern = pattern
        self.case_insensitive = case_insensitive

    def __sql__(self, ctx: Context) -> None:
        ctx.dialect.render_like(ctx, self.lhs, as_node(self.pattern), self.case_insensitive)


class Match(Operand):
    """contains / startswith / endswith: the needle is literal text, never a pattern."""

    __slots__ = ("lhs", "needle", "mode", "case_insensitive")

    def __init__(self, lhs: Node, needle: Any, mode: str, case_insensitive: bool) -> None:
        if not isinstance(needle, str):
            raise TypeError(f"{mode}() takes a string, not {type(needle).__name__}")
        self.lhs = lhs
        self.needle = needle
        self.mode = mode
        self.case_insensitive = case_insensitive

    def __sql__(self, ctx: Context) -> None:
        ctx.dialect.render_match(ctx, self.lhs, self.needle, self.mode, self.case_insensitive)


class Regexp(Operand):
    __slots__ = ("lhs", "pattern")

    def __init__(self, lhs: Node, pattern: str) -> None:
        self.lhs = lhs
        self.pattern = pattern

    def __sql__(self, ctx: Context) -> None:
        ctx.dialect.render_regexp(ctx, self.lhs, as_node(self.pattern))


class Alias(Operand):
    """``expr AS "name"`` in a select list; the bare expression elsewhere."""

    __slots__ = ("node", "name")

    def __init__(self, node: Node, name: str) -> None:
        self.node = node
        self.name = name

    def _converter(self) -> Converter | None:
        return self.node._converter() if isinstance(self.node, Operand) else None

    def __sql__(self, ctx: Context) -> None:
        if ctx.select_list:
            with ctx.scope(select_list=False):
                ctx.sql(self.node)
            ctx.literal(" AS ").literal(ctx.quoted(self.name))
        else:
            ctx.sql(self.node)


class Ordering(Node):
    """A sort key: ``node ASC|DESC`` with optional NULLS FIRST/LAST (built by ``asc()``/``desc()``)."""

    __slots__ = ("node", "direction", "nulls")

    def __init__(self, node: Node, direction: str, nulls: str | None = None) -> None:
        self.node = node
        self.direction = direction
        if nulls is not None and nulls.upper() not in ("FIRST", "LAST"):
            raise ValueError("nulls must be 'first' or 'last'")
        self.nulls = nulls.upper() if nulls else None

    def __sql__(self, ctx: Context) -> None:
        ctx.dialect.render_ordering(ctx, self.node, self.direction, self.nulls)


class Cast(Operand):
    """``CAST(node AS type_name)`` (built by ``Operand.cast``)."""

    __slots__ = ("node", "type_name")

    def __init__(self, node: Node, type_name: str) -> None:
        self.node = node
        self.type_name = type_name

    def __sql__(self, ctx: Context) -> None:
        type_sql = ctx.dialect.cast_type(self.type_name)
        ctx.literal("CAST(").sql(self.node).literal(f" AS {type_sql})")


class Case(Operand):
    """``Case(value_or_None, [(condition, result), ...], default=None)``.

    With ``value`` None it is a searched CASE (``WHEN condition THEN``); otherwise the
    conditions are values compared with ``value``.
    """

    __slots__ = ("value", "whens", "default")

    def __init__(self, value: Any, whens: Iterable[tuple[Any, Any]], default: Any = None) -> None:
        self.value = value
        self.whens = tuple(whens)
        if not self.whens:
            raise ValueError("Case needs at least one (condition, result) pair")
        self.default = default

    def __sql__(self, ctx: Context) -> None:
        ctx.literal("CASE")
        # The values compared with a column are converted by its field, as in ``where``
        # (MariaDB compares the text '' with 0 as true, so an unconverted 0 matches every row).
        converter = None
        if self.value is not None:
            ctx.literal(" ").sql(as_node(self.value))
            if isinstance(self.value, Operand):
                converter = self.value._converter()
        for condition, result in self.whens:
            ctx.literal(" WHEN ").sql(as_node(condition, converter)).literal(" THEN ").sql(as_node(result))
        if self.default is not None:
            ctx.literal(" ELSE ").sql(as_node(self.default))
        ctx.literal(" END")


class SQL(Operand):
    """A raw SQL fragment. Parameters are written as ``?`` in the text, whatever the engine.

    A literal question mark is written ``??``. Values still travel as parameters.
    """

    __slots__ = ("text", "params", "_chunks")

    _chunks: list[str] | None

    def __init__(self, text: str, params: Iterable[Any] | None = None) -> None:
        self.text = text
        self.params = tuple(params) if params else ()
        if self.params:
            chunks = [chunk.replace("\0", "?") for chunk in text.replace("??", "\0").split("?")]
            if len(chunks) - 1 != len(self.params):
                raise ValueError(
                    f"SQL fragment has {len(chunks) - 1} placeholder(s) but {len(self.params)} parameter(s): {text!r}"
                )
            self._chunks = chunks
        else:
            self._chunks = None

    def __repr__(self) -> str:
        if self.params:
            return f"SQL({self.text!r}, {list(self.params)!r})"
        return f"SQL({self.text!r})"

    def __sql__(self, ctx: Context) -> None:
        escape = ctx.dialect.escape_literal_text
        if self._chunks is None:
            ctx.parts.append(escape(self.text.replace("??", "?")))
            return
        chunks = self._chunks
        ctx.parts.append(escape(chunks[0]))
        for value, chunk in zip(self.params, chunks[1:]):
            ctx.sql(value) if isinstance(value, Node) else ctx.value(value)
            ctx.parts.append(escape(chunk))


class NodeList(Operand):
    """Nodes rendered one after another with ``glue`` between them, optionally in parentheses."""

    __slots__ = ("nodes", "glue", "parens")

    def __init__(self, nodes: Iterable[Any], glue: str = " ", parens: bool = False) -> None:
        self.nodes = tuple(nodes)
        self.glue = glue
        self.parens = parens

    def __sql__(self, ctx: Context) -> None:
        if self.parens:
            ctx.literal("(")
        for index, node in enumerate(self.nodes):
            if index:
                ctx.literal(self.glue)
            ctx.sql(node)
        if self.parens:
            ctx.literal(")")


def _reduce(op: str, expressions: Iterable[Node | None]) -> Node | None:
    present = [expr for expr in expressions if expr is not None]
    if not present:
        return None
    result = present[0]
    for expr in present[1:]:
        result = Expression(result, op, expr)
    return result


def AND(*expressions: Node | None) -> Node | None:
    """All of ``expressions`` joined with ``AND`` (None entries are skipped)."""
    return _reduce("AND", expressions)


def OR(*expressions: Node | None) -> Node | None:
    """Any of ``expressions`` joined with ``OR`` (None entries are skipped)."""
    return _reduce("OR", expressions)


# Functions and windows (functions.py) and named sources (sources.py) are nodes too; they
# live in their own modules and are re-exported here, where callers have always found them.
from .functions import Function, Window, fn  # noqa: E402
from .sources import JOIN, Column, Entity, Star, Table  # noqa: E402
from .sources import join_kind as join_kind  # noqa: E402  (models import it from here)
