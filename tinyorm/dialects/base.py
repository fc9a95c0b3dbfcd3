"""What every engine shares, and the hooks an engine overrides.

A dialect is mostly data: a placeholder, a quote character, a type map, value adapters and
feature flags. Where the SQL itself must differ there is one named ``render_*`` hook. No I/O
happens here.

Each ``Database`` owns one dialect object, whose version-gated flags its backend sets at
connect. So a dialect is an object with a ``.name``, equal only to itself and hashed by
identity: caches keyed by it (compiled SQL, adapters, row constructors) never share an entry
between two MySQL servers of different versions. Code asks the flags and hooks, never the
name. For users, ``db.dialect == "mysql"`` still compares the name (the API promises
``"sqlite" | "postgresql" | "mysql"``) and ``str(db.dialect)`` is the name.
"""

from __future__ import annotations

import datetime
import decimal
import json
import math
import re
import uuid
from typing import TYPE_CHECKING, Any, Callable, Iterable, Sequence

from ..exceptions import DataError, NotSupportedError, UnsafeSQLError
from ..sql import ddl

if TYPE_CHECKING:
    from ..fields.base import Field
    from ..sql.json import JsonKey, JsonKeys
    from ..sql.nodes import Context, Node
    from ..sql.search import Search, SearchIndex
    from ..sql.write import BulkUpdate, Insert, OnConflict

# ``cast()``'s type grammar: ASCII words separated by single spaces, then an optional
# ``(p)`` or ``(p, s)`` of at most four digits each. Matched with fullmatch (no "$", which
# would let a trailing newline through).
_CAST_GRAMMAR = re.compile(
    r" *(?P<name>[A-Za-z][A-Za-z0-9_]*(?: +[A-Za-z][A-Za-z0-9_]*)*) *"
    r"(?:\( *(?P<size>[0-9]{1,4} *(?:, *[0-9]{1,4})?) *\))? *",
    re.ASCII,
)

# Abstract column types that fields declare; each dialect maps them to its own SQL type.
FIELD_TYPES = (
    "AUTO",
    "BIGAUTO",
    "INT",
    "BIGINT",
    "SMALLINT",
    "FLOAT",
    "DOUBLE",
    "DECIMAL",
    "VARCHAR",
    "TEXT",
    "BOOL",
    "DATETIME",
    "DATE",
    "TIME",
    "UUID",
    "BLOB",
    "JSON",
)


def _to_json(value: Any) -> str:
    # Keys sorted: equal documents are equal text, which engines comparing JSON as text
    # (SQLite, MariaDB) need for ``Doc.data == {...}``; values still round-trip by value.
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def _from_json(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray)):
        value = value.decode("utf-8")
    return json.loads(value) if isinstance(value, str) else value


def _to_uuid(value: Any) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


def _to_bool(value: Any) -> bool:
    # Only 0 and 1 (a MariaDB BOOL is a TINYINT another client may have set to 2).
    if value.__class__ is int and (value == 0 or value == 1):
        return value == 1
    if value is True or value is False:
        return value
    raise ValueError("a boolean column holds only 0 or 1")


def exact(klass: type, convert: Callable[[Any], Any] | None = None) -> Callable[[Any], Any]:
    """A read converter for a column the driver returns as ``klass``, except where another
    client stored something else: hydration passes values of ``klass`` through unconverted
    (``exact_class``); anything else goes to ``convert`` or raises ValueError."""

    def read(value: Any) -> Any:
        if value is None or value.__class__ is klass:
            return value
        if convert is not None:
            return convert(value)
        raise ValueError(f"expected {klass.__name__}, got {type(value).__name__}")

    read.__dict__["exact_class"] = klass  # via __dict__: checkers refuse new attributes on a function
    return read


def _to_bytes(value: Any) -> bytes:
    return bytes(value)


def _spellings(*pairs: tuple[str, str]) -> tuple[tuple[re.Pattern[str], str], ...]:
    """(pattern, replacement) pairs with the patterns compiled, for ``introspected_type_spellings``."""
    return tuple((re.compile(pattern), replacement) for pattern, replacement in pairs)


class Dialect:
    """Engine rules: ``name`` ("sqlite", "postgresql", "mysql"), flags, type maps and hooks."""

    name = "base"
    param = "?"
    quote_char = '"'
    # SQL types by abstract field type; ``{max_length}`` etc. are filled from the field.
    column_types: dict[str, str] = {}
    # Python value (already validated by its field) -> what the driver should be sent.
    to_driver: dict[str | None, Callable[[Any], Any]] = {}
    # What the driver returns -> Python value. Missing: the driver's value is already right.
    from_driver: dict[str | None, Callable[[Any], Any]] = {}
    # feature flags
    returning = False
    insert_returns_pk = False  # new keys come from RETURNING rather than cursor.lastrowid
    returning_insert = False  # multi-row INSERT ... RETURNING (flushes get every new key)
    compound_select_parens = True
    supports_full_join = True
    supports_right_join = True
    supports_intersect = True
    supports_for_update = True
    share_lock_clause = " FOR SHARE"
    supports_nowait = True
    supports_skip_locked = True
    supports_nulls_ordering = True
    upsert_honours_conflict_target = True
    # ``REPLACE INTO`` (SQLite, MySQL): delete the rows a new row conflicts with, then insert.
    replace_sql: str | None = None
    supports_if_not_exists_index = True
    transactional_ddl = True  # DDL inside a transaction rolls back with it
    text_allows_nul = True
    float_allows_nan = True
    float_allows_infinity = True
    max_params = 32766
    max_query_bytes: int | None = None
    max_identifier_length = 63
    default_values_sql = "DEFAULT VALUES"
    like_escape = "!"
    # The engine adds an index of its own behind every foreign key (InnoDB does).
    indexes_foreign_keys = False
    # A foreign key may name a table created later in the same batch (checked on write).
    inline_forward_references = False
    # ALTER TABLE cannot drop/alter columns or keys: migrations rebuild the table instead.
    rebuilds_tables = False
    # An INTEGER PRIMARY KEY column numbers rows by itself (SQLite's rowid alias).
    integer_primary_key_is_auto = False
    case_sensitive_like_op = "LIKE"
    table_options = ""
    index_prefix_length: int | None = None

    def __eq__(self, other: object) -> bool:
        if isinstance(other, str):
            return self.name == other  # db.dialect == "mysql", as API.md promises
        return self is other

    # Identity, not the name: equal names do not make equal flags (see the module docstring).
    # A dialect equal to "mysql" hashes unlike "mysql": look it up in a dict by its .name.
    __hash__ = object.__hash__

    def __str__(self) -> str:
        return self.name

    def __format__(self, spec: str) -> str:
        return format(self.name, spec)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"

    # -- reading a live schema back (migrations/introspect.py) ------------------------------
    # How the engine reports column types, as (pattern, replacement) pairs applied in order
    # to the lower-cased type text, so that ``character varying(50)`` and ``VARCHAR(50)``
    # compare as one type. Engines put their own spellings before these, which every
    # engine shares (the SQL standard's names and tinyorm's own DDL spellings).
    introspected_type_spellings: tuple[tuple[re.Pattern[str], str], ...] = _spellings(
        (r"^nvarchar", "varchar"),
        (r"^nchar", "char"),
        (r"^(int|integer)$", "integer"),
        (r"^bool$", "boolean"),
        (r"^(double|float|real|double precision)$", "double"),
        (r"^(numeric|decimal)(\(.*\))?$", r"decimal\2"),
        (r"^(datetime|timestamp)(\(\d+\))?$", "timestamp"),
        (r"^time\(\d+\)$", "time"),
        (r"^clob$", "text"),
    )

    def is_auto_increment_default(self, default: str) -> bool:
        """Does a column default, as the engine reports it, say the engine numbers the
        column itself (a sequence, ``AUTO_INCREMENT``)?"""
        return False

    def is_implicit_index(self, name: str) -> bool:
        """Is ``name`` an index the engine made for a table's own UNIQUE or PRIMARY KEY
        constraint (it goes with the table's definition, never CREATE/DROP INDEX)?"""
        return False

    # -- identifiers -----------------------------------------------------------------------
    def quote(self, name: str) -> str:
        """Quote an identifier, doubling the quote character inside it.

        NUL cannot be made safe by any engine and is refused. A ``%`` in a name is doubled:
        SQL text reaching ``execute_sql`` writes ``%%`` for ``%`` on every engine.
        """
        if not isinstance(name, str) or not name:
            raise UnsafeSQLError(f"an identifier must be a non-empty string, not {name!r}")
        if "\x00" in name:
            raise UnsafeSQLError(f"identifier {name!r} contains a NUL character and cannot be quoted")
        if len(name) * 4 > self.max_identifier_length:  # (cheap test first: at most 4 bytes a character)
            self.check_identifier_length(name)
        q = self.quote_char
        quoted = q + name.replace(q, q + q) + q
        if "%" in quoted:
            quoted = quoted.replace("%", "%%")
        return quoted

    def escape_literal_text(self, text: str) -> str:
        """Raw SQL text with ``%`` doubled, as ``execute_sql`` reads it on every engine."""
        if "%" in text:
            return text.replace("%", "%%")
        return text

    # -- values ----------------------------------------------------------------------------
    def check_text(self, field: Field[Any], value: str) -> str:
        if not self.text_allows_nul and "\x00" in value:
            raise DataError(f"{field.qualified_name}: {self.name} cannot store a NUL character in text")
        return value

    def check_float(self, field: Field[Any], value: float) -> float:
        if math.isnan(value):
            if not self.float_allows_nan:
                raise DataError(f"{field.qualified_name}: {self.name} cannot store NaN")
        elif math.isinf(value) and not self.float_allows_infinity:
            raise DataError(f"{field.qualified_name}: {self.name} cannot store infinity")
        return value

    # -- types -----------------------------------------------------------------------------
    def column_type(
        self,
        field_type: str,
        max_length: int | None = None,
        max_digits: int | None = None,
        decimal_places: int | None = None,
    ) -> str:
        template = self.column_types.get(field_type, field_type)
        if "{" in template:
            return template.format(max_length=max_length, max_digits=max_digits, decimal_places=decimal_places)
        return template

    # ``cast()``: the type names this engine's CAST takes (multiword names with single
    # spaces), those of them that take a ``(p[, s])`` suffix, and portable names mapped to
    # the engine's own. Anything else is refused: the type is pasted into SQL.
    cast_type_names: frozenset[str] = frozenset()
    cast_sized_types: frozenset[str] = frozenset()
    cast_types: dict[str, str] = {}

    def cast_type(self, type_name: str) -> str:
        """The SQL for ``CAST(x AS type_name)``, from the grammar ``NAME [(p[, s])]``."""
        match = _CAST_GRAMMAR.fullmatch(type_name) if isinstance(type_name, str) else None
        name = " ".join(match.group("name").upper().split()) if match else None
        if match is None or name not in self.cast_type_names:
            raise UnsafeSQLError(
                f"not a type {self.name} can cast to: {type_name!r}; use one of {', '.join(sorted(self.cast_type_names))}"
            )
        size = match.group("size")
        if size is not None and name not in self.cast_sized_types:
            raise UnsafeSQLError(f"{self.name} type {name} takes no (size): {type_name!r}")
        mapped = self.cast_types.get(name, name)
        if size is None or mapped not in self.cast_sized_types:
            return mapped  # an engine that ignores the size (SQLite's TEXT) gets none
        return f"{mapped}({', '.join(size.replace(' ', '').split(','))})"

    # -- rendering hooks -------------------------------------------------------------------
    def render_operator(self, ctx: Context, lhs: Node, op: str, rhs: Node) -> None:
        ctx.literal("(").sql(lhs).literal(f" {self.escape_literal_text(op)} ").sql(rhs).literal(")")

    def _like_pattern(self, needle: str, mode: str) -> str:
        escape = self.like_escape
        needle = needle.replace(escape, escape + escape).replace("%", escape + "%").replace("_", escape + "_")
        if mode == "contains":
            return f"%{needle}%"
        if mode == "startswith":
            return f"{needle}%"
        return f"%{needle}"

    def render_like(self, ctx: Context, lhs: Node, pattern: Node, case_insensitive: bool) -> None:
        if case_insensitive:
            ctx.literal("(LOWER(").sql(lhs).literal(") LIKE LOWER(").sql(pattern).literal("))")
        else:
            ctx.literal("(").sql(lhs).literal(" LIKE ").sql(pattern).literal(")")

    def render_match(self, ctx: Context, lhs: Node, needle: str, mode: str, case_insensitive: bool) -> None:
        pattern = self._like_pattern(needle, mode)
        escape = self.escape_literal_text(f" ESCAPE '{self.like_escape}')")
        if case_insensitive:
            ctx.literal("(LOWER(").sql(lhs).literal(") LIKE LOWER(").value(pattern).literal(")")
        else:
            ctx.literal("(").sql(lhs).literal(f" {self.case_sensitive_like_op} ").value(pattern)
        ctx.literal(escape)

    def render_regexp(self, ctx: Context, lhs: Node, pattern: Node) -> None:
        ctx.literal("(").sql(lhs).literal(" REGEXP ").sql(pattern).literal(")")

    def render_ordering(self, ctx: Context, node: Node, direction: str, nulls: str | None) -> None:
        if nulls and not self.supports_nulls_ordering:
            # Emulate NULLS FIRST/LAST with a leading sort key (MySQL has neither keyword).
            ctx.literal("(CASE WHEN ").sql(node)
            ctx.literal(" IS NULL THEN 0 ELSE 1 END), " if nulls == "FIRST" else " IS NULL THEN 1 ELSE 0 END), ")
        ctx.sql(node).literal(f" {direction}")
        if nulls and self.supports_nulls_ordering:
            ctx.literal(f" NULLS {nulls}")

    supports_distinct_on = False

    def render_distinct_on(self, ctx: Context, columns: Iterable[Node]) -> None:
        """``DISTINCT ON (columns) `` after SELECT (PostgreSQL's; others have no such clause)."""
        if not self.supports_distinct_on:
            raise NotSupportedError(f"{self.name} has no DISTINCT ON; use group_by() or a window function")
        ctx.literal("DISTINCT ON (").comma_separated(columns).literal(") ")

    def render_limit(self, ctx: Context, limit: int | None, offset: int | None) -> None:
        if limit is not None:
            ctx.literal(f" LIMIT {int(limit)}")
        if offset:
            ctx.literal(f" OFFSET {int(offset)}")

    def render_for_update(
        self, ctx: Context, nowait: bool, skip_locked: bool, of: Iterable[Any], share: bool = False
    ) -> None:
        if not self.supports_for_update:
            if nowait or skip_locked:
                raise NotSupportedError(f"{self.name} has no row locks: FOR UPDATE NOWAIT/SKIP LOCKED")
            return
        ctx.literal(self.share_lock_clause if share else " FOR UPDATE")
        if of:
            ctx.literal(" OF ").literal(", ".join(ctx.quoted(src._source_alias(ctx)) for src in of))
        if nowait:
            if not self.supports_nowait:
                raise NotSupportedError(f"{self.name} does not support FOR UPDATE NOWAIT")
            ctx.literal(" NOWAIT")
        if skip_locked:
            if not self.supports_skip_locked:
                raise NotSupportedError(f"{self.name} does not support FOR UPDATE SKIP LOCKED")
            ctx.literal(" SKIP LOCKED")

    def render_returning(self, ctx: Context, columns: Iterable[Node], insert: bool = False) -> None:
        """`` RETURNING columns``; ``insert``: of an INSERT (MariaDB 10.5 returns from
        INSERT but not from UPDATE or DELETE: ``returning_insert`` without ``returning``)."""
        if not (self.returning or (insert and self.returning_insert)):
            raise NotSupportedError(f"{self.name} does not support RETURNING")
        ctx.literal(" RETURNING ")
        with ctx.scope(qualify=False, select_list=True):
            ctx.comma_separated(columns)

    def render_excluded(self, ctx: Context, column_name: str) -> None:
        ctx.literal("EXCLUDED.").literal(ctx.quoted(column_name))

    def _render_assignments(self, ctx: Context, insert: Insert, on_conflict: OnConflict) -> None:
        from ..sql.nodes import as_node

        first = True
        for column in on_conflict.preserve:
            name = getattr(column, "column_name", column)
            ctx.literal("" if first else ", ").literal(ctx.quoted(name)).literal(" = ")
            self.render_excluded(ctx, name)
            first = False
        for column, value in on_conflict.update.items():
            name = getattr(column, "column_name", column)
            converter = column if hasattr(column, "adapter") else None
            ctx.literal("" if first else ", ").literal(ctx.quoted(name)).literal(" = ")
            ctx.sql(as_node(value, converter))
            first = False

    def render_upsert(self, ctx: Context, insert: Insert, on_conflict: OnConflict) -> None:
        """``ON CONFLICT (target) DO UPDATE SET ...`` / ``DO NOTHING`` (SQLite, PostgreSQL)."""
        ctx.literal(" ON CONFLICT")
        if on_conflict.conflict_target:
            names = [getattr(col, "column_name", col) for col in on_conflict.conflict_target]
            ctx.literal(" (" + ", ".join(ctx.quoted(name) for name in names) + ")")
        if on_conflict.action == "ignore" or not (on_conflict.update or on_conflict.preserve):
            ctx.literal(" DO NOTHING")
            return
        if not on_conflict.conflict_target:
            raise ValueError(f"{self.name} needs a conflict_target for ON CONFLICT DO UPDATE")
        ctx.literal(" DO UPDATE SET ")
        self._render_assignments(ctx, insert, on_conflict)
        if on_conflict.where is not None:
            ctx.literal(" WHERE ").sql(on_conflict.where)

    # -- JSON (sql/json.py builds the nodes; each engine renders them) -------------------------
    # Selected JSON paths come back as JSON text, decoded here (psycopg2 decodes jsonb itself).
    json_result_converter: Callable[[Any], Any] | None = staticmethod(_from_json)
    # CREATE INDEX accepts expressions (a JSON path, LOWER(name), ...).
    supports_expression_indexes = True

    def render_json_equals(self, ctx: Context, lhs: Node, value: Any) -> None:
        """A whole JSON column equal to a document: compact, key-sorted text on both sides."""
        from ..sql.json import json_text

        ctx.literal("(").sql(lhs).literal(" = ").value(json_text(value)).literal(")")

    def _json_unsupported(self, ctx: Context, *args: Any) -> None:  # pragma: no cover - every engine overrides
        raise NotSupportedError(f"{self.name} has no JSON paths")

    if TYPE_CHECKING:
        # What each engine's JSON hooks take (sql/json.py calls them); the base has none.
        def render_json_extract(self, ctx: Context, root: Node, keys: JsonKeys) -> None: ...
        def render_json_text(self, ctx: Context, root: Node, keys: JsonKeys) -> None: ...
        def render_json_compare(self, ctx: Context, root: Node, keys: JsonKeys, op: str, value: Any) -> None: ...
        def render_json_has_key(self, ctx: Context, root: Node, keys: JsonKeys, key: JsonKey) -> None: ...
        def render_json_contains(self, ctx: Context, root: Node, keys: JsonKeys, value: Any) -> None: ...
    else:
        render_json_extract = render_json_text = render_json_compare = _json_unsupported
        render_json_has_key = render_json_contains = _json_unsupported

    def render_json_not(self, ctx: Context, render_equal: Callable[[], object]) -> None:
        """``NOT (equal)``, where an unknown (missing key) counts as not equal."""
        ctx.literal("(NOT COALESCE(")
        render_equal()
        ctx.literal(", 1 = 0))")

    # -- full-text search (sql/search.py) ---------------------------------------------------
    search_is_separate_table = False  # SQLite's FTS5 table: dropped on its own

    def search_ddl(
        self, search: SearchIndex, safe: bool = True
    ) -> list[str]:  # pragma: no cover - every engine overrides
        """Statements creating what ``search`` needs on an existing table."""
        raise NotSupportedError(f"{self.name} has no full-text search")

    def drop_search_sql(self, search: SearchIndex) -> list[str]:  # pragma: no cover - every engine overrides
        raise NotSupportedError(f"{self.name} has no full-text search")

    if TYPE_CHECKING:

        def render_search_match(self, ctx: Context, search: Search, terms: list[str]) -> None: ...
        def render_search_rank(self, ctx: Context, search: Search, terms: list[str]) -> None: ...
    else:
        render_search_match = render_search_rank = _json_unsupported

    def _string_literal(self, text: str) -> str:
        """A constant inside DDL (which takes no parameters): quotes doubled."""
        return self.escape_literal_text("'" + text.replace("'", "''") + "'")

    def check_join(self, join_type: str) -> None:
        if "FULL" in join_type and not self.supports_full_join:
            raise NotSupportedError(f"{self.name} does not support FULL OUTER JOIN")
        if "RIGHT" in join_type and not self.supports_right_join:
            raise NotSupportedError(f"{self.name} does not support RIGHT OUTER JOIN")

    def check_compound(self, op: str) -> None:
        if op in ("INTERSECT", "EXCEPT") and not self.supports_intersect:
            raise NotSupportedError(f"{self.name} does not support {op}")

    # -- batched writes ----------------------------------------------------------------------
    # Where true, a flush updates a batch of rows in one statement, the table joined to the
    # rows (``sql.write.BulkUpdate``, rendered by ``render_bulk_update``). Elsewhere it runs
    # the one-row UPDATE with executemany, which is cheap where the driver runs in-process
    # (SQLite). Either way the row count must add up to the rows matched (version checks).
    bulk_update_joins_rows = False

    def render_bulk_update(self, ctx: Context, node: BulkUpdate) -> None:  # pragma: no cover - joining engines override
        raise NotSupportedError(f"{self.name} updates many rows with executemany")

    # Rows per multi-row statement: past about a thousand, longer statements stop paying
    # for themselves (the engine parses and plans them slower than it saves round trips).
    max_batch_rows = 1000

    def batch_size(self, width: int) -> int:
        """Rows of ``width`` parameters each that one statement may carry: the engine's
        parameter limit (``max_params``) and ``max_batch_rows``, whichever is smaller."""
        return max(1, min(self.max_batch_rows, self.max_params // max(width, 1)))

    # -- DDL -------------------------------------------------------------------------------
    def auto_increment_column(self, field_type: str) -> str:
        """The full column definition of an auto-incrementing primary key."""
        return f"{self.column_type(field_type)} NOT NULL PRIMARY KEY"

    def literal_default(self, value: object) -> str:
        """A constant default rendered into DDL (DDL cannot take parameters)."""
        if value is None:
            return "NULL"
        if isinstance(value, bool):
            return "TRUE" if value else "FALSE"
        if isinstance(value, (int, float, decimal.Decimal)):
            return str(value)
        if isinstance(value, (datetime.datetime, datetime.date, datetime.time, uuid.UUID)):
            value = str(value)
        if isinstance(value, str):
            return self.escape_literal_text("'" + value.replace("'", "''") + "'")
        raise ValueError(f"cannot render {value!r} as a column default")

    def index_column_sql(self, column_name: str, field_type: str | None) -> str:
        return self.quote(column_name)

    # Index methods this engine has (``Index(method=...)``); "btree" is every engine's default.
    index_methods = frozenset({"btree"})
    supports_partial_indexes = True  # CREATE INDEX ... WHERE condition
    index_method_before_columns = True  # ``USING gin (cols)`` (PostgreSQL) or ``(cols) USING BTREE`` (MySQL)

    def create_index_sql(
        self,
        table: str,
        name: str,
        columns: Iterable[tuple[str, str | None]] | None,
        unique: bool = False,
        safe: bool = True,
        parts_sql: Sequence[str] | None = None,
        method: str | None = None,
        where_sql: str | None = None,
    ) -> str:
        """CREATE INDEX over ``columns`` ([(column, field_type)]) or, for ``tinyorm.Index``,
        over ``parts_sql`` (rendered columns and expressions) with a method and condition."""
        node = ddl.CreateIndex(table, name, columns, unique, safe, parts_sql, method, where_sql)
        return ddl.ddl_sql(node, self)

    identifier_length_in_bytes = True  # PostgreSQL counts bytes, MySQL characters

    def check_identifier_length(self, name: str) -> None:
        """Refuse a name the engine would cut short (PostgreSQL truncates silently, so two
        names sharing their first 63 bytes would become one, and an alias would come back
        as another key)."""
        size = len(name.encode("utf-8")) if self.identifier_length_in_bytes else len(name)
        if size > self.max_identifier_length:
            unit = "bytes" if self.identifier_length_in_bytes else "characters"
            raise UnsafeSQLError(
                f"name {name!r} is {size} {unit}; {self.name} allows {self.max_identifier_length}: choose a shorter one"
            )

    def index_using_sql(self, method: str | None) -> str:
        """``USING method``, or "" where the engine names no method (the default b-tree)."""
        if method is None or (method == "btree" and len(self.index_methods) == 1):
            return ""
        return f"USING {method.upper() if not self.index_method_before_columns else method}"

    def drop_index_sql(self, table: str, name: str, safe: bool = True) -> str:
        return ddl.ddl_sql(ddl.DropIndex(table, name, safe), self)

    def drop_table_sql(self, table: str, safe: bool = True, cascade: bool = False) -> str:
        return ddl.ddl_sql(ddl.DropTable(table, safe, cascade), self)

    def render_drop_index(self, ctx: Context, node: ddl.DropIndex) -> None:
        ctx.literal("DROP INDEX" + (" IF EXISTS " if node.safe else " ") + ctx.quoted(node.name))

    def render_drop_table(self, ctx: Context, node: ddl.DropTable) -> None:
        # CASCADE is PostgreSQL's; elsewhere dependent keys are dropped with their tables.
        ctx.literal("DROP TABLE" + (" IF EXISTS " if node.safe else " ") + ctx.quoted(node.table))

    # -- ALTER TABLE (migrations): lists of ``sql.ddl`` nodes, each one statement. None means
    # "this engine cannot ALTER that: rebuild the table" (SQLite). ---------------------------
    def add_column_ddl(self, table: str, definition: ddl.ColumnDefinition) -> list[Node] | None:
        return [ddl.AlterTable(table, ddl.AddColumn(definition))]

    def drop_column_ddl(self, table: str, column: str) -> list[Node] | None:
        return [ddl.AlterTable(table, ddl.DropColumn(column))]

    def rename_column_ddl(self, table: str, old: str, new: str) -> list[Node] | None:
        return [ddl.AlterTable(table, ddl.RenameColumn(old, new))]

    def rename_table_ddl(self, old: str, new: str) -> list[Node] | None:
        return [ddl.AlterTable(old, ddl.RenameTable(new))]

    def alter_column_ddl(
        self,
        table: str,
        column: str,
        type_sql: str | None,
        null: bool | None,
        default_sql: str | None,
        definition: ddl.ColumnDefinition,
    ) -> list[Node] | None:
        """Change a column's type, nullability and/or default (each None = leave it);
        ``definition`` is the column's whole new ``ColumnDefinition``."""
        raise NotImplementedError

    def add_foreign_key_ddl(self, table: str, constraint: ddl.Fragment) -> list[Node] | None:
        return [ddl.AlterTable(table, ddl.AddConstraint(constraint))]

    def drop_foreign_key_ddl(self, table: str, name: str) -> list[Node] | None:
        return [ddl.AlterTable(table, ddl.DropConstraint(name))]

    # introspection SQL is owned by each dialect (see subclasses)
    def list_tables_sql(self) -> str:  # pragma: no cover - abstract
        raise NotImplementedError
