"""DDL for models: CREATE/DROP TABLE and indexes, in foreign-key order.

Generated SQL is always sent with a parameter sequence (empty here), so drivers with ``%s``
placeholders read the ``%%`` that quoting puts in identifiers as one ``%``.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any, Collection, Iterable

from .exceptions import ImproperlyConfigured, ProgrammingError
from .fields import ForeignKeyField
from .sql import ddl

if TYPE_CHECKING:
    from .backends.base import Database, IndexMetadata
    from .dialects.base import Dialect
    from .fields import Field
    from .indexes import BoundIndex
    from .models.model import Model
    from .sql.nodes import Node

    # [(column, field_type)]: an index's columns and their types (MySQL indexes TEXT by a prefix)
    IndexColumns = list[tuple[str, str]]


def sort_models(
    models: Iterable[type[Model]],
) -> tuple[list[type[Model]], list[ForeignKeyField[Any]]]:
    """Models ordered so every model comes after the models it references.

    Cycles are broken at an arbitrary edge; the foreign keys that then point forward are
    returned so the caller can add them after both tables exist.
    """
    models = list(dict.fromkeys(models))
    included = set(models)
    ordered: list[type[Model]] = []
    visiting: set[type[Model]] = set()
    done: set[type[Model]] = set()
    forward_refs: list[ForeignKeyField[Any]] = []

    def visit(model: type[Model]) -> None:
        if model in done:
            return
        visiting.add(model)
        for fk in model._meta.refs:
            fk.require_resolved()
            target = fk.rel_model
            if target is model or target not in included:
                continue
            if target in visiting:
                forward_refs.append(fk)
                continue
            visit(target)
        visiting.discard(model)
        done.add(model)
        ordered.append(model)

    for model in sorted(models, key=lambda m: m._meta.table_name):
        visit(model)
    return ordered, forward_refs


# Generated names (indexes, foreign keys) fit the shortest engine limit, PostgreSQL's 63
# bytes (MySQL allows 64 characters), so a model's index has one name on every engine.
IDENTIFIER_BYTES = 63


def shorten_name(name: str, max_bytes: int = IDENTIFIER_BYTES) -> str:
    """``name``, or when over 60 characters or ``max_bytes`` UTF-8 bytes, its start cut at a
    character boundary plus ``_`` and a hash of the whole name: two long names that share a
    start stay two names (an engine truncating them would make them one)."""
    if len(name) <= 60 and len(name.encode("utf-8")) <= max_bytes:
        return name
    digest = hashlib.md5(name.encode("utf-8")).hexdigest()[:8]
    head = name[:51].encode("utf-8")[: max_bytes - 9].decode("utf-8", "ignore")
    return f"{head}_{digest}"


def index_name(table: str, columns: Iterable[str], unique: bool = False) -> str:
    return shorten_name(f"{table}_{'_'.join(columns)}")


def column_definition(
    field: Field[Any], dialect: Dialect, inline_primary_key: bool = True, default_sql: str | None = None
) -> ddl.ColumnDefinition:
    """A field's column as a ``ColumnDefinition`` node (``default_sql``: a constant default
    for the rows already there, where the field has no ``server_default``)."""
    if field.auto_increment and field.primary_key and inline_primary_key:
        return ddl.ColumnDefinition(field.column_name, None, auto_increment=field.field_type)
    if field.server_default is not None:
        default_sql = server_default_sql(field, dialect)
    return ddl.ColumnDefinition(
        field.column_name,
        field.ddl_type(dialect),
        null=field.null,
        default_sql=default_sql,
        primary_key=field.primary_key and inline_primary_key,
        constraints=field.constraints,
    )


def server_default_sql(field: Field[Any], dialect: Dialect) -> str:
    """A field's ``server_default`` as DDL: SQL fragments as written, constants as literals."""
    value = field.server_default
    if hasattr(value, "__sql__"):
        return _render_fragment(value, dialect)
    return dialect.literal_default(field.adapter(dialect)(value))


def _render_fragment(node: Node | str, dialect: Dialect) -> str:
    if isinstance(node, str):
        return node
    sql, params = node.sql(dialect)
    if params:
        raise ImproperlyConfigured("column constraints cannot take parameters (DDL has none)")
    return sql


def foreign_key_name(table: str, column: str) -> str:
    """The constraint name tinyorm gives a foreign key, the same on every engine."""
    return shorten_name(f"fk_{table}_{column}")


def foreign_key(
    table: str,
    column: str,
    dest_table: str,
    dest_column: str,
    on_delete: str | None = None,
    on_update: str | None = None,
) -> ddl.ForeignKey:
    """The ``ForeignKey`` constraint node for ``table.column``, named by ``foreign_key_name``."""
    return ddl.ForeignKey(foreign_key_name(table, column), column, dest_table, dest_column, on_delete, on_update)


def foreign_key_constraint(fk: ForeignKeyField[Any]) -> ddl.ForeignKey:
    return foreign_key(
        fk.model._meta.table_name,
        fk.column_name,
        fk.rel_model._meta.table_name,
        fk.rel_field.column_name,
        fk.on_delete,
        fk.on_update,
    )


def create_table(
    model: type[Model], dialect: Dialect, safe: bool = True, skip_foreign_keys: Collection[ForeignKeyField[Any]] = ()
) -> ddl.CreateTable:
    """The ``CreateTable`` node for a model: columns, composite key, foreign keys, constraints."""
    meta = model._meta
    composite = meta.composite_key
    for name in (meta.table_name, *(field.column_name for field in meta.fields.values())):
        dialect.check_identifier_length(name)  # an engine cutting two names short makes them one
    elements: list[Node] = [
        column_definition(field, dialect, inline_primary_key=not composite) for field in meta.fields.values()
    ]
    if composite:
        elements.append(ddl.PrimaryKey(field.column_name for field in meta.primary_key.fields))
    for fk in meta.refs:
        if fk not in skip_foreign_keys:
            elements.append(foreign_key_constraint(fk))
    elements.extend(meta.constraints)
    return ddl.CreateTable(meta.table_name, elements, safe)


def create_table_sql(
    model: type[Model], dialect: Dialect, safe: bool = True, skip_foreign_keys: Collection[ForeignKeyField[Any]] = ()
) -> str:
    return ddl.ddl_sql(create_table(model, dialect, safe, skip_foreign_keys), dialect)


def model_indexes(model: type[Model]) -> list[tuple[str, IndexColumns, bool]]:
    """[(name, [(column, field_type)], unique)] for a model's fields and Meta.indexes."""
    meta = model._meta
    table = meta.table_name
    indexes: list[tuple[str, IndexColumns, bool]] = []
    for field in meta.fields.values():
        if field.primary_key:
            continue
        if field.unique or field.index or (isinstance(field, ForeignKeyField) and not field.unique):
            columns = [(field.column_name, field.field_type)]
            indexes.append((index_name(table, [field.column_name]), columns, bool(field.unique)))
    for index in meta.bound_indexes():
        if index.plain:
            fields = [meta.columns[column] for column in index.columns if column is not None]
            columns = [(field.column_name, field.field_type) for field in fields]
            indexes.append((index.name, columns, index.unique))
    return indexes


def advanced_indexes(model: type[Model]) -> list[BoundIndex]:
    """A model's indexes with a method, a condition or expressions (``tinyorm.Index``)."""
    return [index for index in model._meta.bound_indexes() if not index.plain]


def create_index_statements(
    model: type[Model], dialect: Dialect, safe: bool = True, existing: dict[str, IndexMetadata] | None = None
) -> list[str]:
    """CREATE INDEX statements for ``model``, leaving out (when ``safe``) those already in
    ``existing`` ({name: index info} of the table). Never ``IF NOT EXISTS``: on PostgreSQL
    an index name is unique per schema, and it would skip an index of another table (or
    another definition) silently. An index that exists with another definition is an error."""
    statements: list[str] = []
    existing = existing or {}
    for name, columns, unique in model_indexes(model):
        if safe and name in existing:
            _check_same_index(model, existing[name], [column for column, _type in columns], unique)
            continue
        statements.append(dialect.create_index_sql(model._meta.table_name, name, columns, unique, safe=False))
    for index in advanced_indexes(model):
        if safe and index.name in existing:
            continue  # the definition's digest is in the name
        statement = index.create_sql(dialect, False)
        if statement is not None:
            statements.append(statement)
    return statements


def _check_same_index(model: type[Model], found: IndexMetadata, columns: list[str], unique: bool) -> None:
    if list(found.columns) != columns or bool(found.unique) != bool(unique):
        kind = "unique index" if unique else "index"
        raise ProgrammingError(
            f"{model._meta.table_name}: index {found.name!r} already exists on {list(found.columns)} "
            f"(unique={bool(found.unique)}); the model wants a {kind} on {columns} under that name"
        )


def create_tables(database: Database, models: Iterable[type[Model]], safe: bool = True) -> None:
    database.connection()  # version-dependent DDL options are settled at connect
    dialect = database.dialect
    ordered, forward_refs = sort_models(models)
    # Where a foreign key's target is checked only when rows are written (SQLite), a
    # forward reference stays inline; the servers need the target table to exist first.
    deferred = [] if dialect.inline_forward_references else forward_refs
    existing_tables = set(database.get_tables()) if safe else set()
    created: list[type[Model]] = []
    with database.atomic():
        for model in ordered:
            table = model._meta.table_name
            if safe and table in existing_tables:
                existing_indexes = {index.name: index for index in database.get_indexes(table)}
            else:
                existing_indexes = {}
                database.execute_sql(create_table_sql(model, dialect, safe, skip_foreign_keys=deferred), ())
                created.append(model)
            for statement in create_index_statements(model, dialect, safe=safe, existing=existing_indexes):
                database.execute_sql(statement, ())
            search = model._meta.search
            if search is not None and not (safe and table in existing_tables and database.has_search(search)):
                for statement in dialect.search_ddl(search, safe=False):
                    database.execute_sql(statement, ())
        for fk in deferred:
            if fk.model in created:
                alter = ddl.AlterTable(fk.model._meta.table_name, ddl.AddConstraint(foreign_key_constraint(fk)))
                database.execute_sql(ddl.ddl_sql(alter, dialect), ())


def drop_tables(database: Database, models: Iterable[type[Model]], safe: bool = True, cascade: bool = False) -> None:
    dialect = database.dialect
    ordered, _forward = sort_models(models)
    for model in reversed(ordered):
        search = model._meta.search
        if search is not None and dialect.search_is_separate_table:
            # SQLite's FTS5 table outlives its content table: it goes first.
            for statement in dialect.drop_search_sql(search):
                database.execute_sql(statement, ())
        database.execute_sql(dialect.drop_table_sql(model._meta.table_name, safe=safe, cascade=cascade), ())
