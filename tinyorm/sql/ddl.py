"""DDL nodes: tables, columns, constraints, indexes and ALTER TABLE. No I/O happens here.

They render like every other node (``node.__sql__(ctx)``), so CREATE TABLE for a model
(``schema.py``), for a migration (``migrations/operations.py``) and for the migration history
(``migrations/runner.py``) come out of one renderer. What differs by engine is asked of the
dialect: the auto-increment column, table options, index column prefixes and methods, the
DROP and ALTER forms. DDL takes no parameters (``ddl_sql`` refuses a node that made one):
constants in it are literals rendered by the dialect.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterable, Sequence, Union

from .nodes import Context, Node

if TYPE_CHECKING:
    from ..dialects.base import Dialect

# A piece of DDL given as SQL text (a constraint written by hand, a default) or as a node.
Fragment = Union[str, Node]

__all__ = [
    "ColumnDefinition",
    "PrimaryKey",
    "Unique",
    "ForeignKey",
    "CreateTable",
    "DropTable",
    "CreateIndex",
    "DropIndex",
    "AlterTable",
    "AddColumn",
    "DropColumn",
    "RenameColumn",
    "RenameTable",
    "ModifyColumn",
    "AlterColumn",
    "AddConstraint",
    "DropConstraint",
    "ddl_sql",
]


def ddl_sql(node: Node, dialect: Dialect) -> str:
    """``node`` compiled for ``dialect`` as one statement's text (DDL has no parameters)."""
    ctx = Context(dialect)
    ctx.qualify = False
    node.__sql__(ctx)
    if ctx.params:
        from ..exceptions import ImproperlyConfigured

        raise ImproperlyConfigured("DDL cannot take parameters (a constraint or default used a bound value)")
    return "".join(ctx.parts)


def _fragment(ctx: Context, part: Fragment) -> None:
    """A piece given as SQL text (a constraint written by hand) or as a node."""
    if isinstance(part, str):
        ctx.literal(part)
    else:
        # as a fragment compiled alone renders (``node.sql(dialect)``)
        with ctx.scope(qualify=True, select_list=True):
            ctx.sql(part)


def _names(ctx: Context, columns: Iterable[str]) -> str:
    return "(" + ", ".join(ctx.quoted(name) for name in columns) + ")"


class ColumnDefinition(Node):
    """One column in CREATE TABLE / ADD COLUMN: ``"name" TYPE NOT NULL DEFAULT x PRIMARY KEY``.

    ``auto_increment`` (the abstract field type) makes the column the table's auto-numbered
    key, rendered whole by the dialect. ``type_sql`` may be empty (a column SQLite read back
    without a declared type). ``default_sql`` is already SQL (a literal or an expression).
    """

    __slots__ = ("name", "type_sql", "null", "default_sql", "primary_key", "auto_increment", "constraints")

    def __init__(
        self,
        name: str,
        type_sql: str | None,
        null: bool = True,
        default_sql: Fragment | None = None,
        primary_key: bool = False,
        auto_increment: str | None = None,
        constraints: Iterable[Fragment] = (),
    ) -> None:
        self.name = name
        self.type_sql = type_sql
        self.null = null
        self.default_sql = default_sql
        self.primary_key = primary_key
        self.auto_increment = auto_increment
        self.constraints = tuple(constraints)

    def __sql__(self, ctx: Context) -> None:
        ctx.literal(ctx.quoted(self.name))
        if self.auto_increment is not None:
            ctx.literal(" " + ctx.dialect.auto_increment_column(self.auto_increment))
            return
        if self.type_sql:
            ctx.literal(" " + self.type_sql)
        if not self.null or self.primary_key:
            ctx.literal(" NOT NULL")
        if self.default_sql is not None:
            ctx.literal(" DEFAULT ")
            _fragment(ctx, self.default_sql)
        if self.primary_key:
            ctx.literal(" PRIMARY KEY")
        for constraint in self.constraints:
            ctx.literal(" ")
            _fragment(ctx, constraint)


class PrimaryKey(Node):
    """``PRIMARY KEY (a, b)``: a key over several columns."""

    __slots__ = ("columns",)

    def __init__(self, columns: Iterable[str]) -> None:
        self.columns = tuple(columns)

    def __sql__(self, ctx: Context) -> None:
        ctx.literal("PRIMARY KEY " + _names(ctx, self.columns))


class Unique(Node):
    """``UNIQUE (a, b)`` inside CREATE TABLE."""

    __slots__ = ("columns",)

    def __init__(self, columns: Iterable[str]) -> None:
        self.columns = tuple(columns)

    def __sql__(self, ctx: Context) -> None:
        ctx.literal("UNIQUE " + _names(ctx, self.columns))


class ForeignKey(Node):
    """``CONSTRAINT name FOREIGN KEY (column) REFERENCES dest (dest_column) [ON DELETE ...]``."""

    __slots__ = ("name", "column", "dest_table", "dest_column", "on_delete", "on_update")

    def __init__(
        self,
        name: str,
        column: str,
        dest_table: str,
        dest_column: str,
        on_delete: str | None = None,
        on_update: str | None = None,
    ) -> None:
        self.name = name
        self.column = column
        self.dest_table = dest_table
        self.dest_column = dest_column
        self.on_delete = on_delete
        self.on_update = on_update

    def __sql__(self, ctx: Context) -> None:
        quote = ctx.quoted
        ctx.literal(
            f"CONSTRAINT {quote(self.name)} FOREIGN KEY ({quote(self.column)}) REFERENCES "
            f"{quote(self.dest_table)} ({quote(self.dest_column)})"
        )
        if self.on_delete:
            ctx.literal(f" ON DELETE {self.on_delete}")
        if self.on_update:
            ctx.literal(f" ON UPDATE {self.on_update}")


class CreateTable(Node):
    """``CREATE TABLE [IF NOT EXISTS] name (columns and constraints)`` plus the engine's
    table options (MySQL's engine and character set)."""

    __slots__ = ("table", "elements", "safe")

    def __init__(self, table: str, elements: Iterable[Fragment], safe: bool = False) -> None:
        self.table = table
        self.elements = tuple(elements)
        self.safe = safe

    def __sql__(self, ctx: Context) -> None:
        ctx.literal("CREATE TABLE " + ("IF NOT EXISTS " if self.safe else "") + ctx.quoted(self.table) + " (")
        for index, element in enumerate(self.elements):
            if index:
                ctx.literal(", ")
            _fragment(ctx, element)
        ctx.literal(")" + ctx.dialect.table_options)


class DropTable(Node):
    """``DROP TABLE [IF EXISTS] name`` (``cascade``: also what depends on it, where the
    engine says so: ``Dialect.render_drop_table``)."""

    __slots__ = ("table", "safe", "cascade")

    def __init__(self, table: str, safe: bool = True, cascade: bool = False) -> None:
        self.table = table
        self.safe = safe
        self.cascade = cascade

    def __sql__(self, ctx: Context) -> None:
        ctx.dialect.render_drop_table(ctx, self)


class CreateIndex(Node):
    """``CREATE [UNIQUE] INDEX name ON table (...)``.

    ``columns`` is [(column, field_type)] (the field type lets MySQL index TEXT by a prefix);
    ``parts`` replaces them with rendered columns and expressions (``tinyorm.Index``), with
    an optional ``method`` (``USING gin``) and partial-index condition ``where`` (SQL text).
    """

    __slots__ = ("table", "name", "columns", "unique", "safe", "parts", "method", "where", "fulltext")

    def __init__(
        self,
        table: str,
        name: str,
        columns: Iterable[tuple[str, str | None]] | None = (),
        unique: bool = False,
        safe: bool = True,
        parts: Sequence[str] | None = None,
        method: str | None = None,
        where: str | None = None,
        fulltext: bool = False,
    ) -> None:
        self.fulltext = fulltext  # MySQL's FULLTEXT index (full-text search)
        self.table = table
        self.name = name
        self.columns = tuple(columns or ())
        self.unique = unique
        self.safe = safe
        self.parts = parts
        self.method = method
        self.where = where

    def __sql__(self, ctx: Context) -> None:
        dialect = ctx.dialect
        dialect.check_identifier_length(self.name)  # an engine cutting two names short makes them one
        exists = " IF NOT EXISTS" if self.safe and dialect.supports_if_not_exists_index else ""
        kind = "FULLTEXT INDEX" if self.fulltext else "UNIQUE INDEX" if self.unique else "INDEX"
        parts = self.parts
        if parts is None:
            parts = [dialect.index_column_sql(column, field_type) for column, field_type in self.columns]
        columns = f"({', '.join(parts)})"
        using = dialect.index_using_sql(self.method)
        if using:
            columns = f"{using} {columns}" if dialect.index_method_before_columns else f"{columns} {using}"
        ctx.literal(f"CREATE {kind}{exists} {ctx.quoted(self.name)} ON {ctx.quoted(self.table)} {columns}")
        if self.where is not None:
            ctx.literal(" WHERE " + self.where)


class DropIndex(Node):
    """``DROP INDEX [IF EXISTS] name`` (MySQL adds ``ON table``: ``Dialect.render_drop_index``)."""

    __slots__ = ("table", "name", "safe")

    def __init__(self, table: str, name: str, safe: bool = True) -> None:
        self.table = table
        self.name = name
        self.safe = safe

    def __sql__(self, ctx: Context) -> None:
        ctx.dialect.render_drop_index(ctx, self)


class AlterTable(Node):
    """``ALTER TABLE name <action>``; the action is one of the nodes below."""

    __slots__ = ("table", "action")

    def __init__(self, table: str, action: Node) -> None:
        self.table = table
        self.action = action

    def __sql__(self, ctx: Context) -> None:
        ctx.literal("ALTER TABLE " + ctx.quoted(self.table) + " ")
        ctx.sql(self.action)


class AddColumn(Node):
    __slots__ = ("definition",)

    def __init__(self, definition: Fragment) -> None:
        self.definition = definition

    def __sql__(self, ctx: Context) -> None:
        ctx.literal("ADD COLUMN ")
        _fragment(ctx, self.definition)


class DropColumn(Node):
    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __sql__(self, ctx: Context) -> None:
        ctx.literal("DROP COLUMN " + ctx.quoted(self.name))


class RenameColumn(Node):
    __slots__ = ("old", "new")

    def __init__(self, old: str, new: str) -> None:
        self.old = old
        self.new = new

    def __sql__(self, ctx: Context) -> None:
        ctx.literal(f"RENAME COLUMN {ctx.quoted(self.old)} TO {ctx.quoted(self.new)}")


class RenameTable(Node):
    __slots__ = ("new",)

    def __init__(self, new: str) -> None:
        self.new = new

    def __sql__(self, ctx: Context) -> None:
        ctx.literal("RENAME TO " + ctx.quoted(self.new))


class ModifyColumn(Node):
    """``MODIFY COLUMN <definition>``: MySQL restates a whole column to change it."""

    __slots__ = ("definition",)

    def __init__(self, definition: Fragment) -> None:
        self.definition = definition

    def __sql__(self, ctx: Context) -> None:
        ctx.literal("MODIFY COLUMN ")
        _fragment(ctx, self.definition)


class AlterColumn(Node):
    """``ALTER COLUMN name <change>`` (PostgreSQL: ``TYPE ...``, ``SET NOT NULL``, ...)."""

    __slots__ = ("name", "change")

    def __init__(self, name: str, change: str) -> None:
        self.name = name
        self.change = change

    def __sql__(self, ctx: Context) -> None:
        ctx.literal(f"ALTER COLUMN {ctx.quoted(self.name)} {self.change}")


class AddConstraint(Node):
    __slots__ = ("constraint",)

    def __init__(self, constraint: Fragment) -> None:
        self.constraint = constraint

    def __sql__(self, ctx: Context) -> None:
        ctx.literal("ADD ")
        _fragment(ctx, self.constraint)


class DropConstraint(Node):
    """``DROP CONSTRAINT name`` (``kind="FOREIGN KEY"`` for MySQL's spelling)."""

    __slots__ = ("name", "kind")

    def __init__(self, name: str, kind: str = "CONSTRAINT") -> None:
        self.name = name
        self.kind = kind

    def __sql__(self, ctx: Context) -> None:
        ctx.literal(f"DROP {self.kind} {ctx.quoted(self.name)}")
