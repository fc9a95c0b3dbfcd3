"""SQLite: the embedded default (stdlib ``sqlite3``)."""

from __future__ import annotations

import datetime
import decimal
from typing import TYPE_CHECKING, Any

from .base import Dialect, _from_json, _spellings, _to_bool, _to_bytes, _to_json, _to_uuid, exact
from .mysql import MySQLDialect
from .postgresql import PostgresDialect
from .sqlite_json import SqliteJson

if TYPE_CHECKING:
    from ..sql import ddl
    from ..sql.nodes import Context, Node
    from ..sql.search import Search, SearchIndex


def _datetime_to_text(value: datetime.datetime) -> str:
    # Fixed width with microseconds, so text order is time order.
    return value.isoformat(" ", "microseconds")


def _time_to_text(value: datetime.time) -> str:
    return value.isoformat("microseconds")


def _text_to_date(value: Any) -> datetime.date:
    if isinstance(value, str):
        return datetime.date.fromisoformat(value[:10])
    raise ValueError(f"expected ISO date text, got {type(value).__name__}")


def _text_to_datetime(value: str) -> datetime.datetime:
    result = datetime.datetime.fromisoformat(value)
    if result.tzinfo is not None:
        raise ValueError("a datetime with a UTC offset in a field of naive datetimes")
    return result


def _integral_float(value: Any) -> int:
    # Another client's 3.0 in an INTEGER column reads as 3; 3.5 or '12abc' are refused.
    if isinstance(value, float) and value.is_integer() and abs(value) <= 2**53:  # else not exact
        return int(value)
    raise ValueError(f"expected an integer, got {type(value).__name__}")


def _int_as_float(value: Any) -> float:
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) <= 2**53:
        return float(value)
    raise ValueError(f"expected a float, got {type(value).__name__}")


# SQLite columns take any value another client stores (affinity converts only what looks
# numeric): integer and float columns are checked by class, with no call when they match.
_READ_INT = exact(int, _integral_float)
_READ_FLOAT = exact(float, _int_as_float)


def _text_to_decimal(value: Any) -> decimal.Decimal:
    return value if isinstance(value, decimal.Decimal) else decimal.Decimal(str(value))


class SqliteDialect(SqliteJson, Dialect):
    name = "sqlite"
    param = "?"
    quote_char = '"'
    # Type names keep SQLite's affinity rules on our side: DECIMAL_TEXT, JSON_TEXT and
    # UUID_TEXT contain "TEXT", so SQLite stores them as text and never turns a decimal into
    # a lossy REAL (NUMERIC affinity keeps only 15 significant digits).
    column_types = {
        "AUTO": "INTEGER",
        "BIGAUTO": "INTEGER",
        "INT": "INTEGER",
        "BIGINT": "BIGINT",
        "SMALLINT": "SMALLINT",
        "FLOAT": "REAL",
        "DOUBLE": "REAL",
        "DECIMAL": "DECIMAL_TEXT({max_digits}, {decimal_places})",
        "VARCHAR": "VARCHAR({max_length})",
        "TEXT": "TEXT",
        "BOOL": "BOOLEAN",
        "DATETIME": "DATETIME",
        "DATE": "DATE",
        "TIME": "TIME",
        "UUID": "UUID_TEXT",
        "BLOB": "BLOB",
        "JSON": "JSON_TEXT",
    }
    to_driver = {
        "DECIMAL": str,
        "DATETIME": _datetime_to_text,
        "DATE": datetime.date.isoformat,
        "TIME": _time_to_text,
        "UUID": str,
        "JSON": _to_json,
        "BLOB": _to_bytes,
        "BOOL": int,
    }
    # Values tinyorm wrote are ISO text, so the C parsers apply directly.
    from_driver = {
        "DECIMAL": _text_to_decimal,
        "DATETIME": _text_to_datetime,
        "INT": _READ_INT,
        "BIGINT": _READ_INT,
        "SMALLINT": _READ_INT,
        "FLOAT": _READ_FLOAT,
        "DOUBLE": _READ_FLOAT,
        "DATE": _text_to_date,
        "TIME": datetime.time.fromisoformat,
        "UUID": _to_uuid,
        "JSON": _from_json,
        "BOOL": _to_bool,
    }
    cast_types = {"VARCHAR": "TEXT", "CHAR": "TEXT", "INT": "INTEGER", "BIGINT": "INTEGER", "FLOAT": "REAL"}
    cast_types.update({"DOUBLE": "REAL", "DOUBLE PRECISION": "REAL", "DECIMAL": "NUMERIC"})
    cast_type_names = frozenset({"TEXT", "INTEGER", "REAL", "NUMERIC", "BLOB", *cast_types})
    # SQLite takes a size after any type name and ignores it; only NUMERIC keeps one.
    cast_sized_types = frozenset({"VARCHAR", "CHAR", "NUMERIC", "DECIMAL"})
    replace_sql = "REPLACE INTO "
    returning = True  # SQLite 3.35 added RETURNING; the backend clears this on older libraries
    compound_select_parens = False  # SQLite accepts no parentheses around a compound's parts
    supports_for_update = False  # whole-database locking: there are no row locks to take
    supports_nowait = False
    supports_skip_locked = False
    max_params = 32766  # SQLITE_MAX_VARIABLE_NUMBER since 3.32 (999 before)
    max_identifier_length = 1024
    float_allows_nan = False  # SQLite stores NaN as NULL
    inline_forward_references = True  # SQLite checks a foreign key's target only on writes
    rebuilds_tables = True
    integer_primary_key_is_auto = True
    # SQLite keeps a column's type as the table was declared: tinyorm's own names, and a
    # schema written for another engine reads back in that engine's spellings.
    introspected_type_spellings = (
        _spellings(
            (r"^decimal_text", "decimal"),
            (r"^json_text$", "json"),
            (r"^uuid_text$", "uuid"),
        )
        + PostgresDialect.introspected_type_spellings
        + MySQLDialect.introspected_type_spellings
    )

    def is_implicit_index(self, name: str) -> bool:
        # SQLite names the indexes behind UNIQUE and PRIMARY KEY constraints sqlite_autoindex_*.
        return name.startswith("sqlite_autoindex_")

    def render_limit(self, ctx: Context, limit: int | None, offset: int | None) -> None:
        if limit is None and offset:
            # SQLite's grammar has no OFFSET without LIMIT; -1 means "no limit".
            ctx.literal(f" LIMIT -1 OFFSET {int(offset)}")
            return
        Dialect.render_limit(self, ctx, limit, offset)

    def render_match(self, ctx: Context, lhs: Node, needle: str, mode: str, case_insensitive: bool) -> None:
        if case_insensitive:
            return Dialect.render_match(self, ctx, lhs, needle, mode, True)
        # SQLite's LIKE ignores ASCII case; GLOB is case-sensitive. Its wildcards * ? [ are
        # escaped by wrapping each in brackets.
        escaped = needle.replace("[", "[[]").replace("*", "[*]").replace("?", "[?]")
        pattern = {"contains": "*{}*", "startswith": "{}*", "endswith": "*{}"}[mode].format(escaped)
        ctx.literal("(").sql(lhs).literal(" GLOB ").value(pattern).literal(")")

    # -- full-text search: an FTS5 table over the content table, kept in sync by triggers -----
    search_is_separate_table = True

    def search_ddl(self, search: SearchIndex, safe: bool = True) -> list[str]:
        from ..exceptions import NotSupportedError

        if search.rowid is None:
            raise NotSupportedError(
                f"{search.table}: SQLite full-text search needs an integer primary key (FTS5 keys rows by rowid)"
            )
        quote = self.quote
        exists = "IF NOT EXISTS " if safe else ""
        fts = quote(search.name)
        table = quote(search.table)
        names = ", ".join(quote(column) for column in search.columns)
        new_values = ", ".join(f"new.{quote(column)}" for column in search.columns)
        old_values = ", ".join(f"old.{quote(column)}" for column in search.columns)
        key = quote(search.rowid)
        delete = f"INSERT INTO {fts} ({fts}, rowid, {names}) VALUES ('delete', old.{key}, {old_values});"
        insert = f"INSERT INTO {fts} (rowid, {names}) VALUES (new.{key}, {new_values});"
        return [
            f"CREATE VIRTUAL TABLE {exists}{fts} USING fts5({names}, "
            f"content={self._string_literal(search.table)}, content_rowid={self._string_literal(search.rowid)})",
            f"CREATE TRIGGER {exists}{quote(search.name + '_ai')} AFTER INSERT ON {table} BEGIN {insert} END",
            f"CREATE TRIGGER {exists}{quote(search.name + '_ad')} AFTER DELETE ON {table} BEGIN {delete} END",
            f"CREATE TRIGGER {exists}{quote(search.name + '_au')} AFTER UPDATE ON {table} BEGIN {delete} {insert} END",
            # Index the rows already there (a search added to an existing table).
            f"INSERT INTO {fts} ({fts}) VALUES ('rebuild')",
        ]

    def drop_search_sql(self, search: SearchIndex) -> list[str]:
        quote = self.quote
        statements = [f"DROP TRIGGER IF EXISTS {quote(search.name + suffix)}" for suffix in ("_ai", "_ad", "_au")]
        return statements + [self.drop_table_sql(search.name)]

    def _fts_query(self, terms: list[str]) -> str:
        # Every word a quoted FTS5 string: no FTS5 operator (OR, NOT, NEAR, *, ^, :) survives.
        return " ".join('"' + term.replace('"', '""') + '"' for term in terms)

    def render_search_match(self, ctx: Context, search: Search, terms: list[str]) -> None:
        fts = ctx.quoted(search.name)
        ctx.literal("(").sql(search.model._meta.primary_key)
        ctx.literal(f" IN (SELECT rowid FROM {fts} WHERE {fts} MATCH ").value(self._fts_query(terms)).literal("))")

    def render_search_rank(self, ctx: Context, search: Search, terms: list[str]) -> None:
        # bm25 is lower for a better match; negated so higher is better on every engine.
        fts = ctx.quoted(search.name)
        ctx.literal(f"(SELECT -bm25({fts}) FROM {fts} WHERE {fts} MATCH ").value(self._fts_query(terms))
        ctx.literal(" AND rowid = ").sql(search.model._meta.primary_key).literal(")")

    # SQLite's ALTER TABLE adds and renames, but cannot drop a column that an index or key
    # uses, change a type or touch constraints: those rebuild the table (migrations).
    def drop_column_ddl(self, table: str, column: str) -> list[Node] | None:
        return None

    def alter_column_ddl(
        self,
        table: str,
        column: str,
        type_sql: str | None,
        null: bool | None,
        default_sql: str | None,
        definition: ddl.ColumnDefinition,
    ) -> list[Node] | None:
        return None

    def add_foreign_key_ddl(self, table: str, constraint: ddl.Fragment) -> list[Node] | None:
        return None

    def drop_foreign_key_ddl(self, table: str, name: str) -> list[Node] | None:
        return None

    def list_tables_sql(self) -> str:
        # FTS5 tables (full-text search) and the shadow tables behind them are tinyorm's
        # own machinery, not tables of the schema. A virtual table has no b-tree of its
        # own: its rootpage is 0.
        return (
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite!_%' ESCAPE '!' "
            "AND rootpage != 0 AND name NOT IN ("
            "SELECT v.name || s.suffix FROM sqlite_master AS v, (SELECT '_data' AS suffix UNION ALL "
            "SELECT '_idx' UNION ALL SELECT '_content' UNION ALL SELECT '_docsize' UNION ALL SELECT '_config') AS s "
            "WHERE v.type = 'table' AND v.rootpage = 0) ORDER BY name"
        )
