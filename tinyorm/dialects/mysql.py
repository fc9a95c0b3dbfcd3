"""MySQL and MariaDB through pymysql."""

import datetime

from .base import Dialect, _from_json, _to_bool, _to_json, _to_uuid


def _timedelta_to_time(value):
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
    to_driver = {"UUID": str, "JSON": _to_json}
    from_driver = {"UUID": _to_uuid, "JSON": _from_json, "BOOL": _to_bool, "TIME": _timedelta_to_time}
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
    }
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
    default_values_sql = "() VALUES ()"
    # Tables are created case- and accent-sensitive, like SQLite and PostgreSQL compare text.
    table_options = " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin"
    case_sensitive_like_op = "LIKE BINARY"
    index_prefix_length = 255

    def render_operator(self, ctx, lhs, op, rhs):
        if op == "||":
            # MySQL reads || as OR unless PIPES_AS_CONCAT is set.
            ctx.literal("CONCAT(").sql(lhs).literal(", ").sql(rhs).literal(")")
            return
        Dialect.render_operator(self, ctx, lhs, op, rhs)

    def render_limit(self, ctx, limit, offset):
        if limit is None and offset:
            # MySQL has no OFFSET without LIMIT; its manual's idiom is the largest BIGINT.
            ctx.literal(f" LIMIT 18446744073709551615 OFFSET {int(offset)}")
            return
        Dialect.render_limit(self, ctx, limit, offset)

    def render_excluded(self, ctx, column_name):
        ctx.literal("VALUES(").literal(ctx.quoted(column_name)).literal(")")

    def render_upsert(self, ctx, insert, on_conflict):
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

    bulk_update_sets_first = False

    def plan_bulk_update(self, model, key_fields, set_fields, version_field, rows):
        # One UPDATE joined to a derived table of the new values per batch; pymysql's
        # executemany would send a statement per row. With FOUND_ROWS the row count is
        # rows matched, which the version check needs.
        quote = self.quote
        table = quote(model._meta.table_name)
        names = [f"k{index}" for index in range(len(key_fields))] + [f"s{index}" for index in range(len(set_fields))]
        if version_field is not None:
            names.append("expected_version")
        on = [f"t.{quote(field.column_name)} = v.{name}" for field, name in zip(key_fields, names)]
        sets = [f"t.{quote(field.column_name)} = v.{name}" for field, name in zip(set_fields, names[len(key_fields) :])]
        if version_field is not None:
            column = quote(version_field.column_name)
            on.append(f"t.{column} = v.expected_version")
            sets.append(f"t.{column} = t.{column} + 1")
        first = "SELECT " + ", ".join(f"%s AS {name}" for name in names)
        other = "SELECT " + ", ".join(["%s"] * len(names))
        statements = []
        for batch in self._batches(rows):
            derived = " UNION ALL ".join([first] + [other] * (len(batch) - 1))
            sql = f"UPDATE {table} AS t JOIN ({derived}) AS v ON {' AND '.join(on)} SET {', '.join(sets)}"
            statements.append((sql, [value for row in batch for value in row], False))
        return statements

    def alter_column_sql(self, table, column, type_sql, null, default_sql, definition):
        # MySQL restates the whole column: MODIFY with the complete new definition.
        return [f"ALTER TABLE {self.quote(table)} MODIFY COLUMN {definition}"]

    def drop_foreign_key_sql(self, table, name):
        return [f"ALTER TABLE {self.quote(table)} DROP FOREIGN KEY {self.quote(name)}"]

    def auto_increment_column(self, field_type):
        return f"{self.column_type(field_type)} NOT NULL AUTO_INCREMENT PRIMARY KEY"

    def index_column_sql(self, column_name, field_type):
        if field_type in ("TEXT", "BLOB", "JSON"):
            # MySQL can index TEXT/BLOB only by a prefix; uniqueness then covers the prefix.
            return f"{self.quote(column_name)}({self.index_prefix_length})"
        return self.quote(column_name)

    def drop_index_sql(self, table, name, safe=True):
        exists = " IF EXISTS" if safe and self.supports_if_not_exists_index else ""
        return f"DROP INDEX{exists} {self.quote(name)} ON {self.quote(table)}"

    def literal_default(self, value):
        if isinstance(value, str) and "\\" in value:
            value = value.replace("\\", "\\\\")  # backslash escapes inside MySQL literals
        return Dialect.literal_default(self, value)

    def list_tables_sql(self):
        return (
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = DATABASE() AND table_type = 'BASE TABLE' ORDER BY table_name"
        )
