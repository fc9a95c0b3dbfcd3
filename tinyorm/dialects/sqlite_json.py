"""SQLite's rendering of JSON paths and predicates (the JSON1 functions).

SQLite reads a path's label up to the next ``"`` and matches it against the key as spelled
in the document's text, escapes and all: a key holding ``"`` or ``\\`` (or one a writer
escaped) cannot be named in a path. Such keys are looked up with ``json_each``, whose
``key`` column holds the decoded key, compared with a bound parameter. Other keys use
``json_type``/``json_extract`` with the path as a bound parameter (a literal inside DDL),
which an expression index can use.

Every predicate is written over two accessors of the value it tests, its JSON type and its
SQL value (``json_type(doc, path)``/``json_extract(doc, path)``, or ``j.type``/``j.value``
of a ``json_each`` row), so both lookups share one implementation. SQLite has no
containment operator: ``contains`` is expanded from the Python value into the same tests,
with ``EXISTS (SELECT 1 FROM json_each(...))`` for array elements.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Callable, Iterable, Sequence

if TYPE_CHECKING:
    from ..sql.json import JsonKey, JsonKeys
    from ..sql.nodes import Context, Node

# A function rendering one accessor of the value tested (its JSON type or its SQL value),
# and a predicate written over the two.
_Render = Callable[[], object]
_Body = Callable[[_Render, _Render], object]

_SCALAR_TYPES = {"string": "('text')", "number": "('integer', 'real')"}


def _safe_key(key: JsonKey) -> bool:
    return isinstance(key, int) or not any(char in key for char in '"\\') and key.isprintable()


def sqlite_json_path(keys: Iterable[JsonKey]) -> str:
    """``$."a"[0]."b"`` for keys that SQLite can name in a path (see the module docstring)."""
    parts = ["$"]
    for key in keys:
        parts.append(f"[{key}]" if isinstance(key, int) else f'."{key}"')
    return "".join(parts)


class SqliteJson:
    """The JSON hooks of ``SqliteDialect``."""

    if TYPE_CHECKING:
        # From Dialect, which SqliteDialect combines with this mixin.
        def render_json_not(self, ctx: Context, render_equal: Callable[[], object]) -> None: ...

    def _json_value_at(self, ctx: Context, root: Node, keys: JsonKeys, body: _Body, missing: str | None = None) -> None:
        """Render ``body(json_type, sql_value)`` for the value at ``keys`` in ``root``.

        ``json_type`` and ``sql_value`` are functions rendering those accessors. ``missing``
        (SQL text) is the result where a ``json_each`` lookup finds no such key.
        """
        if all(_safe_key(key) for key in keys):
            path = sqlite_json_path(keys)

            def json_type() -> None:
                ctx.literal("json_type(").sql(root).literal(", ").value(path).literal(")")

            def sql_value() -> None:
                ctx.literal("json_extract(").sql(root).literal(", ").value(path).literal(")")

            body(json_type, sql_value)
            return
        self._json_each_at(ctx, lambda: ctx.sql(root), keys, body, missing)

    def _json_each_at(
        self, ctx: Context, render_document: _Render, keys: Sequence[JsonKey], body: _Body, missing: str | None
    ) -> None:
        *parents, last = keys
        if missing is not None:
            ctx.literal("COALESCE(")
        alias = self._json_alias(ctx)
        ctx.literal("(SELECT ")
        body(lambda: ctx.literal(f"{alias}.type"), lambda: ctx.literal(f"{alias}.value"))
        ctx.literal(" FROM json_each(")
        self._json_container(ctx, render_document, parents)
        ctx.literal(f") AS {alias} WHERE {alias}.key = ").value(last).literal(")")
        if missing is not None:
            ctx.literal(f", {missing})")

    def _json_container(self, ctx: Context, render_document: _Render, keys: Sequence[JsonKey]) -> None:
        """The object or array at ``keys`` as JSON text (NULL if there is none)."""
        if not keys:
            render_document()
            return
        *parents, last = keys
        alias = self._json_alias(ctx)
        ctx.literal(f"(SELECT {alias}.value FROM json_each(")
        self._json_container(ctx, render_document, parents)
        ctx.literal(f") AS {alias} WHERE {alias}.key = ").value(last)
        ctx.literal(f" AND {alias}.type IN ('object', 'array'))")

    @staticmethod
    def _json_alias(ctx: Context) -> str:
        marker = object()
        return ctx.alias_for(marker, f"_json{len(ctx.aliases) + 1}")

    # -- hooks -------------------------------------------------------------------------------
    def render_json_extract(self, ctx: Context, root: Node, keys: JsonKeys) -> None:
        def as_json(json_type: _Render, sql_value: _Render) -> None:
            # JSON text for every type, so a selected path decodes the same way everywhere.
            ctx.literal("(CASE ")
            json_type()
            ctx.literal(" WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' WHEN 'null' THEN 'null' ")
            ctx.literal("WHEN 'object' THEN ")
            sql_value()
            ctx.literal(" WHEN 'array' THEN ")
            sql_value()
            ctx.literal(" ELSE json_quote(")
            sql_value()
            ctx.literal(") END)")

        self._json_value_at(ctx, root, keys, as_json)

    def render_json_text(self, ctx: Context, root: Node, keys: JsonKeys) -> None:
        self._json_value_at(ctx, root, keys, lambda _json_type, sql_value: sql_value())

    def render_json_compare(self, ctx: Context, root: Node, keys: JsonKeys, op: str, value: Any) -> None:
        from ..sql.json import json_kind

        if op == "!=":
            self.render_json_not(ctx, lambda: self.render_json_compare(ctx, root, keys, "=", value))
            return
        kind = json_kind(value)
        missing = "1 = 1" if kind == "null" else None
        self._json_value_at(
            ctx,
            root,
            keys,
            lambda json_type, sql_value: self._json_scalar_test(ctx, json_type, sql_value, op, value),
            missing,
        )

    def _json_scalar_test(self, ctx: Context, json_type: _Render, sql_value: _Render, op: str, value: Any) -> None:
        from ..sql.json import json_kind

        kind = json_kind(value)
        ctx.literal("(")
        if kind == "null":
            json_type()
            ctx.literal(" IS NULL OR ")
            json_type()
            ctx.literal(" = 'null')")
            return
        if kind == "boolean":
            json_type()
            ctx.literal(" = 'true')" if value else " = 'false')")
            return
        json_type()
        ctx.literal(f" IN {_SCALAR_TYPES[kind]} AND ")
        sql_value()
        ctx.literal(f" {op} ").value(value).literal(")")

    def render_json_has_key(self, ctx: Context, root: Node, keys: JsonKeys, key: JsonKey) -> None:
        def present(json_type: _Render, _sql_value: _Render) -> None:
            ctx.literal("(")
            json_type()
            ctx.literal(" IS NOT NULL)")

        self._json_value_at(ctx, root, keys + (key,), present, missing="1 = 0")

    def render_json_contains(self, ctx: Context, root: Node, keys: JsonKeys, value: Any) -> None:
        self._json_value_at(
            ctx,
            root,
            keys,
            lambda json_type, sql_value: self._json_contains(ctx, json_type, sql_value, value, top=True),
            missing="1 = 0",
        )

    def _json_contains(
        self, ctx: Context, json_type: _Render, sql_value: _Render, candidate: Any, top: bool = False
    ) -> None:
        """PostgreSQL's ``@>`` rules: objects by key, arrays by element, scalars by value;
        at the top an array contains a scalar element."""
        if isinstance(candidate, dict):
            ctx.literal("(")
            json_type()
            ctx.literal(" = 'object'")
            for key, item in candidate.items():
                ctx.literal(" AND ")
                self._json_child(ctx, sql_value, key, item)
            ctx.literal(")")
            return
        if isinstance(candidate, (list, tuple)):
            ctx.literal("(")
            json_type()
            ctx.literal(" = 'array'")
            for item in candidate:
                ctx.literal(" AND ")
                self._json_any_element(ctx, sql_value, item)
            ctx.literal(")")
            return
        ctx.literal("(")
        self._json_scalar_test(ctx, json_type, sql_value, "=", candidate)
        if top:
            ctx.literal(" OR (")
            json_type()
            ctx.literal(" = 'array' AND ")
            self._json_any_element(ctx, sql_value, candidate)
            ctx.literal(")")
        ctx.literal(")")

    def _json_child(self, ctx: Context, sql_value: _Render, key: Any, item: Any) -> None:
        if not isinstance(key, str):
            key = next(iter(json.loads(json.dumps({key: 0}))))  # the key as JSON spells it

        def test(json_type: _Render, child_value: _Render) -> None:
            self._json_contains(ctx, json_type, child_value, item)

        if _safe_key(key):
            path = sqlite_json_path((key,))

            def child_type() -> None:
                ctx.literal("json_type(")
                sql_value()
                ctx.literal(", ").value(path).literal(")")

            def child_value() -> None:
                ctx.literal("json_extract(")
                sql_value()
                ctx.literal(", ").value(path).literal(")")

            test(child_type, child_value)
            return
        self._json_each_at(ctx, sql_value, (key,), test, missing="1 = 0")

    def _json_any_element(self, ctx: Context, sql_value: _Render, item: Any) -> None:
        alias = self._json_alias(ctx)
        ctx.literal("EXISTS (SELECT 1 FROM json_each(")
        sql_value()
        ctx.literal(f") AS {alias} WHERE ")
        self._json_contains(ctx, lambda: ctx.literal(f"{alias}.type"), lambda: ctx.literal(f"{alias}.value"), item)
        ctx.literal(")")
