"""Schema operations for migration files: ``upgrade(op)`` / ``downgrade(op)``.

Columns are declared with tinyorm field instances (``op.add_column("user", "email",
CharField(null=True))``); each operation compiles to the engine's DDL. Where SQLite's ALTER
TABLE cannot make a change (drop a column, change a type or nullability, add or drop a
foreign key), the table is rebuilt inside the migration's transaction: create a new table,
copy the rows, drop the old one, rename, and recreate its indexes.
"""

from __future__ import annotations

import copy
from typing import Any, Callable, Collection, Iterable, Sequence

from ..exceptions import MigrationError
from ..fields import Field
from ..log import migrations_logger as logger
from ..schema import column_definition, foreign_key, foreign_key_name, index_name
from ..sql import ddl
from ..sql.nodes import Node
from ..sql.query import Insert, Select
from ..sql.search import SearchTable
from ..sql.sources import Table

_NOTHING = object()


def bind_column(name: str, field: Any) -> Any:
    """A copy of ``field`` standing for column ``name`` of a table with no model."""
    if not isinstance(field, Field):
        raise MigrationError(f"column {name!r}: expected a field instance, got {field!r}")
    column: Any = copy.copy(field)  # a field of no model: model None
    column.name = column.column_name = column.attr_key = name
    column.model = None
    column._adapters = {}
    column._sql = {}
    return column


class Operations:
    """The ``op`` object a migration's ``upgrade``/``downgrade`` receives.

    In ``run`` mode each statement is executed at once (and recorded in ``executed``); in
    ``sql`` mode statements are only collected (``migrate sql``), nothing is changed.
    """

    def __init__(
        self,
        database: Any,
        mode: str = "run",
        echo: Callable[[str], object] | None = None,
        table_filter: Callable[[str], bool] | None = None,
        known_types: dict[tuple[str, str], Any] | None = None,
    ) -> None:
        self.database = database
        self.dialect = database.dialect
        self.mode = mode
        self.echo = echo
        self.table_filter = table_filter
        self.executed: list[str] = []
        self.collected: list[tuple[str, Any]] = []
        # Resuming a migration an earlier run left partial (no transactional DDL): the first
        # ``skip`` statements ran then and are not sent again; ``on_executed(count, sql)``
        # records progress after each statement that runs.
        self.skip = 0
        self.on_executed: Callable[[int, str], object] | None = None
        # (table, column) -> field type of columns created by operations so far, for index
        # DDL (MySQL prefixes TEXT) when ``sql`` mode cannot read them from the database.
        self.known_types = known_types if known_types is not None else {}

    # -- plumbing --------------------------------------------------------------------------
    def _allowed(self, table: str) -> bool:
        return self.table_filter is None or self.table_filter(table)

    def _emit(self, sql: str, params: Any = None) -> Any:
        if self.echo is not None:
            self.echo(sql if not params else f"{sql} -- {params!r}")
        if self.mode == "sql":
            self.collected.append((sql, params))
            return None
        if self.skip:
            self.skip -= 1
            logger.info("already ran, skipped: %s", sql)
            self.executed.append(sql)
            return None
        logger.info("%s", sql)
        cursor = self.database.execute_sql(sql, params if params is not None else ())
        self.executed.append(sql)
        if self.on_executed is not None:
            self.on_executed(len(self.executed), sql)
        return cursor

    def _emit_all(self, statements: Iterable[str]) -> None:
        for statement in statements:
            self._emit(statement)

    def _emit_ddl(self, nodes: Iterable[Any]) -> None:
        """Compile ``sql.ddl`` nodes for this engine and emit each as one statement."""
        for node in nodes:
            self._emit(ddl.ddl_sql(node, self.dialect))

    # -- tables ----------------------------------------------------------------------------
    def create_table(
        self,
        table: str,
        columns: Sequence[tuple[str, Any]],
        primary_key: Sequence[str] | None = None,
        foreign_keys: Sequence[Sequence[Any]] = (),
        indexes: Sequence[tuple[Sequence[str], bool]] = (),
        safe: bool = False,
    ) -> None:
        """``columns``: [(name, field)]; ``primary_key``: column names for a composite key;
        ``foreign_keys``: [(column, dest_table, dest_column, on_delete, on_update)];
        ``indexes``: [(columns, unique)]."""
        if not self._allowed(table):
            return
        dialect = self.dialect
        bound = [bind_column(name, field) for name, field in columns]
        key_columns = list(primary_key or ())
        composite = len(key_columns) > 1
        elements: list[Node] = [column_definition(field, dialect, inline_primary_key=not composite) for field in bound]
        if composite:
            elements.append(ddl.PrimaryKey(key_columns))
        for column, dest_table, dest_column, *actions in foreign_keys:
            on_delete, on_update = [*actions, None, None][:2]  # the actions are optional
            elements.append(foreign_key(table, column, dest_table, dest_column, on_delete, on_update))
        self._emit_ddl([ddl.CreateTable(table, elements, safe)])
        types = {field.column_name: field.field_type for field in bound}
        for column, field_type in types.items():
            self.known_types[(table, column)] = field_type
        for index_columns, unique in indexes:
            self.add_index(table, list(index_columns), unique=unique, _types=types)

    def drop_table(self, table: str, cascade: bool = False) -> None:
        """``DROP TABLE table`` (``cascade=True`` drops what depends on it where the engine can)."""
        if self._allowed(table):
            self._emit_ddl([ddl.DropTable(table, safe=False, cascade=cascade)])

    def rename_table(self, old: str, new: str) -> None:
        """Rename table ``old`` to ``new``."""
        if self._allowed(old):
            self._emit_ddl(self.dialect.rename_table_ddl(old, new))

    # -- columns ---------------------------------------------------------------------------
    def add_column(self, table: str, name: str, field: Any, default: Any = _NOTHING) -> None:
        """Add a column. A NOT NULL column needs a value for existing rows: pass
        ``default=`` (or give the field a constant default)."""
        if not self._allowed(table):
            return
        column = bind_column(name, field)
        value = default if default is not _NOTHING else column.default
        if callable(value):
            raise MigrationError(
                f"add_column({table!r}, {name!r}): the default is computed in Python; pass "
                "default=<constant> for the rows that already exist"
            )
        literal = None
        if value is not None:
            literal = self.dialect.literal_default(column.adapter(self.dialect)(value))
        definition = column_definition(column, self.dialect, default_sql=literal)
        self.known_types[(table, name)] = column.field_type
        self._emit_ddl(self.dialect.add_column_ddl(table, definition))

    def drop_column(self, table: str, name: str) -> None:
        """Drop column ``name`` of ``table`` (SQLite: by rebuilding the table)."""
        if not self._allowed(table):
            return
        statements = self.dialect.drop_column_ddl(table, name)
        if statements is None:
            self._rebuild(table, drop_columns={name})
        else:
            self._emit_ddl(statements)

    def rename_column(self, table: str, old: str, new: str) -> None:
        """Rename column ``old`` of ``table`` to ``new``."""
        if self._allowed(table):
            self._emit_ddl(self.dialect.rename_column_ddl(table, old, new))

    def alter_column(
        self, table: str, name: str, field: Any = None, null: bool | None = None, default: Any = _NOTHING
    ) -> None:
        """Change a column's type (``field``), nullability and/or constant default."""
        if not self._allowed(table):
            return
        if field is None:
            field = self._field_from_database(table, name)
        column = bind_column(name, field)
        if null is not None:
            column.null = null
        else:
            null = column.null  # the field's own nullability is part of the change
        type_sql = column.ddl_type(self.dialect) if field is not None else None
        default_sql = None
        if default is not _NOTHING:
            default_sql = (
                "NULL" if default is None else self.dialect.literal_default(column.adapter(self.dialect)(default))
            )
        definition = column_definition(column, self.dialect, default_sql=default_sql if default_sql != "NULL" else None)
        statements = self.dialect.alter_column_ddl(table, name, type_sql, null, default_sql, definition)
        if statements is None:
            self._rebuild(table, alter_columns={name: (column, default_sql)})
        else:
            self._emit_ddl(statements)

    # -- indexes and keys ------------------------------------------------------------------
    def add_index(
        self,
        table: str,
        columns: str | Sequence[str],
        unique: bool = False,
        name: str | None = None,
        _types: dict[str, Any] | None = None,
    ) -> None:
        """Create an index on ``columns`` (a name or a list) of ``table``; named ``table_col1_col2`` unless ``name`` is given."""
        if not self._allowed(table):
            return
        columns = [columns] if isinstance(columns, str) else list(columns)
        name = name or index_name(table, columns)
        types = _types or {}
        spec = [(column, types.get(column) or self._column_type(table, column)) for column in columns]
        self._emit_ddl([ddl.CreateIndex(table, name, spec, unique, safe=False)])

    def drop_index(self, table: str, name: str) -> None:
        """Drop the index ``name`` of ``table``."""
        if self._allowed(table):
            self._emit_ddl([ddl.DropIndex(table, name, safe=False)])

    def add_index_sql(self, table: str, name: str, statements: dict[str, str | None]) -> None:
        """An index compiled ahead for each engine (``tinyorm.Index`` with a method, a
        condition or expressions, as autogenerate writes it): ``statements`` maps an engine
        name to its CREATE INDEX, or to None where that engine goes without the index."""
        if not self._allowed(table):
            return
        if self.dialect.name not in statements:
            raise MigrationError(f"index {name!r} on {table!r} has no statement for {self.dialect.name}")
        statement = statements[self.dialect.name]
        if statement is None:
            if self.echo is not None:
                self.echo(f"-- {self.dialect.name} goes without index {name!r} on {table!r}")
            return
        if statement.startswith("-- unsupported"):
            raise MigrationError(f"index {name!r} on {table!r}: {statement[3:]}")
        self._emit(statement)

    def create_search(
        self, table: str, columns: Sequence[str], name: str | None = None, language: str = "english", rowid: str = "id"
    ) -> None:
        """Full-text search over ``columns`` of ``table`` (what ``Meta.search`` declares):
        an FTS5 table and triggers on SQLite, a GIN index on PostgreSQL, FULLTEXT on MySQL.
        Rows already in the table are indexed."""
        if self._allowed(table):
            self._emit_all(self.dialect.search_ddl(SearchTable(table, columns, name, language, rowid), safe=False))

    def drop_search(
        self, table: str, columns: Sequence[str], name: str | None = None, language: str = "english", rowid: str = "id"
    ) -> None:
        """Remove what :meth:`create_search` made (the table's rows stay)."""
        if self._allowed(table):
            self._emit_all(self.dialect.drop_search_sql(SearchTable(table, columns, name, language, rowid)))

    def add_foreign_key(
        self,
        table: str,
        column: str,
        dest_table: str,
        dest_column: str = "id",
        on_delete: str | None = None,
        on_update: str | None = None,
    ) -> None:
        """Make ``table.column`` reference ``dest_table.dest_column`` with the given actions (SQLite: by rebuilding the table)."""
        if not self._allowed(table):
            return
        constraint = foreign_key(table, column, dest_table, dest_column, on_delete, on_update)
        statements = self.dialect.add_foreign_key_ddl(table, constraint)
        if statements is None:
            self._rebuild(table, add_foreign_keys=[(column, dest_table, dest_column, on_delete, on_update)])
        else:
            self._emit_ddl(statements)

    def drop_foreign_key(self, table: str, column: str, name: str | None = None) -> None:
        """Drop the foreign key on ``table.column`` (found by introspection unless ``name`` is given)."""
        if not self._allowed(table):
            return
        if name is None:
            name = self._foreign_key_name(table, column)
        statements = self.dialect.drop_foreign_key_ddl(table, name)
        if statements is None:
            self._rebuild(table, drop_foreign_keys={column})
        else:
            self._emit_ddl(statements)

    # -- data ------------------------------------------------------------------------------
    def execute(self, sql: str, params: Any = None) -> None:
        """Run raw SQL (placeholders in the engine's own style)."""
        self._emit(sql, params)

    def run_python(self, function: Callable[[Any], object]) -> None:
        """A data step: ``function(database)`` runs inside the migration (not in ``sql`` mode)."""
        if self.mode == "sql":
            self.collected.append(
                (f"-- run_python({getattr(function, '__name__', function)!r}) is not SQL; skipped", None)
            )
            return
        function(self.database)

    # -- helpers reading the live schema ---------------------------------------------------
    def _column_type(self, table: str, column: str) -> Any:
        from .introspect import field_for_column

        if (table, column) in self.known_types:
            return self.known_types[(table, column)]
        for meta in self.database.get_columns(table):
            if meta.name == column:
                field_class, _kwargs = field_for_column(self.dialect, meta)
                return field_class.field_type if isinstance(field_class.field_type, str) else "INT"
        return None

    def _field_from_database(self, table: str, name: str) -> Any:
        from .introspect import field_for_column

        for meta in self.database.get_columns(table):
            if meta.name == name:
                field_class, kwargs = field_for_column(self.dialect, meta)
                return field_class(**kwargs)
        raise MigrationError(f"table {table!r} has no column {name!r}")

    def _foreign_key_name(self, table: str, column: str) -> str:
        for fk in self.database.get_foreign_keys(table):
            if fk.column == column and fk.name:
                return str(fk.name)
        return foreign_key_name(table, column)

    # -- SQLite: rebuild a table to make changes ALTER TABLE cannot -----------------------------
    def _rebuild(
        self,
        table: str,
        drop_columns: Collection[str] = (),
        alter_columns: dict[str, tuple[Any, str | None]] | None = None,
        add_foreign_keys: Sequence[tuple[str, str, str, str | None, str | None]] = (),
        drop_foreign_keys: Collection[str] = (),
    ) -> None:
        """Recreate ``table`` with the change applied, keeping rows, indexes and keys.

        Runs inside the migration's transaction; the runner turns SQLite's foreign-key
        enforcement off around it (a DROP TABLE would otherwise fire ON DELETE actions in
        other tables) and checks every key afterwards with PRAGMA foreign_key_check.
        """
        database = self.database
        dialect = self.dialect
        alter_columns = alter_columns or {}
        columns = database.get_columns(table)
        if not columns:
            raise MigrationError(f"cannot rebuild {table!r}: no such table")
        foreign_keys = [fk for fk in database.get_foreign_keys(table) if fk.column not in drop_foreign_keys]
        foreign_keys = [fk for fk in foreign_keys if fk.column not in drop_columns]
        indexes = [index for index in database.get_indexes(table) if not set(index.columns) & set(drop_columns)]
        # Triggers, partial indexes and indexes over expressions go with DROP TABLE: they come
        # back from their own definitions.
        saved = database.table_dependents(table)
        redefined = {name for kind, name, _sql in saved if kind == "index"}
        indexes = [index for index in indexes if index.name not in redefined]
        # The indexes behind UNIQUE constraints written inside CREATE TABLE go back into the
        # new table's definition (CREATE INDEX cannot make them under the engine's names).
        inline_unique = [index for index in indexes if dialect.is_implicit_index(index.name)]
        indexes = [index for index in indexes if not dialect.is_implicit_index(index.name)]
        primary_keys = [column.name for column in columns if column.primary_key]
        elements: list[Any] = []
        kept: list[str] = []
        for column in columns:
            if column.name in drop_columns:
                continue
            kept.append(column.name)
            if column.name in alter_columns:
                field, default_sql = alter_columns[column.name]
                elements.append(
                    column_definition(
                        field,
                        dialect,
                        inline_primary_key=len(primary_keys) == 1,
                        default_sql=default_sql if default_sql != "NULL" else None,
                    )
                )
                continue
            elements.append(
                ddl.ColumnDefinition(
                    column.name,
                    column.data_type,
                    null=column.null,
                    default_sql=column.default,
                    primary_key=column.primary_key and len(primary_keys) == 1,
                )
            )
        if len(primary_keys) > 1:
            elements.append(ddl.PrimaryKey(name for name in primary_keys if name in kept))
        for index in inline_unique:
            elements.append(ddl.Unique(index.columns))
        for fk in foreign_keys:
            elements.append(
                foreign_key(
                    table,
                    fk.column,
                    fk.dest_table,
                    fk.dest_column,
                    None if fk.on_delete in (None, "NO ACTION") else fk.on_delete,
                    None if fk.on_update in (None, "NO ACTION") else fk.on_update,
                )
            )
        for column, dest_table, dest_column, on_delete, on_update in add_foreign_keys:
            elements.append(foreign_key(table, column, dest_table, dest_column, on_delete, on_update))
        temporary = f"_tinyorm_rebuild_{table}"
        self._emit_ddl([ddl.CreateTable(temporary, elements)])
        old, new = Table(table), Table(temporary)
        rows = Select([old.c[name] for name in kept], [old])
        self._emit(Insert(new, [new.c[name] for name in kept], from_query=rows).sql(dialect)[0])
        self._emit_ddl([ddl.DropTable(table, safe=False), ddl.AlterTable(temporary, ddl.RenameTable(table))])
        self._emit_ddl(
            [
                ddl.CreateIndex(
                    table, index.name, [(column, None) for column in index.columns], index.unique, safe=False
                )
                for index in indexes
            ]
        )
        for _kind, _name, sql in saved:
            self._emit(sql)
