"""PostgreSQL through psycopg2."""
from .base import Dialect, _to_bytes, _to_json


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
    cast_types = {"TEXT": "TEXT", "INTEGER": "INTEGER", "INT": "INTEGER", "FLOAT": "DOUBLE PRECISION"}
    returning = True
    returning_update = True
    insert_returns_pk = True  # psycopg2 has no lastrowid for tables with a sequence
    text_allows_nul = False  # PostgreSQL text cannot hold NUL
    max_params = 65535
    max_identifier_length = 63

    def render_like(self, ctx, lhs, pattern, case_insensitive):
        op = " ILIKE " if case_insensitive else " LIKE "
        ctx.literal("(").sql(lhs).literal(op).sql(pattern).literal(")")

    def render_match(self, ctx, lhs, needle, mode, case_insensitive):
        pattern = self._like_pattern(needle, mode)
        op = " ILIKE " if case_insensitive else " LIKE "
        ctx.literal("(").sql(lhs).literal(op).value(pattern).literal(f" ESCAPE '{self.like_escape}')")

    def render_regexp(self, ctx, lhs, pattern):
        ctx.literal("(").sql(lhs).literal(" ~ ").sql(pattern).literal(")")

    def drop_table_sql(self, table, safe=True, cascade=False):
        sql = Dialect.drop_table_sql(self, table, safe)
        return sql + " CASCADE" if cascade else sql

    def list_tables_sql(self):
        return (
            "SELECT tablename FROM pg_catalog.pg_tables "
            "WHERE schemaname = current_schema() ORDER BY tablename"
        )
