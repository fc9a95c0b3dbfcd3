"""JSON paths and JSON predicates: one API, compiled per engine by the dialect's hooks.

``Doc.data["user"]["name"]`` is a ``JsonPath``: in a select list it reads the JSON value
there (decoded to Python), ``.as_text()`` reads a scalar as text, ``.as_integer()``,
``.as_float()`` and ``.cast(type)`` cast that text. Comparisons with a Python value are
*typed*: ``path == "x"`` is true where the value at the path is the JSON string ``"x"``,
``path > 3`` where it is a number greater than 3; a value of another JSON type never
matches (and never raises a cast error on a row holding another type). ``path == None``
matches a JSON null or a missing key. ``has_key(k)`` tests a key's presence and
``contains(value)`` JSON containment (PostgreSQL's ``@>``, emulated where the engine lacks it).

Keys never enter the SQL text: each is a bound parameter (or, inside DDL, which takes no
parameters, a quoted literal), whatever characters it holds. No I/O happens here.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Callable, Iterable, Union

from ..exceptions import DataError
from .nodes import Cast, Context, Node, Operand

if TYPE_CHECKING:
    from ..dialects.base import Dialect

__all__ = ["JsonPath", "JsonText", "JsonCompare", "JsonContains", "JsonHasKey", "JsonEquals", "json_text"]

# A step of a path into a JSON document: an object key or an array index.
JsonKey = Union[str, int]
JsonKeys = tuple[JsonKey, ...]

_COMPARISONS = ("=", "!=", "<", "<=", ">", ">=")


def json_text(value: Any) -> str:
    """The JSON text tinyorm sends for ``value``: compact, keys sorted (so equal documents
    are equal text where an engine compares text)."""
    try:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise DataError(f"not JSON-serialisable: {exc}") from None


def check_key(key: Any) -> JsonKey:
    """A path step: a string key (any characters) or a non-negative array index."""
    if isinstance(key, bool) or not isinstance(key, (str, int)):
        raise TypeError(f"a JSON path step is a string key or an integer index, not {key!r}")
    if isinstance(key, int) and key < 0:
        raise ValueError(f"JSON array indexes count from 0 on every engine; got {key}")
    if isinstance(key, str) and "\x00" in key:
        raise ValueError("a JSON key cannot hold a NUL character")
    return key


def json_kind(value: object) -> str:
    """The JSON type of a Python scalar: "string", "number", "boolean" or "null"."""
    if value is None:
        return "null"
    if value is True or value is False:
        return "boolean"
    if isinstance(value, str):
        return "string"
    if isinstance(value, (int, float)):
        return "number"
    raise TypeError(f"compare a JSON path with a string, number, boolean or None, not {type(value).__name__}")


def _typed_comparison(op: str) -> Callable[[JsonPath, Any], JsonCompare]:
    def compare(self: JsonPath, value: Any) -> JsonCompare:
        return self._compare(op, value)

    compare.__name__ = f"json_{op}"
    return compare


class _JsonOperand(Operand):
    """What a JSON column and a path into it share: ``[key]``, ``has_key``, ``contains``."""

    __slots__ = ()

    def _json_root_keys(self) -> tuple[Any, JsonKeys]:  # pragma: no cover - abstract
        raise NotImplementedError

    def __getitem__(self, key: JsonKey) -> JsonPath:
        root, keys = self._json_root_keys()
        return JsonPath(root, keys + (check_key(key),))

    def path(self, *keys: JsonKey) -> _JsonOperand:
        """``Doc.data.path("a", 0, "b")`` is ``Doc.data["a"][0]["b"]``."""
        node: _JsonOperand = self
        for key in keys:
            node = node[key]
        return node

    def has_key(self, key: JsonKey) -> JsonHasKey:
        """True where the JSON object here has ``key`` (whatever its value, null included)."""
        root, keys = self._json_root_keys()
        return JsonHasKey(root, keys, check_key(key))

    # JSON containment, not Operand's substring match
    def contains(self, value: Any) -> JsonContains:  # type: ignore[override]  # pyright: ignore[reportIncompatibleMethodOverride]
        """JSON containment: an object holding these keys with (containing) these values, an
        array holding these elements, an array holding this scalar, or this scalar itself."""
        root, keys = self._json_root_keys()
        json_text(value)  # refused here, before any SQL, if it cannot be JSON
        return JsonContains(root, keys, value)


class JsonPath(_JsonOperand):
    """The JSON value at a path in a JSON column: ``Doc.data["user"]["name"]``."""

    __slots__ = ("root", "keys")

    def __init__(self, root: Any, keys: Iterable[JsonKey]) -> None:
        self.root = root
        self.keys = tuple(keys)

    def _json_root_keys(self) -> tuple[Any, JsonKeys]:
        return self.root, self.keys

    def __sql__(self, ctx: Context) -> None:
        ctx.dialect.render_json_extract(ctx, self.root, self.keys)

    def result_converter(self, dialect: Dialect) -> Callable[[Any], Any] | None:
        """How a selected path's value is decoded (the engine hands back JSON text or,
        on PostgreSQL, psycopg2 decodes jsonb itself)."""
        return dialect.json_result_converter

    @property
    def name(self) -> str:
        """The label of a selected path: ``data_user_name`` for ``data["user"]["name"]``."""
        return "_".join(str(key) for key in (self.root.name,) + self.keys)

    # -- typed reads -------------------------------------------------------------------------
    def as_text(self) -> JsonText:
        """The scalar here as text (NULL for a JSON null, a missing key or a container)."""
        return JsonText(self.root, self.keys)

    def cast(self, type_name: str) -> Cast:
        return Cast(self.as_text(), type_name)

    def as_integer(self) -> Cast:
        return self.cast("INTEGER")

    def as_float(self) -> Cast:
        return self.cast("FLOAT")

    # -- typed comparisons -------------------------------------------------------------------
    def _compare(self, op: str, value: Any) -> JsonCompare:
        if isinstance(value, Node):
            raise TypeError(
                "compare a JSON path with a Python value; to compare with a column, read it "
                "typed first: path.as_text(), path.as_integer(), path.as_float()"
            )
        if isinstance(value, float) and value != value:
            raise DataError("NaN is not a JSON number")
        if value is None:
            if op not in ("=", "!="):
                raise TypeError("a JSON path compares with None only by == and !=")
        elif json_kind(value) == "boolean" and op not in ("=", "!="):
            raise TypeError("a JSON boolean compares only by == and !=")
        return JsonCompare(self.root, self.keys, op, value)

    # Typed JSON comparisons build a JsonCompare (an operand), not an Expression.
    __eq__ = _typed_comparison("=")  # type: ignore[assignment]  # pyright: ignore[reportAssignmentType]
    __ne__ = _typed_comparison("!=")  # type: ignore[assignment]  # pyright: ignore[reportAssignmentType]
    __lt__ = _typed_comparison("<")  # type: ignore[assignment]
    __le__ = _typed_comparison("<=")  # type: ignore[assignment]
    __gt__ = _typed_comparison(">")  # type: ignore[assignment]
    __ge__ = _typed_comparison(">=")  # type: ignore[assignment]
    __hash__ = Operand.__hash__

    def in_(self, values: Iterable[Any]) -> Node | None:  # type: ignore[override]  # pyright: ignore[reportIncompatibleMethodOverride]
        """Any of several scalars (each compared typed, as ``==`` does)."""
        from .nodes import OR

        values = list(values)
        if not values:
            return JsonCompare(self.root, self.keys, "=", _Nothing)
        return OR(*[self._compare("=", value) for value in values])


class _NothingType:
    """The value of ``path.in_([])``: matches no row."""


_Nothing = _NothingType()


class JsonText(Operand):
    """A JSON scalar as SQL text (``->>`` on PostgreSQL, ``JSON_VALUE`` on MariaDB)."""

    __slots__ = ("root", "keys")

    def __init__(self, root: Any, keys: JsonKeys) -> None:
        self.root = root
        self.keys = keys

    if TYPE_CHECKING:

        @property
        def name(self) -> str: ...
    else:
        name = JsonPath.name  # the same label as the path's

    def __sql__(self, ctx: Context) -> None:
        ctx.dialect.render_json_text(ctx, self.root, self.keys)


class JsonCompare(Operand):
    """``path op value``, typed by the Python value's JSON type."""

    __slots__ = ("root", "keys", "op", "value")

    def __init__(self, root: Any, keys: JsonKeys, op: str, value: Any) -> None:
        if op not in _COMPARISONS:
            raise ValueError(f"not a comparison: {op!r}")
        self.root = root
        self.keys = keys
        self.op = op
        self.value = value

    def __sql__(self, ctx: Context) -> None:
        if self.value is _Nothing:
            ctx.literal("(1 = 0)")
            return
        ctx.dialect.render_json_compare(ctx, self.root, self.keys, self.op, self.value)


class JsonHasKey(Operand):
    __slots__ = ("root", "keys", "key")

    def __init__(self, root: Any, keys: JsonKeys, key: JsonKey) -> None:
        self.root = root
        self.keys = keys
        self.key = key

    def __sql__(self, ctx: Context) -> None:
        ctx.dialect.render_json_has_key(ctx, self.root, self.keys, self.key)


class JsonContains(Operand):
    __slots__ = ("root", "keys", "value")

    def __init__(self, root: Any, keys: JsonKeys, value: Any) -> None:
        self.root = root
        self.keys = keys
        self.value = value

    def __sql__(self, ctx: Context) -> None:
        ctx.dialect.render_json_contains(ctx, self.root, self.keys, self.value)


class JsonEquals(Operand):
    """A whole JSON column equal (or not) to a document, compared as JSON, not as text."""

    __slots__ = ("lhs", "value", "negated")

    def __init__(self, lhs: Operand, value: Any, negated: bool = False) -> None:
        self.lhs = lhs
        self.value = value
        self.negated = negated

    def __sql__(self, ctx: Context) -> None:
        if self.negated:
            ctx.literal("NOT ")
        ctx.dialect.render_json_equals(ctx, self.lhs, self.value)
