"""Autogenerate: compare models with the live database and write the operations.

Rules that keep data safe:
* a column that disappeared while one of the same type appeared in the same table is a
  rename when declared (``Field(old_name="x")`` or ``--rename table.old:new``); otherwise
  planning stops with a question naming both;
* dropping a table or a column and narrowing a type are refused unless
  ``allow_destructive`` is given, and are then marked loudly in the file.
"""

from __future__ import annotations

import datetime
from typing import Any, Collection, Iterable

from ..exceptions import MigrationError, NotSupportedError
from ..fields import ForeignKeyField
from ..schema import advanced_indexes, model_indexes, sort_models
from .introspect import canonical_type, field_for_column, field_source, is_narrowing, model_column_type

HISTORY_TABLE = "tinyorm_migrations"


class Change:
    """One planned change: the upgrade and downgrade source lines, and whether it loses data."""

    def __init__(self, upgrade: str, downgrade: str, destructive: str | None = None) -> None:
        self.upgrade = upgrade
        self.downgrade = downgrade
        self.destructive = destructive  # a reason string, or None


def _column_field_source(field: Any) -> str:
    """Source for the plain column a model field stores (a foreign key stores its target's type)."""
    from .. import fields as F

    if isinstance(field, ForeignKeyField):
        target: Any = field.rel_field  # resolved: the models are bound by now
        base: type = {"AUTO": F.IntegerField, "BIGAUTO": F.BigIntegerField}.get(target.field_type, type(target))
        kwargs = _field_kwargs(target, base)
        kwargs.pop("primary_key", None)
        kwargs.pop("unique", None)
    else:
        base = type(field)
        kwargs = _field_kwargs(field, base)
    if field.null:
        kwargs["null"] = True
    else:
        kwargs.pop("null", None)
    if isinstance(field, ForeignKeyField):
        kwargs.pop("primary_key", None)
    elif field.primary_key and not field.auto_increment:
        kwargs["primary_key"] = True
    if field.server_default is not None:
        kwargs["server_default"] = field.server_default
    return field_source(base, kwargs)


def _field_kwargs(field: Any, base: type) -> dict[str, Any]:
    kwargs: dict[str, Any] = {}
    for attribute in ("max_length", "max_digits", "decimal_places"):
        if hasattr(field, attribute):
            kwargs[attribute] = getattr(field, attribute)
    if field.null:
        kwargs["null"] = True
    default = field.default
    if default is not None and not callable(default) and isinstance(default, (int, float, str, bool)):
        kwargs["default"] = default
    return kwargs


def _create_table_source(model: Any, dialect: Any) -> str:
    meta = model._meta
    columns = "".join(
        f"    ({field.column_name!r}, {_column_field_source(field)}),\n" for field in meta.fields.values()
    )
    arguments = [repr(meta.table_name), f"[\n{columns}]"]
    if meta.composite_key:
        arguments.append(f"primary_key={[field.column_name for field in meta.primary_key.fields]!r}")
    fks = [
        (fk.column_name, fk.rel_model._meta.table_name, fk.rel_field.column_name, fk.on_delete, fk.on_update)
        for fk in meta.refs
    ]
    if fks:
        arguments.append(f"foreign_keys={fks!r}")
    indexes = [
        (tuple(column for column, _type in columns_), unique) for _name, columns_, unique in model_indexes(model)
    ]
    if indexes:
        arguments.append(f"indexes={indexes!r}")
    return "op.create_table(" + ", ".join(arguments) + ")"


def _table_source_from_database(database: Any, table: str) -> str:
    """``op.create_table`` source recreating an existing table (for a drop's downgrade)."""
    dialect = database.dialect
    columns = database.get_columns(table)
    parts: list[str] = []
    primary = [column.name for column in columns if column.primary_key]
    for column in columns:
        field_class, kwargs = field_for_column(dialect, column)
        if len(primary) > 1:
            kwargs.pop("primary_key", None)
        parts.append(f"({column.name!r}, {field_source(field_class, kwargs)})")
    arguments = [repr(table), "[" + ", ".join(parts) + "]"]
    if len(primary) > 1:
        arguments.append(f"primary_key={primary!r}")
    fks = [
        (fk.column, fk.dest_table, fk.dest_column, _action(fk.on_delete), _action(fk.on_update))
        for fk in database.get_foreign_keys(table)
    ]
    if fks:
        arguments.append(f"foreign_keys={fks!r}")
    indexes = [(tuple(index.columns), index.unique) for index in database.get_indexes(table)]
    if indexes:
        arguments.append(f"indexes={indexes!r}")
    return "op.create_table(" + ", ".join(arguments) + ")"


def _action(action: str | None) -> str | None:
    return None if action in (None, "NO ACTION") else action


def plan_changes(
    database: Any, models: Iterable[Any], renames: dict[str, str] | None = None, allow_destructive: bool = False
) -> list[Change]:
    """The list of Changes that bring ``database`` to match ``models``."""
    dialect = database.dialect
    renames = dict(renames or {})
    live_tables = set(database.get_tables()) - {HISTORY_TABLE, f"{HISTORY_TABLE}_lock"}
    ordered, _ = sort_models(models)
    model_tables = {model._meta.table_name: model for model in ordered}
    changes: list[Change] = []
    for model in ordered:
        table = model._meta.table_name
        if table not in live_tables:
            changes.append(Change(_create_table_source(model, dialect), f"op.drop_table({table!r})"))
            changes.extend(_advanced_index_changes(model, existing=()))
            if model._meta.search is not None:
                changes.append(_search_change(model._meta.search))
            continue
        changes.extend(_diff_table(database, model, renames))
    for table in _children_first(database, sorted(live_tables - set(model_tables))):
        changes.append(
            Change(
                f"op.drop_table({table!r})",
                _table_source_from_database(database, table),
                destructive=f"drops table {table!r} and all its rows",
            )
        )
    refused = [change.destructive for change in changes if change.destructive]
    if refused and not allow_destructive:
        raise MigrationError(
            "refusing destructive changes (pass --allow-destructive to write them): " + "; ".join(refused)
        )
    return changes


def _children_first(database: Any, tables: list[str]) -> list[str]:
    """Tables ordered so a table comes before the tables it references (safe to drop)."""
    references = {table: {fk.dest_table for fk in database.get_foreign_keys(table)} - {table} for table in tables}
    ordered: list[str] = []
    placed: set[str] = set()
    while len(ordered) < len(tables):
        progress = False
        for table in tables:
            if table in placed:
                continue
            # no table still waiting references this one
            if not any(table in references[other] for other in tables if other not in placed and other != table):
                ordered.append(table)
                placed.add(table)
                progress = True
        if not progress:  # a cycle: the rest in name order
            ordered += [table for table in tables if table not in placed]
            break
    return ordered


def _diff_table(database: Any, model: Any, renames: dict[str, str]) -> list[Change]:
    dialect = database.dialect
    meta = model._meta
    table = meta.table_name
    live_columns = {column.name: column for column in database.get_columns(table)}
    model_columns = {field.column_name: field for field in meta.fields.values()}
    changes: list[Change] = []
    added = [name for name in model_columns if name not in live_columns]
    removed = [name for name in live_columns if name not in model_columns]
    # Renames: declared by old_name on the field or by --rename table.old:new.
    for name in list(added):
        field = model_columns[name]
        old = field.old_name or renames.get(f"{table}.{name}")
        for key, value in renames.items():
            if (
                value == name
                and key.startswith(f"{table}.")
                and "." in key
                and key.count(".") == 1
                and key.split(".")[1] in removed
            ):
                old = key.split(".")[1]
        if old and old in removed:
            changes.append(
                Change(
                    f"op.rename_column({table!r}, {old!r}, {name!r})",
                    f"op.rename_column({table!r}, {name!r}, {old!r})",
                )
            )
            added.remove(name)
            removed.remove(old)
    # An undeclared disappear/appear pair of one type in one table: ask, never guess.
    for name in added:
        new_type = model_column_type(model_columns[name], dialect)
        for old in removed:
            if canonical_type(dialect, live_columns[old].data_type) == new_type:
                raise MigrationError(
                    f"column {table}.{old} disappeared and {table}.{name} appeared with the same type "
                    f"({new_type}): is it a rename? Declare it with {type(model_columns[name]).__name__}"
                    f"(..., old_name={old!r}) or --rename {table}.{old}:{name}; or pass "
                    "--allow-destructive with the columns dropped and added in separate migrations"
                )
    new_foreign_keys: list[Change] = []
    for name in added:
        field = model_columns[name]
        upgrade = f"op.add_column({table!r}, {name!r}, {_column_field_source(field)})"
        if not field.null and (field.default is None or callable(field.default)) and not field.primary_key:
            upgrade = (
                f"op.add_column({table!r}, {name!r}, {_column_field_source(field)}, "
                f"default=None)  # TODO: NOT NULL needs a value for existing rows"
            )
        changes.append(Change(upgrade, f"op.drop_column({table!r}, {name!r})"))
        if isinstance(field, ForeignKeyField):
            new_foreign_keys.append(_add_fk_change(table, field))
    for name in removed:
        column = live_columns[name]
        field_class, kwargs = field_for_column(dialect, column)
        kwargs.pop("primary_key", None)
        kwargs["null"] = True
        changes.append(
            Change(
                f"op.drop_column({table!r}, {name!r})",
                f"op.add_column({table!r}, {name!r}, {field_source(field_class, kwargs)})",
                destructive=f"drops column {table}.{name} and its data",
            )
        )
    for name, field in model_columns.items():
        if name not in live_columns:
            continue
        column = live_columns[name]
        if field.primary_key:
            continue
        old_type = canonical_type(dialect, column.data_type)
        new_type = model_column_type(field, dialect)
        type_changed = old_type != new_type
        null_changed = bool(column.null) != bool(field.null)
        if not (type_changed or null_changed):
            continue
        old_class, old_kwargs = field_for_column(dialect, column)
        old_kwargs.pop("primary_key", None)
        old_kwargs.pop("null", None)
        upgrade = f"op.alter_column({table!r}, {name!r}, {_column_field_source(field)})"
        downgrade_kwargs = dict(old_kwargs)
        if column.null:
            downgrade_kwargs["null"] = True
        downgrade = f"op.alter_column({table!r}, {name!r}, {field_source(old_class, downgrade_kwargs)})"
        reason = None
        if type_changed and is_narrowing(old_type, new_type):
            reason = f"narrows {table}.{name} from {old_type} to {new_type}"
        changes.append(Change(upgrade, downgrade, destructive=reason))
    # Keys and indexes that go are dropped before the columns change (a column cannot be
    # dropped from under its key on MySQL); new ones are added after, so the reversed
    # downgrade undoes them in a valid order too.
    index_adds, index_drops = _diff_indexes(database, model)
    key_adds, key_drops = _diff_foreign_keys(database, model, skip=set(added))
    live_indexes = {index.name for index in database.get_indexes(table)}
    # An index this engine goes without (required=False) cannot be told missing here.
    live_indexes |= {index.name for index in advanced_indexes(model) if index.unsupported(dialect) is not None}
    index_adds += _advanced_index_changes(model, existing=live_indexes)
    if meta.search is not None and not database.has_search(meta.search):
        index_adds.append(_search_change(meta.search))
    return key_drops + index_drops + changes + index_adds + key_adds + new_foreign_keys


# Compiled for every engine when the migration is written, so one file runs anywhere.
def _engine_dialects() -> tuple[Any, ...]:
    from ..dialects import MySQLDialect, PostgresDialect, SqliteDialect

    return (SqliteDialect(), PostgresDialect(), MySQLDialect())


def _advanced_index_changes(model: Any, existing: Collection[str]) -> list[Change]:
    """``op.add_index_sql`` for each ``tinyorm.Index`` with a method, condition or
    expressions that the database lacks (by name: its definition's digest is in its name)."""
    changes: list[Change] = []
    for index in advanced_indexes(model):
        if index.name in existing:
            continue
        statements: dict[str, str | None] = {}  # None: that engine goes without the index
        for dialect in _engine_dialects():
            try:
                statements[dialect.name] = index.create_sql(dialect, safe=False)
            except NotSupportedError as exc:
                statements[dialect.name] = f"-- unsupported: {exc}"
        changes.append(
            Change(
                f"op.add_index_sql({index.table!r}, {index.name!r}, {statements!r})",
                f"op.drop_index({index.table!r}, {index.name!r})",
            )
        )
    return changes


def _search_change(search: Any) -> Change:
    arguments = f"{search.table!r}, {search.columns!r}, name={search.name!r}, language={search.language!r}"
    if search.rowid != "id":
        arguments += f", rowid={search.rowid!r}"
    return Change(f"op.create_search({arguments})", f"op.drop_search({arguments})")


def _diff_indexes(database: Any, model: Any) -> tuple[list[Change], list[Change]]:
    """(adds, drops) turning the live indexes into the model's; a changed one is both."""
    table = model._meta.table_name
    live = {index.name: index for index in database.get_indexes(table)}
    wanted = {name: ([column for column, _type in columns], unique) for name, columns, unique in model_indexes(model)}
    # Indexes this module does not compare column by column: by name only.
    managed = {index.name for index in advanced_indexes(model)}
    if model._meta.search is not None:
        managed.add(model._meta.search.name)
    adds: list[Change] = []
    drops: list[Change] = []

    def add(name: str, columns: list[str], unique: bool) -> Change:
        return Change(
            f"op.add_index({table!r}, {columns!r}, unique={unique!r}, name={name!r})",
            f"op.drop_index({table!r}, {name!r})",
        )

    def drop(index: Any) -> Change:
        return Change(
            f"op.drop_index({table!r}, {index.name!r})",
            f"op.add_index({table!r}, {list(index.columns)!r}, unique={index.unique!r}, name={index.name!r})",
        )

    for name, (columns, unique) in wanted.items():
        index = live.get(name)
        if index is None:
            adds.append(add(name, columns, unique))
        elif list(index.columns) != columns or bool(index.unique) != bool(unique):
            drops.append(drop(index))
            adds.append(add(name, columns, unique))
    for name, index in live.items():
        implicit = database.dialect.is_implicit_index(name)  # made for a UNIQUE constraint in the table
        if name in wanted or name in managed or implicit or name.startswith("fk_"):
            continue
        drops.append(drop(index))
    return adds, drops


def _add_fk_change(table: str, fk: Any) -> Change:
    dest = fk.rel_model._meta.table_name
    return Change(
        f"op.add_foreign_key({table!r}, {fk.column_name!r}, {dest!r}, {fk.rel_field.column_name!r}, "
        f"on_delete={fk.on_delete!r}, on_update={fk.on_update!r})",
        f"op.drop_foreign_key({table!r}, {fk.column_name!r})",
    )


def _diff_foreign_keys(database: Any, model: Any, skip: Collection[str]) -> tuple[list[Change], list[Change]]:
    """(adds, drops) turning the live foreign keys into the model's."""
    table = model._meta.table_name
    live = {fk.column: fk for fk in database.get_foreign_keys(table)}
    adds: list[Change] = []
    drops: list[Change] = []
    for fk in model._meta.refs:
        if fk.column_name in skip:
            continue
        existing = live.pop(fk.column_name, None)
        wanted = (fk.rel_model._meta.table_name, fk.rel_field.column_name, _action(fk.on_delete))
        if existing is not None and (existing.dest_table, existing.dest_column, _action(existing.on_delete)) == wanted:
            continue
        if existing is not None:
            drops.append(
                Change(
                    f"op.drop_foreign_key({table!r}, {fk.column_name!r})",
                    f"op.add_foreign_key({table!r}, {existing.column!r}, {existing.dest_table!r}, "
                    f"{existing.dest_column!r}, on_delete={_action(existing.on_delete)!r})",
                )
            )
        adds.append(_add_fk_change(table, fk))
    for column, existing in live.items():
        drops.append(
            Change(
                f"op.drop_foreign_key({table!r}, {column!r})",
                f"op.add_foreign_key({table!r}, {column!r}, {existing.dest_table!r}, {existing.dest_column!r}, "
                f"on_delete={_action(existing.on_delete)!r})",
            )
        )
    return adds, drops


def source_comment(text: object) -> str:
    """``text`` fit for one ``#`` comment line: line breaks and other unprintable
    characters escaped, so nothing after them can become code."""
    return "".join(char if char.isprintable() else repr(char)[1:-1] for char in str(text))


def source_docstring(text: str) -> str:
    """A string literal for a module docstring holding exactly ``text``: triple-quoted
    when that reads back unchanged, else ``repr()`` (quotes, backslashes, ``\\N{...}``)."""
    plain = all(char.isprintable() or char == "\n" for char in text)
    if plain and "\\" not in text and '"""' not in text and not text.endswith('"'):
        return f'"""{text}\n"""'
    return repr(text + "\n")


def render_migration(message: str, changes: list[Change], revision: str) -> str:
    """The source of a migration file: every user-given text (message, names, defaults)
    is written as a literal or an escaped comment, so the file is valid for any text."""
    created = datetime.datetime.now().replace(microsecond=0).isoformat(" ")
    lines = [
        source_docstring(f"{message}\n\nRevision: {revision}\nCreated: {created}"),
        "from tinyorm import *  # noqa: F401,F403 - field classes for the operations below",
        "",
        "",
    ]
    if any(change.destructive for change in changes):
        lines[2:2] = [
            "# " + "!" * 70,
            "# DESTRUCTIVE: this migration loses data. Review every line marked below.",
            "# " + "!" * 70,
        ]

    def body(statements: list[str]) -> list[str]:
        return ["    " + line for statement in statements for line in statement.splitlines()] or ["    pass"]

    upgrade: list[str] = []
    for change in changes:
        if change.destructive:
            upgrade.append(f"# DESTRUCTIVE: {source_comment(change.destructive)}")
        upgrade.append(change.upgrade)
    lines += ["def upgrade(op):"] + body(upgrade) + ["", "", "def downgrade(op):"]
    lines += body([change.downgrade for change in reversed(changes)]) + [""]
    return "\n".join(lines)
