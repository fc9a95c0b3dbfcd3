"""MySQL and MariaDB through pymysql."""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, Any, Iterable

from ..sql import ddl
from .base import Dialect, _from_json, _spellings, _to_bool, _to_json, _to_uuid, exact

if TYPE_CHECKING:
    from ..sql.json import JsonKey, JsonKeys
    from ..sql.nodes import Context, Node
    from ..sql.search import Search, SearchIndex
    from ..sql.write import BulkUpdate, Insert, OnConflict


def _timedelta_to_time(value: Any) -> Any:
    # pymysql returns TIME columns as timedelta (TIME is a duration in MySQL).
    if isinstance(value, datetime.timedelta):
        seconds = value.days * 86400 + value.seconds
        return datetime.time(seconds // 3600, seconds % 3600 // 60, seconds % 60, value.microseconds)
    return value


class MySQLDialect(Dialect):
    name = "mysql"
    param = "%s"
    quote_char = "`"
    share_lock_clause = " LOCK IN SHARE MODE"  # MariaDB has no FOR SHARE; MySQL 8 takes both
    column_types = {
        "AUTO": "INTEGER",
        "BIGAUTO": "BIGINT",
        "INT": "INTEGER",
        "BIGINT": "BIGINT",
        "SMALLINT": "SMALLINT",
        "FLOAT": "DOUBLE",
        "DOUBLE": "DOUBLE",
        "DECIMAL": "DECIMAL({max_digits}, {decimal_places})",
        "VARCHAR": "VARCHAR({max_length})",
        "TEXT": "LONGTEXT",
        "BOOL": "BOOL",
        "DATETIME": "DATETIME(6)",
        "DATE": "DATE",
        "TIME": "TIME(6)",
        "UUID": "CHAR(36)",
        "BLOB": "LONGBLOB",
        "JSON": "JSON",
    }
    # MySQL reports BOOL as tinyint(1), integers with a display width (int(11)) before
    # MySQL 8.0.19, and the sized TEXT/BLOB variants by name.
    introspected_type_spellings = (
        _spellings(
            (r"^tinyint\(1\)$", "boolean"),
            (r"^(tinyint|smallint|mediumint|int|integer|bigint)\(\d+\)$", r"\1"),
            (r"^mediumint$", "integer"),
            (r"^(longtext|mediumtext|tinytext)$", "text"),
            (r"^(longblob|mediumblob|tinyblob)$", "blob"),
        )
        + Dialect.introspected_type_spellings
    )

    def is_auto_increment_default(self, default: str) -> bool:
        return default == "AUTO_INCREMENT"  # how backends/mysql.py reports an auto_increment column

    to_driver = {"UUID": str, "JSON": _to_json}
    from_driver = {
        "UUID": _to_uuid,
        "JSON": _from_json,
        "BOOL": _to_bool,
        "TIME": _timedelta_to_time,
        # pymysql hands back a zero date ('0000-00-00', written before strict mode) as text
        "DATE": exact(datetime.date),
        "DATETIME": exact(datetime.datetime),
    }
    cast_types = {
        "TEXT": "CHAR",
        "VARCHAR": "CHAR",
        "INTEGER": "SIGNED",
        "INT": "SIGNED",
        "BIGINT": "SIGNED",
        "FLOAT": "DOUBLE",
        "REAL": "DOUBLE",
        "DOUBLE": "DOUBLE",
        "DOUBLE PRECISION": "DOUBLE",
        "SIGNED INTEGER": "SIGNED",
        "UNSIGNED INTEGER": "UNSIGNED",
        "NUMERIC": "DECIMAL",
        "DATETIME": "DATETIME(6)",  # keeps microseconds, as DATETIME columns do
        "TIME": "TIME(6)",
    }
    # CAST's target types on MySQL and MariaDB (there is no CAST AS VARCHAR or INTEGER;
    # the portable names are mapped above).
    cast_type_names = frozenset({"BINARY", "CHAR", "NCHAR", "DATE", "DECIMAL", "SIGNED", "UNSIGNED", *cast_types})
    cast_sized_types = frozenset({"BINARY", "CHAR", "NCHAR", "VARCHAR", "DECIMAL", "NUMERIC"})
    replace_sql = "REPLACE INTO "
    returning = False
    supports_full_join = False
    supports_nulls_ordering = False
    # ON DUPLICATE KEY UPDATE fires on any unique key; a conflict target cannot narrow it.
    upsert_honours_conflict_target = False
    transactional_ddl = False  # every DDL statement commits implicitly
    indexes_foreign_keys = True  # InnoDB needs an index on a foreign key and adds one if missing
    float_allows_nan = False
    float_allows_infinity = False
    max_params = 65535
    max_query_bytes = 16 * 1024 * 1024  # replaced by the server's max_allowed_packet at connect
    max_identifier_length = 64
    identifier_length_in_bytes = False
    default_values_sql = "() VALUES ()"
    # Tables are created case- and accent-sensitive, like SQLite and PostgreSQL compare text.
    table_options = " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin"
    case_sensitive_like_op = "LIKE BINARY"
    index_prefix_length = 255

    def render_operator(self, ctx: Context, lhs: Node, op: str, rhs: Node) -> None:
        if op == "||":
            # MySQL reads || as OR unless PIPES_AS_CONCAT is set.
            ctx.literal("CONCAT(").sql(lhs).literal(", ").sql(rhs).literal(")")
            return
        Dialect.render_operator(self, ctx, lhs, op, rhs)

    def render_limit(self, ctx: Context, limit: int | None, offset: int | None) -> None:
        if limit is None and offset:
            # MySQL has no OFFSET without LIMIT; its manual's idiom is the largest BIGINT.
            ctx.literal(f" LIMIT 18446744073709551615 OFFSET {int(offset)}")
            return
        Dialect.render_limit(self, ctx, limit, offset)

    def render_excluded(self, ctx: Context, column_name: str) -> None:
        ctx.literal("VALUES(").literal(ctx.quoted(column_name)).literal(")")

    def render_upsert(self, ctx: Context, insert: Insert, on_conflict: OnConflict) -> None:
        ctx.literal(" ON DUPLICATE KEY UPDATE ")
        if on_conflict.action == "ignore" or not (on_conflict.update or on_conflict.preserve):
            # A no-op assignment ignores only duplicate keys; INSERT IGNORE would also turn
            # data errors into warnings and store altered values.
            first = insert._column_names()[0] if insert.columns else None
            if first is None:
                raise ValueError("on_conflict_ignore() needs at least one inserted column on MySQL")
            quoted = ctx.quoted(first)
            ctx.literal(f"{quoted} = {quoted}")
            return
        if on_conflict.where is not None:
            from ..exceptions import NotSupportedError

            raise NotSupportedError("MySQL's ON DUPLICATE KEY UPDATE takes no WHERE clause")
        self._render_assignments(ctx, insert, on_conflict)
        pk_column = getattr(insert, "auto_pk_column", None)
        if pk_column is not None:
            # Makes cursor.lastrowid the updated row's key, as RETURNING gives elsewhere.
            quoted = ctx.quoted(pk_column)
            ctx.literal(f", {quoted} = LAST_INSERT_ID({quoted})")

    bulk_update_joins_rows = True

    def render_bulk_update(self, ctx: Context, node: BulkUpdate) -> None:
        # An UPDATE joined to a derived table of the new values; pymysql's executemany
        # would send a statement per row. With FOUND_ROWS the row count is rows matched,
        # which the version check needs.
        param = ctx.param
        names = node.row_names()
        first = "SELECT " + ", ".join(f"{param} AS {ctx.quoted(name)}" for name in names)
        other = " UNION ALL SELECT " + ", ".join([param] * len(names))
        ctx.literal("UPDATE ")
        node.table._from_sql(ctx)
        ctx.literal(" JOIN (")
        node.render_rows(ctx, lambda ctx: ctx.literal(first), lambda ctx: ctx.literal(other))
        ctx.literal(") AS " + ctx.quoted(node.ROWS) + " ON ").sql(node.condition())
        ctx.literal(" SET ")
        node.render_assignments(ctx, qualified=True)  # a bare column could name one of the join's

    # -- JSON: JSON_EXTRACT and friends, the path a bound parameter ---------------------------
    # MariaDB 10.7 added JSON_EQUALS; without it a column compares as the text tinyorm wrote
    # (compact, keys sorted). MySQL 8 compares JSON with CAST(... AS JSON) instead.
    json_equals_function = False
    json_cast = False
    # MariaDB and MySQL index an expression only through a generated column.
    supports_expression_indexes = False
    index_methods = frozenset({"btree", "hash"})  # InnoDB builds a b-tree for HASH
    supports_partial_indexes = False
    index_method_before_columns = False

    @staticmethod
    def json_path(keys: Iterable[JsonKey]) -> str:
        """``$."a"[0]."b\\"c"``: each key double-quoted with ``\\`` and ``"`` escaped."""
        parts = ["$"]
        for key in keys:
            if isinstance(key, int):
                parts.append(f"[{key}]")
            else:
                parts.append('."' + key.replace("\\", "\\\\").replace('"', '\\"') + '"')
        return "".join(parts)

    def _json_at(self, ctx: Context, root: Node, keys: JsonKeys) -> None:
        if not keys:
            ctx.sql(root)
            return
        ctx.literal("JSON_EXTRACT(").sql(root).literal(", ").value(self.json_path(keys)).literal(")")

    def render_json_equals(self, ctx: Context, lhs: Node, value: Any) -> None:
        from ..sql.json import json_text

        if self.json_equals_function:
            # MariaDB 10.11's JSON_EQUALS answers a NULL row with the previous row's result:
            # the NULL test comes first and AND stops at it.
            ctx.literal("(").sql(lhs).literal(" IS NOT NULL AND JSON_EQUALS(").sql(lhs).literal(", ")
            ctx.value(json_text(value)).literal("))")
        elif self.json_cast:
            ctx.literal("(").sql(lhs).literal(" = CAST(").value(json_text(value)).literal(" AS JSON))")
        else:
            Dialect.render_json_equals(self, ctx, lhs, value)

    def render_json_extract(self, ctx: Context, root: Node, keys: JsonKeys) -> None:
        self._json_at(ctx, root, keys)

    def render_json_text(self, ctx: Context, root: Node, keys: JsonKeys) -> None:
        ctx.literal("JSON_VALUE(").sql(root).literal(", ").value(self.json_path(keys)).literal(")")

    def render_json_compare(self, ctx: Context, root: Node, keys: JsonKeys, op: str, value: Any) -> None:
        from ..sql.json import json_kind

        if op == "!=":
            self.render_json_not(ctx, lambda: self.render_json_compare(ctx, root, keys, "=", value))
            return
        kind = json_kind(value)

        def at() -> None:
            self._json_at(ctx, root, keys)

        if kind == "null":
            ctx.literal("(")
            at()
            ctx.literal(" IS NULL OR JSON_TYPE(")
            at()
            ctx.literal(") = 'NULL')")
        elif kind == "boolean":
            ctx.literal("(JSON_TYPE(")
            at()
            ctx.literal(") = 'BOOLEAN' AND ")
            at()
            ctx.literal(" = 'true')" if value else " = 'false')")
        elif kind == "string":
            # Compared as bytes: the connection's collation would ignore case and padding.
            ctx.literal("(JSON_TYPE(")
            at()
            ctx.literal(") = 'STRING' AND CAST(JSON_UNQUOTE(")
            at()
            ctx.literal(f") AS BINARY) {op} CAST(").value(value).literal(" AS BINARY))")
        else:
            # The CASE keeps the cast to rows holding a number (a cast of other text would
            # warn, and a warning is an error in a strict-mode UPDATE's WHERE).
            ctx.literal("(CASE WHEN JSON_TYPE(")
            at()
            ctx.literal(") IN ('INTEGER', 'DOUBLE') THEN CAST(")
            at()
            ctx.literal(f" AS DOUBLE) END {op} ").value(value).literal(")")

    def render_json_has_key(self, ctx: Context, root: Node, keys: JsonKeys, key: JsonKey) -> None:
        ctx.literal("JSON_CONTAINS_PATH(").sql(root).literal(", 'one', ")
        ctx.value(self.json_path(keys + (key,))).literal(")")

    def render_json_contains(self, ctx: Context, root: Node, keys: JsonKeys, value: Any) -> None:
        from ..sql.json import json_text

        ctx.literal("JSON_CONTAINS(").sql(root).literal(", ").value(json_text(value))
        if keys:
            ctx.literal(", ").value(self.json_path(keys))
        ctx.literal(")")

    # -- full-text search: a FULLTEXT index, MATCH ... AGAINST in boolean mode ---------------
    # InnoDB leaves words shorter than innodb_ft_min_token_size (read at connect) and its
    # default stop words out of the index; a required (+) word it never indexed would make
    # every search fail, so such words are left out of the query.
    fulltext_min_word_length = 3
    fulltext_stopwords = frozenset(
        "a about an are as at be by com de en for from how i in is it la of on or that the this "
        "to was what when where who will with und www".split()
    )

    def _boolean_query(self, terms: list[str]) -> str:
        minimum = self.fulltext_min_word_length
        words = [term for term in terms if len(term) >= minimum and term not in self.fulltext_stopwords]
        # Each word is letters and digits only: no boolean-mode operator can appear. Tables
        # use a binary collation (case-sensitive equality, as on the other engines), which
        # makes InnoDB's full-text matching case-sensitive too: each word is asked for as
        # written in lower case, Capitalised or in UPPER case (mixed case is not found).
        return " ".join("+(" + " ".join(dict.fromkeys((word, word.capitalize(), word.upper()))) + ")" for word in words)

    def search_ddl(self, search: SearchIndex, safe: bool = True) -> list[str]:
        columns = [(column, None) for column in search.columns]
        return [ddl.ddl_sql(ddl.CreateIndex(search.table, search.name, columns, safe=safe, fulltext=True), self)]

    def drop_search_sql(self, search: SearchIndex) -> list[str]:
        return [self.drop_index_sql(search.table, search.name)]

    def _render_against(self, ctx: Context, search: Search, terms: list[str], nothing: str) -> None:
        query = self._boolean_query(terms)
        if not query:
            ctx.literal(nothing)
            return
        ctx.literal("MATCH (")
        for index, field in enumerate(search.fields):
            if index:
                ctx.literal(", ")
            ctx.sql(field)
        ctx.literal(") AGAINST (").value(query).literal(" IN BOOLEAN MODE)")

    def render_search_match(self, ctx: Context, search: Search, terms: list[str]) -> None:
        self._render_against(ctx, search, terms, "(1 = 0)")

    def render_search_rank(self, ctx: Context, search: Search, terms: list[str]) -> None:
        self._render_against(ctx, search, terms, "COALESCE(NULL, 0)")

    def alter_column_ddl(
        self,
        table: str,
        column: str,
        type_sql: str | None,
        null: bool | None,
        default_sql: str | None,
        definition: ddl.ColumnDefinition,
    ) -> list[Node] | None:
        # MySQL restates the whole column: MODIFY with the complete new definition.
        return [ddl.AlterTable(table, ddl.ModifyColumn(definition))]

    def drop_foreign_key_ddl(self, table: str, name: str) -> list[Node] | None:
        return [ddl.AlterTable(table, ddl.DropConstraint(name, kind="FOREIGN KEY"))]

    def auto_increment_column(self, field_type: str) -> str:
        return f"{self.column_type(field_type)} NOT NULL AUTO_INCREMENT PRIMARY KEY"

    def index_column_sql(self, column_name: str, field_type: str | None) -> str:
        if field_type in ("TEXT", "BLOB", "JSON"):
            # MySQL can index TEXT/BLOB only by a prefix; uniqueness then covers the prefix.
            return f"{self.quote(column_name)}({self.index_prefix_length})"
        return self.quote(column_name)

    def render_drop_index(self, ctx: Context, node: ddl.DropIndex) -> None:
        exists = " IF EXISTS" if node.safe and self.supports_if_not_exists_index else ""
        ctx.literal(f"DROP INDEX{exists} {ctx.quoted(node.name)} ON {ctx.quoted(node.table)}")

    # False when the session's sql_mode has NO_BACKSLASH_ESCAPES (set by the backend at
    # connect): a backslash in a string literal is then an ordinary character.
    backslash_escapes = True

    def literal_default(self, value: object) -> str:
        if isinstance(value, str) and "\\" in value and self.backslash_escapes:
            value = value.replace("\\", "\\\\")  # backslash escapes inside MySQL literals
        return Dialect.literal_default(self, value)

    def _string_literal(self, text: str) -> str:
        if "\\" in text and self.backslash_escapes:
            text = text.replace("\\", "\\\\")
        return Dialect._string_literal(self, text)

    def list_tables_sql(self) -> str:
        return (
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = DATABASE() AND table_type = 'BASE TABLE' ORDER BY table_name"
        )
