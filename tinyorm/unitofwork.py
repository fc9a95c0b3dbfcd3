"""Flush planning and execution for a Session.

A flush writes, per database and inside one savepoint (or transaction):
  1. INSERTs in rounds: a round holds the new objects whose referenced new objects are
     already inserted, so parents always precede children (self-references and cycles
     included: a nullable reference inside a cycle is inserted as NULL and patched after).
     Each round sends one multi-row INSERT per model and column set, with RETURNING for the
     keys where the engine has it.
  2. UPDATEs grouped by model and set of changed columns: one statement per batch
     (``UPDATE ... FROM (VALUES ...)`` on PostgreSQL, a joined derived table on MySQL,
     ``executemany`` on SQLite), with the version check for versioned models.
  3. DELETEs children first, one statement per model and batch.
In-memory changes made while flushing (new keys, synced foreign keys) are journaled and
undone if any statement fails, so a failed flush leaves neither the database nor the
objects half-changed.
"""

from __future__ import annotations

import collections
from typing import TYPE_CHECKING, Any, Callable, Iterable, Sequence

from .events import notify_write, write_listeners
from .exceptions import FlushError, StaleDataError  # FlushError stays importable from here
from .models.writes import update_plan
from .relations import _loaded_value
from .schema import sort_models
from .sql.nodes import SQL, InList, NodeList
from .sql.query import Delete, Insert
from .sql.write import BulkUpdate

if TYPE_CHECKING:
    from .backends.base import Database
    from .dialects.base import Dialect
    from .fields import Field
    from .models.model import Model
    from .relations import ForeignKeyField
    from .session import Session

    # A model's fields in the column order of one statement.
    Fields = tuple[Field[Any], ...]

_MISSING = object()
# Instances keep values in slots (see models/model.py): writes here skip change tracking.
_set_raw = object.__setattr__


class StaleGroup(Exception):
    """Internal: a versioned batch matched fewer rows than it had objects.

    Which object is stale can only be told once the flush's savepoint is rolled back (a
    row this batch bumped looks just like one another writer bumped), so the session
    catches this, rolls back, then asks :meth:`FlushPlan.stale_error`.
    """

    def __init__(self, model: type[Model], objects: list[Model], database: Database) -> None:
        super().__init__(model.__name__)
        self.model = model
        self.objects = objects
        self.database = database


class FlushPlan:
    """What one flush writes: computed from the session's pending sets, then executed."""

    def __init__(
        self, session: Session, new: Iterable[Model], dirty: Iterable[Model], deleted: Iterable[Model]
    ) -> None:
        self.session = session
        self.new = self._cascade_new(list(new) + list(dirty))
        new_ids = {id(obj) for obj in self.new}
        self.dirty: list[tuple[Model, list[Field[Any]]]] = []
        self.waiting: list[Model] = []  # loaded objects pointing at new ones: they get keys after INSERTs
        for obj in dirty:
            if id(obj) in new_ids:
                continue
            fields = obj._dirty_fields()
            rel = obj._rel
            if rel and any(target is not None and id(target) in new_ids for target in rel.values()):
                self.waiting.append(obj)
            elif fields:
                self.dirty.append((obj, fields))
        self.deleted = list(deleted)
        # (obj, attr_key, previous value) to undo in-memory changes
        self.journal: list[tuple[Model, str, Any]] = []
        self.inserted: list[Model] = []
        self.updated: list[Model] = []
        self.patches: list[
            tuple[Model, ForeignKeyField[Any], Model]
        ] = []  # (obj, fk, target) references inserted as NULL inside a cycle

    def __bool__(self) -> bool:
        return bool(self.new or self.dirty or self.waiting or self.deleted)

    # -- planning --------------------------------------------------------------------------
    def _cascade_new(self, objects: list[Model]) -> list[Model]:
        """New objects plus unsaved objects that new or changed objects reference
        (``tweet.user = User(...)``)."""
        ordered = [obj for obj in objects if not obj._persisted]
        seen = {id(obj) for obj in ordered}
        for obj in objects:
            if obj._persisted:
                for target in (obj._rel or {}).values():
                    if target is not None and not target._persisted and id(target) not in seen:
                        seen.add(id(target))
                        ordered.append(target)
                        self.session._attach_new(target)
        index = 0
        while index < len(ordered):
            obj = ordered[index]
            index += 1
            for target in (obj._rel or {}).values():
                if target is not None and not target._persisted and id(target) not in seen:
                    seen.add(id(target))
                    ordered.append(target)
                    self.session._attach_new(target)
        return ordered

    def databases(self) -> list[Database]:
        session = self.session
        models = {type(obj) for obj in self.new}
        models.update(type(obj) for obj, _fields in self.dirty)
        models.update(type(obj) for obj in self.waiting)
        models.update(type(obj) for obj in self.deleted)
        seen: dict[int, Database] = {}
        for model in sorted(models, key=lambda model: model._meta.table_name):
            database = session._write_database(model)
            seen.setdefault(id(database), database)
        return list(seen.values())

    # -- helpers ---------------------------------------------------------------------------
    def _set(self, obj: Model, key: str, value: Any) -> None:
        self.journal.append((obj, key, _loaded_value(obj, key, _MISSING)))
        _set_raw(obj, key, value)

    def undo(self) -> None:
        for obj, key, previous in reversed(self.journal):
            if previous is _MISSING:
                try:
                    object.__delattr__(obj, key)
                except AttributeError:
                    pass
            else:
                _set_raw(obj, key, previous)
        self.journal = []

    # -- execution -------------------------------------------------------------------------
    def execute(self) -> Session:
        session = self.session
        self._insert_all()
        self._patch_cycles()
        self._update_all()
        self._delete_all()
        return session

    def _blocking(self, obj: Model, pending_ids: set[int]) -> list[tuple[ForeignKeyField[Any], Model]]:
        """(fk, target) pairs of new objects ``obj`` references that are not inserted yet."""
        blocking: list[tuple[ForeignKeyField[Any], Model]] = []
        # the keys of "_rel" name foreign keys (typed loosely here: no narrowing at run time)
        fields: dict[str, Any] = type(obj)._meta.fields
        for name, target in (obj._rel or {}).items():
            if target is not None and id(target) in pending_ids:
                blocking.append((fields[name], target))
        return blocking

    def _insert_all(self) -> None:
        pending = list(self.new)
        while pending:
            pending_ids = {id(obj) for obj in pending}
            ready: list[Model] = []
            waiting: list[Model] = []
            for obj in pending:
                (waiting if self._blocking(obj, pending_ids) else ready).append(obj)
            if not ready:
                # A cycle: insert the objects whose blocking references can be NULL for now.
                for obj in waiting:
                    blocking = self._blocking(obj, pending_ids)
                    if all(fk.null for fk, _target in blocking):
                        for fk, target in blocking:
                            self.patches.append((obj, fk, target))
                        ready.append(obj)
                if not ready:
                    names = ", ".join(sorted({type(obj).__name__ for obj in waiting}))
                    raise FlushError(
                        f"cannot order the INSERTs of {names}: their references form a cycle of non-nullable foreign keys"
                    )
                waiting = [obj for obj in pending if obj not in ready]
            self._insert_round(ready)
            pending = waiting

    def _insert_round(self, objects: list[Model]) -> None:
        by_model: dict[type[Model], list[Model]] = collections.OrderedDict()
        models, _ = sort_models({type(obj) for obj in objects})
        for model in models:
            by_model[model] = []
        for obj in objects:
            by_model[type(obj)].append(obj)
        patched = {(id(obj), fk.name) for obj, fk, _target in self.patches}
        for model, group in by_model.items():
            meta = model._meta
            version = meta.version_field
            for obj in group:
                for name, target in (obj._rel or {}).items():
                    if target is None:
                        continue
                    fk: ForeignKeyField[Any] = meta.fields[name]  # type: ignore[assignment]  # pyright: ignore[reportAssignmentType]  # "_rel" keys name foreign keys
                    if (id(obj), name) in patched:
                        self._set(obj, fk.attr_key, None)
                    else:
                        key = _loaded_value(target, fk.rel_field.attr_key)
                        if _loaded_value(obj, fk.attr_key) != key:
                            self._set(obj, fk.attr_key, key)
                if version is not None and _loaded_value(obj, version.attr_key) is None:
                    self._set(obj, version.attr_key, 1)
            by_columns: dict[Fields, list[Model]] = collections.OrderedDict()
            for obj in group:
                fields = tuple(
                    field
                    for field in meta.fields.values()
                    if (value := _loaded_value(obj, field.attr_key, _MISSING)) is not _MISSING
                    and not (field.auto_increment and value is None)
                )
                by_columns.setdefault(fields, []).append(obj)
            for fields, batch in by_columns.items():
                self._insert_batch(model, fields, batch)
            self.inserted.extend(group)

    def _insert_batch(self, model: type[Model], fields: Fields, objects: list[Model]) -> None:
        session = self.session
        database = session._write_database(model)
        dialect = database.dialect
        meta = model._meta
        pk = meta.primary_key
        auto_pk = pk if (pk is not None and not meta.composite_key and pk.auto_increment and pk not in fields) else None
        adapters = [(field.attr_key, field.adapter(dialect)) for field in fields]
        rows = [[adapt(_loaded_value(obj, key)) for key, adapt in adapters] for obj in objects]
        if auto_pk is None or dialect.returning_insert:
            per_batch = dialect.batch_size(len(fields))
            for start in range(0, len(rows), per_batch):
                chunk = rows[start : start + per_batch]
                sql = _insert_sql(model, fields, len(chunk), dialect, auto_pk)
                cursor = database.execute_sql(sql, [value for row in chunk for value in row])
                if auto_pk is not None:
                    # Rows come back in VALUES order on every engine tinyorm batches for.
                    keys = [row[0] for row in cursor.fetchall()]
                    for obj, key in zip(objects[start : start + per_batch], keys):
                        self._set(obj, auto_pk.attr_key, key)
                if write_listeners:  # events: caches, flush signals
                    notify_write(model, "insert", database, tuple(objects[start : start + per_batch]), "flush")
        else:
            sql = _insert_sql(model, fields, 1, dialect, None)
            for obj, row in zip(objects, rows):
                cursor = database.execute_sql(sql, row)
                self._set(obj, auto_pk.attr_key, database.last_insert_id(cursor))
                if write_listeners:  # events: caches, flush signals
                    notify_write(model, "insert", database, (obj,), "flush")

    def _patch_cycles(self) -> None:
        for obj, fk, target in self.patches:
            key = _loaded_value(target, fk.rel_field.attr_key)
            self._set(obj, fk.attr_key, key)
            database = self.session._write_database(type(obj))
            from .models.model import _value_node
            from .sql.query import Update

            meta = type(obj)._meta
            query = Update(type(obj), [(fk, _value_node(fk, key))], database).where(meta.pk_expression(obj.pk))
            database.execute(query)
            if write_listeners:  # events: caches, flush signals
                notify_write(type(obj), "update", database, (obj,), "flush")

    def _sync_keys_of_changed(self) -> None:
        """Point loaded objects at parents inserted by this flush, tracking the change."""
        for obj in self.waiting:
            meta = type(obj)._meta
            for name, target in (obj._rel or {}).items():
                if target is None:
                    continue
                fk: ForeignKeyField[Any] = meta.fields[name]  # type: ignore[assignment]  # pyright: ignore[reportAssignmentType]  # "_rel" keys name foreign keys
                key = _loaded_value(target, fk.rel_field.attr_key)
                if key is None or _loaded_value(obj, fk.attr_key) == key:
                    continue
                changes = dict(obj._changes or {})
                changes.setdefault(fk.attr_key, _loaded_value(obj, fk.attr_key, _MISSING))
                self._set(obj, "_changes", changes)
                self._set(obj, fk.attr_key, key)
            fields = obj._dirty_fields()
            if fields:
                self.dirty.append((obj, fields))

    def _update_all(self) -> None:
        self._sync_keys_of_changed()
        groups: dict[tuple[type[Model], Fields], list[Model]] = collections.OrderedDict()
        for obj, fields in self.dirty:
            groups.setdefault((type(obj), tuple(fields)), []).append(obj)
        for (model, group_fields), objects in groups.items():
            self._update_group(model, group_fields, objects)

    def _update_group(self, model: type[Model], group_fields: Fields, objects: list[Model]) -> None:
        meta = model._meta
        version = meta.version_field
        fields = tuple(field for field in group_fields if field is not version)
        if not fields:
            return
        database = self.session._write_database(model)
        dialect = database.dialect
        key_fields = meta.primary_key_fields
        key_adapters: list[tuple[str, Callable[[Any], Any] | None]] = [
            (field.attr_key, field.adapter(dialect)) for field in key_fields
        ]
        set_adapters: list[tuple[str, Callable[[Any], Any] | None]] = [
            (field.attr_key, field.adapter(dialect)) for field in fields
        ]
        joined = dialect.bulk_update_joins_rows
        # A joined batch's rows hold the keys first (BulkUpdate); the one-row UPDATE takes
        # the new values first, as SET comes before WHERE.
        adapters = key_adapters + set_adapters if joined else set_adapters + key_adapters
        if version is not None:
            adapters.append((version.attr_key, None))
        # Each value read by its slot's own C-level getter (Metadata.tracked): a dirty
        # object has every key, changed and version field loaded; an empty slot (a value
        # never loaded) raises AttributeError and the batch is read again through
        # _loaded_value, as None.
        tracked = meta.tracked
        getters = [(tracked[key][0], adapt) for key, adapt in adapters]
        try:
            rows = [[read(obj) if adapt is None else adapt(read(obj)) for read, adapt in getters] for obj in objects]
        except AttributeError:
            loaded = _loaded_value
            rows = [
                [loaded(obj, key) if adapt is None else adapt(loaded(obj, key)) for key, adapt in adapters]
                for obj in objects
            ]
        if joined:
            matched = 0
            per_batch = dialect.batch_size(len(adapters))
            for start in range(0, len(rows), per_batch):
                chunk = rows[start : start + per_batch]
                sql = _bulk_update_sql(model, fields, len(chunk), dialect)
                matched += database.execute_sql(sql, [value for row in chunk for value in row]).rowcount
        else:
            matched = database.execute_sql(update_plan(model, fields, dialect).sql, rows, many=True).rowcount
        if matched != len(objects) and version is not None:
            raise StaleGroup(model, objects, database)
        if version is not None:
            for obj in objects:
                self._set(obj, version.attr_key, _loaded_value(obj, version.attr_key) + 1)
        self.updated.extend(objects)
        if write_listeners:  # events: caches, flush signals (the group's statements have run)
            notify_write(model, "update", database, tuple(objects), "flush")

    @staticmethod
    def stale_error(group: StaleGroup) -> StaleDataError:
        """The StaleDataError for a StaleGroup, once the flush has been rolled back."""
        from .models.model import stale_data_error

        version = group.model._meta.version_field
        assert version is not None  # a StaleGroup is only made for a versioned model
        for obj in group.objects:
            error = stale_data_error(group.model, obj.pk, _loaded_value(obj, version.attr_key), group.database)
            if error is not None:
                return error
        return StaleDataError(f"{group.model.__name__}: a versioned write matched fewer rows than expected")

    def _delete_all(self) -> None:
        if not self.deleted:
            return
        by_model: dict[type[Model], list[Model]] = collections.defaultdict(list)
        for obj in self.deleted:
            by_model[type(obj)].append(obj)
        ordered, _ = sort_models(list(by_model))
        for model in reversed(ordered):
            for group in self._children_first(model, by_model[model]):
                self._delete_group(model, group)

    @staticmethod
    def _children_first(model: type[Model], objects: list[Model]) -> list[list[Model]]:
        """Rounds of one model's rows to delete, rows referenced by others last.

        One DELETE of a self-referencing chain would do on SQLite and PostgreSQL, which
        check keys at the end of the statement; MySQL checks row by row, so children go in
        an earlier statement than their parents.
        """
        self_refs = [fk for fk in model._meta.refs if fk.rel_model is model]
        if not self_refs:
            return [objects]
        rounds: list[list[Model]] = []
        remaining = list(objects)
        while remaining:
            referenced: set[tuple[str, Any]] = set()
            for obj in remaining:
                for fk in self_refs:
                    key = _loaded_value(obj, fk.attr_key)
                    if key is not None:
                        referenced.add((fk.rel_field.attr_key, key))
            leaves = [
                obj
                for obj in remaining
                if not any(
                    (fk.rel_field.attr_key, _loaded_value(obj, fk.rel_field.attr_key)) in referenced for fk in self_refs
                )
            ]
            if not leaves:  # a cycle: the database decides
                leaves = remaining
            rounds.append(leaves)
            leaf_ids = {id(obj) for obj in leaves}
            remaining = [obj for obj in remaining if id(obj) not in leaf_ids]
        return rounds

    def _delete_group(self, model: type[Model], objects: list[Model]) -> None:
        meta = model._meta
        version = meta.version_field
        database = self.session._write_database(model)
        dialect = database.dialect
        key_fields = list(meta.primary_key_fields)
        columns = key_fields + ([version] if version is not None else [])
        adapters = [field.adapter(dialect) for field in key_fields]
        rows: list[tuple[Any, ...]] = []
        for obj in objects:
            row = tuple(adapt(_loaded_value(obj, field.attr_key)) for adapt, field in zip(adapters, key_fields))
            if version is not None:
                row += (_loaded_value(obj, version.attr_key),)
            rows.append(row)
        width = len(columns)
        per_batch = dialect.batch_size(width)
        matched = 0
        for start in range(0, len(rows), per_batch):
            chunk = rows[start : start + per_batch]
            sql = _delete_sql(model, tuple(columns), len(chunk), dialect)
            params = [row[0] for row in chunk] if width == 1 else [value for row in chunk for value in row]
            matched += database.execute_sql(sql, params).rowcount
            if write_listeners:  # events: caches, flush signals
                notify_write(model, "delete", database, tuple(objects[start : start + per_batch]), "flush")
        if matched != len(objects) and version is not None:
            raise StaleGroup(model, objects, database)


# Flush statements are built from sql/ nodes once per shape (model, columns, rows in the
# batch, engine) and kept compiled on the model's bounded query cache: a flush of many
# objects costs a dictionary lookup per batch, not a compile.
_PLACEHOLDER = SQL("?", [None])  # renders the engine's parameter marker; the value is unused


def _insert_sql(
    model: type[Model], fields: Fields, row_count: int, dialect: Dialect, auto_pk: Field[Any] | None
) -> str:
    """A multi-row INSERT for ``row_count`` rows, with RETURNING of the new keys where the
    engine returns every row's key (``returning_insert``)."""
    cache = model._meta._query_cache
    key = ("flush-insert", dialect, fields, row_count, auto_pk is not None)
    sql = cache.get(key)
    if sql is None:
        query = Insert(model, fields, [(None,) * len(fields)] * row_count if fields else ())
        if auto_pk is not None and dialect.returning_insert:
            query = query._returning_keys(auto_pk)
        sql = cache[key] = query.sql(dialect)[0]
    return sql


def _bulk_update_sql(model: type[Model], fields: Fields, row_count: int, dialect: Dialect) -> str:
    """One UPDATE setting ``fields`` of ``row_count`` rows, each by its key, to values of its
    own (``BulkUpdate``; engines with ``bulk_update_joins_rows``)."""
    cache = model._meta._query_cache
    key = ("flush-update", dialect, fields, row_count)
    sql: str | None = cache.get(key)
    if sql is None:
        meta = model._meta
        width = len(meta.primary_key_fields) + len(fields) + (meta.version_field is not None)
        query = BulkUpdate(model, meta.primary_key_fields, fields, [(None,) * width] * row_count, meta.version_field)
        sql = cache[key] = query.sql(dialect)[0]
    return sql


def _delete_sql(model: type[Model], columns: Fields, row_count: int, dialect: Dialect) -> str:
    """``DELETE ... WHERE key IN (...)`` for ``row_count`` rows (a row-value IN for a
    composite key or a version check)."""
    cache = model._meta._query_cache
    key = ("flush-delete", dialect, columns, row_count)
    sql = cache.get(key)
    if sql is None:
        if len(columns) == 1:
            condition = InList(columns[0], [_PLACEHOLDER] * row_count, False)
        else:
            row = NodeList([_PLACEHOLDER] * len(columns), ", ", parens=True)
            condition = InList(NodeList(columns, ", ", parens=True), [row] * row_count, False)
        sql = cache[key] = Delete(model).where(condition).sql(dialect)[0]
    return sql


def cascade_deleted(
    session: Session, deleted: Iterable[Model]
) -> tuple[list[Model], list[tuple[Model, ForeignKeyField[Any]]]]:
    """Objects in the session that the database removed or changed by ON DELETE actions."""
    removed: list[Model] = []
    nulled: list[tuple[Model, ForeignKeyField[Any]]] = []
    queue = list(deleted)
    seen = {id(obj) for obj in queue}
    # (fk) -> {key: [objects in the session pointing there]}, built once per key
    children: dict[ForeignKeyField[Any], dict[Any, list[Model]]] = {}

    def children_of(fk: ForeignKeyField[Any], key: Any) -> Sequence[Model]:
        index = children.get(fk)
        if index is None:
            index = children[fk] = collections.defaultdict(list)
            for child in session._objects_of(fk.model):
                index[_loaded_value(child, fk.attr_key)].append(child)
        return index.get(key, ())

    while queue:
        parent = queue.pop()
        for fk in type(parent)._meta.backrefs:
            if fk.on_delete not in ("CASCADE", "SET NULL"):
                continue
            for child in children_of(fk, _loaded_value(parent, fk.rel_field.attr_key)):
                if id(child) in seen:
                    continue
                if fk.on_delete == "CASCADE":
                    seen.add(id(child))
                    removed.append(child)
                    queue.append(child)
                else:
                    nulled.append((child, fk))
    return removed, nulled
