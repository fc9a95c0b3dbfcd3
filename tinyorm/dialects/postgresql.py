"""PostgreSQL through psycopg2."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable

from ..sql import ddl
from .base import Dialect, _spellings, _to_bytes, _to_json

if TYPE_CHECKING:
    from ..sql.json import JsonKey, JsonKeys
    from ..sql.nodes import Context, Node
    from ..sql.search import Search, SearchIndex
    from ..sql.write import BulkUpdate


class PostgresDialect(Dialect):
    name = "postgresql"
    param = "%s"
    quote_char = '"'
    column_types = {
        "AUTO": "SERIAL",
        "BIGAUTO": "BIGSERIAL",
        "INT": "INTEGER",
        "BIGINT": "BIGINT",
        "SMALLINT": "SMALLINT",
        "FLOAT": "DOUBLE PRECISION",
        "DOUBLE": "DOUBLE PRECISION",
        "DECIMAL": "NUMERIC({max_digits}, {decimal_places})",
        "VARCHAR": "VARCHAR({max_length})",
        "TEXT": "TEXT",
        "BOOL": "BOOLEAN",
        "DATETIME": "TIMESTAMP",
        "DATE": "DATE",
        "TIME": "TIME",
        "UUID": "UUID",
        "BLOB": "BYTEA",
        "JSON": "JSONB",
    }
    # psycopg2 already returns datetime, Decimal, bool, dict/list for JSONB and (with
    # register_uuid at connect) UUID objects; only bytea needs a copy out of its memoryview.
    to_driver = {"UUID": str, "JSON": _to_json, "BLOB": _to_bytes}
    from_driver = {"BLOB": _to_bytes}
    cast_types = {"INT": "INTEGER", "FLOAT": "DOUBLE PRECISION", "DOUBLE": "DOUBLE PRECISION"}
    cast_type_names = frozenset(
        {
            *("SMALLINT", "INTEGER", "INT", "BIGINT", "REAL", "FLOAT", "DOUBLE", "DOUBLE PRECISION"),
            *("NUMERIC", "DECIMAL", "TEXT", "VARCHAR", "CHAR", "CHARACTER", "CHARACTER VARYING"),
            *("BOOLEAN", "BOOL", "DATE", "TIME", "TIMESTAMP", "TIMESTAMPTZ", "INTERVAL"),
            *("TIMESTAMP WITH TIME ZONE", "TIMESTAMP WITHOUT TIME ZONE", "UUID", "JSON", "JSONB", "BYTEA"),
        }
    )
    cast_sized_types = frozenset(
        {"NUMERIC", "DECIMAL", "VARCHAR", "CHAR", "CHARACTER", "CHARACTER VARYING", "TIME", "TIMESTAMP", "TIMESTAMPTZ"}
    )
    # information_schema's names for the types (``character varying``, ``int4``...).
    introspected_type_spellings = (
        _spellings(
            (r"^timestamp(\(\d+\))? without time zone$", "timestamp"),
            (r"^time(\(\d+\))? without time zone$", "time"),
            (r"^character varying", "varchar"),
            (r"^character\(", "char("),
            (r"^(int4|serial)$", "integer"),
            (r"^(int8|bigserial)$", "bigint"),
            (r"^int2$", "smallint"),
            (r"^float8$", "double"),
            (r"^bytea$", "blob"),
            (r"^jsonb$", "json"),
        )
        + Dialect.introspected_type_spellings
    )

    def is_auto_increment_default(self, default: str) -> bool:
        # SERIAL columns default to nextval() of their sequence; identity columns say so.
        return default.startswith("nextval(") or default.endswith("AS IDENTITY")

    returning = True
    supports_distinct_on = True
    index_methods = frozenset({"btree", "hash", "gin", "gist", "brin", "spgist"})
    insert_returns_pk = True  # psycopg2 has no lastrowid for tables with a sequence
    returning_insert = True
    text_allows_nul = False  # PostgreSQL text cannot hold NUL
    max_params = 65535
    max_identifier_length = 63

    def render_like(self, ctx: Context, lhs: Node, pattern: Node, case_insensitive: bool) -> None:
        op = " ILIKE " if case_insensitive else " LIKE "
        ctx.literal("(").sql(lhs).literal(op).sql(pattern).literal(")")

    def render_match(self, ctx: Context, lhs: Node, needle: str, mode: str, case_insensitive: bool) -> None:
        pattern = self._like_pattern(needle, mode)
        op = " ILIKE " if case_insensitive else " LIKE "
        ctx.literal("(").sql(lhs).literal(op).value(pattern).literal(f" ESCAPE '{self.like_escape}')")

    def render_regexp(self, ctx: Context, lhs: Node, pattern: Node) -> None:
        ctx.literal("(").sql(lhs).literal(" ~ ").sql(pattern).literal(")")

    bulk_update_joins_rows = True

    def render_bulk_update(self, ctx: Context, node: BulkUpdate) -> None:
        # UPDATE ... FROM (VALUES ...): psycopg2's executemany would send a statement per
        # row. VALUES columns have no declared type, so the first row casts each value.
        param = ctx.param
        casts = [column.cast_type(self) for column in node.keys + node.columns]
        if node.version is not None:
            casts.append("BIGINT")
        typed_row = "(" + ", ".join(f"CAST({param} AS {cast})" for cast in casts) + ")"
        plain_row = "(" + ", ".join([param] * len(casts)) + ")"
        ctx.literal("UPDATE ")
        node.table._from_sql(ctx)
        ctx.literal(" SET ")
        node.render_assignments(ctx, qualified=False)  # PostgreSQL refuses a qualified SET column
        ctx.literal(" FROM (VALUES ")
        node.render_rows(ctx, lambda ctx: ctx.literal(typed_row), lambda ctx: ctx.literal(", " + plain_row))
        ctx.literal(") AS " + ctx.quoted(node.ROWS) + " (")
        ctx.literal(", ".join(ctx.quoted(name) for name in node.row_names()) + ") WHERE ")
        ctx.sql(node.condition())

    # -- JSON: jsonb operators; each key a bound parameter --------------------------------------
    json_result_converter = None  # psycopg2 decodes jsonb itself

    def _json_at(self, ctx: Context, root: Node, keys: JsonKeys) -> None:
        """``doc -> k1 -> k2``: the jsonb value at the path (NULL where it is missing)."""
        if keys:
            ctx.literal("(")
        ctx.sql(root)
        for key in keys:
            ctx.literal(" -> ").value(key)
        if keys:
            ctx.literal(")")

    def render_json_equals(self, ctx: Context, lhs: Node, value: Any) -> None:
        from ..sql.json import json_text

        ctx.literal("(").sql(lhs).literal(" = CAST(").value(json_text(value)).literal(" AS JSONB))")

    def render_json_extract(self, ctx: Context, root: Node, keys: JsonKeys) -> None:
        self._json_at(ctx, root, keys)

    def render_json_text(self, ctx: Context, root: Node, keys: JsonKeys) -> None:
        if not keys:
            ctx.literal("(").sql(root).literal(" #>> '{}')")
            return
        ctx.literal("(")
        self._json_at(ctx, root, keys[:-1])
        ctx.literal(" ->> ").value(keys[-1]).literal(")")

    def render_json_compare(self, ctx: Context, root: Node, keys: JsonKeys, op: str, value: Any) -> None:
        from ..sql.json import json_kind, json_text

        if op == "!=":
            self.render_json_not(ctx, lambda: self.render_json_compare(ctx, root, keys, "=", value))
            return
        kind = json_kind(value)
        if kind == "null":
            ctx.literal("(")
            self._json_at(ctx, root, keys)
            ctx.literal(" IS NULL OR jsonb_typeof(")
            self._json_at(ctx, root, keys)
            ctx.literal(") = 'null')")
            return
        # jsonb compares across types (every string sorts after every number): the type
        # test keeps ``> 3`` to numbers, and no row of another type can raise a cast error.
        ctx.literal("(jsonb_typeof(")
        self._json_at(ctx, root, keys)
        ctx.literal(f") = '{kind}' AND ")
        self._json_at(ctx, root, keys)
        ctx.literal(f" {op} CAST(").value(json_text(value)).literal(" AS JSONB))")

    def render_json_has_key(self, ctx: Context, root: Node, keys: JsonKeys, key: JsonKey) -> None:
        if isinstance(key, int):
            ctx.literal("(jsonb_typeof(")
            self._json_at(ctx, root, keys)
            ctx.literal(") = 'array' AND jsonb_array_length(")
            self._json_at(ctx, root, keys)
            ctx.literal(") > ").value(key).literal(")")
            return
        # ``?`` alone would also match a string element of an array.
        ctx.literal("(jsonb_typeof(")
        self._json_at(ctx, root, keys)
        ctx.literal(") = 'object' AND ")
        self._json_at(ctx, root, keys)
        ctx.literal(" ? ").value(key).literal(")")

    def render_json_contains(self, ctx: Context, root: Node, keys: JsonKeys, value: Any) -> None:
        from ..sql.json import json_text

        ctx.literal("(")
        self._json_at(ctx, root, keys)
        ctx.literal(" @> CAST(").value(json_text(value)).literal(" AS JSONB))")

    # -- full-text search: to_tsvector over the fields, a GIN index on that expression ------
    def _search_document(self, ctx: Context, language: str, columns: Iterable[Node]) -> None:
        """``to_tsvector('english', COALESCE(a, '') || ' ' || COALESCE(b, ''))``: the same
        expression in the index and in queries, so the planner uses the index."""
        ctx.literal(f"to_tsvector({self._string_literal(language)}, ")
        for index, field in enumerate(columns):
            if index:
                ctx.literal(" || ' ' || ")
            ctx.literal("COALESCE(").sql(field).literal(", '')")
        ctx.literal(")")

    def _search_query(self, ctx: Context, search: Search, terms: list[str]) -> None:
        # plainto_tsquery reads plain words (no operators) and never raises a syntax error.
        ctx.literal(f"plainto_tsquery({self._string_literal(search.language)}, ").value(" ".join(terms))
        ctx.literal(")")

    def search_ddl(self, search: SearchIndex, safe: bool = True) -> list[str]:
        from ..sql.nodes import Context, Entity

        ctx = Context(self)
        self._search_document(ctx, search.language, [Entity(column) for column in search.columns])
        document = "(" + "".join(ctx.parts) + ")"
        index = ddl.CreateIndex(search.table, search.name, safe=safe, parts=[document], method="gin")
        return [ddl.ddl_sql(index, self)]

    def drop_search_sql(self, search: SearchIndex) -> list[str]:
        return [self.drop_index_sql(search.table, search.name)]

    def _render_search(self, ctx: Context, search: Search, terms: list[str], opening: str, between: str) -> None:
        ctx.literal(opening)
        self._search_document(ctx, search.language, search.fields)
        ctx.literal(between)
        self._search_query(ctx, search, terms)
        ctx.literal(")")

    def render_search_match(self, ctx: Context, search: Search, terms: list[str]) -> None:
        self._render_search(ctx, search, terms, "(", " @@ ")

    def render_search_rank(self, ctx: Context, search: Search, terms: list[str]) -> None:
        self._render_search(ctx, search, terms, "ts_rank(", ", ")

    def alter_column_ddl(
        self,
        table: str,
        column: str,
        type_sql: str | None,
        null: bool | None,
        default_sql: str | None,
        definition: ddl.ColumnDefinition,
    ) -> list[Node] | None:
        changes = []
        if type_sql is not None:
            changes.append(f"TYPE {type_sql} USING {self.quote(column)}::{type_sql}")
        if null is not None:
            changes.append(f"{'DROP' if null else 'SET'} NOT NULL")
        if default_sql is not None:
            changes.append("DROP DEFAULT" if default_sql == "NULL" else f"SET DEFAULT {default_sql}")
        return [ddl.AlterTable(table, ddl.AlterColumn(column, change)) for change in changes]

    def render_drop_table(self, ctx: Context, node: ddl.DropTable) -> None:
        Dialect.render_drop_table(self, ctx, node)
        if node.cascade:
            ctx.literal(" CASCADE")

    def list_tables_sql(self) -> str:
        return "SELECT tablename FROM pg_catalog.pg_tables WHERE schemaname = current_schema() ORDER BY tablename"
