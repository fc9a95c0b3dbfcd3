"""SQLite: the embedded default (stdlib ``sqlite3``)."""

import datetime
import decimal

from .base import Dialect, _from_json, _to_bool, _to_bytes, _to_json, _to_uuid
from .sqlite_json import SqliteJson


def _datetime_to_text(value):
    # Fixed width with microseconds, so text order is time order.
    return value.isoformat(" ", "microseconds")


def _time_to_text(value):
    return value.isoformat("microseconds")


def _text_to_date(value):
    if isinstance(value, str):
        return datetime.date.fromisoformat(value[:10])
    return value


def _text_to_decimal(value):
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
        "DATETIME": datetime.datetime.fromisoformat,
        "DATE": _text_to_date,
        "TIME": datetime.time.fromisoformat,
        "UUID": _to_uuid,
        "JSON": _from_json,
        "BOOL": _to_bool,
    }
    cast_types = {"TEXT": "TEXT", "VARCHAR": "TEXT", "INTEGER": "INTEGER", "INT": "INTEGER", "FLOAT": "REAL"}
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

    def render_limit(self, ctx, limit, offset):
        if limit is None and offset:
            # SQLite's grammar has no OFFSET without LIMIT; -1 means "no limit".
            ctx.literal(f" LIMIT -1 OFFSET {int(offset)}")
            return
        Dialect.render_limit(self, ctx, limit, offset)

    def render_match(self, ctx, lhs, needle, mode, case_insensitive):
        if case_insensitive:
            return Dialect.render_match(self, ctx, lhs, needle, mode, True)
        # SQLite's LIKE ignores ASCII case; GLOB is case-sensitive. Its wildcards * ? [ are
        # escaped by wrapping each in brackets.
        escaped = needle.replace("[", "[[]").replace("*", "[*]").replace("?", "[?]")
        pattern = {"contains": "*{}*", "startswith": "{}*", "endswith": "*{}"}[mode].format(escaped)
        ctx.literal("(").sql(lhs).literal(" GLOB ").value(pattern).literal(")")

    # SQLite's ALTER TABLE adds and renames, but cannot drop a column that an index or key
    # uses, change a type or touch constraints: those rebuild the table (migrations).
    def drop_column_sql(self, table, column):
        return None

    def alter_column_sql(self, table, column, type_sql, null, default_sql, definition):
        return None

    def add_foreign_key_sql(self, table, constraint_sql):
        return None

    def drop_foreign_key_sql(self, table, name):
        return None

    def list_tables_sql(self):
        return (
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite!_%' ESCAPE '!' ORDER BY name"
        )
